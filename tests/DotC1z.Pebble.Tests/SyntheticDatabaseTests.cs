using System.Buffers.Binary;
using DotC1z.Errors;

namespace DotC1z.Pebble.Tests;

/// <summary>
/// Databases derived from the medium fixture: a hand-written WAL, hand-written MANIFESTs (virtual tables,
/// synthetic seqnums, inconsistent histories), and patched tables (unsupported versions and codecs).
/// </summary>
public sealed class SyntheticDatabaseTests
{
    private static FixtureFiles Medium => FixtureFiles.Medium;

    private static byte[] K(params byte[] b) => b;

    private static byte[] FirstKey(PebbleDatabase db, byte[] lower, byte[] upper, int skip = 0)
    {
        using var c = db.Scan(lower, upper);
        for (int i = 0; i <= skip; i++)
        {
            Assert.True(c.MoveNext());
        }

        return c.Key.ToArray();
    }

    private static List<(byte[] Key, byte[] Value)> All(PebbleDatabase db, byte[]? lower = null, byte[]? upper = null)
    {
        var list = new List<(byte[], byte[])>();
        using var c = db.Scan(lower, upper);
        while (c.MoveNext())
        {
            list.Add((c.Key.ToArray(), c.Value.ToArray()));
        }

        return list;
    }

    // ---------------------------------------------------------------- WAL

    [Fact]
    public void Wal_batches_override_delete_and_range_delete_table_keys()
    {
        using var baseline = PebbleDatabase.Open(Medium);
        byte[] rt0 = FirstKey(baseline, K(3, 1, 0), K(3, 2));
        byte[] rt1 = FirstKey(baseline, K(3, 1, 0), K(3, 2), skip: 1);
        byte[] newResource = [3, 2, 0, .. "zzz"u8];
        byte[] meta = [3, 0xFF, .. "zz-wal"u8];
        byte[] log = Builders.RecordLog(
        [
            Builders.Batch(41, (1, rt0, "from-wal"u8.ToArray())),
            Builders.Batch(42, (3, "logdata is skipped"u8.ToArray(), null), (0, rt1, null)),
            Builders.Batch(43, (15, K(3, 2, 0), K(3, 2, 1)), (1, newResource, "new"u8.ToArray())),
            Builders.Batch(45, (1, meta, "one"u8.ToArray()), (1, meta, "two"u8.ToArray())),
        ], logNumber: 30);
        using var db = PebbleDatabase.Open(Medium.With("000030.log", log));
        Assert.Equal(6, db.WalEntryCount);

        Assert.True(db.TryGet(rt0, out var v));
        Assert.Equal("from-wal"u8.ToArray(), v);
        Assert.False(db.TryGet(rt1, out _));
        // The range deletion (#43) hides every table resource; the SET in the same batch (#44) is newer.
        var resources = All(db, K(3, 2), K(3, 3));
        var only = Assert.Single(resources);
        Assert.Equal(newResource, only.Key);
        Assert.Equal("new"u8.ToArray(), only.Value);
        Assert.True(db.TryGet(meta, out v));
        Assert.Equal("two"u8.ToArray(), v);
        Assert.Equal(169_162 - 1 - 35_217 + 1 + 1, Builders.HashAll(db).Count);
    }

    [Fact]
    public void Wal_replay_stops_at_garbage_a_foreign_log_number_or_a_torn_record()
    {
        byte[] key = [3, 0xFF, .. "wal"u8];
        byte[] good = Builders.RecordLog([Builders.Batch(41, (1, key, "v"u8.ToArray()))], logNumber: 30);
        byte[] second = Builders.RecordLog([Builders.Batch(42, (0, key, null))], logNumber: 30);
        byte[] garbage = [.. good, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8, .. second];
        using (var db = PebbleDatabase.Open(Medium.With("000030.log", garbage)))
        {
            Assert.True(db.TryGet(key, out _));
            Assert.Equal(1, db.WalEntryCount);
        }

        // A recycled log: the second record carries an older log's number and must be ignored.
        byte[] stale = Builders.RecordLog([Builders.Batch(42, (0, key, null))], logNumber: 12);
        using (var db = PebbleDatabase.Open(Medium.With("000030.log", [.. good, .. stale])))
        {
            Assert.True(db.TryGet(key, out _));
        }

        // A torn tail (record cut short) is dropped.
        using (var db = PebbleDatabase.Open(Medium.With("000030.log", [.. good, .. second.AsSpan(0, second.Length - 2)])))
        {
            Assert.True(db.TryGet(key, out _));
        }

        // A legacy-framed log works too.
        using (var db = PebbleDatabase.Open(Medium.With("000030.log", Builders.RecordLog([Builders.Batch(41, (1, key, "v"u8.ToArray()))]))))
        {
            Assert.True(db.TryGet(key, out _));
        }
    }

