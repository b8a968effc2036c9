using System.Buffers.Binary;
using System.Text;

namespace DotC1z.Codecs;

/// <summary>
/// Strings decoded from short ASCII ids, remembered for one reader (one scan) so an id that repeats
/// from row to row (an entitlement, a resource type, a principal) is decoded once and shared, not
/// validated, transcoded and allocated again per record. Strings are immutable, so sharing one
/// instance between records is invisible to callers. Not thread-safe: one per scan.
/// </summary>
/// <remarks>
/// A direct-mapped table keyed by a hash of the bytes; a hit compares the bytes with the remembered
/// string itself, so a miss costs only the string that had to be made anyway (no copy of the key
/// is kept). Only ASCII ids of at most <see cref="MaxBytes"/> bytes are remembered.
/// </remarks>
public sealed class Utf8StringTable
{
    /// <summary>The longest id remembered, in bytes.</summary>
    public const int MaxBytes = 64;

    private const int Slots = 512;
    private readonly string?[] _strings = new string?[Slots];

    /// <summary>The string of <paramref name="utf8"/> when it is ASCII and short: remembered or newly made.</summary>
    /// <param name="utf8">The id's bytes.</param>
    /// <returns>The string, or null when the bytes are not short ASCII (the caller decodes them as UTF-8).</returns>
    public string? TryGetAscii(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxBytes)
        {
            return null;
        }

        if (utf8.IsEmpty)
        {
            return string.Empty;
        }

        int slot = Hash(utf8) & (Slots - 1);
        string? known = _strings[slot];
        if (known is not null && known.Length == utf8.Length && Ascii.Equals(utf8, known))
        {
            return known;
        }

        string? made = AsciiString(utf8);
        if (made is not null)
        {
            _strings[slot] = made;
        }

        return made;
    }

    /// <summary>A new string from ASCII bytes in one validating pass, or null when a byte is not ASCII.</summary>
    /// <param name="utf8">The bytes.</param>
    /// <returns>The string or null.</returns>
    public static string? AsciiString(ReadOnlySpan<byte> utf8)
    {
        if (!Ascii.IsValid(utf8))
        {
            return null;
        }

        // ASCII is a subset of Latin-1, whose decoder is a plain widening copy (no second validation).
        return Encoding.Latin1.GetString(utf8);
    }

    // Length and the first and last eight bytes: ids that share a prefix differ at the end.
    private static int Hash(ReadOnlySpan<byte> b)
    {
        ulong h;
        if (b.Length >= 8)
        {
            ulong first = BinaryPrimitives.ReadUInt64LittleEndian(b);
            ulong last = BinaryPrimitives.ReadUInt64LittleEndian(b[^8..]);
            h = (first * 0x9E3779B97F4A7C15UL) ^ (last * 0xC2B2AE3D27D4EB4FUL) ^ (ulong)b.Length;
        }
        else
        {
            h = (ulong)b.Length;
            foreach (byte x in b)
            {
                h = (h << 8) | x;
            }

            h *= 0x9E3779B97F4A7C15UL;
        }

        return (int)(h >> 40);
    }
}
