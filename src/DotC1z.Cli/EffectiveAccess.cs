using DotC1z.Keys;
using DotC1z.Operations;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Cli;

/// <summary>One entitlement a principal holds and one shortest way it holds it.</summary>
/// <param name="EntitlementId">The entitlement.</param>
/// <param name="ResourceTypeId">The entitlement's resource type.</param>
/// <param name="ResourceId">The entitlement's resource.</param>
/// <param name="Path">
/// Empty when held directly; else the entitlements the principal holds on the way, from one it holds
/// directly to the one that grants this entitlement (each hop is an expandable grant, docs/INTEROP-V1.md §5).
/// </param>
/// <param name="Grant">The stored grant, when the sync has one (a direct grant, or a grant the expansion wrote).</param>
internal sealed record AccessEntry(string EntitlementId, string ResourceTypeId, string ResourceId, IReadOnlyList<string> Path, GrantRecord? Grant)
{
    /// <summary>Whether the principal holds the entitlement directly.</summary>
    public bool Direct => Path.Count == 0;
}

/// <summary>The answer of <see cref="EffectiveAccess.Resolve"/>.</summary>
/// <param name="Entries">Every entitlement held, ordered by entitlement id (UTF-8 ordinal).</param>
/// <param name="Computed">True when the expansion was computed (the principal's grants carry no sources); false when read from an expanded file.</param>
internal sealed record AccessResult(IReadOnlyList<AccessEntry> Entries, bool Computed);

/// <summary>
/// What one principal can reach (docs/CLI.md, <c>c1z access</c>). An expanded file already holds every
/// derived grant with its <c>sources</c>: the principal's grants are read (one GrantsByPrincipal listing) and
/// the sources are followed back, breadth first, to a directly held entitlement. An unexpanded file gets the
/// expansion rule of <c>GrantExpander</c> applied to this principal only, in memory bounded by what the
/// principal can reach: from each entitlement it holds, the edges leaving it are the expandable grants to
/// that entitlement's resource (baton's rule: a grant to principal P expands the entitlements of P), read
/// with one GrantsByPrincipal listing per resource; cycles are collapsed as the expander does (strongly
/// connected components of the reached graph, whose members do not pass grants to each other), shallow
/// edges propagate only directly held entitlements, resource-type filters apply to the principal's type,
/// and paths longer than the expander's depth limit (20 edges) are not followed.
/// </summary>
internal static class EffectiveAccess
{
    /// <summary>The longest path followed, as the expander's default depth.</summary>
    public const int MaxDepth = 20;

    private sealed class Edge(string target, bool shallow, HashSet<string>? filter)
    {
        public string Target { get; } = target;

        public bool Shallow { get; set; } = shallow;

        public HashSet<string>? Filter { get; set; } = filter;
    }

    /// <summary>Every entitlement the principal holds, with one shortest path each.</summary>
    public static AccessResult Resolve(C1zSnapshot snapshot, SyncId sync, string principalType, string principalId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var held = new Dictionary<string, GrantRecord>(StringComparer.Ordinal);
        foreach (var g in snapshot.List(RecordListing.GrantsByPrincipal(principalType, principalId), sync, cancellationToken))
        {
            string e = g.Entitlement?.EntitlementId ?? string.Empty;
            if (e.Length > 0 && (!held.TryGetValue(e, out var seen) || (!IsDirect(seen) && IsDirect(g))))
            {
                held[e] = g;
            }
        }

        return held.Values.Any(g => g.Sources.Count > 0)
            ? new AccessResult(FromSources(held), Computed: false)
            : new AccessResult(Compute(snapshot.Store, sync, principalType, held, cancellationToken), Computed: true);
    }

    /// <summary>A grant is direct when it has no sources or lists its own entitlement among them (the expander's rule).</summary>
    private static bool IsDirect(GrantRecord g) => g.Sources.Count == 0 || g.Sources.ContainsKey(g.Entitlement?.EntitlementId ?? string.Empty);

    private static List<AccessEntry> FromSources(Dictionary<string, GrantRecord> held)
    {
        var children = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        var pred = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (e, g) in held.OrderBy(kv => kv.Key, Utf8Ordinal.Instance))
        {
            if (IsDirect(g))
            {
                pred[e] = null;
                queue.Enqueue(e);
            }

            foreach (string s in g.Sources.Keys.Order(Utf8Ordinal.Instance))
            {
                if (s != e)
                {
                    (children.TryGetValue(s, out var list) ? list : children[s] = []).Add(e);
                }
            }
        }

        while (queue.TryDequeue(out string? s))
        {
            foreach (string t in children.GetValueOrDefault(s) ?? [])
            {
                if (pred.TryAdd(t, s))
                {
                    queue.Enqueue(t);
                }
            }
        }

        var entries = new List<AccessEntry>(held.Count);
        foreach (var (e, g) in held)
        {
            List<string> path;
            if (pred.ContainsKey(e))
            {
                path = Chain(pred, e);
            }
            else
            {
                // Its sources lead to nothing the principal holds (a damaged or partly expanded file): show the recorded source.
                path = [g.Sources.Keys.Where(s => s != e).Order(Utf8Ordinal.Instance).First()];
            }

            entries.Add(new AccessEntry(e, g.Entitlement?.ResourceTypeId ?? string.Empty, g.Entitlement?.ResourceId ?? string.Empty, path, g));
        }

