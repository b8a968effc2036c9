using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Engine.Rocks.Tests;

public sealed class RocksStoreTests : IDisposable
{
    private readonly TempDir _dir = new("rocks");

    public void Dispose() => _dir.Dispose();

    private RocksStore Open(string name = "db", bool readOnly = false) =>
        RocksStore.Open(_dir.Combine(name), new RocksStoreOptions { ReadOnly = readOnly, Durability = RocksDurability.NoSync, BulkChunkRecords = 50 });

    private static GrantRecord Grant(string id, string ent, string prt, string pid, bool flag = false) => StoreContractTests.Grant(id, ent, prt, pid, needsExpansion: flag);

    [Fact]
    public void Untrusted_check_scans_every_key_of_every_range_and_rejects_non_stores()
    {
        long expected;
        using (var store = Open())
        {
            var a = store.StartSync(SyncType.Full);
            store.PutResources(a, [new ResourceRecord { ResourceTypeId = "group", ResourceId = "g", Parent = new ResourceRef { ResourceTypeId = "org", ResourceId = "o" } }]);
            store.PutGrants(a, [.. Enumerable.Range(0, 300).Select(i => Grant($"g{i}", $"e{i % 5}", "user", $"u{i % 7}", i % 3 == 0))]);
            store.EndSync(a);
            store.RawWrite([0x03, 0x99, 0x01], [1]); // a key of unknown shape: the partition must cover it too
            store.Flush();
            expected = store.ScanRaw([]).LongCount();
        }

        Assert.Equal(expected, RocksStore.VerifyUntrusted(_dir.Combine("db")));
        Assert.True(expected > 300 * 3, $"only {expected} keys");

        Directory.CreateDirectory(_dir.Combine("empty"));
        var ex = Assert.Throws<C1zCorruptionException>(() => RocksStore.VerifyUntrusted(_dir.Combine("empty")));
        Assert.Contains("missing CURRENT", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Committed_bytes_that_are_not_a_grant_are_corruption_and_write_nothing()
    {
        using var store = Open();
        var sync = store.StartSync(SyncType.Full);
        store.PutGrants(sync, [Grant("g1", "e1", "user", "u1"), Grant("g2", "e1", "user", "u2")]);

        // A varint that never ends, and an empty value, passed as what was read: neither is an encoded grant.
        var moved = Grant("g1", "e2", "user", "u1");
        Assert.Throws<C1zCorruptionException>(() => store.WriteGrantChanges(sync, [moved], [], new Dictionary<string, ReadOnlyMemory<byte>> { ["g1"] = new byte[] { 0x08, 0xFF } }));
        Assert.Throws<C1zCorruptionException>(() => store.WriteGrantChanges(sync, [], ["g2"], new Dictionary<string, ReadOnlyMemory<byte>> { ["g2"] = ReadOnlyMemory<byte>.Empty }));

        Assert.Equal(["g1", "g2"], store.GrantsByEntitlement(sync, "e1").Select(g => g.ExternalId));
        Assert.Empty(store.GrantsByEntitlement(sync, "e2"));
    }

    [Fact]
    public void Scratch_a_crashed_write_left_is_swept_at_the_next_writable_open_only()
    {
        SyncId s;
        using (var store = Open())
        {
            s = store.StartSync(SyncType.Full);
            store.PutGrants(s, [Grant("g1", "e", "user", "u")]);
        }

        // What a bulk load and an ingested change set leave when their process dies mid-way; and a file of the user's.
        string bulk = _dir.Combine("db/.bulk-0123456789abcdef");
        Directory.CreateDirectory(bulk);
        File.WriteAllText(Path.Combine(bulk, "run-00-0000.kv"), "spilled run");
        string change = _dir.Combine("db/.changes-0123456789abcdef.sst");
        File.WriteAllText(change, "half an sst");
        string other = _dir.Combine("db/notes.txt");
        File.WriteAllText(other, "kept");

        using (var ro = Open(readOnly: true))
        {
            Assert.True(ro.TryGetGrant(s, "g1", out _));
        }

        Assert.True(Directory.Exists(bulk) && File.Exists(change), "a read-only open must not touch the directory");
        using (var store = Open())
        {
            Assert.True(store.TryGetGrant(s, "g1", out _));
        }

        Assert.False(Directory.Exists(bulk), "bulk-load scratch left behind");
        Assert.False(File.Exists(change), "change-set scratch left behind");
        Assert.True(File.Exists(other));
    }

    [Fact]
    public void Records_persist_across_reopen_and_read_only_rejects_writes()
    {
        SyncId s;
        using (var store = Open())
        {
            s = store.StartSync(SyncType.Full);
            store.PutGrants(s, [Grant("g1", "e", "user", "u")]);
            store.EndSync(s);
            Assert.True(store.IsModified);
        }

        using (var ro = Open(readOnly: true))
        {
            Assert.True(ro.IsReadOnly);
            Assert.False(ro.IsModified);
            Assert.True(ro.TryGetGrant(s, "g1", out _));
            Assert.Equal(s, ro.LatestFinishedSyncFor());
            Assert.Throws<C1zReadOnlyException>(() => ro.PutGrants(s, [Grant("g2", "e", "user", "u")]));
            Assert.Throws<C1zReadOnlyException>(() => ro.DeleteGrant(s, "g1"));
            Assert.Throws<C1zReadOnlyException>(() => ro.StartSync(SyncType.Full));
            Assert.Throws<C1zReadOnlyException>(() => ro.BeginBulkLoad(s));
            Assert.Throws<C1zReadOnlyException>(() => ro.DeleteSync(s));
        }
    }

    [Fact]
    public void Opening_a_missing_store_read_only_and_a_locked_store_are_typed_errors()
    {
        Assert.Throws<C1zIOException>(() => Open("missing", readOnly: true));
        using var first = Open("locked");
        Assert.Throws<C1zStoreInUseException>(() => Open("locked"));
    }

    [Fact]
    public void A_directory_that_is_not_a_store_is_reported_as_corrupt()
    {
        string dir = _dir.Combine("garbage");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "CURRENT"), "MANIFEST-000099\n");
        var ex = Record.Exception(() => Open("garbage"));
        Assert.True(ex is C1zCorruptionException or C1zIOException, $"got {ex?.GetType().Name}: {ex?.Message}");
    }

