using DotC1z.Equivalence;
using DotC1z.Records;
using DotC1z.Tests.Shared;

namespace DotC1z.Operations.Tests.Expansion;

/// <summary>Incremental expansion against a full expansion of the newer sync, record for record.</summary>
public sealed class IncrementalExpansionProperties
{
    [Fact]
    public void Incremental_expansion_equals_a_full_expansion_of_the_newer_sync_on_random_diffs()
    {
        int seed0 = Seeds.Get(20_101);
        int ran = 0, partial = 0;
        for (int seed = seed0; seed < seed0 + 500; seed++)
        {
            // The earlier sync flags exactly its declaring grants, as baton's syncer does (the expanded
            // sync no longer shows its flags); the newer one may flag anything.
            var scenario = ExpansionScenario.Random(seed, flagsFollowAnnotations: true);
            var (nextScenario, changed) = scenario.Mutate(seed * 7919);

            using var expanded = new MemoryStore();
            var es = scenario.Load(expanded);
            GrantExpander.Expand(expanded, es, scenario.Options);

            using var next = new MemoryStore();
            var ns = nextScenario.Load(next);
            using var full = new MemoryStore();
            var fs = nextScenario.Load(full);
            var fullResult = GrantExpander.Expand(full, fs, scenario.Options);

            // Half the seeds find the changes by scanning both syncs instead of being told.
            IReadOnlyCollection<string> ids = seed % 2 == 0 ? changed : GrantExpander.ChangedGrants(expanded, es, next, ns, scenario.Options);
            var result = GrantExpander.ExpandIncremental(expanded, es, next, ns, ids, scenario.Options);

            string diff = ExpansionScenario.Differences(ExpansionScenario.Snapshot(full, fs), ExpansionScenario.Snapshot(expanded, es));
            Assert.True(diff.Length == 0, $"seed={seed} (replay with DOTC1Z_TEST_SEED={seed}), changed [{string.Join(",", changed)}]:\n{diff}");
            Assert.Empty(expanded.GrantsNeedingExpansion(es));
            bool entitlementsChanged = !scenario.Entitlements.SequenceEqual(nextScenario.Entitlements);
            if (ids.Count == 0 && !entitlementsChanged)
            {
                Assert.Equal(0, result.EntitlementsRecomputed);
            }
            else
            {
                ran += result.EntitlementsRecomputed > 0 ? 1 : 0;
                partial += result.EntitlementsRecomputed < fullResult.EntitlementsRecomputed ? 1 : 0;
            }
        }

        // The incremental path ran, and often touched fewer entitlements than a full expansion computes.
        Assert.True(ran > 300 && partial > 100, $"recomputed something in {ran} seeds, fewer than full in {partial}");
    }

    [Fact]
    public void One_revocation_recomputes_only_the_entitlements_downstream_of_it()
    {
        // Ten independent chains e{c}-0 -> e{c}-1 -> e{c}-2, each with its own members.
        var scenario = new ExpansionScenario();
        var grants = scenario.Grants;
        for (int c = 0; c < 10; c++)
        {
            for (int i = 0; i < 3; i++)
            {
                scenario.Entitlements.Add(new EntitlementRecord { ExternalId = $"e{c}-{i}", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = $"g{c}-{i}" } });
            }

            for (int i = 1; i < 3; i++)
            {
                grants.Add(new GrantRecord
                {
                    ExternalId = $"decl{c}-{i}",
                    Entitlement = new EntitlementRef { EntitlementId = $"e{c}-{i}", ResourceTypeId = "group", ResourceId = $"g{c}-{i}" },
                    Principal = new PrincipalRef { ResourceTypeId = "group", ResourceId = $"g{c}-{i - 1}" },
                    Expansion = new GrantExpandableRecord { EntitlementIds = { $"e{c}-{i - 1}" } },
                    NeedsExpansion = true,
                });
            }

            for (int u = 0; u < 5; u++)
            {
                grants.Add(new GrantRecord
                {
                    ExternalId = $"m{c}-{u}",
                    Entitlement = new EntitlementRef { EntitlementId = $"e{c}-0", ResourceTypeId = "group", ResourceId = $"g{c}-0" },
                    Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = $"u{c}-{u}" },
                });
            }
        }

        using var expanded = new MemoryStore();
        var es = scenario.Load(expanded);
        var first = GrantExpander.Expand(expanded, es);
        Assert.Equal(20, first.EntitlementsRecomputed);

        var next = new ExpansionScenario();
        next.Entitlements.AddRange(scenario.Entitlements);
        next.Grants.AddRange(grants.Where(g => g.ExternalId != "m3-2"));
        using var nextStore = new MemoryStore();
        var ns = next.Load(nextStore);
        var result = GrantExpander.ExpandIncremental(expanded, es, nextStore, ns, GrantExpander.ChangedGrants(expanded, es, nextStore, ns));

        // e3-0 (the revoked membership), then e3-1 and e3-2 downstream: two derived grants deleted.
        Assert.Equal(3, result.EntitlementsRecomputed);
        Assert.Equal(3, result.GrantsDeleted);
        Assert.DoesNotContain(expanded.GrantsByPrincipal(es, "user", "u3-2"), g => true);
        Assert.Equal(2, expanded.GrantsByPrincipal(es, "user", "u3-1").Count(g => g.Entitlement.EntitlementId != "e3-0"));
    }
}
