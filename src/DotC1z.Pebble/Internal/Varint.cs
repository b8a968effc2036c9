namespace DotC1z.Pebble;

/// <summary>Bounds-checked unsigned LEB128 ("uvarint") decoding, as Go's encoding/binary writes it.</summary>
internal static class Varint
{
    /// <summary>Decodes a uvarint at <paramref name="pos"/>; returns false if it is truncated or longer than 10 bytes / 64 bits.</summary>
    public static bool TryRead(ReadOnlySpan<byte> buf, ref int pos, out ulong value)
    {
        ulong result = 0;
        int shift = 0;
        int p = pos;
        while (p < buf.Length)
        {
            byte b = buf[p++];
            if (shift == 63 && b > 1)
            {
                value = 0;
                return false;
            }

            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                pos = p;
                value = result;
                return true;
            }

            shift += 7;
            if (shift > 63)
            {
                break;
            }
        }

        value = 0;
        return false;
    }
}

/// <summary>
/// A forward reader over a byte span whose every failure is a corruption error naming the file and
/// what was being read.
/// </summary>
internal ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _buf;
    private readonly string _file;
    private readonly string _what;

    public SpanReader(ReadOnlySpan<byte> buf, string file, string what)
    {
        _buf = buf;
        _file = file;
        _what = what;
        Position = 0;
    }

    public int Position { get; private set; }

    public readonly int Remaining => _buf.Length - Position;

    public readonly bool AtEnd => Position >= _buf.Length;

    public ulong Uvarint(string field)
    {
        int p = Position;
        if (!Varint.TryRead(_buf, ref p, out ulong v))
        {
            Fail.Corrupt(_file, $"{_what}: bad or truncated varint ({field}) at {Position}");
        }

        Position = p;
        return v;
    }

    public int UvarintInt(string field, int max)
    {
        ulong v = Uvarint(field);
        if (v > (ulong)max)
        {
            Fail.Corrupt(_file, $"{_what}: {field} {v} exceeds {max}");
        }

        return (int)v;
    }

    public ReadOnlySpan<byte> Bytes(int n, string field)
    {
        if (n < 0 || n > Remaining)
        {
            Fail.Corrupt(_file, $"{_what}: {field} of {n} bytes overruns its {Remaining} remaining bytes");
        }

        var s = _buf.Slice(Position, n);
        Position += n;
        return s;
    }

    public ReadOnlySpan<byte> LengthPrefixed(string field, int max)
    {
        int n = UvarintInt(field + " length", max);
        return Bytes(n, field);
    }

    public byte Byte(string field) => Bytes(1, field)[0];
}