    [Fact]
    public void Logs_below_the_log_number_are_ignored_and_later_logs_replay_in_order()
    {
        byte[] key = [3, 0xFF, .. "wal"u8];
        var files = Medium
            .With("000010.log", Builders.RecordLog([Builders.Batch(5, (15, K(0), K(0xFF)))], logNumber: 10))
            .With("000030.log", Builders.RecordLog([Builders.Batch(41, (1, key, "old"u8.ToArray()))], logNumber: 30))
            .With("000033.log", Builders.RecordLog([Builders.Batch(42, (1, key, "new"u8.ToArray()))], logNumber: 33));
        using var db = PebbleDatabase.Open(files);
        Assert.True(db.TryGet(key, out var v));
        Assert.Equal("new"u8.ToArray(), v);
        Assert.Equal(169_163, Builders.HashAll(db).Count);
    }

    [Fact]
    public void Malformed_batches_and_merges_are_typed_errors()
    {
        byte[] key = [3, 0xFF, .. "wal"u8];
        byte[] badCount = Builders.Batch(41, (1, key, "v"u8.ToArray()));
        BinaryPrimitives.WriteUInt32LittleEndian(badCount.AsSpan(8), 2);
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(Medium.With("000030.log", Builders.RecordLog([badCount], 30))));
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(Medium.With("000030.log", Builders.RecordLog([new byte[5]], 30))));
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(Medium.With("000030.log", Builders.RecordLog([Builders.Batch(41, (99, key, null))], 30))));
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(Medium.With("000030.log", Builders.RecordLog([Builders.Batch(41, (22, key, null))], 30))));

        using var db = PebbleDatabase.Open(Medium.With("000030.log", Builders.RecordLog([Builders.Batch(41, (2, key, "operand"u8.ToArray()))], 30)));
        var e = Assert.Throws<C1zFormatException>(() => db.TryGet(key, out _));
        Assert.Contains("merge operands not supported", e.Message, StringComparison.Ordinal);
        Assert.Throws<C1zFormatException>(() => Builders.HashAll(db));
        // Keys elsewhere are still readable.
        Assert.True(db.TryGet(K(3, 6), out _));
    }

    // ---------------------------------------------------------------- hand-written MANIFESTs

    /// <summary>The medium files plus a new MANIFEST (selected by a higher-iteration marker).</summary>
    private static FixtureFiles WithManifest(params byte[][] edits)
    {
        return Medium
            .With("MANIFEST-000090", Builders.RecordLog(edits))
            .With("marker.manifest.000002.MANIFEST-000090", []);
    }

    private static readonly byte[] KeyspaceVersion = [3, 0xFF, .. "keyspace_version"u8];
    private static readonly byte[] Stats = [3, 0xFF, .. "stats"u8, 0];

    private static EditBuilder Snapshot(ulong lastSeq = 40) => new EditBuilder().Comparer().Counters(30, 100, lastSeq).CreatedBacking(18, 982);

    [Fact]
    public void Virtual_table_with_an_exclusive_sentinel_bound_hides_its_upper_key()
    {
        var edit = Snapshot().NewTable(0, 50, 500, Builders.InternalKey(K(3, 6), 25, 1), Builders.InternalKey(Stats, Builders.SeqNumMax, 15), 10, 26, backing: 18);
        using var db = PebbleDatabase.Open(WithManifest(edit.Build()));
        Assert.Equal("MANIFEST-000090", db.ManifestFileName);
        var keys = All(db).Select(kv => kv.Key).ToList();
        Assert.Equal([K(3, 6), KeyspaceVersion], keys);
        Assert.False(db.TryGet(Stats, out _));
        var t = Assert.Single(db.LiveTables);
        Assert.True(t.IsVirtual && t.LargestIsExclusive && t.BackingFileNumber == 18);
    }

    [Fact]
    public void Virtual_tables_sharing_a_backing_expose_only_their_inclusive_ranges()
    {
        var edit = Snapshot()
            .NewTable(0, 50, 100, Builders.InternalKey(K(3, 6), 25, 1), Builders.InternalKey(K(3, 6), 25, 1), 25, 26, backing: 18)
            .NewTable(0, 51, 100, Builders.InternalKey(Stats, 26, 1), Builders.InternalKey(Stats, 26, 1), 25, 26, backing: 18);
        using var db = PebbleDatabase.Open(WithManifest(edit.Build()));
        Assert.Equal([K(3, 6), Stats], All(db).Select(kv => kv.Key).ToList());
        Assert.Equal([Stats], All(db, K(3, 7)).Select(kv => kv.Key).ToList());
        Assert.False(db.TryGet(KeyspaceVersion, out _));
    }

    [Fact]
    public void A_synthetic_seqnum_applies_to_every_key_of_the_table()
    {
        var t31 = PebbleDatabase.Open(Medium).LiveTables.Single(t => t.TableNumber == 31);
        byte[] stats18 = MediumFixtureTests.ValueInTable(Medium, "000018.sst", Stats, out _);
        byte[] stats31 = MediumFixtureTests.ValueInTable(Medium, "000031.sst", Stats, out _);

        // 000018 as a virtual table whose synthetic seqnum (45) beats 000031's #39.
        var newer = Snapshot(lastSeq: 50).NewTable(t31)
            .NewTable(0, 50, 500, Builders.InternalKey(K(3, 6), 45, 1), Builders.InternalKey(Stats, 45, 1), 45, 45, backing: 18);
        using (var db = PebbleDatabase.Open(WithManifest(newer.Build())))
        {
            Assert.True(db.TryGet(Stats, out var v));
            Assert.Equal(stats18, v);
        }

        // With a synthetic seqnum below #39 the table-31 version wins again.
        var older = Snapshot(lastSeq: 50).NewTable(t31)
            .NewTable(0, 50, 500, Builders.InternalKey(K(3, 6), 5, 1), Builders.InternalKey(Stats, 5, 1), 5, 5, backing: 18);
        using (var db = PebbleDatabase.Open(WithManifest(older.Build())))
        {
            Assert.True(db.TryGet(Stats, out var v));
            Assert.Equal(stats31, v);
        }
    }

    [Fact]
    public void Range_deletions_of_a_virtual_table_are_clipped_to_its_bounds()
    {
        // 000031's tombstones cover 03 07 02/03/06/07. Exposed through a virtual table limited to
        // [03 07 06, 03 07 07) only the third one survives, so the 03 07 02 rows come back.
        var live = PebbleDatabase.Open(Medium).LiveTables.Where(t => t.Level == 6).ToList();
        var edit = Snapshot(lastSeq: 40).CreatedBacking(31, 1094);
        foreach (var t in live)
        {
            edit.NewTable(t);
        }

        edit.NewTable(0, 52, 100, Builders.InternalKey(K(3, 7, 6), 37, 15), Builders.InternalKey(K(3, 7, 7), Builders.SeqNumMax, 15), 35, 40, backing: 31);
        using var db = PebbleDatabase.Open(WithManifest(edit.Build()));
        Assert.True(MediumFixtureTests.Count(db, K(3, 7, 2), K(3, 7, 3)) > 0);
        Assert.True(MediumFixtureTests.Count(db, K(3, 7, 3), K(3, 7, 4)) > 0);
        Assert.Equal(0, MediumFixtureTests.Count(db, K(3, 7, 6), K(3, 7, 7)));
        Assert.True(MediumFixtureTests.Count(db, K(3, 7, 7), K(3, 7, 8)) > 0);
    }

    [Fact]
    public void Inconsistent_manifest_histories_are_corruption()
    {
        var table = Builders.InternalKey(K(3, 6), 25, 1);
        // Deleting a table that is not live.
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(Snapshot().Tag(6, 0, 77).Build())));
        // A virtual table without its backing.
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(
            new EditBuilder().Comparer().Counters(30, 100, 40).NewTable(0, 50, 1, table, table, 25, 25, backing: 18).Build())));
        // A live table whose file is missing.
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(Snapshot().NewTable(0, 77, 1, table, table, 25, 25).Build())));
        // A table file beyond the next file number (000031) that no edit mentions.
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(new EditBuilder().Comparer().Counters(30, 31, 40).Build())));
        // Unknown tag, column-family tag, missing counters, seqnum beyond the last sequence.
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(Snapshot().Tag(99, 1).Build())));
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(Snapshot().Tag(200, 1).Build())));
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(new EditBuilder().Comparer().Build())));
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(Snapshot(lastSeq: 20).NewTable(0, 50, 1, table, table, 25, 25, backing: 18).Build())));
        // The same table added twice.
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(WithManifest(
            Snapshot().NewTable(0, 50, 1, table, table, 25, 25, backing: 18).NewTable(3, 50, 1, table, table, 25, 25, backing: 18).Build())));
    }

    [Fact]
    public void Unsupported_manifest_features_are_format_errors()
    {
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(WithManifest(new EditBuilder().Comparer("other.Comparator").Build())));
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(WithManifest(Snapshot().Tag(104, 0).Build())));
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(WithManifest(Snapshot().Tag(107, 1).Build())));
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(WithManifest(Snapshot().Tag(7, 0).Build())));
    }

    [Fact]
    public void Directory_markers_are_checked()
    {
        var noMarker = new FixtureFiles(Medium.Files.Where(kv => !kv.Key.StartsWith("marker.manifest", StringComparison.Ordinal)).ToDictionary());
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(noMarker));
        var noFmv = new FixtureFiles(Medium.Files.Where(kv => !kv.Key.StartsWith("marker.format-version", StringComparison.Ordinal)).ToDictionary());
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(noFmv));
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(Medium.With("marker.format-version.000002.025", [])));
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(Medium.With("marker.manifest.000002.MANIFEST-000077", [])));
        Assert.Throws<C1zCorruptionException>(() => PebbleDatabase.Open(Medium.With("marker.manifest.x.MANIFEST-000021", [])));
    }

    // ---------------------------------------------------------------- patched tables

    private static PebbleDatabase OpenOnlyTable4(byte[] sst)
    {
        var t4 = PebbleDatabase.Open(Medium).LiveTables.Single(t => t.TableNumber == 4);
        var s = Builders.InternalKey(t4.SmallestUserKey.Span, t4.SmallestSeqNum, 1);
        var l = Builders.InternalKey(t4.LargestUserKey.Span, t4.LargestSeqNum, 1);
        var edit = new EditBuilder().Comparer().Counters(30, 100, 40).NewTable(6, 4, (ulong)sst.Length, s, l, t4.MinSeqNum, t4.MaxSeqNum);
        return PebbleDatabase.Open(WithManifest(edit.Build()).With("000004.sst", sst));
    }

    [Fact]
    public void A_zstd_compressed_index_block_is_read()
    {
        byte[] sst = Medium.Files["000004.sst"];
        var table = TableFile.Load("000004.sst", sst, PebbleReadOptions.Default, new DecodeBudget(PebbleReadOptions.Default));
        var block = table.ReadBlock(table.IndexHandle, null, new DecodeBudget(PebbleReadOptions.Default), "index").Span.ToArray();

        // Re-encode the index as "uvarint length ‖ zstd frame", append it where the footer was, and write a new footer.
        var body = new List<byte>();
        Builders.PutUvarint(body, (ulong)block.Length);
        using (var z = new ZstdSharp.Compressor())
        {
            body.AddRange(z.Wrap(block).ToArray());
        }

        int footerAt = sst.Length - 61;
        var rebuilt = new List<byte>(sst.AsSpan(0, footerAt).ToArray());
        int newIndexAt = rebuilt.Count;
        rebuilt.AddRange(body);
        rebuilt.Add(7);
        rebuilt.AddRange(BitConverter.GetBytes(Crc32C.Masked([.. body, 7])));
        byte[] footer = sst.AsSpan(footerAt).ToArray();
        var handles = new List<byte>();
        var r = new SpanReader(footer.AsSpan(1, 40), "f", "footer");
        Builders.PutUvarint(handles, r.Uvarint("m"));
        Builders.PutUvarint(handles, r.Uvarint("m"));
        Builders.PutUvarint(handles, (ulong)newIndexAt);
        Builders.PutUvarint(handles, (ulong)body.Count);
        footer.AsSpan(1, 40).Clear();
        handles.ToArray().CopyTo(footer.AsSpan(1));
        BinaryPrimitives.WriteUInt32LittleEndian(footer.AsSpan(45), Crc32C.Mask(Crc32C.Compute(footer.AsSpan(0, 45), footer.AsSpan(49))));
        rebuilt.AddRange(footer);

        using var patched = OpenOnlyTable4(rebuilt.ToArray());
        using var original = PebbleDatabase.Open(Medium);
        Assert.Equal(All(original, K(3, 1), K(3, 2)).Select(kv => Convert.ToHexString(kv.Key) + Convert.ToHexString(kv.Value)),
            All(patched).Select(kv => Convert.ToHexString(kv.Key) + Convert.ToHexString(kv.Value)));
    }

    [Fact]
    public void Old_table_formats_and_unsupported_codecs_are_format_errors()
    {
        byte[] sst = (byte[])Medium.Files["000004.sst"].Clone();
        byte[] v4 = (byte[])sst.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(v4.AsSpan(v4.Length - 12), 4);
        using (var db = OpenOnlyTable4(v4))
        {
            var e = Assert.Throws<C1zFormatException>(() => Builders.HashAll(db));
            Assert.Contains("version 4", e.Message, StringComparison.Ordinal);
        }

        byte[] rocks = (byte[])sst.Clone();
        new byte[] { 0xF7, 0xCF, 0xF4, 0x85, 0xB7, 0x41, 0xE2, 0x88 }.CopyTo(rocks, rocks.Length - 8);
        using (var db = OpenOnlyTable4(rocks))
        {
            Assert.Throws<C1zFormatException>(() => Builders.HashAll(db));
        }

        // The index block's codec byte set to MinLZ (8), with a matching trailer checksum.
        var table = TableFile.Load("000004.sst", sst, PebbleReadOptions.Default, new DecodeBudget(PebbleReadOptions.Default));
        var h = table.IndexHandle;
        byte[] minlz = (byte[])sst.Clone();
        minlz[h.Offset + h.Length] = 8;
        BinaryPrimitives.WriteUInt32LittleEndian(minlz.AsSpan(h.Offset + h.Length + 1), Crc32C.Masked(minlz.AsSpan(h.Offset, h.Length + 1)));
        using (var db = OpenOnlyTable4(minlz))
        {
            var e = Assert.Throws<C1zFormatException>(() => Builders.HashAll(db));
            Assert.Contains("MinLZ", e.Message, StringComparison.Ordinal);
        }

        // A wrong size in the MANIFEST is corruption naming the file.
        using (var db = OpenOnlyTable4([.. sst, 0]))
        {
            var e = Assert.Throws<C1zCorruptionException>(() => Builders.HashAll(db));
            Assert.StartsWith("000004.sst:", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Directory_file_source_reads_a_folder()
    {
        using var dir = new DotC1z.Tests.Shared.TempDir("pebble");
        foreach (var (name, data) in Medium.Files)
        {
            File.WriteAllBytes(dir.Combine(name), data);
        }

        var src = new DirectoryFileSource(dir.Path);
        Assert.Equal(Medium.FileNames, src.FileNames);
        Assert.Throws<C1zArgumentException>(() => src.GetLength("nope"));
        using var db = PebbleDatabase.Open(src);
        Assert.Equal(Builders.HashAll(PebbleDatabase.Open(Medium)), Builders.HashAll(db));
    }
}
