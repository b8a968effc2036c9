using DotC1z.Engine.Rocks;
using DotC1z.Equivalence;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Operations.Tests.Expansion;

/// <summary>Incremental expansion against a full expansion of the newer sync, record for record.</summary>
public sealed class IncrementalExpansionProperties : IDisposable
{
    private readonly TempDir _dir = new("incremental-props");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void On_rocksdb_changed_grants_read_from_stored_bytes_equal_the_record_road_and_the_update_equals_a_full_expansion()
    {
        int seed0 = Seeds.Get(20_201);
        int changedSeen = 0;
        for (int seed = seed0; seed < seed0 + 120; seed++)
        {
            var scenario = ExpansionScenario.Random(seed, flagsFollowAnnotations: true);
            var (nextScenario, changed) = scenario.Mutate(seed * 7919);
            var options = new RocksStoreOptions { Durability = RocksDurability.NoSync };
            using var expanded = RocksStore.Open(_dir.Combine($"e{seed}"), options);
            var es = scenario.Load(expanded);
            GrantExpander.Expand(expanded, es, scenario.Options);
            using var next = RocksStore.Open(_dir.Combine($"n{seed}"), options);
            var ns = nextScenario.Load(next);

            // The same two syncs in stores without a stored-bytes road: ChangedGrants decodes every record there.
            using var expandedRecords = new MemoryStore();
            var ms = scenario.Load(expandedRecords);
            GrantExpander.Expand(expandedRecords, ms, scenario.Options);
            using var nextRecords = new MemoryStore();
            var mn = nextScenario.Load(nextRecords);
            Assert.False(((IC1zReader)expandedRecords).TryOpenEncodedGrants(ms, out _));
            Assert.True(expanded.TryOpenEncodedGrants(es, out var cursor));
            cursor.Dispose();

            var fromBytes = GrantExpander.ChangedGrants(expanded, es, next, ns, scenario.Options).Order(StringComparer.Ordinal).ToList();
            var fromRecords = GrantExpander.ChangedGrants(expandedRecords, ms, nextRecords, mn, scenario.Options).Order(StringComparer.Ordinal).ToList();
            Assert.True(fromBytes.SequenceEqual(fromRecords), $"seed={seed} (replay with DOTC1Z_TEST_SEED={seed}): from stored bytes [{string.Join(",", fromBytes)}], from records [{string.Join(",", fromRecords)}]");
            changedSeen += fromBytes.Count > 0 ? 1 : 0;

            // The same changes found from the two unexpanded inputs, on both roads: every changed grant, and only those.
            using var earlierInput = RocksStore.Open(_dir.Combine($"i{seed}"), options);
            var eis = scenario.Load(earlierInput);
            using var earlierRecords = new MemoryStore();
            var emr = scenario.Load(earlierRecords);
            var fromInputBytes = GrantExpander.ChangedInputGrants(earlierInput, eis, next, ns).Order(StringComparer.Ordinal).ToList();
            var fromInputRecords = GrantExpander.ChangedInputGrants(earlierRecords, emr, nextRecords, mn).Order(StringComparer.Ordinal).ToList();
            Assert.True(fromInputBytes.SequenceEqual(fromInputRecords), $"seed={seed}: from the inputs' bytes [{string.Join(",", fromInputBytes)}], from their records [{string.Join(",", fromInputRecords)}]");
            // Mutate's ids are the model: the grants whose records differ between the two scenarios.
            var model = changed.Order(StringComparer.Ordinal).ToList();
            Assert.True(model.SequenceEqual(fromInputBytes), $"seed={seed}: the inputs' changes [{string.Join(",", fromInputBytes)}], the model's [{string.Join(",", model)}]");

            // The update through RocksDB's batched change sets, against a full expansion of the newer sync.
            GrantExpander.ExpandIncremental(expanded, es, next, ns, fromBytes, scenario.Options);
            using var full = new MemoryStore();
            var fs = nextScenario.Load(full);
            GrantExpander.Expand(full, fs, scenario.Options);
            string diff = ExpansionScenario.Differences(ExpansionScenario.Snapshot(full, fs), ExpansionScenario.Snapshot(expanded, es));
            Assert.True(diff.Length == 0, $"seed={seed} (replay with DOTC1Z_TEST_SEED={seed}):\n{diff}");
            Assert.True(expanded.VerifyConsistency().IsConsistent, $"seed={seed}: indexes inconsistent after the update");
            var again = GrantExpander.ChangedGrants(expanded, es, next, ns, scenario.Options).Order(StringComparer.Ordinal);
            var againRecords = GrantExpander.ChangedGrants(full, fs, nextRecords, mn, scenario.Options).Order(StringComparer.Ordinal);
            Assert.True(again.SequenceEqual(againRecords), $"seed={seed}: after the update [{string.Join(",", again)}] vs [{string.Join(",", againRecords)}]");
        }

        Assert.True(changedSeen > 80, $"only {changedSeen} seeds changed anything");
    }

