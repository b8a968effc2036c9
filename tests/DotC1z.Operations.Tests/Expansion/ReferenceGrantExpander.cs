using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations.Tests.Expansion;

/// <summary>
/// The previous implementation of <see cref="GrantExpander.Expand"/>, kept verbatim as a test oracle:
/// per-edge read-modify-write of grants. The streaming reduce must produce the same records.
/// Grant expansion (docs/INTEROP-V1.md §5): a grant of entitlement T to principal P carrying
/// <c>GrantExpandable{S…}</c> is an edge S → T meaning "whoever holds S also holds T". Edges are
/// merged, cycles collapsed (edges inside a strongly connected component dropped, as baton does),
/// and sources are processed in topological order so every source is complete before it
/// propagates. Only the entitlement graph is held in memory; grants are streamed per edge through the
/// by-entitlement index and written in batches.
/// </summary>
internal static class ReferenceGrantExpander
{
    private const string GrantImmutableTypeUrl = GrantExpander.GrantImmutableTypeUrl;

    private sealed class Edge(string source, string target, bool shallow, HashSet<string>? filter)
    {
        public string Source { get; } = source;

        public string Target { get; } = target;

        public bool Shallow { get; set; } = shallow;

        // Null means unfiltered (any principal type).
        public HashSet<string>? Filter { get; set; } = filter;
    }