        entries.Sort((a, b) => Utf8Ordinal.Instance.Compare(a.EntitlementId, b.EntitlementId));
        return entries;
    }

    private static List<string> Chain(Dictionary<string, string?> pred, string e)
    {
        var path = new List<string>();
        for (string? p = pred[e]; p is not null; p = pred[p])
        {
            path.Add(p);
        }

        path.Reverse();
        return path;
    }

    private static List<AccessEntry> Compute(IC1zStore store, SyncId sync, string principalType, Dictionary<string, GrantRecord> held, CancellationToken cancellationToken)
    {
        var entitlements = new Dictionary<string, EntitlementRecord?>(StringComparer.Ordinal);
        EntitlementRecord? Entitlement(string id)
        {
            if (!entitlements.TryGetValue(id, out var e))
            {
                entitlements[id] = e = store.TryGetEntitlement(sync, id, out var found) ? found : null;
            }

            return e;
        }

        // 1. The graph reachable from what the principal holds (every edge, whatever its shallow flag or filter:
        //    the expander collapses cycles over all edges).
        var edges = new Dictionary<string, Dictionary<string, Edge>>(StringComparer.Ordinal);
        var byResource = new Dictionary<(string, string), List<GrantRecord>>();
        var pending = new Stack<string>(held.Keys);
        while (pending.TryPop(out string? source))
        {
            if (edges.ContainsKey(source))
            {
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var outgoing = edges[source] = new Dictionary<string, Edge>(StringComparer.Ordinal);
            if (Entitlement(source)?.Resource is not { } resource)
            {
                continue;
            }

            var key = (resource.ResourceTypeId, resource.ResourceId);
            if (!byResource.TryGetValue(key, out var expandable))
            {
                expandable = [.. store.List(sync, RecordListing.GrantsByPrincipal(resource.ResourceTypeId, resource.ResourceId)).Where(g => g.Expansion is { EntitlementIds.Count: > 0 })];
                byResource[key] = expandable;
            }

            foreach (var g in expandable)
            {
                string target = g.Entitlement?.EntitlementId ?? string.Empty;
                if (target.Length == 0 || !g.Expansion.EntitlementIds.Contains(source) || Entitlement(target) is null)
                {
                    continue;
                }

                HashSet<string>? filter = g.Expansion.ResourceTypeIds.Count == 0 ? null : new HashSet<string>(g.Expansion.ResourceTypeIds, StringComparer.Ordinal);
                if (!outgoing.TryGetValue(target, out var edge))
                {
                    outgoing[target] = new Edge(target, g.Expansion.Shallow, filter);
                }
                else
                {
                    edge.Shallow &= g.Expansion.Shallow;
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

                pending.Push(target);
            }
        }

        // 2. Cycles collapse: an edge inside a strongly connected component carries nothing.
        var component = StronglyConnected(edges);

        // 3. Breadth first from the directly held entitlements: the first path found is a shortest one.
        var pred = new Dictionary<string, string?>(StringComparer.Ordinal);
        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        foreach (string e in held.Keys.Order(Utf8Ordinal.Instance))
        {
            pred[e] = null;
            depth[e] = 0;
            queue.Enqueue(e);
        }

        while (queue.TryDequeue(out string? s))
        {
            if (depth[s] >= MaxDepth)
            {
                continue;
            }

            bool direct = held.ContainsKey(s);
            foreach (var edge in edges[s].Values.OrderBy(e => e.Target, Utf8Ordinal.Instance))
            {
                if (component[s] == component[edge.Target] || (edge.Shallow && !direct) || (edge.Filter is not null && !edge.Filter.Contains(principalType)))
                {
                    continue;
                }

                if (pred.TryAdd(edge.Target, s))
                {
                    depth[edge.Target] = depth[s] + 1;
                    queue.Enqueue(edge.Target);
                }
            }
        }

        var entries = new List<AccessEntry>(pred.Count);
        foreach (string e in pred.Keys)
        {
            held.TryGetValue(e, out var grant);
            var resource = grant?.Entitlement is { } r ? (r.ResourceTypeId, r.ResourceId) : (Entitlement(e)?.Resource?.ResourceTypeId ?? string.Empty, Entitlement(e)?.Resource?.ResourceId ?? string.Empty);
            entries.Add(new AccessEntry(e, resource.Item1, resource.Item2, Chain(pred, e), grant));
        }

        entries.Sort((a, b) => Utf8Ordinal.Instance.Compare(a.EntitlementId, b.EntitlementId));
        return entries;
    }

    /// <summary>The strongly connected components of the reached graph (<see cref="GraphComponents.Of"/>).</summary>
    private static Dictionary<string, int> StronglyConnected(Dictionary<string, Dictionary<string, Edge>> edges) =>
        GraphComponents.Of(edges.ToDictionary(kv => kv.Key, kv => kv.Value.Keys.ToList(), StringComparer.Ordinal));
}
