using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations.Tests.Expansion;

/// <summary>
/// Random unexpanded syncs for expansion properties: cycles, diamonds, self-loops, duplicate and
/// narrowed edge declarations, type filters, shallow edges, missing entitlements, principals with
/// several grants on one entitlement and grants that already carry sources. Deterministic per seed.
/// </summary>
internal sealed class ExpansionScenario
{
    public List<EntitlementRecord> Entitlements { get; } = [];

    public List<GrantRecord> Grants { get; } = [];

    public ExpansionOptions Options { get; private set; } = new();

    private static readonly string[] PlainTypes = ["user", "group", "role"];

    // Entitlement ids where one with a colon starts another ("a:" starts "a:b:"), so derived ids of different
    // entitlements interleave or repeat; principal types where "user2:…" sorts before "user:…" though "user" < "user2".
    private static readonly string[] TrickyNames = ["a", "a:b", "a:user", "a:b:c", "a-b", "a:", "ab", "b", "a:group", "a:u", "b:a"];
    private static readonly string[] TrickyTypes = ["user", "user2", "u", "group"];

    private string[] _names = [];
    private string[] _types = PlainTypes;
    private bool _colonIds;

    /// <summary>A random scenario; <paramref name="trickyIds"/> draws entitlement ids, principal types and ids that extend one another past a colon.</summary>
    public static ExpansionScenario Random(int seed, int maxEntitlements = 9, bool flagsFollowAnnotations = false, bool trickyIds = false)
    {
        var rng = new Random(seed);
        var s = new ExpansionScenario();
        if (trickyIds)
        {
            s._names = TrickyNames;
            s._types = TrickyTypes;
            s._colonIds = true;
            maxEntitlements = Math.Min(maxEntitlements, TrickyNames.Length - 2);
        }

        int n = 2 + rng.Next(maxEntitlements);
        for (int i = 0; i < n; i++)
        {
            s.Entitlements.Add(new EntitlementRecord { ExternalId = s.E(i), Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = $"r{i % 4}" } });
        }

        // Tricky ids: more memberships of fewer principals, so that repeated derived ids turn up.
        int principals = trickyIds ? 2 + rng.Next(3) : 3 + rng.Next(8);
        int memberships = trickyIds ? 20 + rng.Next(40) : -1;
        for (int k = 0; memberships >= 0 ? k < memberships : k < 4 + rng.Next(20); k++)
        {
            s.Grants.Add(s.Membership(rng, $"m{k}", principals));
        }

        for (int k = 0; k < 1 + rng.Next(n * 2); k++)
        {
            s.Grants.Add(s.Declaration(rng, $"d{k}", n));
        }

        if (flagsFollowAnnotations)
        {
            foreach (var g in s.Grants)
            {
                g.NeedsExpansion = g.Expansion is not null && g.Expansion.EntitlementIds.Any(id => !string.IsNullOrWhiteSpace(id));
            }
        }

