using System.Buffers;
using System.Text;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Tests.Shared;

namespace DotC1z.Core.Tests;

/// <summary>
/// The seed's prefix-free/order microtest (docs/DESIGN.md §7.4), extended: every ordered pair of
/// hand-picked and seeded random tuples must compare bytewise exactly as the tuples compare element
/// by element, no encoding may be a proper element-aligned prefix of another, and decoding inverts encoding.
/// </summary>
public sealed class TupleCodecTests
{
    private static readonly byte[][][] HandPicked =
    [
        [B("user"), B("alice")],
        [B("user"), B("alice\0bob")],
        [B("user\0prefix"), B("alice")],
        [B("user\u0001"), B("\0alice")],
        [B("user"), []],
        [[], B("alice")],
        [B("\0\0\0"), B("alice")],
        [B("user"), B("\u0001\u0001\u0001")],
        [[0xFF, 0xFE], [0x00, 0x01]],
        [[]],
        [[0x00]],
        [[0x00, 0x00, 0x00, 0x00]],
        [[0x01]],
        [[0xFF]],
        [[0xFF, 0xFF, 0xFF]],
        [B("ent"), B("user")],
        [B("ent\0"), B("user")],
        [B("entitlement-1")],
        [B("ent")],
        [B("a"), B("b"), B("c")],
        [B("a"), B("b")],
        [B("a\0b"), B("c")],
        [B("a"), B("b\0c")],
        [Encoding.UTF8.GetBytes(new string('x', 4096))],
        [Encoding.UTF8.GetBytes(new string('x', 4096) + "\0")],
        [Encoding.UTF8.GetBytes("ünïcødé"), Encoding.UTF8.GetBytes("😀")],
    ];

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static byte[] Encode(byte[][] tuple)
    {
        int max = tuple.Sum(e => TupleCodec.MaxEncodedLength(e.Length) + 1);
        var buffer = new byte[max];
        var writer = new TupleWriter(buffer);
        for (int i = 0; i < tuple.Length; i++)
        {
            if (i > 0)
            {
                writer.Separator();
            }

            writer.Bytes(tuple[i]);
        }

        return writer.Written.ToArray();
    }

    private static byte[][] Decode(byte[] encoded, int elements)
    {
        var result = new byte[elements][];
        var reader = new TupleReader(encoded);
        for (int i = 0; i < elements; i++)
        {
            var buffer = new byte[encoded.Length];
            Assert.Equal(OperationStatus.Done, reader.ReadElement(buffer, out int written));
            result[i] = buffer[..written];
        }

        Assert.True(reader.End, "decoder left bytes behind");
        return result;
    }

    private static int TupleCompare(byte[][] a, byte[][] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            int c = a[i].AsSpan().SequenceCompareTo(b[i]);
            if (c != 0)
            {
                return Math.Sign(c);
            }
        }

