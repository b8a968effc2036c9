using System.Text;
using CsCheck;
using DotC1z.Keys;

namespace DotC1z.Core.Tests;

/// <summary>CsCheck properties: integer encodings order like the numbers, and multi-element string tuples order element-wise.</summary>
public sealed class TupleCodecProperties
{
    private static int SignOfBytes(Action<byte[]> writeA, Action<byte[]> writeB, int width)
    {
        var a = new byte[width];
        var b = new byte[width];
        writeA(a);
        writeB(b);
        return Math.Sign(a.AsSpan().SequenceCompareTo(b));
    }

    [Fact]
    public void Int32_encoding_orders_like_the_numbers_and_round_trips() =>
        Gen.Int.Select(Gen.Int).Sample((x, y) =>
        {
            var buf = new byte[4];
            TupleCodec.WriteInt32(buf, x);
            return TupleCodec.TryReadInt32(buf, out int back) && back == x
                && SignOfBytes(b => TupleCodec.WriteInt32(b, x), b => TupleCodec.WriteInt32(b, y), 4) == x.CompareTo(y);
        });

    [Fact]
    public void Int64_encoding_orders_like_the_numbers_and_round_trips() =>
        Gen.Long.Select(Gen.Long).Sample((x, y) =>
        {
            var buf = new byte[8];
            TupleCodec.WriteInt64(buf, x);
            return TupleCodec.TryReadInt64(buf, out long back) && back == x
                && SignOfBytes(b => TupleCodec.WriteInt64(b, x), b => TupleCodec.WriteInt64(b, y), 8) == x.CompareTo(y);
        });

    [Fact]
    public void UInt32_and_UInt64_encodings_order_like_the_numbers() =>
        Gen.UInt.Select(Gen.UInt, Gen.ULong, Gen.ULong).Sample((a, b, c, d) =>
            SignOfBytes(x => TupleCodec.WriteUInt32(x, a), x => TupleCodec.WriteUInt32(x, b), 4) == a.CompareTo(b)
            && SignOfBytes(x => TupleCodec.WriteUInt64(x, c), x => TupleCodec.WriteUInt64(x, d), 8) == c.CompareTo(d));

    private static readonly Gen<string> Element = Gen.OneOf(
        Gen.String[Gen.Char['\0', '\u0003'], 0, 4],
        Gen.String[Gen.Char['a', 'c'], 0, 4],
        Gen.String,
        Gen.Const(string.Empty));

    private static readonly Gen<string[]> Tuple = Element.Array[1, 4];

    private static byte[] Encode(string[] tuple)
    {
        var buffer = new byte[tuple.Sum(s => TupleCodec.MaxEncodedStringLength(s.Length) + 1)];
        var w = new TupleWriter(buffer);
        for (int i = 0; i < tuple.Length; i++)
        {
            if (i > 0)
            {
                w.Separator();
            }

            w.String(tuple[i]);
        }

        return w.Written.ToArray();
    }

    private static int Compare(string[] a, string[] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            int c = Math.Sign(Encoding.UTF8.GetBytes(a[i]).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b[i])));
            if (c != 0)
            {
                return c;
            }
        }

        return a.Length.CompareTo(b.Length);
    }

    private static bool IsValidUtf16(string s) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)) == s;

    [Fact]
    public void Multi_element_string_tuples_order_element_wise_and_round_trip() =>
        Tuple.Select(Tuple).Sample((a, b) =>
        {
            var ea = Encode(a);
            var eb = Encode(b);
            if (Math.Sign(ea.AsSpan().SequenceCompareTo(eb)) != Math.Sign(Compare(a, b)))
            {
                return false;
            }

            if (!a.All(IsValidUtf16))
            {
                return true; // lone surrogates are replaced by U+FFFD on encode; order still checked above
            }

            var reader = new TupleReader(ea);
            foreach (string expected in a)
            {
                if (reader.ReadString() != expected)
                {
                    return false;
                }
            }

            return reader.End;
        });

    [Fact]
    public void Utf8Ordinal_matches_utf8_byte_order() =>
        Gen.String.Select(Gen.String).Sample((a, b) =>
            !IsValidUtf16(a) || !IsValidUtf16(b)
            || Math.Sign(Utf8Ordinal.Instance.Compare(a, b)) == Math.Sign(Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b))));

    [Fact]
    public void Utf8Ordinal_SameText_is_equality_of_the_utf8_encoding() =>
        Gen.String.Select(Gen.String, Gen.Int[0, 3]).Sample((a, b, mode) =>
        {
            // Equal texts a fair share of the time, and texts one character apart (non-ASCII included).
            string text = mode switch { 0 => a, 1 => a + "é", 2 => a.Length > 0 ? a[..^1] : "😀", _ => b };
            return !IsValidUtf16(a) || !IsValidUtf16(text)
                || Utf8Ordinal.SameText(Encoding.UTF8.GetBytes(a), text) == (a == text);
        });

    [Fact]
    public void Utf8Ordinal_SameText_takes_null_as_empty_and_refuses_invalid_utf8()
    {
        Assert.True(Utf8Ordinal.SameText([], null));
        Assert.False(Utf8Ordinal.SameText("x"u8, null));
        Assert.True(Utf8Ordinal.SameText(Encoding.UTF8.GetBytes(new string('é', 300)), new string('é', 300)));
        Assert.False(Utf8Ordinal.SameText([0xC3], "\uFFFD"));
        Assert.False(Utf8Ordinal.SameText([0xFF, 0xFE, 0xFD], "\uFFFD"));
    }

    [Fact]
    public void Utf8Ordinal_orders_surrogate_pairs_after_the_top_of_the_bmp()
    {
        // U+FFFD (EF BF BD) < U+1F600 (F0 9F 98 80), although '\uD83D' < '\uFFFD' in UTF-16.
        Assert.True(Utf8Ordinal.Instance.Compare("\uFFFD", "😀") < 0);
        Assert.True(string.CompareOrdinal("\uFFFD", "😀") > 0);
    }

    [Fact]
    public void Upper_bound_is_the_prefix_successor()
    {
        Assert.Equal(new byte[] { 0x04 }, KeyRange.UpperBound([0x03, 0xFF, 0xFF]));
        Assert.Equal(new byte[] { 0x03, 0x07, 0x01 }, KeyRange.UpperBound([0x03, 0x07, 0x00]));
        Assert.Equal(new byte[] { 0x03, 0x05 }, KeyRange.UpperBound([0x03, 0x04]));
        Assert.Null(KeyRange.UpperBound([0xFF, 0xFF]));
        Assert.Null(KeyRange.UpperBound([]));
        Gen.Byte.Array[1, 8].Sample(prefix =>
        {
            var bound = KeyRange.UpperBound(prefix);
            if (bound is null)
            {
                return prefix.All(b => b == 0xFF);
            }

            // Every extension of the prefix sorts below the bound, and the prefix itself too.
            var extended = prefix.Concat(new byte[] { 0xFF, 0xFF, 0xFF }).ToArray();
            return prefix.AsSpan().SequenceCompareTo(bound) < 0 && extended.AsSpan().SequenceCompareTo(bound) < 0;
        });
    }
}
