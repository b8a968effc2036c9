using System.Buffers.Binary;
using DotC1z.Format;

namespace DotC1z.Fuzz;

/// <summary>
/// The decoded files of a real baton Pebble database (by default <c>tests/fixtures/medium-unexpanded.pebble2.c1z</c>,
/// or the file named by <c>DOTC1Z_FUZZ_PEBBLE_BASE</c>), loaded once per process: the pebble harness replaces one of them.
/// </summary>
internal sealed class PebbleBaseline
{
    /// <summary>The fixture the baseline is read from, relative to the repository root.</summary>
    public const string DefaultFixture = "tests/fixtures/medium-unexpanded.pebble2.c1z";

    private static readonly Lazy<PebbleBaseline> Lazy = new(Load);

    private PebbleBaseline(SortedDictionary<string, byte[]> files)
    {
        Files = files;
        // The empty marker files carry their meaning in their names; every other file can be a target.
        Targets = files.Keys.Where(n => !n.StartsWith("marker.", StringComparison.Ordinal)).ToList();
    }

    /// <summary>The baseline, loaded on first use.</summary>
    public static PebbleBaseline Instance => Lazy.Value;

    /// <summary>Every file by name.</summary>
    public IReadOnlyDictionary<string, byte[]> Files { get; }

    /// <summary>The replaceable files in ordinal order; byte 0 of a pebble input indexes this list (modulo its length).</summary>
    public IReadOnlyList<string> Targets { get; }

    /// <summary>Where the baseline fixture is.</summary>
    /// <returns>Its path.</returns>
    public static string FixturePath()
    {
        string? env = Environment.GetEnvironmentVariable("DOTC1Z_FUZZ_PEBBLE_BASE");
        if (!string.IsNullOrEmpty(env))
        {
            return env;
        }

        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "DotC1z.slnx")))
                {
                    return Path.Combine(dir.FullName, DefaultFixture);
                }
            }
        }

        throw new FileNotFoundException($"the Pebble baseline {DefaultFixture} was not found above {AppContext.BaseDirectory}; set DOTC1Z_FUZZ_PEBBLE_BASE");
    }

    /// <summary>Decodes every file of a baton Pebble C1Z3 file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>Its database files by name.</returns>
    public static SortedDictionary<string, byte[]> ReadFiles(string path)
    {
        using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> head = stackalloc byte[C1zEnvelope.ManifestOffset];
        input.ReadExactly(head);
        if (!C1zEnvelope.HasMagic(head))
        {
            throw new InvalidDataException($"{path} is not a C1Z3 file");
        }

        var manifestBytes = new byte[BinaryPrimitives.ReadUInt32BigEndian(head[C1zEnvelope.ManifestLengthOffset..])];
        input.ReadExactly(manifestBytes);
        using var payload = IndexedZstdPayload.Open(input, path, manifestBytes, C1zEnvelope.ManifestOffset + manifestBytes.Length, 1L << 30);
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string name in payload.FileNames)
        {
            files[name] = payload.ReadAllBytes(name);
        }

        return files;
    }

    private static PebbleBaseline Load() => new(ReadFiles(FixturePath()));
}
