using System.Buffers;
using System.Buffers.Binary;
using System.Text.Unicode;

namespace DotC1z.Keys;

/// <summary>
/// The order-preserving, prefix-free tuple codec used for every key (docs/DESIGN.md §2).
/// </summary>
/// <remarks>
/// <para>A string or bytes element is escaped byte by byte: <c>0x00 → 01 01</c>, <c>0x01 → 01 02</c>,
/// every other byte unchanged; no length prefix, no terminator. Elements are joined by one
/// <see cref="Separator"/> (0x00) and full keys carry no trailing separator.</para>
/// <para>Why it orders correctly: the escape map keeps 0x00 &lt; 0x01 &lt; 0x02.. within an element,
/// and the separator is smaller than any byte an escaped element can start with, so an element
/// that ends sorts before one that continues. Hence bytewise order of encodings equals
/// element-wise tuple order, and a by-value scan prefix must end with the separator.</para>
/// <para>Fixed-width integers are big-endian with the sign bit flipped (signed) so that byte order
/// equals numeric order. They are not escaped and may contain 0x00, so a reader must know the
/// tuple's shape.</para>
/// All methods write into caller buffers and never allocate.
/// </remarks>
public static class TupleCodec
{
    /// <summary>The element separator.</summary>
    public const byte Separator = 0x00;

    /// <summary>The escape introducer.</summary>
    public const byte Escape = 0x01;

    /// <summary>Follows <see cref="Escape"/> to encode a raw 0x00.</summary>
    public const byte EscapedNul = 0x01;

    /// <summary>Follows <see cref="Escape"/> to encode a raw 0x01.</summary>
    public const byte EscapedEscape = 0x02;

    /// <summary>Encoding of <see langword="false"/>.</summary>
    public const byte False = 0x26;

    /// <summary>Encoding of <see langword="true"/>.</summary>
    public const byte True = 0x27;

    /// <summary>The worst-case encoded size of an element of <paramref name="rawLength"/> bytes (every byte escaped).</summary>
    /// <param name="rawLength">Raw length in bytes.</param>
    /// <returns>Twice the raw length.</returns>
    public static int MaxEncodedLength(int rawLength) => checked(rawLength * 2);

    /// <summary>The worst-case encoded size of a string element (UTF-8, every byte escaped).</summary>
    /// <param name="charCount">Length of the string in UTF-16 code units.</param>
    /// <returns>An upper bound on the encoded length.</returns>
    public static int MaxEncodedStringLength(int charCount) => checked(charCount * 3 * 2);

    /// <summary>The exact encoded size of a bytes element.</summary>
    /// <param name="element">The raw element.</param>
    /// <returns>The length after escaping.</returns>
    public static int EncodedLength(ReadOnlySpan<byte> element)
    {
        // Every 0x00 or 0x01 grows by one byte; IndexOfAnyInRange vectorises the scan.
        int extra = 0;
        int i;
        var rest = element;
        while ((i = rest.IndexOfAnyInRange((byte)0x00, (byte)0x01)) >= 0)
        {
            extra++;
            rest = rest[(i + 1)..];
        }

        return element.Length + extra;
    }

    /// <summary>The exact encoded size of a string element (its UTF-8 bytes, escaped).</summary>
    /// <param name="element">The string.</param>
    /// <returns>The length after UTF-8 encoding and escaping.</returns>
    public static int EncodedLength(ReadOnlySpan<char> element)
    {
        int length = 0;
        foreach (char c in element)
        {
            // U+0000 and U+0001 are the only chars whose UTF-8 form needs escaping.
            if (c <= '\u0001')
            {
                length++;
            }
        }

        return length + System.Text.Encoding.UTF8.GetByteCount(element);
    }

