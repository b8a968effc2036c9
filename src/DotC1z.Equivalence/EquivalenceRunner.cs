using System.Text;
using DotC1z.Codecs;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Equivalence;

/// <summary>
/// Everything a workload lets one observe of a store, as ordered lines: for every sync, every by-sync
/// scan in order, every index query for every key the workload used, point gets, and counts.
/// Two engines are equivalent on a workload when their observations are equal line for line.
/// </summary>
/// <param name="Lines">The observation.</param>
public sealed record Observation(IReadOnlyList<string> Lines)
{
    /// <summary>Grants visible in sync 0 (for the seed tests' exact counts).</summary>
    public int CountWithPrefix(string prefix) => Lines.Count(l => l.StartsWith(prefix, StringComparison.Ordinal));
}

/// <summary>Runs workloads on stores and compares what they show.</summary>
public static class EquivalenceRunner
{
    /// <summary>Applies a workload to a fresh store and observes the result.</summary>
    /// <param name="store">An empty writable store.</param>
    /// <param name="workload">The workload.</param>
    /// <param name="afterWrites">Optional hook between writing and observing (reopen, save → open, compaction …); it returns the store to observe and the sync ids to use.</param>
    /// <returns>The observation.</returns>
    public static Observation Run(IC1zStore store, Workload workload, Func<IC1zStore, IReadOnlyList<SyncId>, (IC1zStore Store, IReadOnlyList<SyncId> Syncs)>? afterWrites = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(workload);
        var syncs = new List<SyncId>();
        for (int i = 0; i < Math.Max(1, workload.Syncs); i++)
        {
            syncs.Add(store.StartSync(SyncType.Full));
        }

        foreach (var op in workload.Ops)
        {
            Apply(store, syncs[op.Sync], op);
        }

        var observed = store;
        IReadOnlyList<SyncId> observedSyncs = syncs;
        if (afterWrites is not null)
        {
            (observed, observedSyncs) = afterWrites(store, syncs);
        }

        return Observe(observed, observedSyncs, workload);
    }

