using DotC1z.Errors;

namespace DotC1z.Pebble.Tests;

/// <summary>The real baton payload (medium fixture): counts, versions, deletions and MANIFEST facts.</summary>
public sealed class MediumFixtureTests
{
    private static readonly byte[] StatsKey = [0x03, 0xFF, .. "stats"u8, 0x00];

    private static PebbleDatabase Open() => PebbleDatabase.Open(FixtureFiles.Medium);

    private static readonly string[] Prefixes =
        ["030100", "030200", "030300", "030400", "03070400", "03070500", "03070200", "03070300", "03070600", "03070700", "0306"];

    private static readonly byte[][] PrefixBytes = Prefixes.Select(Convert.FromHexString).ToArray();

    private static Dictionary<string, long> CountByPrefix(PebbleDatabase db, out long total)
    {
        var counts = new long[Prefixes.Length];
        total = 0;
        byte[] prev = new byte[1024];
        int prevLen = 0;
        using var c = db.Scan();
        while (c.MoveNext())
        {
            var k = c.Key;
            Assert.True(total == 0 || prev.AsSpan(0, prevLen).SequenceCompareTo(k) < 0, "keys must ascend strictly");
            k.CopyTo(prev);
            prevLen = k.Length;
            total++;
            for (int i = 0; i < PrefixBytes.Length; i++)
            {
                if (k.StartsWith(PrefixBytes[i]))
                {
                    counts[i]++;
                }
            }
        }

        return Enumerable.Range(0, Prefixes.Length).Where(i => counts[i] > 0).ToDictionary(i => Prefixes[i], i => counts[i]);
    }

    [Fact]
    public void Live_key_count_and_prefix_counts_match_the_spec()
    {
        using var db = Open();
        var counts = CountByPrefix(db, out long total);
        Assert.Equal(169_162, total);
        Assert.Equal(4, counts["030100"]);
        Assert.Equal(35_217, counts["030200"]);
        Assert.Equal(334, counts["030300"]);
        Assert.Equal(66_601, counts["030400"]);
        Assert.Equal(66_601, counts["03070400"]);
        Assert.Equal(401, counts["03070500"]);
        Assert.Equal(1, counts["0306"]);
    }

    [Fact]
    public void Range_deleted_index_families_are_absent()
    {
        using var db = Open();
        var counts = CountByPrefix(db, out _);
        foreach (string p in new[] { "03070200", "03070300", "03070600", "03070700" })
        {
            Assert.False(counts.ContainsKey(p), p);
        }

        foreach (byte fam in new byte[] { 2, 3, 6, 7 })
        {
            using var c = db.Scan([0x03, 0x07, fam], [0x03, 0x07, (byte)(fam + 1)]);
            Assert.False(c.MoveNext());
        }
    }

    [Fact]
    public void The_sync_run_key_is_exactly_03_06()
    {
        using var db = Open();
        using var c = db.Scan([0x03, 0x06], [0x03, 0x07]);
        Assert.True(c.MoveNext());
        Assert.Equal(new byte[] { 0x03, 0x06 }, c.Key.ToArray());
        Assert.False(c.MoveNext());
        Assert.True(db.TryGet([0x03, 0x06], out var run));
        Assert.NotEmpty(run);
    }

    [Fact]
    public void Stats_key_resolves_to_the_newest_version_from_table_31()
    {
        var files = FixtureFiles.Medium;
        var newest = ValueInTable(files, "000031.sst", StatsKey, out ulong seq31);
        var older = ValueInTable(files, "000018.sst", StatsKey, out ulong seq18);
        Assert.Equal(39UL, seq31);
        Assert.Equal(26UL, seq18);
        Assert.NotEqual(newest, older);

        using var db = Open();
        Assert.True(db.TryGet(StatsKey, out var value));
        Assert.Equal(newest, value);
        using var c = db.Scan(StatsKey);
        Assert.True(c.MoveNext());
        Assert.Equal(StatsKey, c.Key.ToArray());
        Assert.Equal(newest, c.Value.ToArray());
    }

