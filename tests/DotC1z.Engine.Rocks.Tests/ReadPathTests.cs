using System.Text;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Tests.Shared;

namespace DotC1z.Engine.Rocks.Tests;

/// <summary>Issue 19's read path: partitioned scans, read-only opens that write nothing, the shared memory budget.</summary>
public sealed class ReadPathTests() : StoreDirectoryTests("read-path")
{
    private static string RandomId(Random rng)
    {
        // Ids of varied length and alphabet (escaped bytes, multi-byte UTF-8, shared prefixes), so split keys
        // fall in every kind of place.
        const string Alphabet = "abcxyz0189-_:/\u0000\u00e9\u4e2d";
        var sb = new StringBuilder(rng.Next(2) == 0 ? "grant-" : string.Empty);
        int n = rng.Next(1, 24);
        for (int i = 0; i < n; i++)
        {
            sb.Append(Alphabet[rng.Next(Alphabet.Length)]);
        }

        return sb.ToString();
    }

    private static List<GrantRecord> RandomGrants(Random rng, int count)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (ids.Count < count)
        {
            ids.Add(RandomId(rng));
        }

        return [.. ids.Select(id => StoreContractTests.Grant(id, "e" + rng.Next(20), "user", "u" + rng.Next(50), needsExpansion: rng.Next(10) == 0))];
    }

    [Fact]
    public async Task Partitioned_scans_return_exactly_the_serial_scan_in_order_serially_and_on_threads()
    {
        int seed = Seeds.Get(1919);
        var rng = new Random(seed);
        bool sawSplit = false;
        for (int round = 0; round < 6; round++)
        {
            int count = round switch { 0 => 0, 1 => 1, _ => rng.Next(2, 6000) };
            // Bulk loads in small chunks (several SSTs), puts (memtable, then flushed or not) and a mix.
            int mode = rng.Next(3);
            using var store = Open($"p{round}", chunk: rng.Next(200, 3000));
            var sync = store.StartSync(SyncType.Full);
            var grants = RandomGrants(rng, count);
            if (mode == 0)
            {
                using var loader = store.BeginBulkLoad(sync);
                foreach (var g in grants)
                {
                    loader.Add(g);
                }

                loader.Complete();
            }
            else
            {
                store.PutGrants(sync, grants);
                if (mode == 1)
                {
                    store.Flush();
                }
            }

            store.EndSync(sync);
            var serial = store.Grants(sync).ToList();
            Assert.True(serial.Count == count, $"seed={seed} round={round}: serial scan saw {serial.Count} of {count}");
            foreach (int parts in (int[])[1, 2, 3, 7])
            {
                string where = $"seed={seed} round={round} mode={mode} count={count} parts={parts}";
                using var partitions = store.PartitionGrants(sync, parts);
                Assert.True(partitions.Parts.Count >= 1 && partitions.Parts.Count <= parts, $"{where}: {partitions.Parts.Count} parts");
                sawSplit |= partitions.Parts.Count > 1;

                var concatenated = partitions.Parts.SelectMany(p => p).ToList();
                Assert.True(serial.SequenceEqual(concatenated), $"{where}: the parts, concatenated, differ from the serial scan");

                var threaded = partitions.Parts.Select(p => Task.Run(() => p.ToList())).ToArray();
                var read = await Task.WhenAll(threaded);
                Assert.True(serial.SequenceEqual(read.SelectMany(r => r)), $"{where}: the parts read on threads differ from the serial scan");

                var ordered = partitions.InOrder(g => g.ExternalId, ahead: 1 + rng.Next(600)).ToList();
                Assert.True(serial.Select(g => g.ExternalId).SequenceEqual(ordered), $"{where}: InOrder differs from the serial scan");
            }
        }

        Assert.True(sawSplit, $"seed={seed}: no round was split into more than one part, so the split was never tested");
    }

    [Fact]
    public void Grant_id_splits_cut_ids_with_a_long_shared_prefix_evenly_and_ranged_cursors_cover_the_sync()
    {
        // Expanded syncs' derived ids share long prefixes (group:app-…:member:user:…) between a few others (all:…,
        // team-…): past the 8 bytes the partitioned scan bisects over. Random ids as well, in another sync.
        int seed = Seeds.Get(2020);
        var rng = new Random(seed);
        using var store = Open("idsplits", chunk: 5000);
        foreach (bool shared in (bool[])[true, false])
        {
            var sync = store.StartSync(SyncType.Full);
            var grants = shared
                ? [.. Enumerable.Range(0, 40_000).Select(i => StoreContractTests.Grant($"group:app-{i % 500:D3}:member:user:u{i:D6}", "e", "user", $"u{i}")),
                    .. Enumerable.Range(0, 10).SelectMany(i => (GrantRecord[])[StoreContractTests.Grant($"all:{i}", "e", "user", "a"), StoreContractTests.Grant($"team-{i}", "e", "user", "t")])]
                : RandomGrants(rng, 20_000);
            using (var loader = store.BeginBulkLoad(sync))
            {
                foreach (var g in grants.OrderBy(g => g.ExternalId, StringComparer.Ordinal))
                {
                    loader.Add(g);
                }

                loader.Complete();
            }

            store.EndSync(sync);
            var serial = new List<byte[]>();
            Assert.True(store.TryOpenEncodedGrants(sync, out var whole));
            using (whole)
            {
                while (whole.MoveNext())
                {
                    serial.Add(whole.Id.ToArray());
                }
            }

            foreach (int parts in (int[])[2, 3, 5])
            {
                string where = $"seed={seed} shared={shared} parts={parts}";
                var splits = store.GrantIdSplits(sync, parts);
                Assert.True(splits.Count == parts - 1, $"{where}: {splits.Count} splits");
                var sizes = new List<int>();
                var all = new List<byte[]>();
                for (int i = 0; i <= splits.Count; i++)
                {
                    Assert.True(store.TryOpenEncodedGrants(sync, i == 0 ? null : splits[i - 1], i == splits.Count ? null : splits[i], out var cursor));
                    int n = 0;
                    using (cursor)
                    {
                        while (cursor.MoveNext())
                        {
                            all.Add(cursor.Id.ToArray());
                            n++;
                        }
                    }

                    sizes.Add(n);
                }

                Assert.True(all.Count == serial.Count && all.Zip(serial).All(p => p.First.AsSpan().SequenceEqual(p.Second)), $"{where}: the ranges, concatenated, differ from the whole cursor");

                // Size estimates are per block, so parts are only about equal: none below a third of its share.
                Assert.True(sizes.All(n => n > serial.Count / parts / 3), $"{where}: range sizes {string.Join(", ", sizes)}");
            }
        }
    }

    [Fact]
    public void A_partitioned_scan_reads_one_snapshot_and_an_abandoned_ordered_scan_stops_its_workers()
    {
        using var store = Open("snap", chunk: 500);
        var sync = store.StartSync(SyncType.Full);
        var grants = RandomGrants(new Random(Seeds.Get(4242)), 4000);
        using (var loader = store.BeginBulkLoad(sync))
        {
            foreach (var g in grants)
            {
                loader.Add(g);
            }

            loader.Complete();
        }

        var before = store.Grants(sync).Select(g => g.ExternalId).ToList();
        using (var partitions = store.PartitionGrants(sync, 2))
        {
            Assert.Equal(2, partitions.Parts.Count);
            // Written after the partitions were taken: no part may see it.
            store.PutGrants(sync, [StoreContractTests.Grant("\u0000first", "e", "user", "u"), StoreContractTests.Grant("\uffffzz-last", "e", "user", "u")]);
            Assert.Equal(before, partitions.Parts.SelectMany(p => p).Select(g => g.ExternalId).ToList());

            var firstTen = partitions.InOrder(g => g.ExternalId, ahead: 8).Take(10).ToList();
            Assert.Equal(before.Take(10), firstTen);
        }

        Assert.Equal(before.Count + 2, store.Grants(sync).Count());
    }

    [Fact]
    public void The_consistency_walk_split_across_cores_names_faults_in_every_part_in_the_same_order_each_run()
    {
        int seed = Seeds.Get(1919);
        using var store = Open("walk", chunk: 700);
        var sync = store.StartSync(SyncType.Full);
        var grants = RandomGrants(new Random(seed), 5000);
        using (var loader = store.BeginBulkLoad(sync))
        {
            foreach (var g in grants)
            {
                loader.Add(g);
            }

            loader.Complete();
        }

        var clean = store.VerifyConsistency();
        Assert.True(clean.IsConsistent, $"seed={seed}: {string.Join("; ", clean.Problems)}");
        var ids = store.Grants(sync).Select(g => g.ExternalId).ToList();
        Assert.Equal(store.Count(sync).Total, clean.Records);

        // The walk cuts the grant primary where a partitioned scan does: check the store really splits, then
        // break one grant in each half (an index entry deleted in the first, a primary value that does not
        // decode in the second).
        using (var parts = store.PartitionGrants(sync, 2))
        {
            Assert.True(parts.Parts.Count == 2, $"seed={seed}: the store did not split");
        }

        var low = store.Grants(sync).First(g => g.ExternalId == ids[ids.Count / 10]);
        store.RawWrite(Keyspace.IndexKey(Keyspace.IdxGrantByEntitlement, sync, false, low.Entitlement.EntitlementId, low.Principal.ResourceTypeId, low.Principal.ResourceId, low.ExternalId), null);
        store.RawWrite(Keyspace.RecordKey((byte)Storage.RecordKind.Grant, sync, ids[ids.Count * 9 / 10]), [0xFF, 0xFF, 0xFF]);

        var broken = store.VerifyConsistency();
        Assert.Contains(broken.Problems, p => p.Contains("does not decode", StringComparison.Ordinal));
        Assert.Single(broken.Problems, p => p.Contains("missing", StringComparison.Ordinal));
        Assert.Equal(broken.Problems, store.VerifyConsistency().Problems);
        Assert.Equal(clean.Records, broken.Records);
    }

    [Fact]
    public void A_read_only_open_creates_changes_and_deletes_no_file_in_the_store_directory()
    {
        SyncId sync;
        using (var store = Open("ro"))
        {
            sync = store.StartSync(SyncType.Full);
            store.PutGrants(sync, RandomGrants(new Random(Seeds.Get(77)), 500));
            store.EndSync(sync);
            store.Flush();
        }

        var before = Listing(Dir.Combine("ro"));
        Assert.Contains(before.Keys, f => f.EndsWith(".sst", StringComparison.Ordinal));
        for (int i = 0; i < 2; i++)
        {
            using var ro = Open("ro", readOnly: true);
            Assert.True(ro.TryGetGrant(sync, ro.Grants(sync).First().ExternalId, out _));
            using var partitions = ro.PartitionGrants(sync, 2);
            Assert.Equal(500, partitions.Parts.Sum(p => p.Count()));
        }

        var after = Listing(Dir.Combine("ro"));
        Assert.Equal(before, after);
    }

    [Fact]
    public void Memtables_are_charged_to_the_shared_cache()
    {
        using var store = Open("mem");
        var sync = store.StartSync(SyncType.Full);
        store.PutGrants(sync, RandomGrants(new Random(Seeds.Get(5)), 2000));
        Assert.True(RocksSharedMemory.MemtableBytes > 0, "the write-buffer manager saw no memtable memory");
        Assert.True(RocksSharedMemory.CacheUsageBytes >= RocksSharedMemory.MemtableBytes / 2, $"cache usage {RocksSharedMemory.CacheUsageBytes} B does not include the memtables' {RocksSharedMemory.MemtableBytes} B");
        Assert.Equal(RocksSharedMemory.DefaultCacheBytes, RocksSharedMemory.CacheBytes);
    }

    [Fact]
    public void Releasing_cached_blocks_empties_the_shared_cache_and_keeps_its_budget()
    {
        int seed = Seeds.Get(31);
        using var store = Open("release");
        var sync = store.StartSync(SyncType.Full);
        var grants = RandomGrants(new Random(seed), 100_000);
        store.PutGrants(sync, grants);
        store.EndSync(sync);
        store.Flush();
        foreach (var g in grants)
        {
            Assert.True(store.TryGetGrant(sync, g.ExternalId, out _));
        }

        long before = RocksSharedMemory.CacheUsageBytes;
        Assert.True(before > 6L << 20, $"seed={seed}: point reads cached only {before} B");
        RocksSharedMemory.ReleaseCachedBlocks();
        long after = RocksSharedMemory.CacheUsageBytes;
        Assert.True(after < before - (4L << 20), $"seed={seed}: cache usage {before} B before the release, {after} B after");
        Assert.Equal(RocksSharedMemory.DefaultCacheBytes, RocksSharedMemory.CacheBytes);
        Assert.True(store.TryGetGrant(sync, grants[0].ExternalId, out _));
    }

    // Every file with its size and last write time: a file written, replaced, created or removed shows.
    private static SortedDictionary<string, (long, DateTime)> Listing(string dir) =>
        new(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => (new FileInfo(f).Length, File.GetLastWriteTimeUtc(f))), StringComparer.Ordinal);
}
