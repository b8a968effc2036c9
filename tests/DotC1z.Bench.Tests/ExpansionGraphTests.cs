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

    public void Dispose() => _dir.Dispose();

    private RocksStore Open(string name) => RocksStore.Open(_dir.Combine(name), new RocksStoreOptions { Durability = RocksDurability.NoSync });

    private static Dictionary<string, string> Grants(IC1zStore store, Keys.SyncId sync) =>
        store.Grants(sync).ToDictionary(g => g.ExternalId, g => string.Join(",", g.Sources.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value.IsDirect}")));

    [Fact]
    public void The_dense_graph_expands_to_every_user_per_application_and_G16_matches_a_full_expansion()
    {
        using var input = Open("input");
        var sync = input.StartSync(SyncType.Full);
        var graph = ExpansionGraph.Dense(input, sync, users: 200, teams: 10, departments: 4, applications: 6);
        using var expanded = Open("expanded");
        var result = GrantExpander.ExpandInto(input, sync, expanded, sync);

        // Every user reaches every application through all-staff; the shallow team edge adds sources only.
        Assert.Equal(10 + 4 + 1 + 6, CountEntitlements(expanded, sync));
        Assert.Equal(4 + 1 + 6, result.EntitlementsRecomputed);
        for (int a = 0; a < 6; a++)
        {
            Assert.Equal(200, expanded.GrantsByEntitlement(sync, $"group:app-{a}:access").Count(g => g.Principal.ResourceTypeId == "user"));
        }

        using var next = Open("next");
        var nextSync = next.StartSync(SyncType.Full);
        var changed = graph.CopyWithChanges(input, sync, next, nextSync, fraction: 0.05, seed: 3);
        Assert.NotEmpty(changed);
        using var full = Open("full");
        GrantExpander.ExpandInto(next, nextSync, full, nextSync);
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
        using var input = Open("input");
        var sync = input.StartSync(SyncType.Full);
        var graph = ExpansionGraph.Dense(input, sync, users: 2_000, teams: 20, departments: 4, applications: 40);
        using var expanded = Open("expanded");
        GrantExpander.ExpandInto(input, sync, expanded, sync);
        using var next = Open("next");
        var nextSync = next.StartSync(SyncType.Full);
        var changed = graph.CopyWithChanges(input, sync, next, nextSync, fraction: 0.1, seed: 5);
        using var full = Open("full");
        GrantExpander.ExpandInto(next, nextSync, full, nextSync);

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