    /// <summary>Expands the grants of one sync in place and clears their needs-expansion flags.</summary>
    /// <param name="store">A writable store.</param>
    /// <param name="sync">The sync.</param>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Stops between batches (already written batches stay: expansion is idempotent, so running it again completes it).</param>
    /// <returns>What was done.</returns>
    /// <exception cref="C1zReadOnlyException">The store is read-only.</exception>
    public static ExpansionResult Expand(IC1zStore store, SyncId sync, ExpansionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new ExpansionOptions();
        if (store.IsReadOnly)
        {
            throw new C1zReadOnlyException();
        }

        // 1. Edges from the grants that need expansion, merged per (source, target).
        var edges = new Dictionary<(string, string), Edge>();
        var flagged = new List<string>();
        int skipped = 0;
        var exists = new Dictionary<string, EntitlementRecord?>(StringComparer.Ordinal);
        EntitlementRecord? Entitlement(string id)
        {
            if (!exists.TryGetValue(id, out var e))
            {
                exists[id] = e = store.TryGetEntitlement(sync, id, out var found) ? found : null;
            }

            return e;
        }

        foreach (var g in store.GrantsNeedingExpansion(sync))
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
                if (Entitlement(source) is null || Entitlement(target) is null)
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

        // 2. Collapse cycles and order the components topologically; drop edges inside a component.
        var nodes = edges.Keys.SelectMany(k => new[] { k.Item1, k.Item2 }).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var component = StronglyConnected(nodes, edges.Values);
        var live = edges.Values.Where(e => component[e.Source] != component[e.Target]).ToList();
        var depth = ComponentDepths(component, live);
        int depthReached = 0;

        // 3. Propagate, sources in increasing depth (all inputs of a source are final before it runs).
        long created = 0, updated = 0;
        foreach (var edge in live.OrderBy(e => depth[component[e.Source]]).ThenBy(e => e.Source, StringComparer.Ordinal).ThenBy(e => e.Target, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            int d = depth[component[edge.Source]];
            if (d >= options.MaxDepth)
            {
                continue;
            }

            depthReached = Math.Max(depthReached, d + 1);
            var (c, u) = Propagate(store, sync, edge, Entitlement(edge.Target)!, options);
            created += c;
            updated += u;
        }

        // 4. Clear the flags (the expansion annotations stay for the record).
        foreach (var chunk in flagged.Chunk(options.BatchSize))
        {
            var batch = new List<GrantRecord>(chunk.Length);
            foreach (string id in chunk)
            {
                if (store.TryGetGrant(sync, id, out var g) && g.NeedsExpansion)
                {
                    g.NeedsExpansion = false;
                    batch.Add(g);
                }
            }

            store.PutGrants(sync, batch);
        }

        return new ExpansionResult(live.Count, nodes.Count, created, updated, skipped, depthReached);
    }

    private static (long Created, long Updated) Propagate(IC1zStore store, SyncId sync, Edge edge, EntitlementRecord target, ExpansionOptions options)
    {
        // The destination's current grants, by principal: only this edge's target is held in memory.
        var existing = new Dictionary<(string, string), GrantRecord>();
        foreach (var g in store.GrantsByEntitlement(sync, edge.Target))
        {
            existing.TryAdd((g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty), g);
        }

        var pending = new Dictionary<(string, string), GrantRecord>();
        long created = 0, updated = 0;
        foreach (var source in store.GrantsByEntitlement(sync, edge.Source))
        {
            if (source.Principal is null)
            {
                continue;
            }

            bool direct = source.Sources.Count == 0 || source.Sources.ContainsKey(edge.Source);
            if (edge.Shallow && !direct)
            {
                continue;
            }

            if (edge.Filter is not null && !edge.Filter.Contains(source.Principal.ResourceTypeId))
            {
                continue;
            }

            bool recorded = !options.LegacyIsDirectFalse && direct;
            var key = (source.Principal.ResourceTypeId, source.Principal.ResourceId);
            if (pending.TryGetValue(key, out var grant) || existing.TryGetValue(key, out grant))
            {
                bool changed = false;
                if (grant.Sources.Count == 0)
                {
                    grant.Sources[edge.Target] = new GrantSourceRecord { EntitlementId = edge.Target, IsDirect = !options.LegacyIsDirectFalse };
                    changed = true;
                }

                if (!grant.Sources.TryGetValue(edge.Source, out var s))
                {
                    grant.Sources[edge.Source] = new GrantSourceRecord { EntitlementId = edge.Source, IsDirect = recorded };
                    changed = true;
                }
                else if (recorded && !s.IsDirect)
                {
                    s.IsDirect = true;
                    changed = true;
                }

                if (changed && !pending.ContainsKey(key))
                {
                    pending[key] = grant;
                    updated++;
                }
            }
            else
            {
                var derived = new GrantRecord
                {
                    ExternalId = $"{edge.Target}:{source.Principal.ResourceTypeId}:{source.Principal.ResourceId}",
                    Entitlement = new EntitlementRef { EntitlementId = edge.Target, ResourceTypeId = target.Resource?.ResourceTypeId ?? string.Empty, ResourceId = target.Resource?.ResourceId ?? string.Empty },
                    Principal = source.Principal.Clone(),
                    DiscoveredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                };
                derived.Annotations.Add(new Any { TypeUrl = GrantImmutableTypeUrl });
                derived.Sources[edge.Source] = new GrantSourceRecord { EntitlementId = edge.Source, IsDirect = recorded };
                pending[key] = derived;
                created++;
            }

            if (pending.Count >= options.BatchSize)
            {
                Flush(store, sync, pending, existing);
            }
        }

        Flush(store, sync, pending, existing);
        return (created, updated);
    }

    private static void Flush(IC1zStore store, SyncId sync, Dictionary<(string, string), GrantRecord> pending, Dictionary<(string, string), GrantRecord> existing)
    {
        if (pending.Count == 0)
        {
            return;
        }

        store.PutGrants(sync, [.. pending.Values]);
        foreach (var (k, g) in pending)
        {
            existing[k] = g;
        }

        pending.Clear();
    }

    /// <summary>The strongly connected components of the expansion graph (<see cref="GraphComponents.Of"/>).</summary>
    private static Dictionary<string, int> StronglyConnected(List<string> nodes, IEnumerable<Edge> edges)
    {
        var adjacency = nodes.ToDictionary(n => n, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var e in edges)
        {
            adjacency[e.Source].Add(e.Target);
        }

        return GraphComponents.Of(adjacency);
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
