using DotC1z.Engine.Rocks;
using DotC1z.Equivalence;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Operations.Tests;

/// <summary>
/// Model-based tests: random pairs of syncs are compacted and diffed by the engines and by a plain
/// dictionary model written here; results must agree record for record.
/// </summary>
public sealed class CompactionModelTests : IDisposable
{
    private readonly TempDir _dir = new("ops");
    private int _n;

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Engines => new() { "memory", "rocks" };

    private IC1zStore Create(string engine) => engine == "memory"
        ? new MemoryStore()
        : RocksStore.Open(_dir.Combine($"r{_n++}"), new RocksStoreOptions { Durability = RocksDurability.NoSync, BulkChunkRecords = 40 });

    private static string Key(Google.Protobuf.IMessage r) => StreamingMergeModelTests.Key(r);

    /// <summary>Everything in a sync, keyed by kind and identity, as canonical bytes.</summary>
    private static Dictionary<string, string> Snapshot(IC1zStore store, SyncId sync)
    {
        var all = new Dictionary<string, string>(StringComparer.Ordinal);
        void Add(IEnumerable<Google.Protobuf.IMessage> records)
        {
            foreach (var r in records)
            {
                all.Add(Key(r), EquivalenceRunner.Canonical(r));
            }
        }

        Add(store.ResourceTypes(sync));
        Add(store.Resources(sync));
        Add(store.Entitlements(sync));
        Add(store.Grants(sync));
        Add(store.Assets(sync));
        return all;
    }

    /// <summary>Applies a random workload to two syncs of a store (ops on sync index 0 → base, 1 → applied).</summary>
    private static (SyncId Base, SyncId Applied) Fill(IC1zStore store, int seed)
    {
        var w = WorkloadGenerator.Generate(seed, 120, syncs: 2);
        var b = store.StartSync(SyncType.Full);
        var a = store.StartSync(SyncType.Full);
        var syncs = new[] { b, a };
        var replay = new Workload(w.Name, 2, w.Ops);
        foreach (var op in replay.Ops)
        {
            EquivalenceRunner.Apply(store, syncs[op.Sync], op);
        }

        return (b, a);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Compaction_matches_the_model_for_every_record_kind(string engine)
    {
        int first = Seeds.Get(600);
        for (int seed = first; seed < first + 25; seed++)
        {
            using var store = Create(engine);
            var (b, a) = Fill(store, seed);
            var baseSnap = Snapshot(store, b);
            var appliedSnap = Snapshot(store, a);

            // The model: applied wins; base fills the identities applied lacks.
            var expected = new Dictionary<string, string>(baseSnap, StringComparer.Ordinal);
            foreach (var (k, v) in appliedSnap)
            {
                expected[k] = v;
            }

            var output = SyncCompactor.Compact(store, b, a);
            var actual = Snapshot(store, output);
            Assert.True(expected.Count == actual.Count && expected.All(p => actual.TryGetValue(p.Key, out var v) && v == p.Value), $"seed={seed} engine={engine}: compaction differs from the model");
            Assert.True(store.TryGetSyncRun(output, out var run));
            Assert.True(run.Compacted);
            Assert.Equal(b.ToString(), run.ParentSyncId);
            Assert.Equal(a.ToString(), run.LinkedSyncId);
            Assert.Equal(baseSnap, Snapshot(store, b));
            Assert.Equal(appliedSnap, Snapshot(store, a));
            if (store is RocksStore rocks)
            {
                var report = rocks.VerifyConsistency();
                Assert.True(report.IsConsistent, $"seed={seed}: {string.Join("; ", report.Problems)}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public void Diff_matches_the_model(string engine)
    {
        int first = Seeds.Get(700);
        for (int seed = first; seed < first + 25; seed++)
        {
            using var store = Create(engine);
            var (b, a) = Fill(store, seed);
            var baseSnap = Snapshot(store, b);
            var appliedSnap = Snapshot(store, a);
            using var target = Create(engine);
            var result = SyncDiff.Diff(store, b, a, target);
            var additions = Snapshot(target, result.Additions);
            var deletions = Snapshot(target, result.Deletions);
            var expectedAdditions = appliedSnap.Where(p => !baseSnap.TryGetValue(p.Key, out var v) || v != p.Value).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            var expectedDeletions = baseSnap.Keys.Where(k => !appliedSnap.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(expectedAdditions.OrderBy(p => p.Key, StringComparer.Ordinal), additions.OrderBy(p => p.Key, StringComparer.Ordinal));
            Assert.Equal(expectedDeletions, deletions.Keys.Order(StringComparer.Ordinal).ToList());
            Assert.Equal(expectedAdditions.Count, result.AddedCounts.Total);
            Assert.True(target.TryGetSyncRun(result.Additions, out var up) && up.Type == SyncType.PartialUpserts && up.LinkedSyncId == result.Deletions.ToString());
            Assert.True(target.TryGetSyncRun(result.Deletions, out var down) && down.Type == SyncType.PartialDeletions);
        }
    }

    [Fact]
    public void Compaction_interrupted_before_ingestion_leaves_the_store_as_it_was()
    {
        using var store = Create("rocks");
        var (b, a) = Fill(store, Seeds.Get(808));
        var runsBefore = store.ListSyncRuns().Select(r => r.SyncId).ToList();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => SyncCompactor.Compact(store, b, a, cancellationToken: cts.Token));
        Assert.Equal(runsBefore, store.ListSyncRuns().Select(r => r.SyncId).ToList());
        Assert.True(((RocksStore)store).VerifyConsistency().IsConsistent);
        var report = ((RocksStore)store).VerifyConsistency();
        Assert.Equal(2, report.Syncs);
    }

    [Fact]
    public void Drop_inputs_and_cross_store_compaction()
    {
        using var left = Create("rocks");
        using var right = Create("memory");
        var l = left.StartSync(SyncType.Full);
        left.PutGrants(l, [StoreContractTests.Grant("g1", "e", "user", "a"), StoreContractTests.Grant("g2", "e", "user", "b")]);
        var r = right.StartSync(SyncType.Full);
        right.PutGrants(r, [StoreContractTests.Grant("g2", "e2", "user", "c")]);
        using var output = Create("rocks");
        var merged = SyncCompactor.CompactStores(left, right, output);
        Assert.Single(output.ListSyncRuns());
        Assert.Equal(["g1", "g2"], output.Grants(merged).Select(g => g.ExternalId));
        Assert.True(output.TryGetGrant(merged, "g2", out var g2));
        Assert.Equal("e2", g2.Entitlement.EntitlementId);
        Assert.Throws<Errors.C1zArgumentException>(() => SyncCompactor.Compact(output, merged, merged));
    }
}
