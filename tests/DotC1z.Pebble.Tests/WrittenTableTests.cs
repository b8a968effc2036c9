using System.Text;
using DotC1z.Errors;

namespace DotC1z.Pebble.Tests;

/// <summary>Tables written from scratch: two-level indexes, zstd blocks, value blocks, deletes, and bad rows.</summary>
public sealed class WrittenTableTests
{
    private const byte Del = 0, Set = 1, Merge = 2, SingleDel = 7, SetWithDel = 18, DelSized = 23;

    /// <summary>The medium files with a MANIFEST whose only live table is <paramref name="sst"/> as 000050.</summary>
    private static PebbleDatabase OpenSingle(TestTableWriter w, byte[]? sst = null, byte[]? smallest = null, byte[]? largest = null)
    {
        sst ??= w.Build();
        var first = w.Rows.First();
        var last = w.Rows.Last();
        ulong minSeq = w.Rows.Min(r => r.Seq), maxSeq = w.Rows.Max(r => r.Seq);
        var edit = new EditBuilder().Comparer().Counters(30, 100, 1000)
            .NewTable(6, 50, (ulong)sst.Length, smallest ?? Builders.InternalKey(first.Key, first.Seq, first.Kind),
                largest ?? Builders.InternalKey(last.Key, last.Seq, last.Kind), minSeq == maxSeq ? 0 : minSeq, maxSeq);
        var files = FixtureFiles.Medium
            .With("MANIFEST-000090", Builders.RecordLog([edit.Build()]))
            .With("marker.manifest.000002.MANIFEST-000090", [])
            .With("000050.sst", sst);
        return PebbleDatabase.Open(files);
    }

    private static List<string> Scan(PebbleDatabase db, string lower = "", string upper = "")
    {
        var list = new List<string>();
        using var c = db.Scan(Encoding.UTF8.GetBytes(lower), Encoding.UTF8.GetBytes(upper));
        while (c.MoveNext())
        {
            list.Add(Encoding.UTF8.GetString(c.Key) + "=" + Encoding.UTF8.GetString(c.Value));
        }

        return list;
    }

    private static TestTableWriter Many(int n, int rowsPerBlock, int fanout, byte codec, bool valueBlocks = false)
    {
        var w = new TestTableWriter { RowsPerBlock = rowsPerBlock, TwoLevelFanout = fanout, DataCodec = codec };
        for (int i = 0; i < n; i++)
        {
            w.Add($"key-{i:D5}", (ulong)(i + 1), Set, $"value-{i}", inValueBlock: valueBlocks && i % 3 == 0);
        }

        return w;
    }