    /// <summary>Reads one key's newest entry straight from a table file, bypassing the merge.</summary>
    internal static byte[] ValueInTable(FixtureFiles files, string name, byte[] key, out ulong seq)
    {
        var options = PebbleReadOptions.Default;
        var budget = new DecodeBudget(options);
        var table = TableFile.Load(name, files.Files[name], options, budget);
        var meta = new TableMeta
        {
            SmallestUserKey = [],
            LargestUserKey = [0xFF, 0xFF, 0xFF],
            SmallestSeq = 0,
            LargestSeq = 1UL << 50,
            TableNumber = 1,
            BackingFileNumber = 1,
        };
        using var it = new TableIterator(table, meta, key, budget, default);
        Assert.True(it.Next());
        Assert.Equal(key, it.Key.ToArray());
        seq = it.Seq;
        return it.Value.ToArray();
    }

    [Fact]
    public void Manifest_facts_and_live_tables()
    {
        using var db = Open();
        Assert.Equal(24, db.FormatMajorVersion);
        Assert.Equal("MANIFEST-000021", db.ManifestFileName);
        Assert.Equal(30UL, db.LogNumber);
        Assert.Equal(32UL, db.NextFileNumber);
        Assert.Equal(40UL, db.LastSequence);
        Assert.Equal(0, db.WalEntryCount);
        var l0 = db.LiveTables.Where(t => t.Level == 0).Select(t => t.TableNumber).Order().ToArray();
        var l6 = db.LiveTables.Where(t => t.Level == 6).Select(t => t.TableNumber).Order().ToArray();
        Assert.Equal(new ulong[] { 27, 28, 31 }, l0);
        Assert.Equal(new ulong[] { 4, 5, 11, 12, 15, 16, 24, 25, 26, 29 }, l6);
        Assert.Equal(13, db.LiveTables.Count);
        foreach (var t in db.LiveTables)
        {
            Assert.Equal(t.TableNumber is 27 or 28, t.IsVirtual);
            Assert.Equal(t.IsVirtual ? 18UL : t.TableNumber, t.BackingFileNumber);
            if (t.Level == 6)
            {
                Assert.Equal(t.MinSeqNum, t.MaxSeqNum); // ingested: synthetic seqnum
            }
        }

        var t27 = db.LiveTables.Single(t => t.TableNumber == 27);
        Assert.Equal(new byte[] { 0x03, 0x06 }, t27.SmallestUserKey.ToArray());
        Assert.Equal(new byte[] { 0x03, 0x06 }, t27.LargestUserKey.ToArray());
    }

    [Fact]
    public void Bounded_scans_see_exactly_their_range()
    {
        using var db = Open();
        Assert.Equal(4, Count(db, [0x03, 0x01, 0x00], [0x03, 0x02]));
        Assert.Equal(35_217, Count(db, [0x03, 0x02, 0x00], [0x03, 0x02, 0x01]));
        Assert.Equal(66_601, Count(db, [0x03, 0x07, 0x04], [0x03, 0x07, 0x05]));
        Assert.Equal(3, Count(db, [0x03, 0xFF], []));
        Assert.Equal(0, Count(db, [0x04], []));
        Assert.Equal(0, Count(db, [0x03, 0x02], [0x03, 0x02]));

        // A lower bound in the middle of a table starts at the first key at or after it.
        byte[] mid = [0x03, 0x02, 0x00, .. "user"u8, 0x00, .. "user-0001"u8];
        using var c = db.Scan(mid, [0x03, 0x03]);
        Assert.True(c.MoveNext());
        Assert.True(c.Key.SequenceCompareTo(mid) >= 0);
        byte[] first = c.Key.ToArray();
        int n = 1;
        while (c.MoveNext())
        {
            n++;
        }

        // Everything before `mid` plus everything from it adds up to the whole family.
        Assert.Equal(35_217, n + Count(db, [0x03, 0x02], mid));
        Assert.True(db.TryGet(first, out _));
    }

    internal static int Count(PebbleDatabase db, byte[] lower, byte[] upper)
    {
        int n = 0;
        using var c = db.Scan(lower, upper);
        while (c.MoveNext())
        {
            n++;
        }

        return n;
    }

