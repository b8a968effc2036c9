namespace DotC1z.Keys;

/// <summary>
/// Compares strings in the byte order of their UTF-8 encodings: the order keys sort in, without
/// encoding anything. UTF-16 ordinal order differs from it only where a surrogate pair meets a
/// character in U+E000..U+FFFF, which this comparer corrects.
/// </summary>
public sealed class Utf8Ordinal : IComparer<string>
{
    /// <summary>The shared instance.</summary>
    public static Utf8Ordinal Instance { get; } = new();

    private Utf8Ordinal()
    {
    }

    /// <inheritdoc/>
    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        int i = x.AsSpan().CommonPrefixLength(y);
        if (i == x.Length || i == y.Length)
        {
            return x.Length - y.Length;
        }

        return Fix(x[i]) - Fix(y[i]);
    }

    // Surrogates (U+D800..U+DFFF) encode as 4-byte UTF-8 sequences that sort after every BMP char.
    private static int Fix(char c) => c < 0xD800 ? c : c >= 0xE000 ? c - 0x800 : c + 0x2000;
}