        return Math.Sign(a.Length.CompareTo(b.Length));
    }

    private static List<byte[][]> RandomTuples(int seed, int count)
    {
        var rng = new Random(seed);
        byte[] alphabet = [0x00, 0x01, 0x02, 0xFF, (byte)'a'];
        var tuples = new List<byte[][]>(count);
        for (int i = 0; i < count; i++)
        {
            var tuple = new byte[1 + rng.Next(3)][];
            for (int k = 0; k < tuple.Length; k++)
            {
                tuple[k] = new byte[rng.Next(6)];
                for (int b = 0; b < tuple[k].Length; b++)
                {
                    tuple[k][b] = alphabet[rng.Next(alphabet.Length)];
                }
            }

            tuples.Add(tuple);
        }

        return tuples;
    }

    [Fact]
    public void Hand_picked_encodings_contain_exactly_one_zero_per_separator()
    {
        foreach (var tuple in HandPicked)
        {
            var encoded = Encode(tuple);
            Assert.Equal(tuple.Length - 1, encoded.Count(b => b == 0x00));
        }
    }

    [Fact]
    public void Bytewise_order_equals_tuple_order_and_encodings_are_prefix_free_and_round_trip()
    {
        int seed = Seeds.Get(20261124);
        var tuples = new List<byte[][]>(HandPicked);
        tuples.AddRange(RandomTuples(seed, 200));
        var encoded = tuples.Select(Encode).ToList();

        int comparisons = 0;
        for (int i = 0; i < tuples.Count; i++)
        {
            var decoded = Decode(encoded[i], tuples[i].Length);
            Assert.True(TupleCompare(decoded, tuples[i]) == 0 && decoded.Length == tuples[i].Length, $"seed={seed}: tuple {i} does not round-trip");

            for (int j = 0; j < tuples.Count; j++)
            {
                comparisons++;
                int expected = TupleCompare(tuples[i], tuples[j]);
                int actual = Math.Sign(encoded[i].AsSpan().SequenceCompareTo(encoded[j]));
                Assert.True(expected == actual, $"seed={seed}: order mismatch for pair ({i},{j}): tuple says {expected}, bytes say {actual}");

                // Element-aligned prefix: the encoding of tuple i followed by a separator must not start
                // encoding j unless tuple i is a prefix of tuple j element-wise.
                if (i != j && encoded[j].Length > encoded[i].Length && encoded[j].AsSpan().StartsWith(encoded[i]) && encoded[j][encoded[i].Length] == TupleCodec.Separator)
                {
                    bool tuplePrefix = tuples[i].Length < tuples[j].Length && tuples[i].Select((e, k) => e.AsSpan().SequenceEqual(tuples[j][k])).All(x => x);
                    Assert.True(tuplePrefix, $"seed={seed}: encoding {i} is an element-aligned prefix of {j} but the tuple is not");
                }
            }
        }

        Assert.True(comparisons >= 40_000, $"only {comparisons} comparisons");
    }

    [Theory]
    [InlineData(new byte[] { 0x01 })]
    [InlineData(new byte[] { (byte)'a', 0x01 })]
    [InlineData(new byte[] { 0x01, 0x03 })]
    [InlineData(new byte[] { 0x01, 0x00 })]
    [InlineData(new byte[] { 0x01, 0xFF })]
    public void Malformed_escapes_are_reported_as_invalid_data(byte[] input)
    {
        var buffer = new byte[16];
        Assert.Equal(OperationStatus.InvalidData, TupleCodec.DecodeElement(input, buffer, out _, out _));
        var reader = new TupleReader(input);
        try
        {
            reader.ReadString();
            Assert.Fail("ReadString accepted a malformed escape");
        }
        catch (C1zCorruptionException)
        {
        }
    }

    [Fact]
    public void Decoder_reports_a_small_destination_instead_of_throwing()
    {
        var encoded = Encode([B("abcdef")]);
        Assert.Equal(OperationStatus.DestinationTooSmall, TupleCodec.DecodeElement(encoded, new byte[3], out _, out _));
    }

    [Fact]
    public void Encoders_report_a_small_destination_instead_of_throwing()
    {
        Assert.Equal(OperationStatus.DestinationTooSmall, TupleCodec.EncodeBytes([0, 0, 0], new byte[5], out _));
        Assert.Equal(OperationStatus.DestinationTooSmall, TupleCodec.EncodeString("\0\0\0", new byte[5], out _));
        Assert.Equal(OperationStatus.DestinationTooSmall, TupleCodec.EncodeString("abcdef", new byte[3], out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain")]
    [InlineData("a\0b\u0001c")]
    [InlineData("\0")]
    [InlineData("\u0001\u0001")]
    [InlineData("ünïcødé 😀")]
    public void String_encoding_equals_escaped_utf8_and_its_predicted_length(string s)
    {
        var viaBytes = new byte[TupleCodec.MaxEncodedStringLength(s.Length) + 1];
        Assert.Equal(OperationStatus.Done, TupleCodec.EncodeBytes(Encoding.UTF8.GetBytes(s), viaBytes, out int w1));
        var viaString = new byte[TupleCodec.MaxEncodedStringLength(s.Length) + 1];
        Assert.Equal(OperationStatus.Done, TupleCodec.EncodeString(s, viaString, out int w2));
        Assert.Equal(viaBytes[..w1], viaString[..w2]);
        Assert.Equal(w1, TupleCodec.EncodedLength(s));
        Assert.Equal(w1, TupleCodec.EncodedLength(Encoding.UTF8.GetBytes(s)));
        var reader = new TupleReader(viaString.AsSpan(0, w2));
        Assert.Equal(s, reader.ReadString());
    }

    [Fact]
    public void Worked_example_keys_match_the_spec()
    {
        // docs/DESIGN.md §4.6: Grant pk "a\0b\1c" escapes to 61 01 01 62 01 02 63.
        var buffer = new byte[64];
        var writer = new TupleWriter(buffer);
        writer.Byte(0x03);
        writer.Byte(0x04);
        writer.SyncId(SyncId.Parse("0ujsswThIGTUYm2K8FjOOfXtY1K"));
        writer.Separator();
        writer.String("a\0b\u0001c");
        Assert.Equal(
            Convert.FromHexString("0304" + "0669f60567ad536455c1813d788f57ca54679412" + "00" + "61010162010263"),
            writer.Written.ToArray());
    }

    [Fact]
    public void Fixed_width_integers_use_the_documented_bytes()
    {
        var b = new byte[8];
        TupleCodec.WriteInt32(b, int.MinValue);
        Assert.Equal("00000000", Convert.ToHexString(b, 0, 4));
        TupleCodec.WriteInt32(b, -1);
        Assert.Equal("7FFFFFFF", Convert.ToHexString(b, 0, 4));
        TupleCodec.WriteInt32(b, 0);
        Assert.Equal("80000000", Convert.ToHexString(b, 0, 4));
        TupleCodec.WriteInt32(b, int.MaxValue);
        Assert.Equal("FFFFFFFF", Convert.ToHexString(b, 0, 4));
        TupleCodec.WriteInt64(b, -1);
        Assert.Equal("7FFFFFFFFFFFFFFF", Convert.ToHexString(b));
        TupleCodec.WriteInt64(b, 1);
        Assert.Equal("8000000000000001", Convert.ToHexString(b));
        Assert.False(TupleCodec.TryReadInt32([1, 2, 3], out _));
        Assert.False(TupleCodec.TryReadInt64([1, 2, 3, 4, 5, 6, 7], out _));
        Assert.True(TupleCodec.TryReadBool([TupleCodec.True], out bool t) && t);
        Assert.True(TupleCodec.TryReadBool([TupleCodec.False], out bool f) && !f);
        Assert.False(TupleCodec.TryReadBool([0x00], out _));
        Assert.False(TupleCodec.TryReadBool([], out _));
    }

    [Fact]
    public void Writer_refuses_to_overrun_its_buffer()
    {
        Assert.Throws<ArgumentException>(() =>
        {
            var w = new TupleWriter(new byte[4]);
            w.String("too long");
        });
        Assert.Throws<ArgumentException>(() =>
        {
            var w = new TupleWriter(new byte[3]);
            w.Int32(1);
        });
    }
}
