using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Bench;

/// <summary>
/// Synthetic expansion inputs, written through the bulk loader. Every edge is declared the way
/// connectors do: a grant of the destination entitlement to the source's group, carrying
/// <c>GrantExpandable{source}</c> and flagged <c>needs_expansion</c>.
/// </summary>
internal sealed class ExpansionGraph
{
    private readonly int _users;
    private readonly int _teams;
    private readonly List<string> _memberships = [];

    private ExpansionGraph(int users, int teams)
    {
        _users = users;
        _teams = teams;
    }

    /// <summary>
    /// The dense graph of G15: every user in two of <paramref name="teams"/> teams, teams nested in
    /// departments (two of which form a cycle), departments in an all-staff group, and
    /// <paramref name="applications"/> applications each inherited from all-staff, two departments and
    /// one team (shallow); every fifth application only passes users. About users × applications
    /// derived grants.
    /// </summary>
    public static ExpansionGraph Dense(IC1zStore store, SyncId sync, int users, int teams, int departments, int applications)
    {
        var graph = new ExpansionGraph(users, teams);
        using var loader = store.BeginBulkLoad(sync);
        AddTypes(loader);
        for (int t = 0; t < teams; t++)
        {
            AddGroup(loader, $"team-{t}", "member");
        }

        for (int d = 0; d < departments; d++)
        {
            AddGroup(loader, $"dept-{d}", "member");
        }

        AddGroup(loader, "all", "member");
        for (int a = 0; a < applications; a++)
        {
            AddGroup(loader, $"app-{a}", "access");
        }

        for (int u = 0; u < users; u++)
        {
            loader.Add(new ResourceRecord { ResourceTypeId = "user", ResourceId = $"u{u:D6}", DisplayName = $"user {u}" });
            foreach (int t in new[] { u % teams, ((u * 7) + 3) % teams }.Distinct())
            {
                var g = Membership(t, u);
                graph._memberships.Add(g.ExternalId);
                loader.Add(g);
            }
        }

        for (int t = 0; t < teams; t++)
        {
            loader.Add(Edge($"team-{t}", "member", $"dept-{t % departments}", "member"));
        }

        // A cycle: the first two departments include each other (collapsed, so they pass nothing to each other).
        loader.Add(Edge("dept-0", "member", "dept-1", "member"));
        loader.Add(Edge("dept-1", "member", "dept-0", "member"));
        for (int d = 0; d < departments; d++)
        {
            loader.Add(Edge($"dept-{d}", "member", "all", "member"));
        }

        for (int a = 0; a < applications; a++)
        {
            string[]? usersOnly = a % 5 == 0 ? ["user"] : null;
            loader.Add(Edge("all", "member", $"app-{a}", "access", types: usersOnly));
            loader.Add(Edge($"dept-{a % departments}", "member", $"app-{a}", "access", types: usersOnly));
            loader.Add(Edge($"dept-{((a * 3) + 1) % departments}", "member", $"app-{a}", "access", types: usersOnly));
            loader.Add(Edge($"team-{(a * 13) % teams}", "member", $"app-{a}", "access", shallow: true));
        }

        loader.Complete();
        return graph;
    }

    /// <summary>The fan-out graph: <paramref name="users"/> users on one entitlement inherited by <paramref name="targets"/> others.</summary>
    public static void FanOut(IC1zStore store, SyncId sync, int users, int targets)
    {
        using var loader = store.BeginBulkLoad(sync);
        AddTypes(loader);
        AddGroup(loader, "hub", "member");
        for (int u = 0; u < users; u++)
        {
            loader.Add(new ResourceRecord { ResourceTypeId = "user", ResourceId = $"u{u:D6}" });
            loader.Add(new GrantRecord
            {
                ExternalId = $"hub:member:user:u{u:D6}",
                Entitlement = new EntitlementRef { EntitlementId = "group:hub:member", ResourceTypeId = "group", ResourceId = "hub" },
                Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = $"u{u:D6}" },
            });
        }

        for (int t = 0; t < targets; t++)
        {
            AddGroup(loader, $"t-{t}", "access");
            loader.Add(Edge("hub", "member", $"t-{t}", "access"));
        }

        loader.Complete();
    }

    /// <summary>
    /// Copies the sync with a fraction of the memberships changed: half revoked, half added (a user
    /// joins a team it was not in). Returns the external ids of the changed grants.
    /// </summary>
    public IReadOnlyCollection<string> CopyWithChanges(IC1zStore source, SyncId sourceSync, IC1zStore target, SyncId targetSync, double fraction, int seed)
    {
        var rng = new Random(seed);
        int count = (int)(_memberships.Count * fraction);
        var revoked = new HashSet<string>(StringComparer.Ordinal);
        while (revoked.Count < count / 2)
        {
            revoked.Add(_memberships[rng.Next(_memberships.Count)]);
        }

        var existing = new HashSet<string>(_memberships, StringComparer.Ordinal);
        var added = new List<GrantRecord>();
        while (added.Count < count - revoked.Count)
        {
            var g = Membership(rng.Next(_teams), rng.Next(_users));
            if (existing.Add(g.ExternalId))
            {
                added.Add(g);
            }
        }

        using var loader = target.BeginBulkLoad(targetSync);
        StoreCopy.AddAllButGrants(source, sourceSync, loader);

        foreach (var g in source.Grants(sourceSync))
        {
            if (!revoked.Contains(g.ExternalId))
            {
                loader.Add(g);
            }
        }

        foreach (var g in added)
        {
            loader.Add(g);
        }

        loader.Complete();
        return [.. revoked, .. added.Select(g => g.ExternalId)];
    }

    private static void AddTypes(IBulkLoader loader)
    {
        loader.Add(new ResourceTypeRecord { ExternalId = "user", DisplayName = "User" });
        loader.Add(new ResourceTypeRecord { ExternalId = "group", DisplayName = "Group" });
    }

    private static void AddGroup(IBulkLoader loader, string group, string slug)
    {
        loader.Add(new ResourceRecord { ResourceTypeId = "group", ResourceId = group, DisplayName = group });
        loader.Add(new EntitlementRecord { ExternalId = $"group:{group}:{slug}", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = group }, Slug = slug, DisplayName = $"{group} {slug}" });
    }

    private static GrantRecord Membership(int team, int user) => new()
    {
        ExternalId = $"team-{team}:member:user:u{user:D6}",
        Entitlement = new EntitlementRef { EntitlementId = $"group:team-{team}:member", ResourceTypeId = "group", ResourceId = $"team-{team}" },
        Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = $"u{user:D6}" },
    };

    private static GrantRecord Edge(string sourceGroup, string sourceSlug, string targetGroup, string targetSlug, bool shallow = false, string[]? types = null)
    {
        var expandable = new GrantExpandableRecord { EntitlementIds = { $"group:{sourceGroup}:{sourceSlug}" }, Shallow = shallow };
        if (types is not null)
        {
            expandable.ResourceTypeIds.Add(types);
        }

        return new GrantRecord
        {
            ExternalId = $"{targetGroup}:{targetSlug}:group:{sourceGroup}",
            Entitlement = new EntitlementRef { EntitlementId = $"group:{targetGroup}:{targetSlug}", ResourceTypeId = "group", ResourceId = targetGroup },
            Principal = new PrincipalRef { ResourceTypeId = "group", ResourceId = sourceGroup },
            Expansion = expandable,
            NeedsExpansion = true,
        };
    }
}
