using System.Text;
using DotC1z.Errors;

namespace DotC1z.Pebble.Tests;

/// <summary>Checksums, varints and the columnar primitives on hand-built bytes.</summary>
public sealed class PrimitiveTests
{
    [Theory]
    [InlineData("123456789", 0xE3069283u, 0xC78AB0E5u)]
    [InlineData("", 0x00000000u, 0xA282EAD8u)]
    public void Crc32C_and_its_mask_match_known_answers(string text, uint crc, uint masked)
    {
        byte[] data = Encoding.ASCII.GetBytes(text);
        Assert.Equal(crc, Crc32C.Compute(data));
        Assert.Equal(masked, Crc32C.Masked(data));
    }

    [Fact]
    public void Crc32C_of_32_zero_bytes_and_split_input()
    {
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        byte[] data = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xE3069283u, Crc32C.Compute(data.AsSpan(0, 4), data.AsSpan(4)));
        Assert.Equal(0x43282B05u, Crc32C.Masked([0x01]));
    }

    [Fact]
    public void Varints_decode_and_reject_overlong_or_truncated_input()
    {
        int p = 0;
        Assert.True(Varint.TryRead([0xAC, 0x02], ref p, out ulong v));
        Assert.Equal(300UL, v);
        Assert.Equal(2, p);
        p = 0;
        Assert.True(Varint.TryRead([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], ref p, out v));
        Assert.Equal(ulong.MaxValue, v);
        p = 0;
        Assert.False(Varint.TryRead([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], ref p, out _));
        p = 0;
        Assert.False(Varint.TryRead([0x80, 0x80], ref p, out _));
        Assert.Equal(0, p);
    }

    [Fact]
    public void Uint_column_with_delta_and_width_one()
    {
        // e = 0x81 (delta, width 1), base 1000, values 0, 5, 255.
        byte[] a = [0x81, .. BitConverter.GetBytes(1000UL), 0, 5, 255];
        int end = UintColumn.Decode(a, 0, 0, a.Length, 3, "t", "test", out var col);
        Assert.Equal(a.Length, end);
        Assert.Equal(1000UL, col.Get(a, 0));
        Assert.Equal(1005UL, col.Get(a, 1));
        Assert.Equal(1255UL, col.Get(a, 2));
    }

    [Fact]
    public void Uint_column_aligns_values_relative_to_the_block_start()
    {
        // Block starts at array offset 3; the column at block offset 1; width 4 delta: base then padding to 4.
        byte[] a = [9, 9, 9, /* block */ 0xEE, 0x84, .. BitConverter.GetBytes(7UL), /* block offset 10 */ 0, 0, /* 12 */ .. BitConverter.GetBytes(1u), .. BitConverter.GetBytes(0x10000u)];
        int end = UintColumn.Decode(a, 3, 4, a.Length, 2, "t", "test", out var col);
        Assert.Equal(a.Length, end);
        Assert.Equal(8UL, col.Get(a, 0));
        Assert.Equal(0x10007UL, col.Get(a, 1));
    }

    [Fact]
    public void Uint_column_widths_zero_two_and_eight()
    {
        byte[] zero = [0x80, .. BitConverter.GetBytes(42UL)];
        UintColumn.Decode(zero, 0, 0, zero.Length, 1000, "t", "test", out var z);
        Assert.Equal(42UL, z.Get(zero, 999));

        byte[] plainZero = [0x00];
        UintColumn.Decode(plainZero, 0, 0, 1, 5, "t", "test", out var pz);
        Assert.Equal(0UL, pz.Get(plainZero, 4));

        byte[] two = [0x02, 0x00, 0x34, 0x12, 0xFF, 0xFF];
        UintColumn.Decode(two, 0, 0, two.Length, 2, "t", "test", out var t);
        Assert.Equal(0x1234UL, t.Get(two, 0));
        Assert.Equal(0xFFFFUL, t.Get(two, 1));

        byte[] eight = [0x08, 0, 0, 0, 0, 0, 0, 0, .. BitConverter.GetBytes(ulong.MaxValue - 1)];
        UintColumn.Decode(eight, 0, 0, eight.Length, 1, "t", "test", out var e);
        Assert.Equal(ulong.MaxValue - 1, e.Get(eight, 0));

        Assert.Equal(5, UintColumn.Decode(new byte[8], 0, 5, 8, 0, "t", "test", out _)); // no rows, no bytes
    }

    [Fact]
    public void Uint_column_rejects_bad_widths_and_overruns()
    {
        Assert.Throws<C1zCorruptionException>(() => UintColumn.Decode([0x03, 1, 2, 3], 0, 0, 4, 1, "t", "test", out _));
        Assert.Throws<C1zCorruptionException>(() => UintColumn.Decode([0x02, 0, 1, 2], 0, 0, 4, 2, "t", "test", out _));
        Assert.Throws<C1zCorruptionException>(() => UintColumn.Decode([0x81, 1, 2], 0, 0, 3, 1, "t", "test", out _));
        Assert.Throws<C1zCorruptionException>(() => UintColumn.Decode([], 0, 0, 0, 1, "t", "test", out _));
    }

    [Fact]
    public void Raw_bytes_column_slices_and_rejects_offsets_beyond_its_data()
    {
        // Offsets 0,2,2,5 (width 1) then "abcde".
        byte[] a = [0x01, 0, 2, 2, 5, .. "abcde"u8];
        int end = RawBytesColumn.Decode(a, 0, 0, a.Length, 3, "t", "test", out var col);
        Assert.Equal(a.Length, end);
        Assert.Equal("ab", Encoding.ASCII.GetString(col.Get(a, 0)));
        Assert.Equal("", Encoding.ASCII.GetString(col.Get(a, 1)));
        Assert.Equal("cde", Encoding.ASCII.GetString(col.Get(a, 2)));

        byte[] bad = [0x01, 0, 9, .. "ab"u8];
        Assert.Throws<C1zCorruptionException>(() => RawBytesColumn.Decode(bad, 0, 0, bad.Length, 1, "t", "test", out _));
        byte[] decreasing = [0x01, 2, 1, 2, .. "ab"u8];
        RawBytesColumn.Decode(decreasing, 0, 0, decreasing.Length, 2, "t", "test", out var dec);
        Assert.Throws<C1zCorruptionException>(() => dec.Get(decreasing, 0));
    }

    [Fact]
    public void Bitmap_column_reads_bits_and_the_all_false_encoding()
    {
        byte[] allFalse = [0x01];
        BitmapColumn.Decode(allFalse, 0, 0, 1, 100, "t", "test", out var f);
        Assert.True(f.AllFalse);
        Assert.False(f.Get(allFalse, 99));

        // 70 rows: 2 words + 1 summary word after padding to 8. Bits 0, 3 and 65 set.
        byte[] a = [0x00, 0, 0, 0, 0, 0, 0, 0, .. BitConverter.GetBytes(0b1001UL), .. BitConverter.GetBytes(2UL), .. BitConverter.GetBytes(3UL)];
        int end = BitmapColumn.Decode(a, 0, 0, a.Length, 70, "t", "test", out var bm);
        Assert.Equal(a.Length, end);
        Assert.True(bm.Get(a, 0));
        Assert.False(bm.Get(a, 1));
        Assert.True(bm.Get(a, 3));
        Assert.False(bm.Get(a, 64));
        Assert.True(bm.Get(a, 65));
        Assert.Throws<C1zCorruptionException>(() => BitmapColumn.Decode(a, 0, 0, 20, 70, "t", "test", out _));
    }

    [Fact]
    public void Prefix_bytes_with_bundles_and_empty_suffixes()
    {
        // Bundles of 2 (shift 1); keys: apple, apple, apricot, apricots.
        // Shared prefix "ap"; bundle 0 prefix "ple" with two empty suffixes; bundle 1 prefix "ricot", suffixes "" and "s".
        // Slices: [b0 "ple"] [r0 ""] [r1 ""] [b1 "ricot"] [r2 ""] [r3 "s"]; off[0] = 2 ends the shared prefix.
        byte[] a = [1, 0x01, 2, 5, 5, 5, 10, 10, 11, .. "applericots"u8];
        int end = PrefixBytesColumn.Decode(a, 0, 0, a.Length, 4, "t", "test", out var col);
        Assert.Equal(a.Length, end);
        Assert.Equal(new[] { "apple", "apple", "apricot", "apricots" }, Enumerable.Range(0, 4).Select(r => KeyAt(col, a, r)));
        var (_, sharedLen) = col.Shared(a);
        Assert.Equal(2, sharedLen);
    }

    [Fact]
    public void Prefix_bytes_empty_suffix_repeats_the_previous_non_empty_key()
    {
        // One bundle of 4 (shift 2); keys k1, k2, k2, k3: shared "k", bundle prefix "", suffixes 1, 2, "", 3.
        byte[] a = [2, 0x01, 1, 1, 2, 3, 3, 4, .. "k123"u8];
        PrefixBytesColumn.Decode(a, 0, 0, a.Length, 4, "t", "test", out var col);
        Assert.Equal(new[] { "k1", "k2", "k2", "k3" }, Enumerable.Range(0, 4).Select(r => KeyAt(col, a, r)));
    }

    [Fact]
    public void Prefix_bytes_rejects_data_beyond_the_column()
    {
        byte[] a = [2, 0x01, 1, 1, 2, 3, 3, 40, .. "k123"u8];
        Assert.Throws<C1zCorruptionException>(() => PrefixBytesColumn.Decode(a, 0, 0, a.Length, 4, "t", "test", out _));
    }

    private static string KeyAt(PrefixBytesColumn col, byte[] a, int row)
    {
        var buf = new byte[64];
        int n = col.CopyKey(a, row, buf);
        return Encoding.ASCII.GetString(buf, 0, n);
    }

    [Fact]
    public void Columnar_header_checks_types_pages_and_padding()
    {
        // Custom header 0; version 1, 1 column, 2 rows; column 0 Uint at page 12; e=1, values 7, 8; pad byte.
        byte[] b = [1, 1, 0, 2, 0, 0, 0, 2, 12, 0, 0, 0, 0x01, 7, 8, 0];
        var h = ColumnarHeader.Parse(b, 0, b.Length, 0, [ColType.Uint], "t", "test");
        Assert.Equal(2, h.Rows);
        UintColumn.Decode(b, 0, h.ColumnStart(0), h.ColumnEnd(0), h.Rows, "t", "test", out var col);
        Assert.Equal(8UL, col.Get(b, 1));

        Assert.Throws<C1zCorruptionException>(() => ColumnarHeader.Parse(b, 0, b.Length, 0, [ColType.Bytes], "t", "test"));
        byte[] badVersion = (byte[])b.Clone();
        badVersion[0] = 2;
        Assert.Throws<C1zCorruptionException>(() => ColumnarHeader.Parse(badVersion, 0, b.Length, 0, [ColType.Uint], "t", "test"));
        byte[] badPage = (byte[])b.Clone();
        badPage[8] = 200;
        Assert.Throws<C1zCorruptionException>(() => ColumnarHeader.Parse(badPage, 0, b.Length, 0, [ColType.Uint], "t", "test"));
        byte[] badPad = (byte[])b.Clone();
        badPad[^1] = 1;
        Assert.Throws<C1zCorruptionException>(() => ColumnarHeader.Parse(badPad, 0, b.Length, 0, [ColType.Uint], "t", "test"));
        byte[] tooManyRows = (byte[])b.Clone();
        tooManyRows[6] = 0x10;
        Assert.Throws<C1zCorruptionException>(() => ColumnarHeader.Parse(tooManyRows, 0, b.Length, 0, [ColType.Uint], "t", "test"));
    }

    [Fact]
    public void Record_log_round_trips_records_across_block_boundaries()
    {
        var records = new[] { new byte[10], Enumerable.Range(0, 70_000).Select(i => (byte)i).ToArray(), "tail"u8.ToArray() };
        byte[] log = Builders.RecordLog(records);
        var r = new RecordLogReader(log, "x", strict: true, 1);
        foreach (var expected in records)
        {
            Assert.True(r.TryNext(out var rec));
            Assert.Equal(expected, rec.ToArray());
        }

        Assert.False(r.TryNext(out _));
    }

    [Fact]
    public void Record_log_in_strict_mode_reports_damage_and_torn_records()
    {
        byte[] log = Builders.RecordLog([Enumerable.Range(0, 40_000).Select(i => (byte)i).ToArray()]);
        byte[] flipped = (byte[])log.Clone();
        flipped[100] ^= 4;
        Assert.Throws<C1zCorruptionException>(() => new RecordLogReader(flipped, "x", true, 1).TryNext(out _));
        byte[] torn = log.AsSpan(0, 32 * 1024).ToArray();
        Assert.Throws<C1zCorruptionException>(() => new RecordLogReader(torn, "x", true, 1).TryNext(out _));
        // In WAL mode the same damage simply ends the log.
        Assert.False(new RecordLogReader(flipped, "x", false, 1).TryNext(out _));
        Assert.False(new RecordLogReader(torn, "x", false, 1).TryNext(out _));
    }
}
