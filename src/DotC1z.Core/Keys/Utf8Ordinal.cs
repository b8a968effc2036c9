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

    /// <summary>Bytes transcoded on the stack by <see cref="SameText"/>; longer texts use a pooled buffer.</summary>
    private const int StackTranscodeBytes = 256;

    /// <summary>
    /// Whether UTF-8 bytes spell <paramref name="text"/> exactly (no decoding, no allocation): for stored fields
    /// compared with a record's strings. Bytes that are not valid UTF-8 never equal a text.
    /// </summary>
    /// <param name="utf8">The bytes.</param>
    /// <param name="text">The text; null is empty, as an absent string field is.</param>
    /// <returns>Whether the text's UTF-8 encoding is <paramref name="utf8"/>.</returns>
    public static bool SameText(ReadOnlySpan<byte> utf8, string? text)
    {
        text ??= string.Empty;

        // Ids are nearly always ASCII, where byte i is char i.
        if (System.Text.Ascii.Equals(utf8, text))
        {
            return true;
        }

        if (utf8.Length < text.Length || utf8.Length > 3 * text.Length || System.Text.Encoding.UTF8.GetByteCount(text) != utf8.Length)
        {
            return false;
        }

        byte[]? rented = null;
        Span<byte> buffer = utf8.Length <= StackTranscodeBytes ? stackalloc byte[StackTranscodeBytes] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(utf8.Length));
        try
        {
            int written = System.Text.Encoding.UTF8.GetBytes(text, buffer);
            return buffer[..written].SequenceEqual(utf8);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
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