    [Fact]
    public void Use_after_dispose_throws_ObjectDisposed_and_dispose_is_idempotent()
    {
        var store = Open();
        var s = store.StartSync(SyncType.Full);
        store.Dispose();
        store.Dispose();
        Assert.Throws<ObjectDisposedException>(() => store.TryGetGrant(s, "g", out _));
        Assert.Throws<ObjectDisposedException>(() => store.PutGrants(s, [Grant("g", "e", "u", "v")]));
    }

    [Fact]
    public void A_scan_that_outlives_its_store_throws_ObjectDisposed_and_the_store_closes_when_it_ends()
    {
        string dir = _dir.Combine("outlived");
        var store = RocksStore.Open(dir, new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, Enumerable.Range(0, 100).Select(i => Grant($"g{i:D3}", "e", "user", $"u{i}")).ToList());
        using (var scan = store.Grants(s).GetEnumerator())
        {
            Assert.True(scan.MoveNext());
            store.Dispose();

            // The scan's lease keeps the native database open (no use of freed memory): the directory is still locked.
            Assert.Throws<C1zStoreInUseException>(() => RocksStore.Open(dir));

            // But a disposed store answers nothing more; the failed step also ends the scan and its lease.
            Assert.Throws<ObjectDisposedException>(() => scan.MoveNext());
            Assert.Throws<ObjectDisposedException>(() => store.Grants(s).First());
        }

        // The last lease ended, so the database closed: the directory opens again.
        using var reopened = RocksStore.Open(dir);
        Assert.Equal(100, reopened.Count(s).Grants);
    }

