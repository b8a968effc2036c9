using System.Buffers.Binary;
using System.Text;

namespace DotC1z.Interop.Pebble;

/// <summary>
/// baton's Pebble keyspace, single-sync layout (docs/PEBBLE.md, "baton's keyspace"): every key starts with
/// <c>03</c>, a one-byte record family, and for primary records a bare <c>00</c> and tuple elements.
/// </summary>
internal static class BatonKeys
{
    public const byte Root = 0x03;
    public const byte ResourceType = 0x01;
    public const byte Resource = 0x02;
    public const byte Entitlement = 0x03;
    public const byte Grant = 0x04;
    public const byte Asset = 0x05;
    public const byte SyncRun = 0x06;
    public const byte Index = 0x07;
    public const byte Session = 0x09;
    public const byte Digest = 0x0A;
    public const byte Meta = 0xFF;

    /// <summary>The only keyspace version of the single-sync layout.</summary>
    public const uint SupportedKeyspaceVersion = 2;

    public static ReadOnlySpan<byte> KeyspaceVersionKey => KeyspaceVersionBytes;

    public static ReadOnlySpan<byte> IdFormatKey => IdFormatBytes;

    public static ReadOnlySpan<byte> StatsKey => StatsBytes;

    public static ReadOnlySpan<byte> SyncRunKey => [Root, SyncRun];

    private static readonly byte[] KeyspaceVersionBytes = [Root, Meta, .. "keyspace_version"u8];
    private static readonly byte[] IdFormatBytes = [Root, Meta, .. "grant_entitlement_id_format"u8];
    private static readonly byte[] StatsBytes = [Root, Meta, .. "stats"u8, 0];

    /// <summary>Lower (inclusive) and upper (exclusive) bounds of a primary family: <c>03 tt 00</c> … <c>03 tt 01</c>.</summary>
    public static (byte[] Lower, byte[] Upper) Family(byte family) => ([Root, family, 0], [Root, family, 1]);

    /// <summary>Reads a u32 BE stamp value.</summary>
    public static bool TryReadStamp(ReadOnlySpan<byte> value, out uint stamp)
    {
        stamp = 0;
        if (value.Length != 4)
        {
            return false;
        }

        stamp = BinaryPrimitives.ReadUInt32BigEndian(value);
        return true;
    }

    /// <summary>
    /// Splits the tuple after a family header (<c>03 tt 00</c>) into unescaped elements: elements are joined
    /// by a bare <c>00</c>; inside one, <c>01 01</c> stands for <c>00</c> and <c>01 02</c> for <c>01</c>.
    /// </summary>
    /// <returns>False when an escape is malformed or the element count differs from <paramref name="expected"/>.</returns>
    public static bool TrySplit(ReadOnlySpan<byte> tuple, int expected, KeyTuple elements) => elements.TrySplit(tuple, expected);

    /// <summary>
    /// The structural identity of an entitlement id (id-index format 2): flag <c>1</c> with the rest as tail
    /// when the id starts with <c>rt:rid:</c>, else flag <c>0</c> with the whole id.
    /// </summary>
    public static bool IdentityMatches(ReadOnlySpan<byte> rt, ReadOnlySpan<byte> rid, ReadOnlySpan<byte> flag, ReadOnlySpan<byte> tail, string externalId)
    {
        // ASCII ids (all of them in practice) are compared as they are, with no string built; anything
        // else takes the general comparison below, which decides exactly as before.
        if (flag.Length == 1 && System.Text.Ascii.IsValid(rt) && System.Text.Ascii.IsValid(rid) && System.Text.Ascii.IsValid(tail))
        {
            ReadOnlySpan<char> id = externalId;
            bool prefixed = id.Length >= rt.Length + rid.Length + 2
                && System.Text.Ascii.Equals(rt, id[..rt.Length]) && id[rt.Length] == ':'
                && System.Text.Ascii.Equals(rid, id.Slice(rt.Length + 1, rid.Length)) && id[rt.Length + 1 + rid.Length] == ':';
            if (flag[0] == (byte)'1')
            {
                return prefixed && System.Text.Ascii.Equals(tail, id[(rt.Length + rid.Length + 2)..]);
            }

            if (flag[0] == (byte)'0')
            {
                // Flag 0 is only written when the id does not have the rt:rid: prefix.
                return !prefixed && System.Text.Ascii.Equals(tail, id);
            }
        }

        return IdentityMatchesSlow(rt, rid, flag, tail, externalId);
    }

