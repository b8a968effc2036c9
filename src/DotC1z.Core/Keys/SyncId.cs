using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using DotC1z.Errors;

namespace DotC1z.Keys;

/// <summary>
/// A sync id: a KSUID, 20 bytes in binary (4-byte big-endian seconds since 2014-05-13T16:53:20Z,
/// then 16 random bytes) and 27 base62 characters in text (alphabet <c>0-9A-Za-z</c> in ASCII order).
/// Text order, numeric order and byte order agree, so ids sort by creation second.
/// </summary>
/// <remarks>
/// Parsing is strict where upstream was lenient (docs/DESIGN.md §3.2, §3.3): every character
/// must be in the alphabet and the value must fit in 160 bits, so every accepted text round-trips.
/// The value is held as three big-endian words, which makes comparison three integer compares.
/// </remarks>
public readonly struct SyncId : IEquatable<SyncId>, IComparable<SyncId>, ISpanFormattable
{
    /// <summary>Length of the binary form in bytes.</summary>
    public const int ByteLength = 20;

    /// <summary>Length of the text form in characters.</summary>
    public const int TextLength = 27;

    /// <summary>KSUID epoch in Unix seconds (2014-05-13T16:53:20Z).</summary>
    public const long EpochUnixSeconds = 1_400_000_000;

    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    // Bytes 0..7, 8..15 and 16..19 of the binary form, each read big-endian.
    private readonly ulong _hi;
    private readonly ulong _mid;
    private readonly uint _lo;

    private SyncId(ulong hi, ulong mid, uint lo)
    {
        _hi = hi;
        _mid = mid;
        _lo = lo;
    }

    /// <summary>The all-zero id (<c>000000000000000000000000000</c>).</summary>
    public static SyncId Min => default;

    /// <summary>The largest id (<c>aWgEPTl1tmebfsQzFP4bxwgy80V</c>, 20 bytes of 0xFF).</summary>
    public static SyncId Max => new(ulong.MaxValue, ulong.MaxValue, uint.MaxValue);

    /// <summary>The creation time encoded in the first four bytes.</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeSeconds(EpochUnixSeconds + (long)(_hi >> 32));

    /// <summary>Builds an id from its 20-byte binary form.</summary>
    /// <param name="bytes">Exactly <see cref="ByteLength"/> bytes.</param>
    /// <returns>The id.</returns>
    /// <exception cref="C1zArgumentException">The span is not 20 bytes long.</exception>
    public static SyncId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != ByteLength)
        {
            throw new C1zArgumentException($"a binary sync id is {ByteLength} bytes, got {bytes.Length}");
        }

        return new SyncId(
            BinaryPrimitives.ReadUInt64BigEndian(bytes),
            BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
            BinaryPrimitives.ReadUInt32BigEndian(bytes[16..]));
    }

    /// <summary>Writes the 20-byte binary form.</summary>
    /// <param name="destination">At least <see cref="ByteLength"/> bytes.</param>
    /// <exception cref="ArgumentException">The destination is shorter than 20 bytes.</exception>
    public void WriteBytes(Span<byte> destination)
    {
        if (destination.Length < ByteLength)
        {
            throw new ArgumentException($"destination needs {ByteLength} bytes", nameof(destination));
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, _hi);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _mid);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], _lo);
    }

    /// <summary>Returns a new array holding the 20-byte binary form.</summary>
    /// <returns>The binary form.</returns>
    public byte[] ToByteArray()
    {
        var bytes = new byte[ByteLength];
        WriteBytes(bytes);
        return bytes;
    }

    /// <summary>Creates a new id for the current time with 16 cryptographically random payload bytes.</summary>
    /// <returns>A fresh id.</returns>
    public static SyncId NewId() => NewId(DateTimeOffset.UtcNow, null);

    /// <summary>Creates an id for a given time. With a <paramref name="random"/> the payload is reproducible.</summary>
    /// <param name="time">Creation time; clamped to the representable range of the KSUID epoch.</param>
    /// <param name="random">Source of payload bytes, or <see langword="null"/> for a cryptographic source.</param>
    /// <returns>The id.</returns>
    public static SyncId NewId(DateTimeOffset time, Random? random)
    {
        long seconds = Math.Clamp(time.ToUnixTimeSeconds() - EpochUnixSeconds, 0, uint.MaxValue);
        Span<byte> bytes = stackalloc byte[ByteLength];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)seconds);
        if (random is null)
        {
            RandomNumberGenerator.Fill(bytes[4..]);
        }
        else
        {
            random.NextBytes(bytes[4..]);
        }

        return FromBytes(bytes);
    }

    /// <summary>Parses the 27-character text form.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The id.</returns>
    /// <exception cref="C1zArgumentException">The text is not a valid KSUID (wrong length, a character outside the alphabet, or a value above 2^160-1).</exception>
    public static SyncId Parse(ReadOnlySpan<char> text)
    {
        var status = TryParseCore(text, out var id);
        return status switch
        {
            ParseStatus.Ok => id,
            ParseStatus.WrongLength => throw new C1zArgumentException($"invalid sync id \"{Shorten(text)}\": a sync id is {TextLength} base62 characters, got {text.Length}"),
            ParseStatus.BadCharacter => throw new C1zArgumentException($"invalid sync id \"{Shorten(text)}\": only the characters 0-9, A-Z and a-z are allowed"),
            _ => throw new C1zArgumentException($"invalid sync id \"{Shorten(text)}\": the value exceeds the 20-byte maximum aWgEPTl1tmebfsQzFP4bxwgy80V"),
        };
    }

    /// <summary>Tries to parse the 27-character text form.</summary>
    /// <param name="text">The text.</param>
    /// <param name="id">The id when the text is valid.</param>
    /// <returns>Whether the text is a valid sync id.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out SyncId id) => TryParseCore(text, out id) == ParseStatus.Ok;

    /// <summary>Tries to parse the text form; a <see langword="null"/> string is not valid.</summary>
    /// <param name="text">The text.</param>
    /// <param name="id">The id when the text is valid.</param>
    /// <returns>Whether the text is a valid sync id.</returns>
    public static bool TryParse([NotNullWhen(true)] string? text, out SyncId id)
    {
        if (text is null)
        {
            id = default;
            return false;
        }

        return TryParse(text.AsSpan(), out id);
    }

    private enum ParseStatus
    {
        Ok,
        WrongLength,
        BadCharacter,
        Overflow,
    }

    private static ParseStatus TryParseCore(ReadOnlySpan<char> text, out SyncId id)
    {
        id = default;
        if (text.Length != TextLength)
        {
            return ParseStatus.WrongLength;
        }

        // 160-bit accumulator as five 32-bit words, most significant first.
        Span<uint> words = stackalloc uint[5];
        words.Clear();
        foreach (char c in text)
        {
            int digit = DigitOf(c);
            if (digit < 0)
            {
                return ParseStatus.BadCharacter;
            }

            ulong carry = (ulong)digit;
            for (int w = 4; w >= 0; w--)
            {
                ulong v = ((ulong)words[w] * 62) + carry;
                words[w] = (uint)v;
                carry = v >> 32;
            }

            if (carry != 0)
            {
                return ParseStatus.Overflow;
            }
        }

        id = new SyncId(((ulong)words[0] << 32) | words[1], ((ulong)words[2] << 32) | words[3], words[4]);
        return ParseStatus.Ok;
    }

    private static int DigitOf(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'A' and <= 'Z' => c - 'A' + 10,
        >= 'a' and <= 'z' => c - 'a' + 36,
        _ => -1,
    };

    private static string Shorten(ReadOnlySpan<char> text) => text.Length <= 64 ? text.ToString() : string.Concat(text[..61], "...");

    /// <summary>Returns the 27-character text form.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => string.Create(TextLength, this, static (span, id) => id.FormatCore(span));

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        if (destination.Length < TextLength)
        {
            charsWritten = 0;
            return false;
        }

        FormatCore(destination[..TextLength]);
        charsWritten = TextLength;
        return true;
    }

    private void FormatCore(Span<char> destination)
    {
        Span<uint> words = [(uint)(_hi >> 32), (uint)_hi, (uint)(_mid >> 32), (uint)_mid, _lo];
        for (int pos = TextLength - 1; pos >= 0; pos--)
        {
            // Divide the 160-bit number by 62 in place; the remainder is the next digit.
            ulong rem = 0;
            for (int w = 0; w < 5; w++)
            {
                ulong cur = (rem << 32) | words[w];
                words[w] = (uint)(cur / 62);
                rem = cur % 62;
            }

            destination[pos] = Alphabet[(int)rem];
        }
    }

    /// <inheritdoc/>
    public bool Equals(SyncId other) => _hi == other._hi && _mid == other._mid && _lo == other._lo;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is SyncId other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_hi, _mid, _lo);

    /// <inheritdoc/>
    public int CompareTo(SyncId other)
    {
        int c = _hi.CompareTo(other._hi);
        if (c != 0)
        {
            return c;
        }

        c = _mid.CompareTo(other._mid);
        return c != 0 ? c : _lo.CompareTo(other._lo);
    }

    /// <summary>Equality.</summary>
    /// <param name="left">Left id.</param>
    /// <param name="right">Right id.</param>
    /// <returns>Whether both are the same id.</returns>
    public static bool operator ==(SyncId left, SyncId right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    /// <param name="left">Left id.</param>
    /// <param name="right">Right id.</param>
    /// <returns>Whether the ids differ.</returns>
    public static bool operator !=(SyncId left, SyncId right) => !left.Equals(right);

    /// <summary>Ordering.</summary>
    /// <param name="left">Left id.</param>
    /// <param name="right">Right id.</param>
    /// <returns>Whether left sorts first.</returns>
    public static bool operator <(SyncId left, SyncId right) => left.CompareTo(right) < 0;

    /// <summary>Ordering.</summary>
    /// <param name="left">Left id.</param>
    /// <param name="right">Right id.</param>
    /// <returns>Whether left sorts last.</returns>
    public static bool operator >(SyncId left, SyncId right) => left.CompareTo(right) > 0;

    /// <summary>Ordering.</summary>
    /// <param name="left">Left id.</param>
    /// <param name="right">Right id.</param>
    /// <returns>Whether left does not sort after right.</returns>
    public static bool operator <=(SyncId left, SyncId right) => left.CompareTo(right) <= 0;

    /// <summary>Ordering.</summary>
    /// <param name="left">Left id.</param>
    /// <param name="right">Right id.</param>
    /// <returns>Whether left does not sort before right.</returns>
    public static bool operator >=(SyncId left, SyncId right) => left.CompareTo(right) >= 0;
}