    [Fact]
    public void Consistency_walk_passes_after_random_operations_and_sees_planted_faults()
    {
        int seed = Seeds.Get(7301);
        var rng = new Random(seed);
        using var store = Open();
        var syncs = new[] { store.StartSync(SyncType.Full), store.StartSync(SyncType.Partial) };
        for (int step = 0; step < 600; step++)
        {
            var s = syncs[rng.Next(syncs.Length)];
            string id = $"g{rng.Next(60)}";
            switch (rng.Next(10))
            {
                case < 5:
                    store.PutGrants(s, [Grant(id, $"e{rng.Next(5)}", "user", $"u{rng.Next(8)}", rng.Next(3) == 0)]);
                    break;
                case < 7:
                    store.DeleteGrant(s, id);
                    break;
                case 7:
                    store.PutResources(s, [new ResourceRecord { ResourceTypeId = "group", ResourceId = $"r{rng.Next(10)}", Parent = rng.Next(2) == 0 ? null : new ResourceRef { ResourceTypeId = "org", ResourceId = $"o{rng.Next(3)}" } }]);
                    break;
                case 8:
                    store.PutEntitlements(s, [new EntitlementRecord { ExternalId = $"e{rng.Next(5)}", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = $"r{rng.Next(10)}" } }]);
                    break;
                default:
                    store.PutGrants(s, [Grant(id, "e0", "user", "u0"), Grant(id, $"e{rng.Next(5)}", "user", $"u{rng.Next(8)}", true)]);
                    break;
            }
        }

        var report = store.VerifyConsistency();
        Assert.True(report.IsConsistent, $"seed={seed}: {string.Join("; ", report.Problems)}");
        Assert.True(report.Records > 0 && report.IndexEntries > report.Records, $"seed={seed}: walk saw {report.Records} records and {report.IndexEntries} entries");

