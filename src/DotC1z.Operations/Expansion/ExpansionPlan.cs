using DotC1z.Records;

namespace DotC1z.Operations;

/// <summary>
/// The entitlement graph of one expansion (docs/INTEROP-V1.md §5.1–5.2), built from the grants that
/// declare edges: merged edges, strongly connected components collapsed (edges inside one dropped),
/// longest-path depths of the condensed graph, and the edges that propagate under the depth limit,
/// grouped per destination in the order the previous per-edge implementation applied them. The plan
/// holds ids only, never grants, so its size is that of the graph.
/// </summary>
internal sealed class ExpansionPlan
{
    /// <summary>One merged edge S → T.</summary>
    internal sealed class Edge(string source, string target, bool shallow, HashSet<string>? filter)
    {
        public string Source { get; } = source;

        public string Target { get; } = target;

        public bool Shallow { get; set; } = shallow;

        /// <summary>Principal types that propagate; null means any.</summary>
        public HashSet<string>? Filter { get; set; } = filter;

        /// <summary>Whether two edges propagate the same principals (same ends, shallow flag and filter).</summary>
        public bool SameAs(Edge other) =>
            Source == other.Source && Target == other.Target && Shallow == other.Shallow
            && (Filter is null ? other.Filter is null : other.Filter is not null && Filter.SetEquals(other.Filter));
    }

    private ExpansionPlan()
    {
    }

    /// <summary>Entitlements in the graph, ordinal order.</summary>
    public List<string> Nodes { get; private init; } = [];

    /// <summary>Edges between different components.</summary>
    public int LiveEdges { get; private init; }

    /// <summary>Edges dropped because an end entitlement does not exist.</summary>
    public int SkippedEdges { get; private init; }

    /// <summary>Longest chain of propagating edges.</summary>
    public int DepthReached { get; private set; }

    /// <summary>Propagating edges into each destination, in application order: source depth, then source id.</summary>
    public Dictionary<string, List<Edge>> Incoming { get; } = new(StringComparer.Ordinal);

    /// <summary>Propagating edges out of each source.</summary>
    public Dictionary<string, List<Edge>> Outgoing { get; } = new(StringComparer.Ordinal);

    /// <summary>Destinations in an order where every source of a destination comes earlier (depth, then id).</summary>
    public List<string> Destinations { get; private set; } = [];

    /// <summary>Depth of each node's component.</summary>
    public Dictionary<string, int> NodeDepth { get; } = new(StringComparer.Ordinal);

    /// <summary>External ids of the declaring grants that had <c>needs_expansion</c> set.</summary>
    public List<string> Flagged { get; private init; } = [];

    /// <summary>Builds the plan.</summary>
    /// <param name="declaring">Grants that declare edges (for a full expansion: those needing expansion).</param>
    /// <param name="entitlementExists">Whether an entitlement id exists in the sync.</param>
    /// <param name="maxDepth">Longest chain followed.</param>
    /// <returns>The plan.</returns>
    public static ExpansionPlan Build(IEnumerable<GrantRecord> declaring, Func<string, bool> entitlementExists, int maxDepth)
    {
        var edges = new Dictionary<(string, string), Edge>();
        var flagged = new List<string>();
        int skipped = 0;
        var exists = new Dictionary<string, bool>(StringComparer.Ordinal);
        bool Exists(string id)
        {
            if (!exists.TryGetValue(id, out bool e))
            {
                exists[id] = e = entitlementExists(id);
            }

            return e;
        }

        foreach (var g in declaring)
        {
            flagged.Add(g.ExternalId);
            var exp = g.Expansion;
            string target = g.Entitlement?.EntitlementId ?? string.Empty;
            if (exp is null || !exp.EntitlementIds.Any(id => !string.IsNullOrWhiteSpace(id)) || target.Length == 0)
            {
                continue;
            }

            foreach (string source in exp.EntitlementIds.Where(id => !string.IsNullOrWhiteSpace(id)))
            {
                if (!Exists(source) || !Exists(target))
                {
                    skipped++;
                    continue;
                }

                var key = (source, target);
                HashSet<string>? filter = exp.ResourceTypeIds.Count == 0 ? null : new HashSet<string>(exp.ResourceTypeIds, StringComparer.Ordinal);
                if (!edges.TryGetValue(key, out var edge))
                {
                    edges[key] = new Edge(source, target, exp.Shallow, filter);
                }
                else
                {
                    // Merged like baton: shallow only if every declaration is, unfiltered if any is.
                    edge.Shallow &= exp.Shallow;
                    if (edge.Filter is not null)
                    {
                        if (filter is null)
                        {
                            edge.Filter = null;
                        }
                        else
                        {
                            edge.Filter.UnionWith(filter);
                        }
                    }
                }
            }
        }

        var nodes = edges.Keys.SelectMany(k => new[] { k.Item1, k.Item2 }).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var adjacency = nodes.ToDictionary(n => n, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var e in edges.Values)
        {
            adjacency[e.Source].Add(e.Target);
        }

        var component = GraphComponents.Of(adjacency);
        var live = edges.Values.Where(e => component[e.Source] != component[e.Target]).ToList();
        var depth = ComponentDepths(component, live);

        // Only edges whose source lies within the depth limit propagate.
        int reached = 0;
        var plan = new ExpansionPlan { Nodes = nodes, LiveEdges = live.Count, SkippedEdges = skipped, Flagged = flagged };
        foreach (string n in nodes)
        {
            plan.NodeDepth[n] = depth[component[n]];
        }

        foreach (var e in live.OrderBy(e => plan.NodeDepth[e.Source]).ThenBy(e => e.Source, StringComparer.Ordinal).ThenBy(e => e.Target, StringComparer.Ordinal))
        {
            int d = plan.NodeDepth[e.Source];
            if (d >= maxDepth)
            {
                continue;
            }

            reached = Math.Max(reached, d + 1);
            if (!plan.Incoming.TryGetValue(e.Target, out var inc))
            {
                plan.Incoming[e.Target] = inc = [];
            }

            inc.Add(e);
            if (!plan.Outgoing.TryGetValue(e.Source, out var outs))
            {
                plan.Outgoing[e.Source] = outs = [];
            }

            outs.Add(e);
        }

        plan.DepthReached = reached;
        plan.Destinations = plan.Incoming.Keys.OrderBy(t => plan.NodeDepth[t]).ThenBy(t => t, StringComparer.Ordinal).ToList();
        return plan;
    }

    /// <summary>Longest-path depth of each component in the condensed (acyclic) graph: 0 for components nothing flows into.</summary>
    private static Dictionary<int, int> ComponentDepths(Dictionary<string, int> component, List<Edge> live)
    {
        var comps = component.Values.Distinct().ToList();
        var incoming = comps.ToDictionary(c => c, _ => 0);
        var outgoing = comps.ToDictionary(c => c, _ => new List<int>());
        foreach (var e in live)
        {
            outgoing[component[e.Source]].Add(component[e.Target]);
            incoming[component[e.Target]]++;
        }

        var depth = comps.ToDictionary(c => c, _ => 0);
        var ready = new Queue<int>(comps.Where(c => incoming[c] == 0));
        while (ready.Count > 0)
        {
            int c = ready.Dequeue();
            foreach (int t in outgoing[c])
            {
                depth[t] = Math.Max(depth[t], depth[c] + 1);
                if (--incoming[t] == 0)
                {
                    ready.Enqueue(t);
                }
            }
        }

        return depth;
    }
}
