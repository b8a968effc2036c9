using DotC1z.Errors;
using DotC1z.Storage;

namespace DotC1z.Fuzz;

/// <summary>An in-memory database directory: the baseline files with one of them replaced by the fuzz input.</summary>
internal sealed class MemoryFileSource : IPayloadFileSource
{
    private readonly IReadOnlyDictionary<string, byte[]> _baseline;
    private readonly string _replaced;
    private readonly byte[] _content;

    /// <summary>Creates the source.</summary>
    /// <param name="baseline">The unchanged files.</param>
    /// <param name="replaced">The name of the replaced (or added) file.</param>
    /// <param name="content">Its new content.</param>
    public MemoryFileSource(IReadOnlyDictionary<string, byte[]> baseline, string replaced, byte[] content)
    {
        _baseline = baseline;
        _replaced = replaced;
        _content = content;
        var names = baseline.Keys.Append(replaced).Distinct(StringComparer.Ordinal).ToList();
        names.Sort(StringComparer.Ordinal);
        FileNames = names;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> FileNames { get; }

    /// <inheritdoc/>
    public long GetLength(string name) => Get(name).Length;

    /// <inheritdoc/>
    public byte[] ReadAllBytes(string name, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // A copy: a reader that wrote into its buffer must not change the baseline for the next input.
        return (byte[])Get(name).Clone();
    }

    private byte[] Get(string name)
    {
        if (name == _replaced)
        {
            return _content;
        }

        return _baseline.TryGetValue(name, out var bytes) ? bytes : throw new C1zArgumentException($"no file named '{name}'");
    }
}