    private static bool IdentityMatchesSlow(ReadOnlySpan<byte> rt, ReadOnlySpan<byte> rid, ReadOnlySpan<byte> flag, ReadOnlySpan<byte> tail, string externalId)
    {
        string expected = flag.SequenceEqual("1"u8)
            ? $"{Encoding.UTF8.GetString(rt)}:{Encoding.UTF8.GetString(rid)}:{Encoding.UTF8.GetString(tail)}"
            : flag.SequenceEqual("0"u8) ? Encoding.UTF8.GetString(tail) : "\0invalid-flag";
        if (!string.Equals(expected, externalId, StringComparison.Ordinal))
        {
            return false;
        }

        // Flag 0 is only written when the id does not have the rt:rid: prefix.
        return !flag.SequenceEqual("0"u8) || !externalId.StartsWith($"{Encoding.UTF8.GetString(rt)}:{Encoding.UTF8.GetString(rid)}:", StringComparison.Ordinal);
    }

    /// <summary>Whether a key element holds exactly the UTF-8 encoding of <paramref name="value"/> (as decoded text).</summary>
    public static bool Is(ReadOnlySpan<byte> element, string value) =>
        System.Text.Ascii.Equals(element, value)
        || (Encoding.UTF8.GetByteCount(value) == element.Length && Encoding.UTF8.GetString(element) == value);

    /// <summary>A key as it may be shown in a message: printable ASCII kept, other bytes as <c>\xNN</c>, long keys cut.</summary>
    public static string Show(ReadOnlySpan<byte> key)
    {
        var sb = new StringBuilder(key.Length + 8);
        foreach (byte b in key.Length > 120 ? key[..120] : key)
        {
            if (b is >= 0x21 and < 0x7F and not (byte)'\\')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{b:x2}");
            }
        }

        return key.Length > 120 ? sb.Append('…').ToString() : sb.ToString();
    }
}

/// <summary>
/// The unescaped elements of one key tuple, reused from key to key: one buffer and the element bounds, so
/// splitting a key allocates nothing.
/// </summary>
internal sealed class KeyTuple
{
    private byte[] _bytes = new byte[256];
    private readonly List<(int Start, int Length)> _bounds = new(8);

    /// <summary>Number of elements.</summary>
    public int Count => _bounds.Count;

    /// <summary>Element <paramref name="index"/>, unescaped.</summary>
    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            var (start, length) = _bounds[index];
            return _bytes.AsSpan(start, length);
        }
    }

    /// <summary>See <see cref="BatonKeys.TrySplit"/>.</summary>
    public bool TrySplit(ReadOnlySpan<byte> tuple, int expected)
    {
        _bounds.Clear();
        if (_bytes.Length < tuple.Length)
        {
            _bytes = new byte[Math.Max(tuple.Length, _bytes.Length * 2)];
        }

        // Unescaping only shrinks: the output fits in tuple.Length bytes.
        int n = 0, start = 0;
        for (int i = 0; i < tuple.Length; i++)
        {
            byte b = tuple[i];
            if (b == 0)
            {
                _bounds.Add((start, n - start));
                start = n;
            }
            else if (b == 1)
            {
                if (i + 1 >= tuple.Length || tuple[i + 1] is not (1 or 2))
                {
                    return false;
                }

                _bytes[n++] = (byte)(tuple[++i] - 1);
            }
            else
            {
                _bytes[n++] = b;
            }
        }

        _bounds.Add((start, n - start));
        return _bounds.Count == expected;
    }
}
