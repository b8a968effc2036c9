using DotC1z.Engine.Rocks;
using DotC1z.Equivalence;
using DotC1z.Tests.Shared;

namespace DotC1z.Operations.Tests.Expansion;

/// <summary>The streaming reduce against the previous per-edge implementation, record for record.</summary>
public sealed class StreamingExpansionProperties : IDisposable
{
    private readonly TempDir _dir = new("expand-props");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void In_place_expansion_equals_the_per_edge_reference_on_random_graphs()
    {
        int seed0 = Seeds.Get(20_001);
        long created = 0, updated = 0, cut = 0;
        for (int seed = seed0; seed < seed0 + 400; seed++)
        {
            var scenario = ExpansionScenario.Random(seed);
            using var reference = new MemoryStore();
            var rs = scenario.Load(reference);
            var want = ReferenceGrantExpander.Expand(reference, rs, scenario.Options);

            using var store = new MemoryStore();
            var s = scenario.Load(store);
            var got = GrantExpander.Expand(store, s, scenario.Options);

            string diff = ExpansionScenario.Differences(ExpansionScenario.Snapshot(reference, rs), ExpansionScenario.Snapshot(store, s));
            Assert.True(diff.Length == 0, $"seed={seed} (replay with DOTC1Z_TEST_SEED={seed}):\n{diff}");
            Assert.True(
                (want.Edges, want.Nodes, want.GrantsCreated, want.SkippedEdges, want.DepthReached) == (got.Edges, got.Nodes, got.GrantsCreated, got.SkippedEdges, got.DepthReached),
                $"seed={seed}: counters {want} vs {got}");
            created += got.GrantsCreated;
            updated += got.GrantsUpdated;
            cut += got.DepthReached == scenario.Options.MaxDepth ? 1 : 0;
        }

        // The generator reaches the interesting cases: derived grants, updated grants, the depth limit.
        Assert.True(created > 1000 && updated > 100 && cut > 10, $"created={created} updated={updated} depth-limited={cut}");
    }

    [Fact]
    public void Expansion_into_a_fresh_sync_equals_the_reference_on_memory_and_rocks_stores()
    {
        int seed0 = Seeds.Get(20_002);
        for (int seed = seed0; seed < seed0 + 60; seed++)
        {
            var scenario = ExpansionScenario.Random(seed);
            using var reference = new MemoryStore();
            var rs = scenario.Load(reference);
            ReferenceGrantExpander.Expand(reference, rs, scenario.Options);
            var want = ExpansionScenario.Snapshot(reference, rs);

            using var source = new MemoryStore();
            var s = scenario.Load(source);
            using var memory = new MemoryStore();
            GrantExpander.ExpandInto(source, s, memory, s, scenario.Options);
            string diff = ExpansionScenario.Differences(want, ExpansionScenario.Snapshot(memory, s));
            Assert.True(diff.Length == 0, $"memory, seed={seed} (replay with DOTC1Z_TEST_SEED={seed}):\n{diff}");
            Assert.Equal(source.Count(s).Entitlements, memory.Count(s).Entitlements);
            Assert.True(memory.TryGetSyncRun(s, out _));

            if (seed % 6 == 0)
            {
                using var rocks = RocksStore.Open(_dir.Combine($"r{seed}"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
                GrantExpander.ExpandInto(source, s, rocks, s, scenario.Options);
                diff = ExpansionScenario.Differences(want, ExpansionScenario.Snapshot(rocks, s));
                Assert.True(diff.Length == 0, $"rocks, seed={seed} (replay with DOTC1Z_TEST_SEED={seed}):\n{diff}");
                Assert.True(rocks.VerifyConsistency().IsConsistent);
            }
        }
    }

    [Fact]
    public void Progress_is_reported_once_per_destination()
    {
        var scenario = ExpansionScenario.Random(Seeds.Get(20_003));
        using var store = new MemoryStore();
        var s = scenario.Load(store);
        var seen = new List<ExpansionProgress>();
        var result = GrantExpander.Expand(store, s, scenario.Options with { Progress = new SyncProgress(seen) });
        Assert.Equal(result.EntitlementsRecomputed, seen.Count);
        Assert.All(seen, p => Assert.Equal(result.EntitlementsRecomputed, p.DestinationsTotal));
        Assert.Equal(Enumerable.Range(1, seen.Count), seen.Select(p => p.DestinationsDone));
    }

    [Fact]
    public void A_tiny_pending_budget_still_expands_everything()
    {
        int seed = Seeds.Get(20_004);
        var scenario = ExpansionScenario.Random(seed, maxEntitlements: 14);
        using var reference = new MemoryStore();
        var rs = scenario.Load(reference);
        ReferenceGrantExpander.Expand(reference, rs, scenario.Options);
        using var store = new MemoryStore();
        var s = scenario.Load(store);
        GrantExpander.Expand(store, s, scenario.Options with { PendingGrantsBudget = 1 });
        string diff = ExpansionScenario.Differences(ExpansionScenario.Snapshot(reference, rs), ExpansionScenario.Snapshot(store, s));
        Assert.True(diff.Length == 0, $"seed={seed}:\n{diff}");
    }

    /// <summary>Records reports synchronously (<see cref="Progress{T}"/> would post them to the thread pool).</summary>
    private sealed class SyncProgress(List<ExpansionProgress> seen) : IProgress<ExpansionProgress>
    {
        public void Report(ExpansionProgress value) => seen.Add(value);
    }
}