    /// <summary>Applies one operation to a store.</summary>
    /// <param name="store">The store.</param>
    /// <param name="sync">The sync the operation's index maps to.</param>
    /// <param name="op">The operation.</param>
    public static void Apply(IC1zStore store, SyncId sync, Op op)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(op);
        switch (op.Record)
        {
            case ResourceTypeRecord r when op.Kind == OpKind.Put:
                store.PutResourceTypes(sync, [r]);
                break;
            case ResourceTypeRecord r:
                store.DeleteResourceType(sync, r.ExternalId);
                break;
            case ResourceRecord r when op.Kind == OpKind.Put:
                store.PutResources(sync, [r]);
                break;
            case ResourceRecord r:
                store.DeleteResource(sync, r.ResourceTypeId, r.ResourceId);
                break;
            case EntitlementRecord r when op.Kind == OpKind.Put:
                store.PutEntitlements(sync, [r]);
                break;
            case EntitlementRecord r:
                store.DeleteEntitlement(sync, r.ExternalId);
                break;
            case GrantRecord r when op.Kind == OpKind.Put:
                store.PutGrants(sync, [r]);
                break;
            case GrantRecord r:
                store.DeleteGrant(sync, r.ExternalId);
                break;
            case AssetRecord r when op.Kind == OpKind.Put:
                store.PutAssets(sync, [r]);
                break;
            case AssetRecord r:
                store.DeleteAsset(sync, r.ExternalId);
                break;
            default:
                throw new InvalidOperationException($"unsupported op {op}");
        }
    }

    /// <summary>Observes a store over the keys a workload used.</summary>
    /// <param name="store">The store.</param>
    /// <param name="syncs">The workload's syncs, by index.</param>
    /// <param name="workload">The workload (its keys drive the index queries).</param>
    /// <returns>The observation.</returns>
    public static Observation Observe(IC1zStore store, IReadOnlyList<SyncId> syncs, Workload workload)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(syncs);
        ArgumentNullException.ThrowIfNull(workload);
        var lines = new List<string>();
        var grants = workload.Ops.Select(o => o.Record).OfType<GrantRecord>().ToList();
        var entitlementIds = grants.Select(g => g.Entitlement?.EntitlementId ?? string.Empty).Distinct().Order(StringComparer.Ordinal).ToList();
        var principals = grants.Select(g => (g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty)).Distinct().Order().ToList();
        var entResources = grants.Select(g => (g.Entitlement?.ResourceTypeId ?? string.Empty, g.Entitlement?.ResourceId ?? string.Empty)).Distinct().Order().ToList();
        var resources = workload.Ops.Select(o => o.Record).OfType<ResourceRecord>().ToList();
        var resourceTypes = resources.Select(r => r.ResourceTypeId).Distinct().Order(StringComparer.Ordinal).ToList();
        var parents = resources.Select(r => (r.Parent?.ResourceTypeId ?? string.Empty, r.Parent?.ResourceId ?? string.Empty)).Append((string.Empty, string.Empty)).Distinct().Order().ToList();
        var entitlementResources = workload.Ops.Select(o => o.Record).OfType<EntitlementRecord>().Select(e => (e.Resource?.ResourceTypeId ?? string.Empty, e.Resource?.ResourceId ?? string.Empty)).Distinct().Order().ToList();

        for (int s = 0; s < syncs.Count; s++)
        {
            var sync = syncs[s];
            string p = $"s{s} ";
            foreach (var kind in RecordKinds.All)
            {
                kind.Accept(new KindDump(lines, p, store, sync));
            }

            Add(lines, p + "needs_expansion", store.GrantsNeedingExpansion(sync));
            foreach (string e in entitlementIds)
            {
                Add(lines, p + "by_entitlement " + Escape(e), store.GrantsByEntitlement(sync, e));
            }

            foreach (var (t, id) in principals)
            {
                Add(lines, p + "by_principal " + Escape(t) + "/" + Escape(id), store.GrantsByPrincipal(sync, t, id));
            }

            foreach (var (t, id) in entResources)
            {
                Add(lines, p + "by_entitlement_resource " + Escape(t) + "/" + Escape(id), store.GrantsByEntitlementResource(sync, t, id));
            }

            foreach (string t in resourceTypes)
            {
                Add(lines, p + "resources_by_type " + Escape(t), store.ResourcesByType(sync, t));
            }

            foreach (var (t, id) in parents)
            {
                Add(lines, p + "by_parent " + Escape(t) + "/" + Escape(id), store.ResourcesByParent(sync, t, id));
            }

            foreach (var (t, id) in entitlementResources)
            {
                Add(lines, p + "entitlements_by_resource " + Escape(t) + "/" + Escape(id), store.EntitlementsByResource(sync, t, id));
            }

            foreach (var g in grants.Select(g => g.ExternalId).Distinct().Order(StringComparer.Ordinal))
            {
                lines.Add(p + "get grant " + Escape(g) + " = " + (store.TryGetGrant(sync, g, out var got) ? Canonical(got) : "miss"));
            }

            var c = store.Count(sync);
            lines.Add(p + $"count {c.ResourceTypes} {c.Resources} {c.Entitlements} {c.Grants} {c.Assets}");
        }

        return new Observation(lines);
    }

    private sealed class KindDump(List<string> lines, string prefix, IC1zReader store, SyncId sync) : IRecordKindVisitor
    {
        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, IMessage<T>, new() => Add(lines, prefix + kind.Name, kind.Scan(store, sync));
    }

    private static void Add<T>(List<string> lines, string label, IEnumerable<T> records)
        where T : IMessage
    {
        var list = records.ToList();
        lines.Add($"{label} n={list.Count}");
        foreach (var r in list)
        {
            lines.Add($"{label} {Canonical(r)}");
        }
    }

    /// <summary>A record's canonical text: its deterministic encoding with the sync id cleared, in hex.</summary>
    /// <param name="record">The record.</param>
    /// <returns>The text.</returns>
    public static string Canonical(IMessage record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var copy = record.Descriptor.Parser.ParseFrom(record.ToByteString());
        var syncField = copy.Descriptor.FindFieldByName("sync_id");
        syncField?.Accessor.SetValue(copy, string.Empty);
        var codec = CodecRegistry.Lookup(copy.Descriptor);
        var bytes = new byte[codec.CalculateSize(copy)];
        codec.Encode(copy, bytes);
        return Convert.ToHexString(bytes);
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char ch in s)
        {
            sb.Append(ch < 0x20 || ch > 0x7E ? $"\\u{(int)ch:x4}" : ch.ToString());
        }

        return sb.ToString();
    }

    /// <summary>Compares two observations; null when equal, else a readable description of the first difference.</summary>
    /// <param name="a">First.</param>
    /// <param name="aName">Its engine name.</param>
    /// <param name="b">Second.</param>
    /// <param name="bName">Its engine name.</param>
    /// <returns>Null or the first difference.</returns>
    public static string? Compare(Observation a, string aName, Observation b, string bName)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int n = Math.Min(a.Lines.Count, b.Lines.Count);
        for (int i = 0; i < n; i++)
        {
            if (!string.Equals(a.Lines[i], b.Lines[i], StringComparison.Ordinal))
            {
                return $"line {i}: {aName}: {a.Lines[i]} | {bName}: {b.Lines[i]}";
            }
        }

        return a.Lines.Count == b.Lines.Count ? null : $"{aName} shows {a.Lines.Count} lines, {bName} {b.Lines.Count}; first extra: {(a.Lines.Count > n ? a.Lines[n] : b.Lines[n])}";
    }

    /// <summary>
    /// Shrinks a failing workload: repeatedly removes chunks of operations while the failure persists
    /// (delta debugging), so the replay file holds a small counterexample.
    /// </summary>
    /// <param name="workload">The failing workload.</param>
    /// <param name="fails">Whether a candidate still fails.</param>
    /// <param name="maxRounds">Upper bound on candidate runs.</param>
    /// <returns>The smallest failing workload found.</returns>
    public static Workload Shrink(Workload workload, Func<Workload, bool> fails, int maxRounds = 400)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(fails);
        var ops = workload.Ops.ToList();
        int chunk = Math.Max(1, ops.Count / 2);
        int rounds = 0;
        while (chunk >= 1 && rounds < maxRounds)
        {
            bool removed = false;
            for (int start = 0; start < ops.Count && rounds < maxRounds; rounds++)
            {
                var candidate = ops.Take(start).Concat(ops.Skip(start + chunk)).ToList();
                if (candidate.Count < ops.Count && fails(workload with { Ops = candidate }))
                {
                    ops = candidate;
                    removed = true;
                }
                else
                {
                    start += chunk;
                }
            }

            if (!removed)
            {
                chunk /= 2;
            }
        }

        return workload with { Name = workload.Name + "-shrunk", Ops = ops };
    }

    /// <summary>
    /// Runs one seeded workload through several engines and compares each with the first.
    /// </summary>
    /// <param name="seed">Workload seed.</param>
    /// <param name="ops">Operations.</param>
    /// <param name="engines">Engine names and factories of fresh stores.</param>
    /// <param name="replayDirectory">Where a shrunk failing workload is written (null: not written).</param>
    /// <returns>Null when all agree, else the first difference (with the seed and the replay file).</returns>
    public static string? CheckEngines(int seed, int ops, IReadOnlyList<(string Name, Func<IC1zStore> Create)> engines, string? replayDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(engines);
        var workload = WorkloadGenerator.Generate(seed, ops);
        string? Difference(Workload w)
        {
            Observation? reference = null;
            foreach (var (name, create) in engines)
            {
                Observation observed;
                using (var store = create())
                {
                    observed = Run(store, w);
                }

                if (reference is null)
                {
                    reference = observed;
                    continue;
                }

                string? diff = Compare(reference, engines[0].Name, observed, name);
                if (diff is not null)
                {
                    return diff;
                }
            }

            return null;
        }

        string? first = Difference(workload);
        if (first is null)
        {
            return null;
        }

        string message = $"seed={seed} ops={ops}: {first}";
        if (replayDirectory is not null)
        {
            var shrunk = Shrink(workload, w => Difference(w) is not null, maxRounds: 200);
            Directory.CreateDirectory(replayDirectory);
            string file = Path.Combine(replayDirectory, $"equiv-{seed}.json");
            shrunk.Save(file);
            message += $" (shrunk to {shrunk.Ops.Count} ops: {file})";
        }

        return message;
    }
}
