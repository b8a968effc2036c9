using DotC1z.Equivalence;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations.Tests.Expansion;

/// <summary>
/// The reduce's holder sets spilled to run files beyond <see cref="ExpansionOptions.HolderSetBudgetBytes"/>
/// (docs/DESIGN.md §9): the result equals the unspilled one record for record, spilling does happen, and
/// the run files are gone afterwards, also when the expansion fails.
/// </summary>
public sealed class HolderSpillProperties : IDisposable
{
    private readonly TempDir _dir = new("expand-spill");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Spilled_holder_sets_give_the_unspilled_expansion_on_random_graphs()
    {
        int seed0 = Seeds.Get(20_101);
        int spilled = 0, runs = 0;
        for (int seed = seed0; seed < seed0 + 300; seed++)
        {
            var scenario = ExpansionScenario.Random(seed);
            using var unspilledStore = new MemoryStore();
            var us = scenario.Load(unspilledStore);
            var unspilled = GrantExpander.Expand(unspilledStore, us, scenario.Options);
            Assert.True(unspilled.HolderSetsSpilled == 0, $"seed={seed}: the default budget spilled {unspilled.HolderSetsSpilled} sets");

            // Budgets from nothing to a few holders' worth: some sets spill, others stay in memory.
            string spill = _dir.Combine($"s{seed}");
            Directory.CreateDirectory(spill);
            var budget = new Random(seed).Next(0, 24);
            using var store = new MemoryStore();
            var s = scenario.Load(store);
            var result = GrantExpander.Expand(store, s, scenario.Options with { HolderSetBudgetBytes = budget, SpillDirectory = spill });

            string diff = ExpansionScenario.Differences(ExpansionScenario.Snapshot(unspilledStore, us), ExpansionScenario.Snapshot(store, s));
            Assert.True(diff.Length == 0, $"seed={seed} budget={budget} (replay with DOTC1Z_TEST_SEED={seed}):\n{diff}");
            Assert.True(
                (unspilled.Edges, unspilled.Nodes, unspilled.GrantsCreated, unspilled.GrantsUpdated, unspilled.DepthReached) == (result.Edges, result.Nodes, result.GrantsCreated, result.GrantsUpdated, result.DepthReached),
                $"seed={seed}: counters {unspilled} vs {result}");
            Assert.True(Directory.GetFileSystemEntries(spill).Length == 0, $"seed={seed}: spill files left: {string.Join(", ", Directory.GetFileSystemEntries(spill, "*", SearchOption.AllDirectories))}");
            spilled += result.HolderSetsSpilled > 0 ? 1 : 0;
            runs += result.Edges > 0 ? 1 : 0;
        }

        // The budgets make most graphs with an edge spill (the counter proves the spilled road ran).
        Assert.True(spilled > runs / 2, $"only {spilled} of {runs} expansions with edges spilled (seed0={seed0})");
    }

    [Fact]
    public void Sets_larger_than_a_read_chunk_spill_and_stream_back_in_order()
    {
        // 17,000 users (more than one 16,384-int read chunk) on e0, inherited along e0 → e1 → e2 and e0 → e3 (users only).
        var (entitlements, grants) = FanOut(users: 17_000);
        using var reference = new MemoryStore();
        var rs = Load(reference, entitlements, grants);
        var unspilled = GrantExpander.Expand(reference, rs, new ExpansionOptions());

        using var source = new MemoryStore();
        var s = Load(source, entitlements, grants);
        using var target = new MemoryStore();
        string spill = _dir.Combine("fan");
        Directory.CreateDirectory(spill);
        var result = GrantExpander.ExpandInto(source, s, target, s, new ExpansionOptions { HolderSetBudgetBytes = 0, SpillDirectory = spill });

        Assert.True(result.HolderSetsSpilled >= 2, $"spilled {result.HolderSetsSpilled} sets");
        Assert.True(unspilled.GrantsCreated > 3 * 17_000 - 1, $"created {unspilled.GrantsCreated}");
        Assert.Equal(unspilled.GrantsCreated, result.GrantsCreated);
        Assert.Empty(Directory.GetFileSystemEntries(spill));
        string diff = ExpansionScenario.Differences(ExpansionScenario.Snapshot(reference, rs), ExpansionScenario.Snapshot(target, s));
        Assert.True(diff.Length == 0, diff);
    }

    [Fact]
    public void Spill_files_are_removed_when_the_expansion_fails()
    {
        var (entitlements, grants) = FanOut(users: 2_000);
        using var store = new MemoryStore();
        var s = Load(store, entitlements, grants);
        string spill = _dir.Combine("fail");
        Directory.CreateDirectory(spill);
        using var cancel = new CancellationTokenSource();
        bool sawFiles = false;

        // Cancelled after the first destination is written; the reduce, held back by the one-grant pending
        // budget, still has spilled sets that later destinations read.
        var progress = new InlineProgress(_ =>
        {
            sawFiles |= Directory.GetFiles(spill, "*.run", SearchOption.AllDirectories).Length > 0;
            cancel.Cancel();
        });
        Assert.ThrowsAny<OperationCanceledException>(() => GrantExpander.Expand(store, s, new ExpansionOptions { HolderSetBudgetBytes = 0, SpillDirectory = spill, Progress = progress, BatchSize = 1, PendingGrantsBudget = 1 }, cancel.Token));
        Assert.True(sawFiles, "no run file existed while the expansion ran");
        Assert.Empty(Directory.GetFileSystemEntries(spill));
    }

    private static (List<EntitlementRecord> Entitlements, List<GrantRecord> Grants) FanOut(int users)
    {
        var entitlements = Enumerable.Range(0, 4).Select(i => new EntitlementRecord { ExternalId = $"e{i}", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = $"r{i}" } }).ToList();
        EntitlementRef Ref(int e) => new() { EntitlementId = $"e{e}", ResourceTypeId = "group", ResourceId = $"r{e}" };
        var epoch = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch);
        var grants = new List<GrantRecord>();
        for (int u = 0; u < users; u++)
        {
            grants.Add(new GrantRecord { ExternalId = $"m{u:D6}", Entitlement = Ref(0), Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = $"u{u:D6}" }, DiscoveredAt = epoch });
        }

        GrantRecord Edge(int from, int to, string? filter) => new()
        {
            ExternalId = $"d{from}-{to}",
            Entitlement = Ref(to),
            Principal = new PrincipalRef { ResourceTypeId = "group", ResourceId = $"r{from}" },
            DiscoveredAt = epoch,
            Expansion = filter is null ? new GrantExpandableRecord { EntitlementIds = { $"e{from}" } } : new GrantExpandableRecord { EntitlementIds = { $"e{from}" }, ResourceTypeIds = { filter } },
            NeedsExpansion = true,
        };

        grants.Add(Edge(0, 1, null));
        grants.Add(Edge(1, 2, null));
        grants.Add(Edge(0, 3, "user"));
        return (entitlements, grants);
    }

    private static SyncId Load(IC1zStore store, List<EntitlementRecord> entitlements, List<GrantRecord> grants)
    {
        var sync = store.StartSync(SyncType.Full);
        store.PutEntitlements(sync, entitlements);
        store.PutGrants(sync, grants.Select(g => g.Clone()).ToList());
        return sync;
    }

    private sealed class InlineProgress(Action<ExpansionProgress> report) : IProgress<ExpansionProgress>
    {
        public void Report(ExpansionProgress value) => report(value);
    }
}
