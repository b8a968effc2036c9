using System.Runtime.CompilerServices;

namespace DotC1z.Tests.Shared;

/// <summary>Locations tests depend on: the repository root, the shared real fixtures, and private temp directories.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the folder holding DotC1z.slnx), found by walking up from the test binary.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// Path of a real baton fixture in <c>tests/fixtures/</c> (origin and licence: tests/fixtures/NOTICE.md).
    /// Fails the test with the searched location when it is missing: tests never skip silently.
    /// </summary>
    /// <param name="name">File name, e.g. <c>small-unexpanded.c1z</c>.</param>
    /// <returns>The absolute path.</returns>
    public static string RealFixture(string name)
    {
        string dir = Path.Combine(RepoRoot, "tests", "fixtures");
        string path = Path.Combine(dir, name);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"real fixture {name} not found; looked in {dir}", path);
        }

        return path;
    }

    private static string FindRepoRoot([CallerFilePath] string sourceFile = "")
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "." })
        {
            var dir = new DirectoryInfo(start);
            while (dir is not null)
            {
                if (File.Exists(Path.Combine(dir.FullName, "DotC1z.slnx")))
                {
                    return dir.FullName;
                }

                dir = dir.Parent;
            }
        }

        throw new InvalidOperationException("repository root (DotC1z.slnx) not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A private temporary directory removed on dispose.</summary>
public sealed class TempDir : IDisposable
{
    /// <summary>Creates a fresh directory under the system temp path.</summary>
    /// <param name="tag">A readable tag for the directory name.</param>
    public TempDir(string tag = "test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"dotc1z-{tag}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>The directory.</summary>
    public string Path { get; }

    /// <summary>A path inside the directory.</summary>
    /// <param name="name">Relative name.</param>
    /// <returns>The combined path.</returns>
    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>Seeded randomness for tests: the seed goes into every failure message.</summary>
public static class Seeds
{
    /// <summary>
    /// The seed to use: <c>DOTC1Z_TEST_SEED</c> when set (to replay a failure), else <paramref name="fallback"/>.
    /// </summary>
    /// <param name="fallback">The test's fixed default seed.</param>
    /// <returns>The seed.</returns>
    public static int Get(int fallback)
    {
        string? env = Environment.GetEnvironmentVariable("DOTC1Z_TEST_SEED");
        return env is not null && int.TryParse(env, System.Globalization.CultureInfo.InvariantCulture, out int s) ? s : fallback;
    }
}
