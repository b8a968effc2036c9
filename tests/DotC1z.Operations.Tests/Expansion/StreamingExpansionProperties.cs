using System.Buffers;
using DotC1z.Codecs;
using DotC1z.Engine.Rocks;
using DotC1z.Equivalence;
using DotC1z.Records;
using DotC1z.Storage;
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
    public void Derived_grants_written_as_a_sorted_set_equal_the_record_road_byte_for_byte()
    {
        int seed0 = Seeds.Get(20_005);
        long sorted = 0, mixed = 0, knownDigests = 0;
        byte[]? buffer = null;
        try
        {
            for (int seed = seed0; seed < seed0 + 160; seed++)
            {
                // Half the scenarios draw ids that extend one another past a colon: derived ids of two entitlements
                // interleave or repeat, and a principal type's order differs with and without its colon.
                var scenario = ExpansionScenario.Random(seed, trickyIds: seed % 2 == 0);
                using var source = new MemoryStore();
                var s = scenario.Load(source);
                using var records = new MemoryStore();
                var want = GrantExpander.ExpandInto(source, s, records, s, scenario.Options);

                // The whole set, or a budget that takes a few destinations and leaves the rest to the record road.
                var options = seed % 3 == 0 ? scenario.Options with { DerivedSetBudgetBytes = 20 * (1 + (seed % 7)) } : scenario.Options;
                using var rocks = RocksStore.Open(_dir.Combine($"s{seed}"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
                var got = GrantExpander.ExpandInto(source, s, rocks, s, options);

                string diff = ExpansionScenario.Differences(ExpansionScenario.Snapshot(records, s), ExpansionScenario.Snapshot(rocks, s));
                Assert.True(diff.Length == 0, $"seed={seed} (replay with DOTC1Z_TEST_SEED={seed}):\n{diff}");
                Assert.True((want.GrantsCreated, want.GrantsUpdated) == (got.GrantsCreated, got.GrantsUpdated), $"seed={seed}: {want} vs {got}");
                Assert.True(rocks.VerifyConsistency().IsConsistent, $"seed={seed}");

                // The stored bytes are the canonical encoding of the grant they hold.
                Assert.True(rocks.TryOpenEncodedGrants(s, out var cursor));
                using (cursor)
                {
                    while (cursor.MoveNext())
                    {
                        var g = GrantRecord.Parser.ParseFrom(cursor.Value);
                        Assert.Equal(OperationStatus.Done, GrantRecordCodec.EncodeCompactPooled(g, ref buffer, out int written, omitSyncId: true));
                        Assert.True(cursor.Value.SequenceEqual(buffer.AsSpan(0, written)), $"seed={seed}: stored bytes of {g.ExternalId} are not canonical");
                    }
                }

                // The digests the load keeps (the set's own for its grants) are those of the grants written.
                if (rocks.TryGetGrantDigests(s, out var known))
                {
                    knownDigests++;
                    var scanned = GrantDigest.ByEntitlement(rocks, s);
                    Assert.True(scanned.OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(known.OrderBy(p => p.Key, StringComparer.Ordinal)), $"seed={seed}: known digests differ from the grants'");
                }

                sorted += got.DerivedGrantsSorted;
                mixed += got.DerivedGrantsSorted > 0 && got.DerivedGrantsSorted < got.GrantsCreated ? 1 : 0;
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        // The sorted road ran, shared loads with the record road, and left known digests.
        Assert.True(sorted > 400 && mixed > 3 && knownDigests > 100, $"sorted={sorted} mixed={mixed} known digests={knownDigests}");
    }

    [Fact]
    public void A_derived_id_two_entitlements_give_keeps_the_later_destination_s_grant_as_records_do()
    {
        // "a:" + "user:group:p1" and "a:user:" + "group:p1" are one id.
        var scenario = new ExpansionScenario();
        foreach (string e in new[] { "src", "a", "a:user" })
        {
            scenario.Entitlements.Add(new EntitlementRecord { ExternalId = e, Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = e } });
        }

        EntitlementRef Ref(string e) => new() { EntitlementId = e, ResourceTypeId = "group", ResourceId = e };
        scenario.Grants.Add(new GrantRecord { ExternalId = "m1", Entitlement = Ref("src"), Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = "group:p1" } });
        scenario.Grants.Add(new GrantRecord { ExternalId = "m2", Entitlement = Ref("src"), Principal = new PrincipalRef { ResourceTypeId = "group", ResourceId = "p1" } });
        foreach (string t in new[] { "a", "a:user" })
        {
            scenario.Grants.Add(new GrantRecord
            {
                ExternalId = $"d-{t}",
                Entitlement = Ref(t),
                Principal = new PrincipalRef { ResourceTypeId = "group", ResourceId = "carrier" },
                Expansion = new GrantExpandableRecord { EntitlementIds = { "src" } },
                NeedsExpansion = true,
            });
        }

        using var source = new MemoryStore();
        var s = scenario.Load(source);
        using var records = new MemoryStore();
        var want = GrantExpander.ExpandInto(source, s, records, s, scenario.Options);
        using var rocks = RocksStore.Open(_dir.Combine("repeated"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var got = GrantExpander.ExpandInto(source, s, rocks, s, scenario.Options);

        Assert.Equal(got.GrantsCreated, got.DerivedGrantsSorted);
        Assert.Equal(source.Count(s).Grants + want.GrantsCreated - 1, records.Count(s).Grants);
        Assert.True(rocks.TryGetGrant(s, "a:user:group:p1", out var kept));
        Assert.Equal("a:user", kept.Entitlement.EntitlementId);
        Assert.True(rocks.TryGetGrantDigests(s, out var known));
        Assert.True(GrantDigest.ByEntitlement(rocks, s).OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(known.OrderBy(p => p.Key, StringComparer.Ordinal)));
        string diff = ExpansionScenario.Differences(ExpansionScenario.Snapshot(records, s), ExpansionScenario.Snapshot(rocks, s));
        Assert.True(diff.Length == 0, diff);
        Assert.True(rocks.VerifyConsistency().IsConsistent);
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
    public void Writing_a_sorted_set_reports_its_entries_after_the_destinations()
    {
        int seed0 = Seeds.Get(20_006);
        for (int seed = seed0; seed < seed0 + 20; seed++)
        {
            var scenario = ExpansionScenario.Random(seed);
            using var source = new MemoryStore();
            var s = scenario.Load(source);
            using var rocks = RocksStore.Open(_dir.Combine($"p{seed}"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
            var seen = new List<ExpansionProgress>();
            var result = GrantExpander.ExpandInto(source, s, rocks, s, scenario.Options with { Progress = new SyncProgress(seen) });

            var destinations = seen.TakeWhile(p => p.SortedEntriesTotal == 0).ToList();
            var writing = seen.Skip(destinations.Count).ToList();
            Assert.True(Enumerable.Range(1, result.EntitlementsRecomputed).SequenceEqual(destinations.Select(p => p.DestinationsDone)), $"seed={seed}");
            if (result.DerivedGrantsSorted == 0)
            {
                Assert.True(writing.Count == 0, $"seed={seed}");
                continue;
            }

            Assert.True(writing.Count > 0 && writing.All(p => p.SortedEntriesTotal == 4 * result.DerivedGrantsSorted), $"seed={seed}");
            Assert.True(writing.Zip(writing.Skip(1)).All(p => p.First.SortedEntriesWritten <= p.Second.SortedEntriesWritten), $"seed={seed}: not monotonic");
            Assert.True(writing[^1].SortedEntriesWritten == writing[^1].SortedEntriesTotal, $"seed={seed}: ended at {writing[^1]}");
        }
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
