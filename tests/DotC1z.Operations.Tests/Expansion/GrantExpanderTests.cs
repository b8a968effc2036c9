using DotC1z.Engine.Rocks;
using DotC1z.Equivalence;
using DotC1z.Interop.V1;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Operations.Tests.Expansion;

public sealed class GrantExpanderTests : IDisposable
{
    private readonly TempDir _dir = new("expand");

    public void Dispose() => _dir.Dispose();

    private static Dictionary<(string, string, string), string[]> Keys(IC1zStore store, SyncId sync) =>
        store.Grants(sync).ToDictionary(
            g => (g.Entitlement.EntitlementId, g.Principal.ResourceTypeId, g.Principal.ResourceId),
            g => g.Sources.Keys.Order(StringComparer.Ordinal).ToArray());

    [Fact]
    public void Expanding_the_real_unexpanded_fixture_reproduces_baton_expanded_file()
    {
        using var store = RocksStore.Open(_dir.Combine("golden"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var sync = V1Import.Import(TestPaths.RealFixture("small-unexpanded.c1z"), store).Syncs.Single().Sync;
        Assert.Equal(2909, store.Count(sync).Grants);
        var result = GrantExpander.Expand(store, sync, new ExpansionOptions { LegacyIsDirectFalse = true });
        Assert.Equal(799, result.Edges);
        Assert.Equal(240, result.Nodes);

        using var expectedStore = V1File.OpenReadOnly(TestPaths.RealFixture("small-expanded.c1z"));
        var expected = Keys(expectedStore, expectedStore.LatestSync()!.Value);
        var actual = Keys(store, sync);
        Assert.Equal(14981, expected.Count);
        var missing = expected.Keys.Except(actual.Keys).Take(5).ToList();
        var extra = actual.Keys.Except(expected.Keys).Take(5).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0, $"missing: {string.Join(", ", missing)}; extra: {string.Join(", ", extra)}");
        var mismatched = expected.Where(p => !p.Value.SequenceEqual(actual[p.Key])).Take(5).Select(p => $"{p.Key}: want [{string.Join(",", p.Value)}] got [{string.Join(",", actual[p.Key])}]").ToList();
        Assert.True(mismatched.Count == 0, string.Join("; ", mismatched));
        Assert.Empty(store.GrantsNeedingExpansion(sync));
        Assert.All(store.Grants(sync).Where(g => g.Annotations.Any(a => a.TypeUrl == GrantExpander.GrantImmutableTypeUrl)), g => Assert.NotEmpty(g.Sources));
        Assert.True(store.VerifyConsistency().IsConsistent);

        // Idempotent: running again changes nothing.
        var again = GrantExpander.Expand(store, sync);
        Assert.Equal(0, again.GrantsCreated);
        Assert.Equal(actual.Count, Keys(store, sync).Count);
    }

    /// <summary>
    /// The simple reference: repeat "every holder of a source entitlement also holds the target" to a
    /// fixed point over the acyclic part, honouring shallow edges, type filters and the depth limit.
    /// </summary>
    private static HashSet<(string Ent, string Principal)> Reference(List<(string S, string T, bool Shallow, string[] Types)> edges, HashSet<(string Ent, string Principal, string Type)> direct, int maxDepth)
    {
        // Edges inside cycles carry nothing (baton collapses strongly connected components).
        bool Reaches(string from, string to)
        {
            var seen = new HashSet<string> { from };
            var queue = new Queue<string>([from]);
            while (queue.Count > 0)
            {
                var n = queue.Dequeue();
                foreach (var e in edges.Where(e => e.S == n))
                {
                    if (e.T == to)
                    {
                        return true;
                    }

                    if (seen.Add(e.T))
                    {
                        queue.Enqueue(e.T);
                    }
                }
            }

            return false;
        }

        var live = edges.Where(e => !(e.S == e.T || (Reaches(e.S, e.T) && Reaches(e.T, e.S)))).ToList();

        // Depth of a node: longest chain of live edges into it.
        var depth = new Dictionary<string, int>();
        int Depth(string n, int guard = 0) => depth.TryGetValue(n, out var d) ? d : depth[n] = guard > 100 ? 0 : live.Where(e => e.T == n).Select(e => Depth(e.S, guard + 1) + 1).DefaultIfEmpty(0).Max();

        var holders = direct.Select(d => (d.Ent, d.Principal, d.Type, Direct: true)).ToHashSet();
        foreach (var e in live.Where(e => Depth(e.S) < maxDepth).OrderBy(e => Depth(e.S)))
        {
            foreach (var h in holders.Where(h => h.Ent == e.S).ToList())
            {
                if ((e.Shallow && !h.Direct) || (e.Types.Length > 0 && !e.Types.Contains(h.Type)))
                {
                    continue;
                }

                if (!holders.Any(x => x.Ent == e.T && x.Principal == h.Principal))
                {
                    holders.Add((e.T, h.Principal, h.Type, false));
                }
            }
        }

        return holders.Select(h => (h.Ent, h.Principal)).ToHashSet();
    }

    [Fact]
    public void Tricky_graphs_match_the_reference()
    {
        int seed0 = Seeds.Get(4242);
        for (int seed = seed0; seed < seed0 + 40; seed++)
        {
            var rng = new Random(seed);
            int n = 3 + rng.Next(6);
            var ents = Enumerable.Range(0, n).Select(i => $"e{i}").ToList();
            var edges = new List<(string S, string T, bool Shallow, string[] Types)>();
            for (int k = 0; k < 1 + rng.Next(n * 2); k++)
            {
                string s = ents[rng.Next(n)], t = rng.Next(6) == 0 ? s : ents[rng.Next(n)]; // self-loops too
                if (edges.Any(e => e.S == s && e.T == t))
                {
                    continue;
                }

                edges.Add((s, t, rng.Next(4) == 0, rng.Next(4) == 0 ? ["user"] : []));
            }

            var direct = new HashSet<(string, string, string)>();
            for (int k = 0; k < 6 + rng.Next(10); k++)
            {
                string type = rng.Next(3) == 0 ? "group" : "user";
                direct.Add((ents[rng.Next(n)], $"{type}:p{rng.Next(5)}", type));
            }

            int maxDepth = 1 + rng.Next(4);
            var expected = Reference(edges, direct, maxDepth);

            using var store = new MemoryStore();
            var sync = store.StartSync(SyncType.Full);
            store.PutEntitlements(sync, ents.Select(e => new EntitlementRecord { ExternalId = e, Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = e } }).ToList());
            var grants = direct.Select(d => new GrantRecord
            {
                ExternalId = $"{d.Item1}:{d.Item2}",
                Entitlement = new EntitlementRef { EntitlementId = d.Item1, ResourceTypeId = "group", ResourceId = d.Item1 },
                Principal = new PrincipalRef { ResourceTypeId = d.Item3, ResourceId = d.Item2 },
            }).ToList();

            // One carrier grant per edge target holds the GrantExpandable (its principal is the target's group).
            foreach (var g in edges.GroupBy(e => (e.T, e.Shallow, string.Join(",", e.Types))))
            {
                grants.Add(new GrantRecord
                {
                    ExternalId = $"carrier:{g.Key.T}:{g.Key.Shallow}:{g.Key.Item3}",
                    Entitlement = new EntitlementRef { EntitlementId = g.Key.T, ResourceTypeId = "group", ResourceId = g.Key.T },
                    Principal = new PrincipalRef { ResourceTypeId = "carrier", ResourceId = $"{g.Key.T}:{g.Key.Shallow}:{g.Key.Item3}" },
                    NeedsExpansion = true,
                    Expansion = new GrantExpandableRecord { EntitlementIds = { g.Select(e => e.S) }, Shallow = g.Key.Shallow, ResourceTypeIds = { g.First().Types } },
                });
            }

            store.PutGrants(sync, grants);

            // The carriers' own holdings propagate too; add them to the reference's direct set.
            var directWithCarriers = new HashSet<(string, string, string)>(direct);
            foreach (var c in grants.Where(g => g.Principal.ResourceTypeId == "carrier"))
            {
                directWithCarriers.Add((c.Entitlement.EntitlementId, c.Principal.ResourceId, "carrier"));
            }

            expected = Reference(edges, directWithCarriers, maxDepth);
            GrantExpander.Expand(store, sync, new ExpansionOptions { MaxDepth = maxDepth });
            var actual = store.Grants(sync).Select(g => (g.Entitlement.EntitlementId, g.Principal.ResourceId)).ToHashSet();
            Assert.True(expected.SetEquals(actual), $"seed={seed}: expected {expected.Count} holdings, got {actual.Count}; missing {string.Join(" ", expected.Except(actual).Take(5))}; extra {string.Join(" ", actual.Except(expected).Take(5))}");
        }
    }
}