    [Fact]
    public void TryGet_finds_present_keys_and_misses_deleted_and_absent_ones()
    {
        using var db = Open();
        using var c = db.Scan([0x03, 0x04], [0x03, 0x05]);
        Assert.True(c.MoveNext());
        byte[] grant = c.Key.ToArray();
        byte[] grantValue = c.Value.ToArray();
        Assert.True(db.TryGet(grant, out var v));
        Assert.Equal(grantValue, v);
        Assert.False(db.TryGet([.. grant, 0x00], out v));
        Assert.Empty(v);
        Assert.False(db.TryGet([0x03, 0x07, 0x02], out _));
        Assert.False(db.TryGet([], out _));

        // A retired index row still sits in L6 000011 but is hidden by a newer range deletion.
        var files = FixtureFiles.Medium;
        var table = TableFile.Load("000011.sst", files.Files["000011.sst"], PebbleReadOptions.Default, new DecodeBudget(PebbleReadOptions.Default));
        var meta = new TableMeta { SmallestUserKey = [], LargestUserKey = [0xFF], TableNumber = 11, BackingFileNumber = 11, LargestSeq = 1 };
        using var it = new TableIterator(table, meta, default, new DecodeBudget(PebbleReadOptions.Default), default);
        Assert.True(it.Next());
        Assert.False(db.TryGet(it.Key, out _));
    }

    [Fact]
    public void TryGet_agrees_with_the_scan_with_and_without_caches()
    {
        var files = FixtureFiles.Medium.Shared();
        using var cached = PebbleDatabase.Open(files);
        using var tiny = PebbleDatabase.Open(files, new PebbleReadOptions { BlockCacheBytes = 40_000, TableCacheBytes = 500_000 });
        using var uncached = PebbleDatabase.Open(files, new PebbleReadOptions { BlockCacheBytes = 0, TableCacheBytes = 0 });
        var rng = new Random(DotC1z.Tests.Shared.Seeds.Get(31));
        int n = 0;
        using var c = cached.Scan();
        while (c.MoveNext())
        {
            if (rng.Next(200) != 0)
            {
                continue;
            }

            byte[] key = c.Key.ToArray();
            byte[] value = c.Value.ToArray();
            foreach (var db in new[] { cached, tiny, uncached })
            {
                Assert.True(db.TryGet(key, out var got));
                Assert.Equal(value, got);
                Assert.False(db.TryGet([.. key, 0x00], out _));
            }

            n++;
        }

        Assert.True(n > 500);
    }

    [Fact]
    public void A_cursor_is_not_readable_before_or_after_its_entries()
    {
        using var db = Open();
        using var c = db.Scan([0x03, 0x06], [0x03, 0x07]);
        Assert.Throws<InvalidOperationException>(() => c.Key.Length);
        Assert.True(c.MoveNext());
        Assert.False(c.MoveNext());
        Assert.Throws<InvalidOperationException>(() => c.Value.Length);
        Assert.False(c.MoveNext());
    }

    [Fact]
    public void Cancellation_stops_a_scan()
    {
        using var db = Open();
        using var cts = new CancellationTokenSource();
        using var c = db.Scan(cancellationToken: cts.Token);
        Assert.True(c.MoveNext());
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            while (c.MoveNext())
            {
            }
        });
    }

    [Fact]
    public void Budgets_are_enforced_with_format_errors()
    {
        var files = FixtureFiles.Medium;
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(files, new PebbleReadOptions { MaxManifestBytes = 100 }));
        using var db = PebbleDatabase.Open(files, new PebbleReadOptions { MaxFileBytes = 100_000 });
        Assert.Throws<C1zFormatException>(() => Builders.HashAll(db));
        using var db2 = PebbleDatabase.Open(files, new PebbleReadOptions { MaxTotalDecodedBytes = 1_000_000 });
        Assert.Throws<C1zFormatException>(() => Builders.HashAll(db2));
        Assert.Throws<C1zFormatException>(() => PebbleDatabase.Open(files, new PebbleReadOptions { MaxTables = 5 }));
    }
}
