using DotC1z.Errors;
using DotC1z.Storage;

namespace DotC1z.Pebble;

/// <summary>
/// The files directly inside a folder on disk, as an <see cref="IPayloadFileSource"/>: for tests and for
/// databases that were extracted beforehand. Subfolders are not listed (a Pebble directory has none).
/// </summary>
public sealed class DirectoryFileSource : IPayloadFileSource
{
    private readonly string _directory;
    private readonly HashSet<string> _names;

    /// <summary>Lists the files of <paramref name="directory"/>.</summary>
    /// <param name="directory">The database directory.</param>
    /// <exception cref="C1zIOException">The folder cannot be listed.</exception>
    public DirectoryFileSource(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        _directory = Path.GetFullPath(directory);
        try
        {
            var names = new DirectoryInfo(_directory).EnumerateFiles().Select(f => f.Name).ToList();
            names.Sort(StringComparer.Ordinal);
            FileNames = names;
            _names = new HashSet<string>(names, StringComparer.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new C1zIOException($"cannot list {_directory}: {e.Message}", _directory, e);
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> FileNames { get; }

    /// <inheritdoc/>
    public long GetLength(string name)
    {
        string path = Resolve(name);
        try
        {
            return new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new C1zIOException($"cannot stat {path}: {e.Message}", path, e);
        }
    }

    /// <inheritdoc/>
    public byte[] ReadAllBytes(string name, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string path = Resolve(name);
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new C1zIOException($"cannot read {path}: {e.Message}", path, e);
        }
    }

    private string Resolve(string name)
    {
        if (name is null || !_names.Contains(name))
        {
            throw new C1zArgumentException($"no file named '{name}' in {_directory}", _directory);
        }

        return Path.Combine(_directory, name);
    }
}
