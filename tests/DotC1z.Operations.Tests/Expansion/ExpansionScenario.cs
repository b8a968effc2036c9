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

    private static readonly string[] Types = ["user", "group", "role"];

    public static ExpansionScenario Random(int seed, int maxEntitlements = 9)
    {
        var rng = new Random(seed);
        var s = new ExpansionScenario();
        int n = 2 + rng.Next(maxEntitlements);
        for (int i = 0; i < n; i++)
        {
            s.Entitlements.Add(new EntitlementRecord { ExternalId = $"e{i}", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = $"r{i % 4}" } });
        }

        int principals = 3 + rng.Next(8);
        for (int k = 0; k < 4 + rng.Next(20); k++)
        {
            s.Grants.Add(s.Membership(rng, $"m{k}", principals));
        }

        for (int k = 0; k < 1 + rng.Next(n * 2); k++)
        {
            s.Grants.Add(s.Declaration(rng, $"d{k}", n));
        }

        s.Options = new ExpansionOptions { MaxDepth = rng.Next(4) == 0 ? 20 : 1 + rng.Next(4), LegacyIsDirectFalse = rng.Next(3) == 0, BatchSize = 1 + rng.Next(7) };
        return s;
    }

    /// <summary>A grant of a random entitlement to a random principal, sometimes already carrying sources.</summary>
    public GrantRecord Membership(Random rng, string id, int principals)
    {
        int e = rng.Next(Entitlements.Count);
        string type = Types[rng.Next(Types.Length)];
        var g = new GrantRecord
        {
            ExternalId = id,
            Entitlement = Ref(e),
            Principal = new PrincipalRef { ResourceTypeId = type, ResourceId = $"p{rng.Next(principals)}" },
            DiscoveredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch.AddDays(rng.Next(1000))),
        };
        switch (rng.Next(8))
        {
            case 0:
                g.Sources[$"e{e}"] = new GrantSourceRecord { EntitlementId = $"e{e}", IsDirect = rng.Next(2) == 0 };
                break;
            case 1:
                string other = $"e{rng.Next(Entitlements.Count)}";
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
                2 => $"e{t}",
                _ => $"e{rng.Next(n)}",
            });
        }

        if (rng.Next(3) == 0)
        {
            exp.ResourceTypeIds.Add(Types[rng.Next(Types.Length)]);
            if (rng.Next(2) == 0)
            {
                exp.ResourceTypeIds.Add(Types[rng.Next(Types.Length)]);
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

    public EntitlementRef Ref(int e) => new() { EntitlementId = $"e{e}", ResourceTypeId = "group", ResourceId = $"r{e % 4}" };

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