    /// <summary>Escapes a bytes element into <paramref name="destination"/>.</summary>
    /// <param name="element">The raw element.</param>
    /// <param name="destination">Where the escaped bytes go.</param>
    /// <param name="written">Bytes written on success, 0 otherwise.</param>
    /// <returns><see cref="OperationStatus.Done"/>, or <see cref="OperationStatus.DestinationTooSmall"/> (nothing is guaranteed about the destination then).</returns>
    public static OperationStatus EncodeBytes(ReadOnlySpan<byte> element, Span<byte> destination, out int written)
    {
        written = 0;
        int d = 0;
        var rest = element;
        while (true)
        {
            int i = rest.IndexOfAnyInRange((byte)0x00, (byte)0x01);
            int run = i < 0 ? rest.Length : i;
            if (d + run > destination.Length)
            {
                return OperationStatus.DestinationTooSmall;
            }

            rest[..run].CopyTo(destination[d..]);
            d += run;
            if (i < 0)
            {
                break;
            }

            if (d + 2 > destination.Length)
            {
                return OperationStatus.DestinationTooSmall;
            }

            destination[d++] = Escape;
            destination[d++] = rest[i] == 0x00 ? EscapedNul : EscapedEscape;
            rest = rest[(i + 1)..];
        }

        written = d;
        return OperationStatus.Done;
    }

    /// <summary>Encodes a string element as escaped UTF-8 (invalid UTF-16 is replaced by U+FFFD, as protobuf does).</summary>
    /// <param name="element">The string.</param>
    /// <param name="destination">Where the escaped bytes go.</param>
    /// <param name="written">Bytes written on success, 0 otherwise.</param>
    /// <returns><see cref="OperationStatus.Done"/> or <see cref="OperationStatus.DestinationTooSmall"/>.</returns>
    public static OperationStatus EncodeString(ReadOnlySpan<char> element, Span<byte> destination, out int written)
    {
        written = 0;
        var status = Utf8.FromUtf16(element, destination, out _, out int utf8Length, replaceInvalidSequences: true);
        if (status != OperationStatus.Done)
        {
            return OperationStatus.DestinationTooSmall;
        }

        // Escape in place, back to front: the common case (no 0x00/0x01) costs one vectorised scan.
        var raw = destination[..utf8Length];
        int specials = 0;
        foreach (byte b in raw)
        {
            if (b <= 0x01)
            {
                specials++;
            }
        }

        if (specials == 0)
        {
            written = utf8Length;
            return OperationStatus.Done;
        }

        int total = utf8Length + specials;
        if (total > destination.Length)
        {
            return OperationStatus.DestinationTooSmall;
        }

        int dst = total - 1;
        for (int src = utf8Length - 1; src >= 0; src--)
        {
            byte b = destination[src];
            if (b <= 0x01)
            {
                destination[dst--] = b == 0x00 ? EscapedNul : EscapedEscape;
                destination[dst--] = Escape;
            }
            else
            {
                destination[dst--] = b;
            }
        }

        written = total;
        return OperationStatus.Done;
    }

    /// <summary>
    /// Decodes one escaped element from the start of <paramref name="source"/>, stopping at the first
    /// separator or at the end of the input. The separator itself is not consumed.
    /// </summary>
    /// <param name="source">Encoded bytes starting at an element.</param>
    /// <param name="destination">Receives the raw element bytes.</param>
    /// <param name="consumed">Encoded bytes consumed (the element, without its separator).</param>
    /// <param name="written">Raw bytes written.</param>
    /// <returns>
    /// <see cref="OperationStatus.Done"/>; <see cref="OperationStatus.InvalidData"/> for an escape byte
    /// followed by anything but 0x01/0x02 or at the end of input; or
    /// <see cref="OperationStatus.DestinationTooSmall"/>. Never throws on malformed input.
    /// </returns>
    public static OperationStatus DecodeElement(ReadOnlySpan<byte> source, Span<byte> destination, out int consumed, out int written)
    {
        int s = 0;
        int d = 0;
        consumed = 0;
        written = 0;
        while (s < source.Length)
        {
            byte b = source[s];
            if (b == Separator)
            {
                break;
            }

            if (b == Escape)
            {
                if (s + 1 >= source.Length)
                {
                    return OperationStatus.InvalidData;
                }

                byte follower = source[s + 1];
                if (follower == EscapedNul)
                {
                    b = 0x00;
                }
                else if (follower == EscapedEscape)
                {
                    b = 0x01;
                }
                else
                {
                    return OperationStatus.InvalidData;
                }

                s += 2;
            }
            else
            {
                s++;
            }

            if (d >= destination.Length)
            {
                return OperationStatus.DestinationTooSmall;
            }

            destination[d++] = b;
        }

        consumed = s;
        written = d;
        return OperationStatus.Done;
    }

