using DotC1z.Engine.Rocks;
using DotC1z.Operations;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Bench.Tests;

/// <summary>The G15/G16 inputs at a small size: the dense graph expands as designed and G16's incremental path matches a full expansion.</summary>
public sealed class ExpansionGraphTests : IDisposable
{
    private readonly TempDir _dir = new("expansion-graph");
    private readonly List<RocksStore> _stores = [];

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }

        _dir.Dispose();
    }

    private RocksStore Open(string name)
    {
        var store = RocksStore.Open(_dir.Combine(name), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        _stores.Add(store);
        return store;
    }

    private static Dictionary<string, string> Grants(IC1zStore store, Keys.SyncId sync) =>
        store.Grants(sync).ToDictionary(g => g.ExternalId, g => string.Join(",", g.Sources.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value.IsDirect}")));

    /// <summary>A dense graph's input and its expansion, a copy of the input with some memberships changed and that copy's full expansion.</summary>
    private sealed record Scenario(RocksStore Input, RocksStore Expanded, Keys.SyncId Sync, ExpansionResult Expansion, RocksStore Next, Keys.SyncId NextSync, IReadOnlyCollection<string> Changed, RocksStore Full);

    private Scenario DenseScenario(int users, int teams, int departments, int applications, double fraction, int seed)
    {
        var input = Open("input");
        var sync = input.StartSync(SyncType.Full);
        var graph = ExpansionGraph.Dense(input, sync, users, teams, departments, applications);
        var expanded = Open("expanded");
        var expansion = GrantExpander.ExpandInto(input, sync, expanded, sync);
        var next = Open("next");
        var nextSync = next.StartSync(SyncType.Full);
        var changed = graph.CopyWithChanges(input, sync, next, nextSync, fraction, seed);
        var full = Open("full");
        GrantExpander.ExpandInto(next, nextSync, full, nextSync);
        return new Scenario(input, expanded, sync, expansion, next, nextSync, changed, full);
    }

    [Fact]
    public void The_dense_graph_expands_to_every_user_per_application_and_G16_matches_a_full_expansion()
    {
        var (_, expanded, sync, result, next, nextSync, changed, full) = DenseScenario(users: 200, teams: 10, departments: 4, applications: 6, fraction: 0.05, seed: 3);

        // Every user reaches every application through all-staff; the shallow team edge adds sources only.
        Assert.Equal(10 + 4 + 1 + 6, CountEntitlements(expanded, sync));
        Assert.Equal(4 + 1 + 6, result.EntitlementsRecomputed);
        for (int a = 0; a < 6; a++)
        {
            Assert.Equal(200, expanded.GrantsByEntitlement(sync, $"group:app-{a}:access").Count(g => g.Principal.ResourceTypeId == "user"));
        }

        Assert.NotEmpty(changed);
        var inc = GrantExpander.ExpandIncremental(expanded, sync, next, nextSync, changed);

        Assert.InRange(inc.EntitlementsRecomputed, 1, CountEntitlements(expanded, sync) - 1);
        AssertMatchesFullExpansion(full, expanded, sync, next, nextSync);
    }

    [Fact]
    public void A_change_reaching_thousands_of_pairs_at_one_depth_is_computed_on_all_cores_like_a_full_expansion()
    {
        // 10 % of 2,000 users' memberships changed reach each of 40 applications: far more pairs at the applications'
        // depth than the incremental update computes on one thread, so that depth runs in parallel; and more grants
        // rewritten than RocksDB writes through its memtable in one change set, so its first batch is ingested.
        var (input, expanded, sync, _, next, nextSync, _, full) = DenseScenario(users: 2_000, teams: 20, departments: 4, applications: 40, fraction: 0.1, seed: 5);

        var inc = GrantExpander.ExpandIncremental(expanded, sync, next, nextSync, GrantExpander.ChangedInputGrants(input, sync, next, nextSync));
        // The update's one-thread bound is 256 pairs per depth (IncrementalExpansion.cs); RocksDB ingests a change set
        // of 4,096 grants or more (RocksStore.Write.cs), and the update writes batches of 5,000.
        Assert.True(inc.GrantsUpdated + inc.GrantsCreated > 5_000, $"only {inc.GrantsUpdated + inc.GrantsCreated} grants written");
        AssertMatchesFullExpansion(full, expanded, sync, next, nextSync);
    }

    /// <summary>The incremental result holds exactly the full expansion's grants (sources included), and no change is left to find.</summary>
    private static void AssertMatchesFullExpansion(IC1zStore full, IC1zStore expanded, Keys.SyncId sync, IC1zStore next, Keys.SyncId nextSync)
    {
        var want = Grants(full, nextSync);
        var got = Grants(expanded, sync);
        Assert.Equal(want.Count, got.Count);
        Assert.Empty(want.Where(p => !got.TryGetValue(p.Key, out var v) || v != p.Value).Take(3));
        Assert.Empty(GrantExpander.ChangedGrants(expanded, sync, next, nextSync));
    }

    private static int CountEntitlements(IC1zStore store, Keys.SyncId sync) => store.Entitlements(sync).Count();
}