        s.Options = new ExpansionOptions { MaxDepth = rng.Next(4) == 0 ? 20 : 1 + rng.Next(4), LegacyIsDirectFalse = rng.Next(3) == 0, BatchSize = 1 + rng.Next(7) };
        return s;
    }

    /// <summary>A grant of a random entitlement to a random principal, sometimes already carrying sources.</summary>
    public GrantRecord Membership(Random rng, string id, int principals)
    {
        int e = rng.Next(Entitlements.Count);
        string type = _types[rng.Next(_types.Length)];
        string principal = _colonIds && rng.Next(2) == 0 ? $"group:p{rng.Next(principals)}" : $"p{rng.Next(principals)}";
        var g = new GrantRecord
        {
            ExternalId = id,
            Entitlement = Ref(e),
            Principal = new PrincipalRef { ResourceTypeId = type, ResourceId = principal },
            DiscoveredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch.AddDays(rng.Next(1000))),
        };
        switch (rng.Next(8))
        {
            case 0:
                g.Sources[E(e)] = new GrantSourceRecord { EntitlementId = E(e), IsDirect = rng.Next(2) == 0 };
                break;
            case 1:
                string other = E(rng.Next(Entitlements.Count));
                g.Sources[other] = new GrantSourceRecord { EntitlementId = other, IsDirect = rng.Next(2) == 0 };
                break;
        }

        return g;
    }

    /// <summary>A grant declaring edges into a random entitlement (self-loops, missing and blank sources included).</summary>
    public GrantRecord Declaration(Random rng, string id, int n)
    {
        int t = rng.Next(Entitlements.Count);
        var exp = new GrantExpandableRecord { Shallow = rng.Next(4) == 0 };
        for (int k = 0; k < 1 + rng.Next(3); k++)
        {
            exp.EntitlementIds.Add(rng.Next(12) switch
            {
                0 => "missing",
                1 => " ",
                2 => E(t),
                _ => E(rng.Next(n)),
            });
        }

        if (rng.Next(3) == 0)
        {
            exp.ResourceTypeIds.Add(_types[rng.Next(_types.Length)]);
            if (rng.Next(2) == 0)
            {
                exp.ResourceTypeIds.Add(_types[rng.Next(_types.Length)]);
            }
        }

        return new GrantRecord
        {
            ExternalId = id,
            Entitlement = Ref(t),
            Principal = new PrincipalRef { ResourceTypeId = "group", ResourceId = $"carrier{rng.Next(3)}" },
            DiscoveredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch),
            Expansion = exp,
            NeedsExpansion = rng.Next(10) != 0,
        };
    }

    /// <summary>
    /// A newer sync: random additions, revocations, moved memberships, narrowed or widened edges,
    /// edges that close or open cycles, flags toggled, sometimes an entitlement removed or moved.
    /// </summary>
    /// <returns>The newer scenario and the ids of the grants that differ.</returns>
    public (ExpansionScenario Next, HashSet<string> Changed) Mutate(int seed)
    {
        var rng = new Random(seed);
        var next = new ExpansionScenario { Options = Options, _names = _names, _types = _types, _colonIds = _colonIds };
        next.Entitlements.AddRange(Entitlements.Select(e => e.Clone()));
        next.Grants.AddRange(Grants.Select(g => g.Clone()));
        int n = Entitlements.Count;
        for (int k = 0; k < 1 + rng.Next(4); k++)
        {
            int i = next.Grants.Count == 0 ? -1 : rng.Next(next.Grants.Count);
            switch (rng.Next(10))
            {
                case 0:
                case 1:
                    next.Grants.Add(next.Membership(rng, $"m{seed}-{k}", 11));
                    break;
                case 2:
                    if (i >= 0)
                    {
                        next.Grants.RemoveAt(i);
                    }

                    break;
                case 3:
                    if (i >= 0)
                    {
                        var moved = next.Membership(rng, next.Grants[i].ExternalId, 11);
                        next.Grants[i] = moved;
                    }

                    break;
                case 4:
                    next.Grants.Add(next.Declaration(rng, $"d{seed}-{k}", n));
                    break;
                case 5:
                    var declaring = next.Grants.Where(g => g.Expansion is not null).ToList();
                    if (declaring.Count > 0)
                    {
                        // Narrow or widen an edge declaration in place.
                        var g = declaring[rng.Next(declaring.Count)];
                        switch (rng.Next(4))
                        {
                            case 0:
                                g.Expansion.Shallow = !g.Expansion.Shallow;
                                break;
                            case 1:
                                g.Expansion.ResourceTypeIds.Add(_types[rng.Next(_types.Length)]);
                                break;
                            case 2:
                                g.Expansion.ResourceTypeIds.Clear();
                                g.Expansion.EntitlementIds.Add(E(rng.Next(n)));
                                break;
                            default:
                                g.NeedsExpansion = !g.NeedsExpansion;
                                break;
                        }
                    }

                    break;
                case 6:
                    // Close a cycle: a declaration whose source is the target of an existing edge.
                    var edge = next.Grants.Where(g => g.Expansion is not null && g.Expansion.EntitlementIds.Count > 0).Select(g => (S: g.Expansion.EntitlementIds[0], T: g.Entitlement.EntitlementId)).FirstOrDefault();
                    if (edge.S is not null && edge.S.StartsWith('e'))
                    {
                        int target = int.Parse(edge.S[1..], System.Globalization.CultureInfo.InvariantCulture);
                        next.Grants.Add(new GrantRecord
                        {
                            ExternalId = $"cycle{seed}-{k}",
                            Entitlement = Ref(target),
                            Principal = new PrincipalRef { ResourceTypeId = "group", ResourceId = "carrier0" },
                            Expansion = new GrantExpandableRecord { EntitlementIds = { edge.T } },
                            NeedsExpansion = true,
                        });
                    }

                    break;
                case 7:
                    // Open cycles: drop a declaration.
                    int d = next.Grants.FindIndex(g => g.Expansion is not null);
                    if (d >= 0)
                    {
                        next.Grants.RemoveAt(d);
                    }

                    break;
                case 8:
                    if (rng.Next(3) == 0)
                    {
                        // An entitlement disappears, or moves to another resource.
                        int e = rng.Next(n);
                        if (rng.Next(2) == 0)
                        {
                            next.Entitlements.RemoveAll(x => x.ExternalId == E(e));
                        }
                        else
                        {
                            next.Entitlements.First(x => x.ExternalId == E(e)).Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "elsewhere" };
                        }
                    }

                    break;
                default:
                    if (i >= 0)
                    {
                        var g = next.Grants[i];
                        g.Sources.Clear();
                        if (rng.Next(2) == 0)
                        {
                            g.Sources[g.Entitlement.EntitlementId] = new GrantSourceRecord { EntitlementId = g.Entitlement.EntitlementId };
                        }
                    }

                    break;
            }
        }

        var before = Grants.ToDictionary(g => g.ExternalId);
        var after = next.Grants.GroupBy(g => g.ExternalId).ToDictionary(g => g.Key, g => g.Last());
        var changed = before.Keys.Union(after.Keys).Where(id => !before.TryGetValue(id, out var a) || !after.TryGetValue(id, out var b) || !a.Equals(b)).ToHashSet();
        return (next, changed);
    }

    public EntitlementRef Ref(int e) => new() { EntitlementId = E(e), ResourceTypeId = "group", ResourceId = $"r{e % 4}" };

    /// <summary>The id of entitlement <paramref name="e"/>.</summary>
    public string E(int e) => e < _names.Length ? _names[e] : $"e{e}";

    public SyncId Load(IC1zStore store)
    {
        var sync = store.StartSync(SyncType.Full);
        store.PutEntitlements(sync, Entitlements);
        store.PutGrants(sync, Grants.Select(g => g.Clone()).ToList());
        return sync;
    }

    /// <summary>
    /// The grants of a sync keyed by external id, comparable record for record: sync id and
    /// <c>discovered_at</c> of derived grants cleared (the time of the run), sources compared as a map.
    /// </summary>
    public static SortedDictionary<string, GrantRecord> Snapshot(IC1zReader store, SyncId sync)
    {
        var result = new SortedDictionary<string, GrantRecord>(StringComparer.Ordinal);
        foreach (var g in store.Grants(sync))
        {
            var c = g.Clone();
            c.SyncId = string.Empty;
            if (c.Annotations.Any(a => a.TypeUrl == GrantExpander.GrantImmutableTypeUrl))
            {
                c.DiscoveredAt = null;
            }

            result[c.ExternalId] = c;
        }

        return result;
    }

    /// <summary>The first few differences between two snapshots, or an empty string.</summary>
    public static string Differences(SortedDictionary<string, GrantRecord> expected, SortedDictionary<string, GrantRecord> actual)
    {
        var lines = new List<string>();
        foreach (var (id, g) in expected)
        {
            if (!actual.TryGetValue(id, out var a))
            {
                lines.Add($"missing {g}");
            }
            else if (!a.Equals(g))
            {
                lines.Add($"differs: want {g} got {a}");
            }
        }

        lines.AddRange(actual.Keys.Where(k => !expected.ContainsKey(k)).Select(k => $"extra {actual[k]}"));
        return string.Join("\n", lines.Take(6));
    }
}