    /// <summary>The number of encoded bytes of the element at the start of <paramref name="source"/> (up to the next separator or the end).</summary>
    /// <param name="source">Encoded bytes starting at an element.</param>
    /// <returns>The element's encoded length.</returns>
    public static int ElementLength(ReadOnlySpan<byte> source)
    {
        int i = source.IndexOf(Separator);
        return i < 0 ? source.Length : i;
    }

    /// <summary>Writes a signed 32-bit integer (big-endian, sign bit flipped) into 4 bytes.</summary>
    /// <param name="destination">At least 4 bytes.</param>
    /// <param name="value">The value.</param>
    public static void WriteInt32(Span<byte> destination, int value) => BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)value ^ 0x8000_0000u);

    /// <summary>Writes a signed 64-bit integer (big-endian, sign bit flipped) into 8 bytes.</summary>
    /// <param name="destination">At least 8 bytes.</param>
    /// <param name="value">The value.</param>
    public static void WriteInt64(Span<byte> destination, long value) => BinaryPrimitives.WriteUInt64BigEndian(destination, (ulong)value ^ 0x8000_0000_0000_0000ul);

    /// <summary>Writes an unsigned 32-bit integer big-endian into 4 bytes.</summary>
    /// <param name="destination">At least 4 bytes.</param>
    /// <param name="value">The value.</param>
    public static void WriteUInt32(Span<byte> destination, uint value) => BinaryPrimitives.WriteUInt32BigEndian(destination, value);

    /// <summary>Writes an unsigned 64-bit integer big-endian into 8 bytes.</summary>
    /// <param name="destination">At least 8 bytes.</param>
    /// <param name="value">The value.</param>
    public static void WriteUInt64(Span<byte> destination, ulong value) => BinaryPrimitives.WriteUInt64BigEndian(destination, value);

    /// <summary>Reads a signed 32-bit integer written by <see cref="WriteInt32"/>.</summary>
    /// <param name="source">The encoded bytes.</param>
    /// <param name="value">The value on success.</param>
    /// <returns>Whether at least 4 bytes were available.</returns>
    public static bool TryReadInt32(ReadOnlySpan<byte> source, out int value)
    {
        if (source.Length < 4)
        {
            value = 0;
            return false;
        }

        value = (int)(BinaryPrimitives.ReadUInt32BigEndian(source) ^ 0x8000_0000u);
        return true;
    }

    /// <summary>Reads a signed 64-bit integer written by <see cref="WriteInt64"/>.</summary>
    /// <param name="source">The encoded bytes.</param>
    /// <param name="value">The value on success.</param>
    /// <returns>Whether at least 8 bytes were available.</returns>
    public static bool TryReadInt64(ReadOnlySpan<byte> source, out long value)
    {
        if (source.Length < 8)
        {
            value = 0;
            return false;
        }

        value = (long)(BinaryPrimitives.ReadUInt64BigEndian(source) ^ 0x8000_0000_0000_0000ul);
        return true;
    }

    /// <summary>Reads an unsigned 32-bit big-endian integer.</summary>
    /// <param name="source">The encoded bytes.</param>
    /// <param name="value">The value on success.</param>
    /// <returns>Whether at least 4 bytes were available.</returns>
    public static bool TryReadUInt32(ReadOnlySpan<byte> source, out uint value) => BinaryPrimitives.TryReadUInt32BigEndian(source, out value);

    /// <summary>Reads an unsigned 64-bit big-endian integer.</summary>
    /// <param name="source">The encoded bytes.</param>
    /// <param name="value">The value on success.</param>
    /// <returns>Whether at least 8 bytes were available.</returns>
    public static bool TryReadUInt64(ReadOnlySpan<byte> source, out ulong value) => BinaryPrimitives.TryReadUInt64BigEndian(source, out value);

    /// <summary>Reads a bool written as <see cref="True"/> or <see cref="False"/>.</summary>
    /// <param name="source">The encoded bytes.</param>
    /// <param name="value">The value on success.</param>
    /// <returns>Whether the first byte is a valid bool encoding.</returns>
    public static bool TryReadBool(ReadOnlySpan<byte> source, out bool value)
    {
        value = false;
        if (source.IsEmpty)
        {
            return false;
        }

        switch (source[0])
        {
            case True:
                value = true;
                return true;
            case False:
                return true;
            default:
                return false;
        }
    }
}