        // Plant an orphan index entry and delete a live one: the walk must report both.
        var live = store.Grants(syncs[0]).First();
        byte[] liveEntry = Keyspace.IndexKey(Keyspace.IdxGrantByPrincipal, syncs[0], false, live.Principal.ResourceTypeId, live.Principal.ResourceId, live.ExternalId);
        store.RawWrite(liveEntry, null);
        store.RawWrite(Keyspace.IndexKey(Keyspace.IdxGrantByEntitlement, syncs[1], false, "ghost", "user", "nobody", "g-ghost"), [0x0A, 0x00]);
        var broken = store.VerifyConsistency();
        Assert.False(broken.IsConsistent);
        Assert.Contains(broken.Problems, p => p.Contains("missing", StringComparison.Ordinal));
        Assert.Contains(broken.Problems, p => p.Contains("orphan", StringComparison.Ordinal));
    }

    [Fact]
    public void Pagination_walks_every_record_once_and_rejects_foreign_tokens()
    {
        using var store = Open();
        var s = store.StartSync(SyncType.Full);
        var other = store.StartSync(SyncType.Full);
        store.PutGrants(s, Enumerable.Range(0, 95).Select(i => Grant($"g{i:D3}", "e", "user", "u")).ToList());
        store.PutGrants(other, [Grant("x", "e", "user", "u"), Grant("y", "e", "user", "u")]);
        var seen = new List<string>();
        IReadOnlyList<string>? after = null;
        int pages = 0;
        while (true)
        {
            var page = store.List(s, RecordListing.Grants(), after).Take(10).ToList();
            if (page.Count == 0)
            {
                break;
            }

            seen.AddRange(page.Select(g => g.ExternalId));
            after = RecordListing.Grants().SortKey(page[^1]);
            pages++;

            // A write behind the cursor must not shift the listing.
            store.PutGrants(s, [Grant("a-before-everything-" + pages, "e", "user", "u")]);
        }

        Assert.Equal(Enumerable.Range(0, 95).Select(i => $"g{i:D3}"), seen);
        Assert.Equal(10, pages);
        Assert.Equal(["x", "y"], store.List(other, RecordListing.Grants()).Select(g => g.ExternalId));
        Assert.Throws<C1zArgumentException>(() => store.List(s, RecordListing.Grants(), ["a", "b"]));
    }

    [Fact]
    public void Consistency_walk_names_faults_that_keep_every_index_count_unchanged()
    {
        using var store = Open();
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, [.. Enumerable.Range(0, 50).Select(i => Grant($"g{i:D2}", $"e{i % 3}", "user", $"u{i % 4}"))]);
        Assert.True(store.VerifyConsistency().IsConsistent);
        var a = store.Grants(s).First(g => g.ExternalId == "g01");
        var b = store.Grants(s).First(g => g.ExternalId == "g02");
        byte[] KeyOf(GrantRecord g) => Keyspace.IndexKey(Keyspace.IdxGrantByPrincipal, s, false, g.Principal.ResourceTypeId, g.Principal.ResourceId, g.ExternalId);
        byte[] ValueOf(GrantRecord g) => store.ScanRaw(KeyOf(g)).Single().Value;

        // Two covering entries with their values swapped: same keys, same values, wrong pairs.
        byte[] va = ValueOf(a), vb = ValueOf(b);
        store.RawWrite(KeyOf(a), vb);
        store.RawWrite(KeyOf(b), va);
        var swapped = store.VerifyConsistency();
        Assert.Equal(2, swapped.Problems.Count(p => p.Contains("stale value", StringComparison.Ordinal)));
        store.RawWrite(KeyOf(a), va);
        store.RawWrite(KeyOf(b), vb);
        Assert.True(store.VerifyConsistency().IsConsistent);

        // One entry moved to a key no record produces: the count stays, the walk names both ends.
        store.RawWrite(KeyOf(a), null);
        store.RawWrite(Keyspace.IndexKey(Keyspace.IdxGrantByPrincipal, s, false, "user", "nobody", "g01"), va);
        var moved = store.VerifyConsistency();
        Assert.Contains(moved.Problems, p => p.Contains("missing", StringComparison.Ordinal));
        Assert.Contains(moved.Problems, p => p.Contains("orphan", StringComparison.Ordinal));
        Assert.Equal(moved.Records * 3, moved.IndexEntries); // by entitlement, by principal, by entitlement resource: counts unchanged
    }

    [Fact]
    public void Batched_grant_reads_answer_like_point_reads_across_batches_misses_duplicates_and_large_values()
    {
        using var store = Open();
        var s = store.StartSync(SyncType.Full);
        var grants = Enumerable.Range(0, 300).Select(i => Grant($"g{i:D4}", $"e{i % 5}", "user", $"u{i % 7}", i % 4 == 0)).ToList();
        // A value larger than the point read's stack buffer takes its second-read path.
        grants.Add(Grant("big", new string('e', 3000), "user", new string('u', 2000)));
        store.PutGrants(s, grants);

        // 333 ids: more than two native batches, every fourth id missing, some repeated.
        string[] ids = [.. Enumerable.Range(0, 333).Select(i => i % 4 == 3 ? $"missing{i}" : $"g{i * 7 % 300:D4}"), "big", "g0000", "g0000"];
        var got = new GrantRecord?[ids.Length];
        int found = store.TryGetGrants(s, ids, got);

        Assert.Equal(ids.Count(id => !id.StartsWith("missing", StringComparison.Ordinal)), found);
        for (int i = 0; i < ids.Length; i++)
        {
            Assert.Equal(store.TryGetGrant(s, ids[i], out var one), got[i] is not null);
            Assert.Equal(one, got[i]);
            if (got[i] is { } g)
            {
                Assert.Equal(s.ToString(), g.SyncId);
            }
        }

        Assert.Equal(5000, got[333]!.Entitlement.EntitlementId.Length + got[333]!.Principal.ResourceId.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.TryGetGrants(s, ids, new GrantRecord?[ids.Length - 1]));
        Assert.Throws<ArgumentNullException>(() => store.TryGetGrants(s, ["g0001", null!], new GrantRecord?[2]));
        Assert.Equal(0, store.TryGetGrants(s, [], []));
    }

    private struct RowCollector(int stopAfter) : DotC1z.Codecs.IGrantRowVisitor
    {
        public List<string> Rows { get; } = [];

        public readonly bool Visit(in DotC1z.Codecs.GrantRow row)
        {
            static string S(ReadOnlySpan<byte> b) => System.Text.Encoding.UTF8.GetString(b);
            Rows.Add(string.Join("|", S(row.ExternalId), S(row.EntitlementResourceTypeId), S(row.EntitlementResourceId), S(row.EntitlementId),
                S(row.PrincipalResourceTypeId), S(row.PrincipalResourceId), row.NeedsExpansion ? "1" : "0"));
            return Rows.Count < stopAfter;
        }
    }

    private static string RowOf(GrantRecord g) => string.Join("|", g.ExternalId, g.Entitlement?.ResourceTypeId ?? "", g.Entitlement?.ResourceId ?? "",
        g.Entitlement?.EntitlementId ?? "", g.Principal?.ResourceTypeId ?? "", g.Principal?.ResourceId ?? "", g.NeedsExpansion ? "1" : "0");

    [Fact]
    public void Grant_row_visits_match_the_records_of_every_grant_listing_in_order_and_stop_when_asked()
    {
        using var store = Open();
        using var reference = new DotC1z.Equivalence.MemoryStore();
        var grants = Enumerable.Range(0, 200).Select(i => Grant($"g{i:D3}", $"e{i % 4}", "user", $"u{i % 9}", i % 5 == 0)).ToList();
        // Shapes beyond the compact encoding: sources, a missing principal, non-ASCII ids.
        var withSources = Grant("s1", "e1", "user", "u1");
        withSources.Sources.Add("src-b", new GrantSourceRecord { IsDirect = true });
        withSources.Sources.Add("src-a", new GrantSourceRecord());
        grants.Add(withSources);
        grants.Add(new GrantRecord { ExternalId = "no-principal", Entitlement = new EntitlementRef { EntitlementId = "e1", ResourceTypeId = "group", ResourceId = "eng" } });
        grants.Add(Grant("ü-grant", "é1", "user", "ø"));
        var bulk = Enumerable.Range(0, 120).Select(i => Grant($"b{i:D3}", $"e{i % 3}", "group", $"t{i % 4}")).ToList();

        RecordListing<GrantRecord>[] listings =
        [
            RecordListing.Grants(), RecordListing.GrantsByEntitlement("e1"), RecordListing.GrantsByPrincipal("user", "u1"),
            RecordListing.GrantsByResource("group", "eng"), RecordListing.GrantsByResourceType("group"),
        ];
        long compared = 0;
        foreach (var (put, records) in new (bool, List<GrantRecord>)[] { (true, grants), (false, bulk) })
        {
            var s = store.StartSync(SyncType.Full);
            var r = reference.StartSync(SyncType.Full);
            foreach (var target in new (IC1zStore Store, SyncId Sync)[] { (store, s), (reference, r) })
            {
                if (put)
                {
                    target.Store.PutGrants(target.Sync, records);
                }
                else
                {
                    using var loader = target.Store.BeginBulkLoad(target.Sync);
                    records.ForEach(loader.Add);
                    loader.Complete();
                }
            }

            foreach (var listing in listings)
            {
                var visitor = new RowCollector(int.MaxValue);
                long rows = store.VisitGrants(s, listing, ref visitor);
                var expected = store.List(s, listing).Select(RowOf).ToList();
                compared += expected.Count;
                Assert.Equal(expected, visitor.Rows);
                Assert.Equal(expected.Count, rows);

                // The interface's default (records re-encoded), through the reference store, answers the same.
                var viaDefault = new RowCollector(int.MaxValue);
                ((IC1zReader)reference).VisitGrants(r, listing, ref viaDefault);
                Assert.Equal(expected, viaDefault.Rows);
            }

            var stopping = new RowCollector(3);
            Assert.Equal(3, store.VisitGrants(s, RecordListing.Grants(), ref stopping));
            Assert.Equal(3, stopping.Rows.Count);
        }

        // Every listing above returned rows in at least one of the two syncs.
        Assert.True(compared > 2 * (200 + 120), $"only {compared} rows compared");
    }

    [Fact]
    public void A_scan_started_before_a_write_returns_the_old_snapshot()
    {
        using var store = Open();
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, [.. Enumerable.Range(0, 100).Select(i => Grant($"g{i:D3}", "e", "user", $"u{i:D3}"))]);

        // Each listing is started (its first row read) before the writes: the snapshot is taken then.
        using var full = store.Grants(s).GetEnumerator();
        using var byEntitlement = store.GrantsByEntitlement(s, "e").GetEnumerator();
        using var byPrincipal = store.GrantsByPrincipal(s, "user", "u050").GetEnumerator();
        Assert.True(full.MoveNext());
        Assert.True(byEntitlement.MoveNext());
        Assert.True(byPrincipal.MoveNext());

        store.PutGrants(s, [Grant("g050", "changed", "user", "u050"), Grant("g999", "e", "user", "u999")]);
        store.DeleteGrant(s, "g010");
        store.Flush();

        var rest = new List<GrantRecord> { full.Current };
        while (full.MoveNext())
        {
            rest.Add(full.Current);
        }

        Assert.Equal([.. Enumerable.Range(0, 100).Select(i => $"g{i:D3}")], rest.Select(g => g.ExternalId));
        Assert.Equal("e", rest[50].Entitlement.EntitlementId);

        var byEnt = new List<string> { byEntitlement.Current.ExternalId };
        while (byEntitlement.MoveNext())
        {
            byEnt.Add(byEntitlement.Current.ExternalId);
        }

        Assert.Equal([.. Enumerable.Range(0, 100).Select(i => $"g{i:D3}")], byEnt);
        Assert.Equal("e", byPrincipal.Current.Entitlement.EntitlementId);
        Assert.False(byPrincipal.MoveNext());

        // A scan started after the writes sees them.
        Assert.Equal(100, store.Grants(s).Count());
        Assert.Equal("changed", store.GrantsByPrincipal(s, "user", "u050").Single().Entitlement.EntitlementId);
    }

    [Fact]
    public async Task Long_scans_see_one_snapshot_while_another_thread_writes()
    {
        using var store = Open();
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, Enumerable.Range(0, 2000).Select(i => Grant($"g{i:D5}", $"e{i % 3}", "user", $"u{i % 7}")).ToList());
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                store.PutGrants(s, [Grant($"n{i++:D6}", "e0", "user", "u0")]);
                store.DeleteGrant(s, $"g{i % 2000:D5}");
            }
        });
        try
        {
            for (int round = 0; round < 20; round++)
            {
                int count = 0;
                string? previous = null;
                foreach (var g in store.GrantsByEntitlement(s, "e1"))
                {
                    Assert.Equal("e1", g.Entitlement.EntitlementId);
                    string sortKey = g.Principal.ResourceId + "\0" + g.ExternalId;
                    Assert.True(previous is null || string.CompareOrdinal(previous, sortKey) < 0);
                    previous = sortKey;
                    count++;
                }

                Assert.True(count <= 667, $"e1 has at most 667 grants, scan saw {count}");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }

        Assert.True(store.VerifyConsistency().IsConsistent);
    }

    [Fact]
    public void Large_bulk_load_spills_merges_and_matches_a_consistent_store()
    {
        using var store = Open();
        var s = store.StartSync(SyncType.Full);
        using (var loader = store.BeginBulkLoad(s))
        {
            for (int i = 999; i >= 0; i--)
            {
                loader.Add(Grant($"grant-{i:D6}", $"ent-{i % 13}", "user", $"user-{i % 17}", i % 9 == 0));
            }

            for (int i = 0; i < 100; i++)
            {
                loader.Add(Grant($"grant-{i * 3:D6}", "ent-dup", "user", "dup")); // later duplicates win
            }

            loader.Complete();
        }

        Assert.Equal(1000, store.Count(s).Grants);
        Assert.Equal(100, store.GrantsByEntitlement(s, "ent-dup").Count());
        var report = store.VerifyConsistency();
        Assert.True(report.IsConsistent, string.Join("; ", report.Problems));
        Assert.False(Directory.EnumerateDirectories(store.Directory, ".bulk-*").Any());
    }

    [Theory]
    [InlineData("sorted", 1_000_000)]
    [InlineData("late disorder", 1_000_000)]
    [InlineData("late duplicate", 1_000_000)]
    [InlineData("sorted then spill", 10_000)]
    [InlineData("late disorder", 10_000)]
    [InlineData("late duplicate", 10_000)]
    public void Id_ordered_bulk_loads_equal_puts_whether_or_not_the_primary_stream_survives(string mode, int chunkRecords)
    {
        // Enough grants that every large keyspace is split into one SST per lane; the primary is
        // streamed while ids increase and must be rebuilt from the chunk or its spills when they stop.
        const int N = 40_000;
        int seed = Seeds.Get(777);
        var rng = new Random(seed);
        var grants = Enumerable.Range(0, N).Select(i => Grant($"grant-{i:D7}", $"ent-{rng.Next(50)}", "user", $"user-{rng.Next(300)}", rng.Next(7) == 0)).ToList();
        if (mode == "late disorder")
        {
            (grants[N - 10], grants[N - 5000]) = (grants[N - 5000], grants[N - 10]);
        }
        else if (mode == "late duplicate")
        {
            grants.Add(Grant("grant-0000123", "ent-dup", "user", "dup"));
        }

        using var store = RocksStore.Open(_dir.Combine("ordered"), new RocksStoreOptions { Durability = RocksDurability.NoSync, BulkChunkRecords = chunkRecords });
        var bulk = store.StartSync(SyncType.Full);
        var puts = store.StartSync(SyncType.Full);
        using (var loader = store.BeginBulkLoad(bulk))
        {
            grants.ForEach(loader.Add);
            loader.Complete();
        }

        store.PutGrants(puts, grants);
        static string Key(GrantRecord g) => $"{g.ExternalId}|{g.Entitlement.EntitlementId}|{g.Principal.ResourceId}|{g.NeedsExpansion}";
        Assert.Equal(store.Count(puts).Grants, store.Count(bulk).Grants);
        Assert.True(store.Grants(puts).Select(Key).SequenceEqual(store.Grants(bulk).Select(Key)), $"{mode} seed={seed}: primary differs");
        foreach (var ent in grants.Select(g => g.Entitlement.EntitlementId).Distinct())
        {
            Assert.True(store.GrantsByEntitlement(puts, ent).Select(Key).SequenceEqual(store.GrantsByEntitlement(bulk, ent).Select(Key)), $"{mode} seed={seed}: by entitlement {ent} differs");
        }

        foreach (var p in grants.Select(g => g.Principal.ResourceId).Distinct())
        {
            Assert.True(store.GrantsByPrincipal(puts, "user", p).Select(Key).SequenceEqual(store.GrantsByPrincipal(bulk, "user", p).Select(Key)), $"{mode} seed={seed}: by principal {p} differs");
        }

        Assert.True(store.GrantsNeedingExpansion(puts).Select(Key).SequenceEqual(store.GrantsNeedingExpansion(bulk).Select(Key)), $"{mode} seed={seed}: needs expansion differs");
        var report = store.VerifyConsistency();
        Assert.True(report.IsConsistent, $"{mode} seed={seed}: " + string.Join("; ", report.Problems));
        Assert.False(Directory.EnumerateDirectories(store.Directory, ".bulk-*").Any());
    }

    [Theory]
    [InlineData(1, 1_000_000)]
    [InlineData(2, 37)]
    [InlineData(3, 1)]
    public void Seeded_random_bulk_loads_equal_puts_in_every_keyspace(int seedOffset, int chunkRecords)
    {
        // Ids and elements drawn from a tiny alphabet with NUL, 0x01, multi-byte and surrogate-pair
        // characters, so prefixes, escapes and UTF-8 vs UTF-16 order all meet in the grant chunk's ranking.
        int seed = Seeds.Get(4242 + seedOffset);
        var rng = new Random(seed);
        string[] alphabet = ["a", "b", "\0", "\u0001", "é", "\uFFFD", "\U0001F600", "z"];
        string Text(int max)
        {
            var sb = new System.Text.StringBuilder();
            for (int i = rng.Next(max + 1); i > 0; i--)
            {
                sb.Append(System.Text.RegularExpressions.Regex.Unescape(alphabet[rng.Next(alphabet.Length)]));
            }

            return sb.ToString();
        }

        using var store = RocksStore.Open(_dir.Combine("rand"), new RocksStoreOptions { Durability = RocksDurability.NoSync, BulkChunkRecords = chunkRecords });
        var bulk = store.StartSync(SyncType.Full);
        var puts = store.StartSync(SyncType.Full);
        var grants = Enumerable.Range(0, 400).Select(i => new GrantRecord
        {
            ExternalId = "g" + Text(3),
            Entitlement = new EntitlementRef { ResourceTypeId = Text(1), ResourceId = Text(2), EntitlementId = Text(2) },
            Principal = new PrincipalRef { ResourceTypeId = Text(1), ResourceId = Text(2) },
            NeedsExpansion = rng.Next(4) == 0,
        }).ToList();
        using (var loader = store.BeginBulkLoad(bulk))
        {
            grants.ForEach(loader.Add);
            loader.Complete();
        }

        store.PutGrants(puts, grants);

        // The byte-level road: the same grants copied in their stored encoding, in id order.
        var encoded = store.StartSync(SyncType.Full);
        using (var loader = store.BeginBulkLoad(encoded))
        {
            Assert.True(loader.AcceptsEncodedGrants);
            Assert.True(store.TryOpenEncodedGrants(puts, out var cursor));
            using (cursor)
            {
                while (cursor.MoveNext())
                {
                    loader.AddEncodedGrant(cursor.Value);
                }
            }

            loader.Complete();
        }

        string Key(GrantRecord g) => $"{g.ExternalId}|{g.Entitlement.EntitlementId}|{g.Principal.ResourceId}|{g.NeedsExpansion}";
        foreach (var (name, other) in new[] { ("bulk", bulk), ("encoded", encoded) })
        {
            Assert.True(store.Grants(puts).Select(Key).SequenceEqual(store.Grants(other).Select(Key)), $"seed={seed} {name}: primary differs");
            foreach (var ent in grants.Select(g => g.Entitlement.EntitlementId).Distinct())
            {
                Assert.True(store.GrantsByEntitlement(puts, ent).Select(Key).SequenceEqual(store.GrantsByEntitlement(other, ent).Select(Key)), $"seed={seed} {name}: by entitlement differs");
            }

            foreach (var p in grants.Select(g => (g.Principal.ResourceTypeId, g.Principal.ResourceId)).Distinct())
            {
                Assert.True(store.GrantsByPrincipal(puts, p.Item1, p.Item2).Select(Key).SequenceEqual(store.GrantsByPrincipal(other, p.Item1, p.Item2).Select(Key)), $"seed={seed} {name}: by principal differs");
            }

            Assert.True(store.GrantsNeedingExpansion(puts).Select(Key).SequenceEqual(store.GrantsNeedingExpansion(other).Select(Key)), $"seed={seed} {name}: needs expansion differs");
        }

        var report = store.VerifyConsistency();
        Assert.True(report.IsConsistent, $"seed={seed}: " + string.Join("; ", report.Problems));
    }

    [Fact]
    public void Checkpoint_is_a_reopenable_copy_and_refuses_an_existing_target()
    {
        using var store = Open();
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, [Grant("g1", "e", "user", "u")]);
        string cp = _dir.Combine("cp");
        store.Checkpoint(cp);
        store.PutGrants(s, [Grant("g2", "e", "user", "u")]); // the source stays writable
        Assert.Throws<C1zArgumentException>(() => store.Checkpoint(cp));
        using var copy = RocksStore.Open(cp, new RocksStoreOptions { ReadOnly = true });
        Assert.Equal(["g1"], copy.Grants(s).Select(g => g.ExternalId));
        copy.VerifyChecksums();
    }

    [Fact]
    public void A_corrupted_sst_surfaces_as_a_corruption_error_not_a_short_scan()
    {
        string dir = _dir.Combine("corrupt");
        SyncId s;
        using (var store = RocksStore.Open(dir, new RocksStoreOptions { Durability = RocksDurability.NoSync }))
        {
            s = store.StartSync(SyncType.Full);
            store.PutGrants(s, Enumerable.Range(0, 5000).Select(i => Grant($"g{i:D6}", $"e{i % 5}", "user", $"u{i}")).ToList());
            store.Flush();
        }

        foreach (string sst in Directory.GetFiles(dir, "*.sst"))
        {
            var bytes = File.ReadAllBytes(sst);
            for (int i = 100; i < bytes.Length - 200; i += 97)
            {
                bytes[i] ^= 0x5A;
            }

            File.WriteAllBytes(sst, bytes);
        }

        var ex = Record.Exception(() =>
        {
            using var store = RocksStore.Open(dir, new RocksStoreOptions { ReadOnly = true, ParanoidChecks = true });
            _ = store.Grants(s).Count();
            store.VerifyChecksums();
        });
        Assert.IsType<C1zCorruptionException>(ex);
    }
}

internal static class StoreTestExtensions
{
    public static SyncId? LatestFinishedSyncFor(this RocksStore store) => Storage.StoreExtensions.LatestFinishedSync(store);
}