    [Theory]
    [InlineData(0, (byte)0)]
    [InlineData(0, (byte)1)]
    [InlineData(0, (byte)7)]
    [InlineData(4, (byte)7)]
    [InlineData(1, (byte)1)]
    public void Tables_with_one_or_two_level_indexes_and_any_codec_read_back(int fanout, byte codec)
    {
        var w = Many(200, 7, fanout, codec);
        using var db = OpenSingle(w);
        var all = Scan(db);
        Assert.Equal(200, all.Count);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"key-{i:D5}=value-{i}"), all);
        Assert.Equal(Enumerable.Range(57, 80).Select(i => $"key-{i:D5}=value-{i}"), Scan(db, "key-00057", "key-00137"));
        Assert.Equal(["key-00199=value-199"], Scan(db, "key-00198~"));
        Assert.Empty(Scan(db, "key-00199~"));
        Assert.True(db.TryGet("key-00123"u8, out var v));
        Assert.Equal("value-123"u8.ToArray(), v);
        Assert.False(db.TryGet("key-00123x"u8, out _));
    }

    [Fact]
    public void Version_6_tables_read_back()
    {
        var w = new TestTableWriter { RowsPerBlock = 4, TwoLevelFanout = 2, DataCodec = 1, Version6 = true };
        for (int i = 0; i < 30; i++)
        {
            w.Add($"k{i:D3}", (ulong)(i + 1), Set, $"v{i}");
        }

        byte[] sst = w.Build();
        Assert.Equal(6u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(sst.AsSpan(sst.Length - 12)));
        using var db = OpenSingle(w, sst);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"k{i:D3}=v{i}"), Scan(db));
    }

    [Fact]
    public void Values_in_value_blocks_are_resolved()
    {
        var w = Many(100, 5, 3, 1, valueBlocks: true);
        Assert.Contains(w.Rows, r => r.InValueBlock);
        using var db = OpenSingle(w);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"key-{i:D5}=value-{i}"), Scan(db));
        Assert.True(db.TryGet("key-00042"u8, out var v));
        Assert.Equal("value-42"u8.ToArray(), v);
    }

    [Fact]
    public void Point_tombstones_hide_older_versions_and_the_newest_set_wins()
    {
        var w = new TestTableWriter { RowsPerBlock = 2 }
            .Add("a", 9, Del, "").Add("a", 3, Set, "old-a")
            .Add("b", 8, Set, "new-b").Add("b", 2, Set, "old-b")
            .Add("c", 7, SingleDel, "").Add("c", 1, Set, "old-c")
            .Add("d", 6, DelSized, "\x05").Add("d", 1, Set, "old-d")
            .Add("e", 5, SetWithDel, "e5").Add("e", 4, Del, "");
        using var db = OpenSingle(w);
        Assert.Equal(["b=new-b", "e=e5"], Scan(db));
        Assert.False(db.TryGet("a"u8, out _));
        Assert.True(db.TryGet("b"u8, out var b));
        Assert.Equal("new-b"u8.ToArray(), b);
    }

    [Fact]
    public void A_merge_operand_is_a_format_error()
    {
        var w = new TestTableWriter().Add("a", 2, Set, "x").Add("m", 3, Merge, "operand").Add("z", 4, Set, "y");
        using var db = OpenSingle(w);
        Assert.Equal(["a=x"], Scan(db, "", "m"));
        var e = Assert.Throws<C1zFormatException>(() => Scan(db));
        Assert.Contains("merge operands not supported", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rows_out_of_order_or_duplicated_are_corruption()
    {
        var swapped = new TestTableWriter { RowsPerBlock = 2 }.Add("a", 1, Set, "").Add("c", 2, Set, "").Add("b", 3, Set, "");
        using (var db = OpenSingle(swapped, largest: Builders.InternalKey("c"u8, 2, Set)))
        {
            Assert.Throws<C1zCorruptionException>(() => Scan(db));
        }

        var dup = new TestTableWriter().Add("a", 1, Set, "").Add("b", 2, Set, "").Add("b", 2, Set, "");
        using (var db = OpenSingle(dup))
        {
            Assert.Throws<C1zCorruptionException>(() => Scan(db));
        }

        var seqUp = new TestTableWriter().Add("a", 1, Set, "").Add("a", 5, Set, "");
        using (var db = OpenSingle(seqUp))
        {
            Assert.Throws<C1zCorruptionException>(() => Scan(db));
        }
    }

    [Fact]
    public void Keys_outside_the_manifest_bounds_are_corruption()
    {
        var w = new TestTableWriter().Add("b", 1, Set, "").Add("c", 2, Set, "").Add("d", 3, Set, "");
        using (var db = OpenSingle(w, smallest: Builders.InternalKey("c"u8, 2, Set)))
        {
            Assert.Throws<C1zCorruptionException>(() => Scan(db));
        }

        using (var db = OpenSingle(w, largest: Builders.InternalKey("c"u8, 2, Set)))
        {
            Assert.Throws<C1zCorruptionException>(() => Scan(db));
        }
    }

    [Fact]
    public void Blob_handles_and_bad_value_prefixes_are_typed_errors()
    {
        var blob = new TestTableWriter();
        blob.Rows.Add(new TestTableWriter.Row("a"u8.ToArray(), 1, Set, [1, 2, 3], RawValuePrefix: 0x40));
        using (var db = OpenSingle(blob))
        {
            Assert.Throws<C1zCorruptionException>(() => Scan(db)); // external values without a value index
        }

        var inPlace = new TestTableWriter().Add("a", 1, Set, "x", inValueBlock: true);
        inPlace.Rows.Add(new TestTableWriter.Row("b"u8.ToArray(), 2, Set, "in-place"u8.ToArray(), RawValuePrefix: 0x00));
        inPlace.Rows.Add(new TestTableWriter.Row("c"u8.ToArray(), 3, Set, [1], RawValuePrefix: 0x40));
        inPlace.Rows.Add(new TestTableWriter.Row("d"u8.ToArray(), 4, Set, [1], RawValuePrefix: 0xC0));
        using (var db = OpenSingle(inPlace))
        {
            Assert.Equal(["a=x", "b=in-place"], Scan(db, "", "c"));
            Assert.Throws<C1zFormatException>(() => Scan(db, "c", "d"));
            Assert.Throws<C1zCorruptionException>(() => Scan(db, "d"));
        }
    }
}
