using DotC1z.Engine.Rocks;
using DotC1z.Engine.Sqlite;
using DotC1z.Equivalence;
using DotC1z.Interop.V1;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations.Tests;

/// <summary>
/// Issue 16 "Done when": N-input compaction and two-input diff read sources living in different stores of
/// different kinds (RocksDB, SQLite, a legacy v1 file, memory) and must equal a dictionary model's fold, record
/// for record; and diff(A, B) applied to A (by compacting A with the diff's two syncs) must give B.
/// </summary>
public sealed class StreamingMergeModelTests : IDisposable
{
    private readonly TempDir _dir = new("stream-merge");
    private readonly List<IDisposable> _owned = [];
    private int _n;

    public static TheoryData<string, string> KindPairs => new()
    {
        { "rocks", "rocks" },
        { "rocks", "v1" },
        { "v1", "v1" },
        { "sqlite", "rocks" },
        { "memory", "sqlite" },
    };

    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(_owned))
        {
            d.Dispose();
        }

        _dir.Dispose();
    }

    [Theory]
    [MemberData(nameof(KindPairs))]
    public void N_input_compaction_equals_the_models_fold(string kindA, string kindB)
    {
        int first = Seeds.Get(1600);
        for (int seed = first; seed < first + 12; seed++)
        {
            var rng = new Random(seed);
            int count = 2 + rng.Next(4);
            var inputs = new List<SyncSource>();
            for (int i = 0; i < count; i++)
            {
                // A full sync mostly first; later inputs mostly partial, sometimes a full one that resets.
                var type = i == 0 ? (rng.Next(4) == 0 ? SyncType.PartialUpserts : SyncType.Full)
                    : rng.Next(6) switch { 0 => SyncType.Full, 1 or 2 => SyncType.PartialDeletions, _ => SyncType.PartialUpserts };
                string kind = i % 2 == 0 ? kindA : kindB;
                // Consecutive inputs' discovered_at ranges overlap, so ties and "an earlier input saw it later" both occur.
                inputs.Add(Input(kind, type, rng, epoch: i));
            }

            var expected = Fold(inputs);
            using var target = Rocks();
            var result = SyncCompactor.Compact(inputs, target);
            var actual = Snapshot(target, result.Output);
            string context = $"seed={seed} kinds={kindA}/{kindB} inputs={string.Join(",", inputs.Select(s => s.Run().Type))}";
            AssertSame(expected, actual, context);
            Assert.True(target.TryGetSyncRun(result.Output, out var run), context);
            Assert.True(run.Compacted, context);
            Assert.Equal(result.Type, run.Type);
            Assert.Equal(actual.Count, result.Counts.Total);

            // RocksDB stores hand their grants over as stored; the others (v1 files are read through SQLite) decode.
            // Only the inputs from the last full sync on are read.
            bool stored = Enumerable.Range(result.InputsSkipped, count - result.InputsSkipped).All(i => (i % 2 == 0 ? kindA : kindB) == "rocks");
            Assert.True(result.GrantsCopiedAsStored == (stored ? result.Counts.Grants : 0), $"{context}: {result.GrantsCopiedAsStored} grants copied as stored of {result.Counts.Grants}");

            // Between RocksDB stores the grant indexes are merged as stored, not rebuilt; the walk below checks them.
            Assert.True(result.GrantIndexesMerged == stored, $"{context}: indexes merged {result.GrantIndexesMerged}");
            var report = ((RocksStore)target).VerifyConsistency();
            Assert.True(report.IsConsistent, context + ": " + string.Join("; ", report.Problems));
        }
    }

    [Theory]
    [MemberData(nameof(KindPairs))]
    public void Diff_of_A_and_B_applied_to_A_gives_B(string kindA, string kindB)
    {
        int first = Seeds.Get(1700);
        for (int seed = first; seed < first + 12; seed++)
        {
            var rng = new Random(seed);
            var a = Input(kindA, SyncType.Full, rng, epoch: 0);

            // B is a later sync: whatever it holds was discovered after A's records.
            var b = Input(kindB, SyncType.Full, rng, epoch: 100);
            string context = $"seed={seed} kinds={kindA}/{kindB}";
            var expectedB = Snapshot(b.Store, b.Sync);
            var snapshotA = Snapshot(a.Store, a.Sync);

            using var changes = Rocks();
            var diff = SyncDiff.Diff(a, b, changes);
            var additions = Snapshot(changes, diff.Additions);
            var deletions = Snapshot(changes, diff.Deletions);
            var expectedAdditions = expectedB.Where(p => !snapshotA.TryGetValue(p.Key, out var v) || v.Canonical != p.Value.Canonical).Select(p => p.Key).Order(StringComparer.Ordinal);
            Assert.Equal(expectedAdditions, additions.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(snapshotA.Keys.Where(k => !expectedB.ContainsKey(k)).Order(StringComparer.Ordinal), deletions.Keys.Order(StringComparer.Ordinal));

            // The report agrees with the syncs.
            var changed = SyncDiff.Compare(a, b, null);
            Assert.Equal(additions.Count, changed.Sum(c => c.Created + c.Modified));
            Assert.Equal(deletions.Count, changed.Sum(c => c.Deleted));

            // A, then the diff file's syncs in sync order, compacts to B.
            using var target = Rocks();
            var result = SyncCompactor.Compact([a, .. SyncSource.AllOf(changes)], target);
            AssertSame(expectedB, Snapshot(target, result.Output), context);
            Assert.Equal(SyncType.Full, result.Type);
        }
    }

    [Fact]
    public void Two_inputs_with_the_same_sync_id_are_compared()
    {
        var sync = SyncId.NewId();
        using var left = new MemoryStore();
        using var right = Rocks();
        foreach (var (store, name) in new[] { (left, "before"), (right, "after") })
        {
            store.PutSyncRun(new SyncRunRecord { SyncId = sync.ToString(), Type = SyncType.Full, StartedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch) });
            using var loader = store.BeginBulkLoad(sync);
            loader.Add(new EntitlementRecord { ExternalId = "e1", DisplayName = name });
            loader.Complete();
        }

        var changes = SyncDiff.Compare(new SyncSource(left, sync), new SyncSource(right, sync), null);
        var entitlements = changes.Single(c => c.Kind == RecordKinds.Entitlement);
        Assert.Equal(1, entitlements.Modified);
        Assert.Equal(1, entitlements.ChangedFields["display_name"]);
    }

    [Fact]
    public void Discovered_at_decides_between_inputs_and_the_result_says_so()
    {
        using var older = Rocks();
        using var newer = Rocks();
        var s1 = older.StartSync(SyncType.Full);
        older.PutEntitlements(s1, [new EntitlementRecord { ExternalId = "e1", DisplayName = "seen-later", DiscoveredAt = At(200) }, new EntitlementRecord { ExternalId = "e2", DisplayName = "old" }]);
        older.EndSync(s1);
        var s2 = newer.StartSync(SyncType.PartialUpserts);
        newer.PutEntitlements(s2, [new EntitlementRecord { ExternalId = "e1", DisplayName = "seen-earlier", DiscoveredAt = At(100) }, new EntitlementRecord { ExternalId = "e2", DisplayName = "new", DiscoveredAt = At(300) }]);
        newer.EndSync(s2);
        using var target = Rocks();
        var result = SyncCompactor.Compact([new SyncSource(older, s1), new SyncSource(newer, s2)], target);
        Assert.Equal(1, result.ByDiscoveredAt);
        Assert.Equal(1, result.ByDiscoveredAtOlderInput);
        Assert.Equal(1, result.ByInputOrder);
        Assert.True(target.TryGetEntitlement(result.Output, "e1", out var e1));
        Assert.Equal("seen-later", e1.DisplayName);
        Assert.True(target.TryGetEntitlement(result.Output, "e2", out var e2));
        Assert.Equal("new", e2.DisplayName);
    }

    [Fact]
    public void Merged_stored_indexes_equal_indexes_rebuilt_from_the_grants()
    {
        int first = Seeds.Get(1900);
        for (int seed = first; seed < first + 10; seed++)
        {
            var rng = new Random(seed);
            var inputs = new List<SyncSource>();
            int count = 2 + rng.Next(3);
            for (int i = 0; i < count; i++)
            {
                var type = i == 0 ? SyncType.Full : rng.Next(3) == 0 ? SyncType.PartialDeletions : SyncType.PartialUpserts;
                inputs.Add(Input("rocks", type, rng, epoch: i));
            }

            using var merging = Rocks();
            using var rebuilding = RocksStore.Open(_dir.Combine($"r{_n++}"), new RocksStoreOptions { Durability = RocksDurability.NoSync, IndexMergeMaxLosers = 0 });
            var merged = SyncCompactor.Compact(inputs, merging);
            var rebuilt = SyncCompactor.Compact(inputs, rebuilding);
            string context = $"seed={seed} inputs={string.Join(",", inputs.Select(s => s.Run().Type))}";
            Assert.True(merged.GrantIndexesMerged, context);
            Assert.False(rebuilt.GrantIndexesMerged, context);

            // Every index answers the same on both roads (records compared without their sync ids).
            static List<string> Listed(IEnumerable<GrantRecord> grants) => [.. grants.Select(g =>
            {
                var copy = g.Clone();
                copy.SyncId = string.Empty;
                return DotC1z.Equivalence.EquivalenceRunner.Canonical(copy);
            })];

            var all = Listed(rebuilding.Grants(rebuilt.Output));
            Assert.Equal(all, Listed(merging.Grants(merged.Output)));
            Assert.Equal(Listed(rebuilding.GrantsNeedingExpansion(rebuilt.Output)), Listed(merging.GrantsNeedingExpansion(merged.Output)));
            foreach (var g in rebuilding.Grants(rebuilt.Output))
            {
                Assert.Equal(Listed(rebuilding.GrantsByEntitlement(rebuilt.Output, g.Entitlement.EntitlementId)), Listed(merging.GrantsByEntitlement(merged.Output, g.Entitlement.EntitlementId)));
                Assert.Equal(Listed(rebuilding.GrantsByPrincipal(rebuilt.Output, g.Principal.ResourceTypeId, g.Principal.ResourceId)), Listed(merging.GrantsByPrincipal(merged.Output, g.Principal.ResourceTypeId, g.Principal.ResourceId)));
                Assert.Equal(Listed(rebuilding.GrantsByEntitlementResource(rebuilt.Output, g.Entitlement.ResourceTypeId, g.Entitlement.ResourceId)), Listed(merging.GrantsByEntitlementResource(merged.Output, g.Entitlement.ResourceTypeId, g.Entitlement.ResourceId)));
            }

            var report = ((RocksStore)merging).VerifyConsistency();
            Assert.True(report.IsConsistent, context + ": " + string.Join("; ", report.Problems));
        }
    }

    private static Timestamp At(long seconds) => new() { Seconds = seconds };

    private IC1zStore Rocks() => RocksStore.Open(_dir.Combine($"r{_n++}"), new RocksStoreOptions { Durability = RocksDurability.NoSync, BulkChunkRecords = 16 });

    /// <summary>A store of the given kind holding one sync of random records (identities from small pools, so inputs overlap).</summary>
    [Fact]
    public void Digests_derived_from_the_inputs_equal_the_digests_of_the_output_grants()
    {
        int first = Seeds.Get(2000);
        int derived = 0;
        for (int seed = first; seed < first + 16; seed++)
        {
            var rng = new Random(seed);
            var inputs = new List<SyncSource>();
            int count = 2 + rng.Next(4);
            bool allKnown = true;
            for (int i = 0; i < count; i++)
            {
                // Mostly bulk-loaded inputs (digests known); now and then one written record by record (unknown), which
                // sends the compaction back to hashing every grant.
                var type = i == 0 ? SyncType.Full : rng.Next(6) switch { 0 => SyncType.Full, 1 or 2 => SyncType.PartialDeletions, _ => SyncType.PartialUpserts };
                bool bulk = rng.Next(5) != 0;
                allKnown &= bulk || type == SyncType.PartialDeletions;
                inputs.Add(Input("rocks", type, rng, epoch: i, bulk: bulk));
            }

            using var target = Rocks();
            var result = SyncCompactor.Compact(inputs, target);
            string context = $"seed={seed} inputs={string.Join(",", inputs.Select(s => s.Run().Type))}";
            Assert.True(result.GrantIndexesMerged, context);
            derived += result.GrantDigestsFromInputs ? 1 : 0;

            // Inputs before the last full sync do not count; of the others, each must have been bulk-loaded.
            if (result.GrantDigestsFromInputs)
            {
                Assert.True(inputs.Skip(result.InputsSkipped).All(i => i.Run().Type == SyncType.PartialDeletions || ((RocksStore)i.Store).TryGetGrantDigests(i.Sync, out _)), context);
            }
            else
            {
                Assert.False(allKnown, context);
            }

            // Whichever road ran, the store's digests of the output are those of its grants.
            var target2 = (RocksStore)target;
            Assert.True(target2.TryGetGrantDigests(result.Output, out var known), context);
            var fromGrants = GrantDigest.ByEntitlement(target2, result.Output);
            Assert.Equal(fromGrants.OrderBy(p => p.Key, StringComparer.Ordinal), known.OrderBy(p => p.Key, StringComparer.Ordinal));
        }

        Assert.True(derived >= 4, $"seed={first}: the derived road ran {derived} times");
    }

    // bulk: a RocksDB input written by one bulk load, so its store knows the sync's grant digests.
    private SyncSource Input(string kind, SyncType type, Random rng, int epoch, bool bulk = false)
    {
        IC1zStore store = kind switch
        {
            "rocks" => Rocks(),
            "sqlite" or "v1" => SqliteStore.Open(_dir.Combine($"s{_n++}.sqlite"), new SqliteStoreOptions { Durable = false }),
            _ => new MemoryStore(),
        };
        var sync = store.StartSync(type);
        using var load = bulk ? store.BeginBulkLoad(sync) : null;
        var writer = load is null ? (IRecordSink)new StoreSink(store) : new LoaderSink(load);
        bool deletions = type == SyncType.PartialDeletions;
        var started = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch.AddHours(epoch));
        Timestamp? Discovered() => rng.Next(4) == 0 ? null : new Timestamp { Seconds = epoch + rng.Next(3) };
        string Value() => "v" + rng.Next(3).ToString(System.Globalization.CultureInfo.InvariantCulture);
        IEnumerable<int> Pick(int pool) => Enumerable.Range(0, pool).Where(_ => rng.Next(3) == 0);

        writer.PutResourceTypes(sync, [.. Pick(4).Select(i => deletions ? new ResourceTypeRecord { ExternalId = $"rt{i}" } : new ResourceTypeRecord { ExternalId = $"rt{i}", DisplayName = Value(), DiscoveredAt = Discovered() })]);
        writer.PutResources(sync, [.. Pick(12).Select(i => deletions ? new ResourceRecord { ResourceTypeId = $"rt{i % 2}", ResourceId = $"r{i}" } : new ResourceRecord { ResourceTypeId = $"rt{i % 2}", ResourceId = $"r{i}", DisplayName = Value(), DiscoveredAt = Discovered() })]);
        writer.PutEntitlements(sync, [.. Pick(10).Select(i => deletions ? new EntitlementRecord { ExternalId = $"rt0:r{i}:member" } : new EntitlementRecord { ExternalId = $"rt0:r{i}:member", Resource = new ResourceRef { ResourceTypeId = "rt0", ResourceId = $"r{i}" }, DisplayName = Value(), DiscoveredAt = Discovered() })]);
        writer.PutGrants(sync, [.. Pick(30).Select(i => deletions ? new GrantRecord { ExternalId = $"rt0:r{i % 10}:member:user:u{i}" } : Grant(i, Value(), Discovered()))]);
        writer.PutAssets(sync, [.. Pick(5).Select(i => deletions ? new AssetRecord { ExternalId = $"a{i}" } : new AssetRecord { ExternalId = $"a{i}", ContentType = "text/plain", Data = ByteString.CopyFromUtf8(Value()), DiscoveredAt = Discovered() })]);
        load?.Complete();
        store.EndSync(sync);
        if (store.TryGetSyncRun(sync, out var run))
        {
            run.StartedAt = started;
            store.PutSyncRun(run);
        }

        if (kind != "v1")
        {
            _owned.Add(store);
            return new SyncSource(store, sync);
        }

        // The legacy v1 file baton writes: export, then read it back through the v1 loader.
        string file = _dir.Combine($"v{_n++}.c1z");
        V1Export.Export(store, file);
        store.Dispose();
        var v1 = V1File.OpenReadOnly(file);
        _owned.Add(v1);
        return new SyncSource(v1, sync);
    }

    // Input's records go to the store's writes or to one bulk load.
    private interface IRecordSink
    {
        void PutResourceTypes(SyncId sync, IReadOnlyList<ResourceTypeRecord> records);

        void PutResources(SyncId sync, IReadOnlyList<ResourceRecord> records);

        void PutEntitlements(SyncId sync, IReadOnlyList<EntitlementRecord> records);

        void PutGrants(SyncId sync, IReadOnlyList<GrantRecord> records);

        void PutAssets(SyncId sync, IReadOnlyList<AssetRecord> records);
    }

    private sealed class StoreSink(IC1zStore store) : IRecordSink
    {
        public void PutResourceTypes(SyncId sync, IReadOnlyList<ResourceTypeRecord> records) => store.PutResourceTypes(sync, records);

        public void PutResources(SyncId sync, IReadOnlyList<ResourceRecord> records) => store.PutResources(sync, records);

        public void PutEntitlements(SyncId sync, IReadOnlyList<EntitlementRecord> records) => store.PutEntitlements(sync, records);

        public void PutGrants(SyncId sync, IReadOnlyList<GrantRecord> records) => store.PutGrants(sync, records);

        public void PutAssets(SyncId sync, IReadOnlyList<AssetRecord> records) => store.PutAssets(sync, records);
    }

    private sealed class LoaderSink(IBulkLoader loader) : IRecordSink
    {
        public void PutResourceTypes(SyncId sync, IReadOnlyList<ResourceTypeRecord> records) => records.ToList().ForEach(loader.Add);

        public void PutResources(SyncId sync, IReadOnlyList<ResourceRecord> records) => records.ToList().ForEach(loader.Add);

        public void PutEntitlements(SyncId sync, IReadOnlyList<EntitlementRecord> records) => records.ToList().ForEach(loader.Add);

        public void PutGrants(SyncId sync, IReadOnlyList<GrantRecord> records) => records.ToList().ForEach(loader.Add);

        public void PutAssets(SyncId sync, IReadOnlyList<AssetRecord> records) => records.ToList().ForEach(loader.Add);
    }

    private static GrantRecord Grant(int i, string value, Timestamp? discovered)
    {
        // Some versions of a grant move it to another principal or entitlement under the same id, so inputs disagree
        // on its index keys; some need expansion.
        int ent = value == "v1" ? (i + 1) % 10 : i % 10;
        var g = new GrantRecord
        {
            ExternalId = $"rt0:r{i % 10}:member:user:u{i}",
            Entitlement = new EntitlementRef { ResourceTypeId = "rt0", ResourceId = $"r{ent}", EntitlementId = $"rt0:r{ent}:member" },
            Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = value == "v2" ? $"moved{i}" : $"u{i}" },
            DiscoveredAt = discovered,
            NeedsExpansion = value == "v1",
        };
        if (value != "v0")
        {
            g.Sources.Add("rt0:r" + value + ":member", new GrantSourceRecord());
        }

        return g;
    }

    private sealed record Entry(string Canonical, Timestamp? DiscoveredAt);

    /// <summary>A record's kind and identity as one dictionary key (shared by the model tests).</summary>
    internal static string Key(IMessage r) => r switch
    {
        ResourceRecord x => "res:" + x.ResourceTypeId + "\u0001" + x.ResourceId,
        ResourceTypeRecord x => "rt:" + x.ExternalId,
        EntitlementRecord x => "ent:" + x.ExternalId,
        GrantRecord x => "grant:" + x.ExternalId,
        AssetRecord x => "asset:" + x.ExternalId,
        _ => throw new ArgumentException("unknown record"),
    };

    private static Timestamp? DiscoveredAt(IMessage r) => r switch
    {
        ResourceRecord x => x.DiscoveredAt,
        ResourceTypeRecord x => x.DiscoveredAt,
        EntitlementRecord x => x.DiscoveredAt,
        GrantRecord x => x.DiscoveredAt,
        AssetRecord x => x.DiscoveredAt,
        _ => null,
    };

    /// <summary>Everything in a sync as read back through the store (so every kind's own translation is the model's input).</summary>
    private static Dictionary<string, Entry> Snapshot(IC1zReader store, SyncId sync)
    {
        var all = new Dictionary<string, Entry>(StringComparer.Ordinal);
        IEnumerable<IMessage> records = [.. store.ResourceTypes(sync), .. store.Resources(sync), .. store.Entitlements(sync), .. store.Grants(sync), .. store.Assets(sync)];
        foreach (var r in records)
        {
            all.Add(Key(r), new Entry(EquivalenceRunner.Canonical(r), DiscoveredAt(r)));
        }

        return all;
    }

    /// <summary>The model: a plain dictionary folded over the inputs in order.</summary>
    private static Dictionary<string, Entry> Fold(IReadOnlyList<SyncSource> inputs)
    {
        var state = new Dictionary<string, Entry>(StringComparer.Ordinal);
        foreach (var input in inputs)
        {
            var type = input.Run().Type;
            var records = Snapshot(input.Store, input.Sync);
            if (type == SyncType.Full)
            {
                state = records;
                continue;
            }

            foreach (var (key, entry) in records)
            {
                if (type == SyncType.PartialDeletions)
                {
                    state.Remove(key);
                }
                else if (!state.TryGetValue(key, out var current) || current.DiscoveredAt is null || entry.DiscoveredAt is null || entry.DiscoveredAt.CompareTo(current.DiscoveredAt) >= 0)
                {
                    state[key] = entry;
                }
            }
        }

        return state;
    }

    private static void AssertSame(Dictionary<string, Entry> expected, Dictionary<string, Entry> actual, string context)
    {
        var missing = expected.Keys.Where(k => !actual.ContainsKey(k)).ToList();
        var extra = actual.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        var different = expected.Keys.Where(k => actual.TryGetValue(k, out var v) && v.Canonical != expected[k].Canonical).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0 && different.Count == 0, $"{context}: missing [{string.Join(", ", missing)}], extra [{string.Join(", ", extra)}], different [{string.Join(", ", different)}]");
    }
}