    [Fact]
    public void Changed_grants_merged_in_id_ranges_on_both_cores_equal_the_record_road()
    {
        // An expansion written through the bulk loader lands in SST files, whose size estimates cut the
        // sync into id ranges: ChangedGrants then merges each range on its own core.
        int seed = Seeds.Get(20_203);
        var rng = new Random(seed);
        var scenario = new ExpansionScenario();
        for (int e = 0; e < 4; e++)
        {
            scenario.Entitlements.Add(new EntitlementRecord { ExternalId = $"e{e}", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = $"r{e % 4}" } });
        }

        for (int u = 0; u < 12_000; u++)
        {
            scenario.Grants.Add(new GrantRecord { ExternalId = $"m{u:D5}", Entitlement = scenario.Ref(rng.Next(2)), Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = $"u{u:D5}" } });
        }

        for (int e = 1; e < 4; e++)
        {
            scenario.Grants.Add(new GrantRecord
            {
                ExternalId = $"d{e}",
                Entitlement = scenario.Ref(e),
                Principal = new PrincipalRef { ResourceTypeId = "group", ResourceId = $"c{e}" },
                Expansion = new GrantExpandableRecord { EntitlementIds = { $"e{e - 1}" } },
                NeedsExpansion = true,
            });
        }

        // Revocations, additions and modifications spread over the whole id space.
        var next = new ExpansionScenario();
        next.Entitlements.AddRange(scenario.Entitlements);
        foreach (var g in scenario.Grants)
        {
            switch (rng.Next(50))
            {
                case 0:
                    break;
                case 1:
                    var moved = g.Clone();
                    moved.Entitlement = scenario.Ref(rng.Next(4));
                    next.Grants.Add(moved);
                    break;
                case 2:
                    next.Grants.Add(g);
                    next.Grants.Add(new GrantRecord { ExternalId = g.ExternalId + "+", Entitlement = scenario.Ref(rng.Next(4)), Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = $"n{rng.Next(100)}" } });
                    break;
                default:
                    next.Grants.Add(g);
                    break;
            }
        }

        var options = new RocksStoreOptions { Durability = RocksDurability.NoSync };
        using var source = new MemoryStore();
        var ss = scenario.Load(source);
        using var expanded = RocksStore.Open(_dir.Combine("ranges-e"), options);
        GrantExpander.ExpandInto(source, ss, expanded, ss);
        Assert.True(expanded.GrantIdSplits(ss, 2).Count > 0, "the bulk-written sync could not be cut into ranges");
        using var nextStore = RocksStore.Open(_dir.Combine("ranges-n"), options);
        var ns = next.Load(nextStore);

        using var expandedRecords = new MemoryStore();
        var ms = scenario.Load(expandedRecords);
        GrantExpander.Expand(expandedRecords, ms);
        using var nextRecords = new MemoryStore();
        var mn = next.Load(nextRecords);

        var fromRanges = GrantExpander.ChangedGrants(expanded, ss, nextStore, ns);
        var fromRecords = GrantExpander.ChangedGrants(expandedRecords, ms, nextRecords, mn).Order(StringComparer.Ordinal).ToList();
        Assert.True(fromRecords.Count > 500, $"seed={seed}: only {fromRecords.Count} changes");
        Assert.True(fromRanges.SequenceEqual(fromRecords), $"seed={seed} (replay with DOTC1Z_TEST_SEED={seed}): {fromRanges.Count} changed from ranges, {fromRecords.Count} from records; first differences: {string.Join(",", fromRanges.Except(fromRecords).Concat(fromRecords.Except(fromRanges)).Take(8))}");
    }

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

            // A third of the seeds are told the changes; a third find them by scanning the expanded sync and the
            // newer one; a third by comparing the two unexpanded inputs.
            using var earlierInput = new MemoryStore();
            var eis = scenario.Load(earlierInput);
            IReadOnlyCollection<string> ids = (seed % 3) switch
            {
                0 => changed,
                1 => GrantExpander.ChangedGrants(expanded, es, next, ns, scenario.Options),
                _ => GrantExpander.ChangedInputGrants(earlierInput, eis, next, ns),
            };
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
    public void A_revoked_original_grant_with_the_id_shape_of_a_derived_one_is_changed_on_both_roads()
    {
        // e1 inherits e0. alice holds e0 and gets the derived e1:user:alice; bob holds e1 directly under an
        // id of the same shape (as connectors often name grants), and loses it in the newer sync.
        var scenario = new ExpansionScenario();
        scenario.Entitlements.Add(new EntitlementRecord { ExternalId = "e0", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "g0" } });
        scenario.Entitlements.Add(new EntitlementRecord { ExternalId = "e1", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "g1" } });
        GrantRecord Grant(string id, string ent, string group, string type, string principal) => new()
        {
            ExternalId = id,
            Entitlement = new EntitlementRef { EntitlementId = ent, ResourceTypeId = "group", ResourceId = group },
            Principal = new PrincipalRef { ResourceTypeId = type, ResourceId = principal },
        };
        var declaration = Grant("decl", "e1", "g1", "group", "g0");
        declaration.Expansion = new GrantExpandableRecord { EntitlementIds = { "e0" } };
        declaration.NeedsExpansion = true;
        scenario.Grants.AddRange([declaration, Grant("m-alice", "e0", "g0", "user", "alice"), Grant("e1:user:bob", "e1", "g1", "user", "bob")]);
        var next = new ExpansionScenario();
        next.Entitlements.AddRange(scenario.Entitlements);
        next.Grants.AddRange(scenario.Grants.Where(g => g.ExternalId != "e1:user:bob"));

        var options = new RocksStoreOptions { Durability = RocksDurability.NoSync };
        using var expanded = RocksStore.Open(_dir.Combine("shape-e"), options);
        var es = scenario.Load(expanded);
        GrantExpander.Expand(expanded, es);
        Assert.True(expanded.TryGetGrant(es, "e1:user:alice", out _));
        using var nextStore = RocksStore.Open(_dir.Combine("shape-n"), options);
        var ns = next.Load(nextStore);
        using var expandedRecords = new MemoryStore();
        var ms = scenario.Load(expandedRecords);
        GrantExpander.Expand(expandedRecords, ms);
        using var nextRecords = new MemoryStore();
        var mn = next.Load(nextRecords);

        // Only bob's grant changed: alice's derived grant, absent from the newer input, is expansion's own.
        Assert.Equal(["e1:user:bob"], GrantExpander.ChangedGrants(expanded, es, nextStore, ns));
        Assert.Equal(["e1:user:bob"], GrantExpander.ChangedGrants(expandedRecords, ms, nextRecords, mn));
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
