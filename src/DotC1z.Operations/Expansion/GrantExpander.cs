using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations;

/// <summary>Options of <see cref="GrantExpander.Expand"/>.</summary>
public sealed record ExpansionOptions
{
    /// <summary>Longest chain of edges followed (baton's <c>BATON_GRAPH_EXPAND_MAX_DEPTH</c>, default 20).</summary>
    public int MaxDepth { get; init; } = 20;

    /// <summary>
    /// Write every <c>is_direct</c> as false, like the SDK that produced the real expanded fixture
    /// (docs/INTEROP-V1.md §5.3); by default the current rule of §5.2 is used.
    /// </summary>
    public bool LegacyIsDirectFalse { get; init; }

    /// <summary>Grants written per batch by the in-place path (<see cref="GrantExpander.Expand"/>).</summary>
    public int BatchSize { get; init; } = 5000;

    /// <summary>
    /// Memory budget for built grants waiting to be written (a few hundred bytes each): the reduce
    /// pauses when the writer falls this far behind. Besides it, the expansion holds one int per
    /// holder of each entitlement that still feeds an edge (freed after its last edge; within
    /// <see cref="HolderSetBudgetBytes"/>, spilled beyond it), one per
    /// principal of the destination being built, and the interned principal ids; the bulk loaders
    /// spill their own sorted runs. 8,192 (a batch and a half): at 65,536 the medium fixture's
    /// expansion peaked 20 MiB higher at the same CPU time.
    /// </summary>
    public int PendingGrantsBudget { get; init; } = 8_192;

    /// <summary>
    /// Memory budget, in bytes, for the reduce's holder sets together (4 bytes per holder of every
    /// entitlement that still feeds an edge; docs/DESIGN.md §9). Beyond it the largest sets are written
    /// to run files under <see cref="SpillDirectory"/> and streamed back when a destination reads them;
    /// the files are deleted when the expansion ends, completed or failed. 64 MiB by default (16M holders:
    /// G15 and the 10M-grant fan-out hold well under 1 MiB); 0 spills every non-empty set.
    /// </summary>
    public long HolderSetBudgetBytes { get; init; } = DefaultHolderSetBudgetBytes;

    /// <summary>
    /// Memory budget, in bytes, for derived grants handed to a bulk loader that takes them as a sorted set
    /// (<see cref="IBulkLoader.AcceptsSortedGrantSets"/>; docs/DESIGN.md §9): 20 bytes a grant until the load completes.
    /// The derived grants of destinations beyond it are written as records, which the loader encodes, sorts and spills.
    /// 256 MiB by default (13.4M derived grants); 0 writes every derived grant as a record.
    /// </summary>
    public long DerivedSetBudgetBytes { get; init; } = 256L << 20;

    /// <summary>The default of <see cref="HolderSetBudgetBytes"/>: 64 MiB.</summary>
    public const long DefaultHolderSetBudgetBytes = 64L << 20;

    /// <summary>
    /// Where spilled holder sets go (a private <c>c1z-expand-*</c> directory is created there on the first
    /// spill and removed at the end); null for the system temporary directory.
    /// </summary>
    public string? SpillDirectory { get; init; }

    /// <summary>
    /// Progress, reported after each destination entitlement is written (from the calling thread), then, when the
    /// derived grants went to the loader as a sorted set, while the loader writes them (from its threads, one report at
    /// a time; <see cref="ExpansionProgress.SortedEntriesTotal"/> is set then).
    /// </summary>
    public IProgress<ExpansionProgress>? Progress { get; init; }
}

/// <summary>Progress of an expansion.</summary>
/// <param name="DestinationsDone">Destination entitlements written.</param>
/// <param name="DestinationsTotal">Destination entitlements to write.</param>
/// <param name="GrantsWritten">Grants created or rewritten so far.</param>
public readonly record struct ExpansionProgress(int DestinationsDone, int DestinationsTotal, long GrantsWritten)
{
    /// <summary>
    /// Entries of the derived grants' sorted set the bulk loader has written (four per grant: the grant and its three
    /// index entries); reported once every destination is done.
    /// </summary>
    public long SortedEntriesWritten { get; init; }

    /// <summary>Entries of the sorted set to write; 0 while destinations are reduced, or when there is no sorted set.</summary>
    public long SortedEntriesTotal { get; init; }
}

/// <summary>What an expansion did.</summary>
/// <param name="Edges">Edges in the entitlement graph (after merging duplicates and dropping edges inside cycles).</param>
/// <param name="Nodes">Entitlements in the graph.</param>
/// <param name="GrantsCreated">Derived grants written.</param>
/// <param name="GrantsUpdated">Existing grants that received sources (each counted once).</param>
/// <param name="SkippedEdges">Edges dropped because an end entitlement does not exist.</param>
/// <param name="DepthReached">Longest edge chain processed.</param>
public sealed record ExpansionResult(int Edges, int Nodes, long GrantsCreated, long GrantsUpdated, int SkippedEdges, int DepthReached)
{
    /// <summary>
    /// Destination entitlements whose grants were computed: every destination for a full expansion,
    /// only the affected ones for <see cref="GrantExpander.ExpandIncremental"/>.
    /// </summary>
    public int EntitlementsRecomputed { get; init; }

    /// <summary>Grants deleted (incremental expansion only: revoked derived grants).</summary>
    public long GrantsDeleted { get; init; }

    /// <summary>
    /// Holder sets the reduce wrote to run files because the sets in memory exceeded
    /// <see cref="ExpansionOptions.HolderSetBudgetBytes"/> (0 when everything fit; always 0 for the incremental path).
    /// </summary>
    public int HolderSetsSpilled { get; init; }

    /// <summary>
    /// Derived grants handed to the bulk loader as a sorted set (<see cref="ExpansionOptions.DerivedSetBudgetBytes"/>);
    /// the rest of <see cref="GrantsCreated"/> were written as records.
    /// </summary>
    public long DerivedGrantsSorted { get; init; }
}

/// <summary>
/// Grant expansion (docs/INTEROP-V1.md §5): a grant of entitlement T to principal P carrying
/// <c>GrantExpandable{S…}</c> is an edge S → T meaning "whoever holds S also holds T". The graph is
/// planned first (<see cref="ExpansionPlan"/>: merged edges, collapsed cycles, topological order,
/// depth limit); then a streaming reduce computes each destination's principals and sources from
/// its sources' final holder sets, on a second thread, while the calling thread writes each
/// destination's grants exactly once — existing grants rewritten with their final sources, derived
/// grants created — so no grant is read, modified and rewritten per edge.
/// </summary>
public static partial class GrantExpander
{
    /// <summary>The type URL of the immutable marker on derived grants.</summary>
    public const string GrantImmutableTypeUrl = "type.googleapis.com/c1.connector.v2.GrantImmutable";

    /// <summary>Expands the grants of one sync in place and clears their needs-expansion flags.</summary>
    /// <param name="store">A writable store.</param>
    /// <param name="sync">The sync.</param>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Stops between batches (already written batches stay: expansion is idempotent, so running it again completes it).</param>
    /// <returns>What was done.</returns>
    /// <exception cref="C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static ExpansionResult Expand(IC1zStore store, SyncId sync, ExpansionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new ExpansionOptions();
        if (store.IsReadOnly)
        {
            throw new C1zReadOnlyException();
        }

        var plan = ExpansionPlan.Build(store.GrantsNeedingExpansion(sync), id => store.TryGetEntitlement(sync, id, out _), options.MaxDepth);
        var batch = new List<GrantRecord>(options.BatchSize);
        void Flush()
        {
            if (batch.Count > 0)
            {
                store.PutGrants(sync, batch);
                batch.Clear();
            }
        }

        var (result, _, _) = Run(store, sync, plan, options, g =>
        {
            batch.Add(g);
            if (batch.Count >= options.BatchSize)
            {
                Flush();
            }
        }, beforeDestinations: null, derivedBudget: -1, cancellationToken);
        Flush();

        // Declaring grants that no destination rewrote still have their flag set.
        foreach (var chunk in plan.Flagged.Chunk(options.BatchSize))
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (string id in chunk)
            {
                if (store.TryGetGrant(sync, id, out var g) && g.NeedsExpansion)
                {
                    g.NeedsExpansion = false;
                    batch.Add(g);
                }
            }

            Flush();
        }

        return result;
    }

    /// <summary>
    /// Writes the expansion of <paramref name="sync"/> of <paramref name="source"/> as a new sync of
    /// <paramref name="target"/> through its bulk loader (SST ingest on RocksDB): every record of the
    /// sync is copied, grants with their final sources and cleared needs-expansion flags, derived
    /// grants added — each grant written once. The sync run record is copied last.
    /// </summary>
    /// <param name="source">The unexpanded sync's store.</param>
    /// <param name="sync">The sync.</param>
    /// <param name="target">A writable store.</param>
    /// <param name="targetSync">The sync to fill (empty for the bulk fast path; usually the same id).</param>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Stops the load; nothing becomes visible then.</param>
    /// <returns>What was done.</returns>
    /// <exception cref="C1zReadOnlyException">The target is read-only.</exception>
    /// <exception cref="C1zArgumentException">The source has no such sync run.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static ExpansionResult ExpandInto(IC1zReader source, SyncId sync, IC1zStore target, SyncId targetSync, ExpansionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        options ??= new ExpansionOptions();
        if (target.IsReadOnly)
        {
            throw new C1zReadOnlyException();
        }

        if (!source.TryGetSyncRun(sync, out var run))
        {
            throw new C1zArgumentException($"no sync run {sync} in the source store");
        }

        var plan = ExpansionPlan.Build(source.GrantsNeedingExpansion(sync), id => source.TryGetEntitlement(sync, id, out _), options.MaxDepth);
        ExpansionResult result;
        using (var loader = target.BeginBulkLoad(targetSync))
        {
            // Everything but the destinations' grants is copied while the reduce runs on the other thread.
            void CopyRest()
            {
                StoreCopy.AddAllButGrants(source, sync, loader, cancellationToken);

                cancellationToken.ThrowIfCancellationRequested();
                long n = 0;
                foreach (var g in source.Grants(sync))
                {
                    if (plan.Incoming.ContainsKey(g.Entitlement?.EntitlementId ?? string.Empty))
                    {
                        continue;
                    }

                    g.NeedsExpansion = false;
                    loader.Add(g);
                    if (++n % 65536 == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                }
            }

            // Derived grants go to the loader as one sorted set where it takes one: written straight into its sorted
            // outputs at Complete, instead of encoded, sorted and spilled one by one (docs/DESIGN.md §9).
            long derivedBudget = loader.AcceptsSortedGrantSets ? Math.Max(0, options.DerivedSetBudgetBytes) : -1;
            (result, var derived, long written) = Run(source, sync, plan, options, loader.Add, CopyRest, derivedBudget, cancellationToken, writeUnchanged: true);
            using var builtSet = derived;
            if (derived is { Count: > 0 })
            {
                // The load's last and longest part writes the set: progress goes on from the loader's threads.
                if (options.Progress is { } progress)
                {
                    int destinations = plan.Destinations.Count;
                    long total = derived.EntriesPerGrant * derived.Count;
                    // (A loader that reads an order twice — it rebuilds its indexes when a record's id met a set grant's — stays at 100 %.)
                    derived.Progress = done => progress.Report(new ExpansionProgress(destinations, destinations, written) { SortedEntriesWritten = Math.Min(done, total), SortedEntriesTotal = total });
                }

                loader.AddSortedGrants(derived);
            }

            loader.Complete(cancellationToken);
        }

        run.SyncId = targetSync.ToString();
        target.PutSyncRun(run);
        return result;
    }

    /// <summary>
    /// The pipeline: a worker thread reduces destination after destination and builds their final
    /// records (existing grants with merged sources, derived grants) in batches; the calling thread
    /// hands the batches to the writer (encoding, bulk loader or write batches). The batches waiting
    /// between the two are bounded by <see cref="ExpansionOptions.PendingGrantsBudget"/>. With a non-negative
    /// derivedBudget, derived grants within it are kept as a sorted set (returned sealed) instead of emitted.
    /// </summary>
    private static (ExpansionResult Result, DerivedGrantSet? Derived, long Written) Run(IC1zReader reader, SyncId sync, ExpansionPlan plan, ExpansionOptions options, Action<GrantRecord> emit, Action? beforeDestinations, long derivedBudget, CancellationToken cancellationToken, bool writeUnchanged = false)
    {
        DerivedGrantSet? set = null;
        var principals = new PrincipalTable();
        using var sets = new HolderSets(Math.Max(0, options.HolderSetBudgetBytes), options.SpillDirectory);
        var reducer = new ExpansionReducer(plan, principals, options.LegacyIsDirectFalse, sets);
        using var queue = new BlockingCollection<OutputBatch>(new ConcurrentQueue<OutputBatch>());
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long pending = 0, created = 0, updated = 0, sorted = 0;
        var gate = new object();
        int batchSize = Math.Max(1, Math.Min(options.BatchSize, options.PendingGrantsBudget));
        void Hand(OutputBatch batch)
        {
            // Back-pressure: wait while the writer holds more than the budget (always admit one batch).
            lock (gate)
            {
                while (pending > 0 && pending + batch.Records.Count > options.PendingGrantsBudget)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    Monitor.Wait(gate, 100);
                }

                pending += batch.Records.Count;
            }

            queue.Add(batch, stop.Token);
        }

        var producer = Task.Factory.StartNew(() =>
        {
            try
            {
                // All originals are read before anything is written (the in-place path writes into the same sync).
                foreach (string s in plan.Outgoing.Keys)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    reducer.LoadOriginals(s, reader.GrantsByEntitlement(sync, s));
                }

                // Every principal a derived grant can name is interned by now.
                set = derivedBudget >= 0 ? new DerivedGrantSet(principals, derivedBudget) : null;
                var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
                var immutable = new Any { TypeUrl = GrantImmutableTypeUrl };
                var records = new List<GrantRecord>(batchSize);
                foreach (string t in plan.Destinations)
                {
                    stop.Token.ThrowIfCancellationRequested();
                    var d = reducer.Reduce(t);
                    if (!reader.TryGetEntitlement(sync, t, out var ent))
                    {
                        throw new C1zCorruptionException($"entitlement {t} vanished during expansion");
                    }

                    var entRef = new EntitlementRef { EntitlementId = t, ResourceTypeId = ent.Resource?.ResourceTypeId ?? string.Empty, ResourceId = ent.Resource?.ResourceId ?? string.Empty };
                    var (c, u, inSet) = BuildDestination(reader.GrantsByEntitlement(sync, t), d, principals, entRef, now, immutable, options.LegacyIsDirectFalse, writeUnchanged, set, g =>
                    {
                        records.Add(g);
                        if (records.Count >= batchSize)
                        {
                            Hand(new OutputBatch(records, false, 0));
                            records = new List<GrantRecord>(batchSize);
                        }
                    });
                    created += c;
                    updated += u;
                    sorted += inSet;
                    Hand(new OutputBatch(records, true, inSet));
                    records = new List<GrantRecord>(batchSize);
                }

                set?.Seal();
            }
            catch
            {
                set?.Dispose();
                throw;
            }
            finally
            {
                queue.CompleteAdding();
            }
        }, stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        long written = 0;
        int done = 0;
        try
        {
            beforeDestinations?.Invoke();
            foreach (var batch in queue.GetConsumingEnumerable(stop.Token))
            {
                foreach (var g in batch.Records)
                {
                    emit(g);
                }

                written += batch.Records.Count + batch.Sorted;
                lock (gate)
                {
                    pending -= batch.Records.Count;
                    Monitor.PulseAll(gate);
                }

                if (batch.EndsDestination)
                {
                    options.Progress?.Report(new ExpansionProgress(++done, plan.Destinations.Count, written));
                }
            }

            producer.GetAwaiter().GetResult();
        }
        catch
        {
            stop.Cancel();
            try
            {
                producer.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                // The producer stopped because the writer failed; the writer's exception is the one to report.
            }

            throw;
        }

        var result = new ExpansionResult(plan.LiveEdges, plan.Nodes.Count, created, updated, plan.SkippedEdges, plan.DepthReached)
        {
            EntitlementsRecomputed = plan.Destinations.Count,
            HolderSetsSpilled = sets.SetsSpilled,
            DerivedGrantsSorted = sorted,
        };
        return (result, set, written);
    }

    /// <summary>Records built by the reduce, waiting for the writer; the last batch of a destination is marked, with the derived grants its destination put in the sorted set.</summary>
    private sealed record OutputBatch(List<GrantRecord> Records, bool EndsDestination, int Sorted);

    /// <summary>
    /// One destination's final grants: its existing grants in index order (the first grant of a
    /// principal receives that principal's sources, as the per-edge algorithm did), then a derived
    /// grant for every principal left — into <paramref name="set"/> when it has room, else as records.
    /// </summary>
    private static (long Created, long Updated, int InSet) BuildDestination(IEnumerable<GrantRecord> existing, Destination d, PrincipalTable principals, EntitlementRef entRef, Timestamp now, Any immutable, bool legacy, bool writeUnchanged, DerivedGrantSet? set, Action<GrantRecord> emit)
    {
        var consumed = new bool[d.Count];
        long created = 0, updated = 0;
        foreach (var g in existing)
        {
            int i = d.IndexOf(principals.Find(PrincipalTable.KeyOf(g)));
            bool changed = false;
            if (i >= 0 && !consumed[i])
            {
                consumed[i] = true;
                changed = MergeSources(g, d, i, legacy);
                if (changed)
                {
                    updated++;
                }
            }

            if (changed || writeUnchanged || g.NeedsExpansion)
            {
                g.NeedsExpansion = false;
                emit(g);
            }
        }

        if (set is not null && set.TryTake(d, consumed, entRef, now, immutable, out int added))
        {
            return (added, updated, added);
        }

        var derived = new DerivedGrants(d, principals, entRef, now, immutable);
        for (int i = 0; i < d.Count; i++)
        {
            if (consumed[i])
            {
                continue;
            }

            emit(derived.Build(i));
            created++;
        }

        return (created, updated, 0);
    }

    /// <summary>Applies a principal's entries to an existing grant like the per-edge rule of §5.2; returns whether it changed.</summary>
    internal static bool MergeSources(GrantRecord g, Destination d, int i, bool legacy)
    {
        bool changed = false;
        if (g.Sources.Count == 0)
        {
            g.Sources[d.Target] = new GrantSourceRecord { EntitlementId = d.Target, IsDirect = !legacy };
            changed = true;
        }

        for (int k = d.Starts[i]; k < d.Starts[i + 1]; k++)
        {
            string s = d.Edges[d.Entries[k] >> 1].Source;
            bool recorded = (d.Entries[k] & 1) != 0;
            if (!g.Sources.TryGetValue(s, out var existing))
            {
                g.Sources[s] = new GrantSourceRecord { EntitlementId = s, IsDirect = recorded };
                changed = true;
            }
            else if (recorded && !existing.IsDirect)
            {
                existing.IsDirect = true;
                changed = true;
            }
        }

        return changed;
    }

}

/// <summary>
/// Builds one destination's derived grants: id <c>T:type:id</c>, the GrantImmutable marker, one source per carrying edge. Millions of them differ only in id and principal: the rest
/// (entitlement ref, discovery time, the GrantImmutable annotation and the sources map) comes from a
/// template per combination of carrying edges, shallow-copied, so a derived grant costs two objects
/// (the record and its id) instead of the dozen a record with its own map and annotation list takes —
/// which had made the GC heap of the build the largest memory and CPU cost after the bulk write.
/// The shared parts are never mutated: derived records are only encoded or stored after they are built.
/// </summary>
internal sealed class DerivedGrants(Destination d, PrincipalTable principals, EntitlementRef entRef, Timestamp now, Any immutable)
{
    // Object.MemberwiseClone: copies the template's fields, sharing its map and annotation list.
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "MemberwiseClone")]
    private static extern object ShallowCopy(object record);

    private readonly DestinationTemplates<GrantRecord> _templates = new(d, (from, to) => Template(d, from, to, entRef, now, immutable));

    /// <summary>The derived grant of the destination's <paramref name="i"/>th principal.</summary>
    public GrantRecord Build(int i)
    {
        var g = (GrantRecord)ShallowCopy(_templates.Of(i));
        var (type, id) = principals.Key(d.Principals[i]);
        g.ExternalId = $"{d.Target}:{type}:{id}";
        g.Principal = principals.Ref(d.Principals[i]);
        return g;
    }

    /// <summary>
    /// What the derived grants carried by entries <paramref name="from"/> to <paramref name="to"/> share: the entitlement
    /// (when given), discovery time, GrantImmutable marker and sources.
    /// </summary>
    internal static GrantRecord Template(Destination d, int from, int to, EntitlementRef? entRef, Timestamp now, Any immutable)
    {
        var g = new GrantRecord { Entitlement = entRef, DiscoveredAt = now };
        g.Annotations.Add(immutable);
        var sources = new List<GrantSourceRecord>(to - from);
        for (int k = from; k < to; k++)
        {
            sources.Add(d.SharedSource(d.Entries[k]));
        }

        // Inserted in key order (UTF-8 bytes, as the canonical encoding sorts them) so the encoder takes its no-sort path.
        sources.Sort(static (a, b) => Utf8Ordinal.Instance.Compare(a.EntitlementId, b.EntitlementId));
        foreach (var source in sources)
        {
            g.Sources[source.EntitlementId] = source;
        }

        return g;
    }
}

/// <summary>
/// One destination's templates, one per combination of carrying edges (a principal's slice of
/// <see cref="Destination.Entries"/>), made on first use: a single entry is found in an array, a longer combination by
/// content. Both ways of writing derived grants — records (<see cref="DerivedGrants"/>) and the sorted set
/// (<see cref="DerivedGrantSet"/>) — keep theirs here.
/// </summary>
/// <typeparam name="T">What a template is to its user.</typeparam>
/// <param name="d">The destination.</param>
/// <param name="make">Makes the template of the entries <c>[from, to)</c>.</param>
internal sealed class DestinationTemplates<T>(Destination d, Func<int, int, T> make)
    where T : class
{
    private readonly T?[] _byEntry = new T?[d.Edges.Count * 2];
    private Dictionary<EntrySlice, T>? _byEntries;

    /// <summary>The template of the destination's <paramref name="i"/>th principal.</summary>
    public T Of(int i)
    {
        int from = d.Starts[i], to = d.Starts[i + 1];
        if (to - from == 1)
        {
            return _byEntry[d.Entries[from]] ??= make(from, to);
        }

        _byEntries ??= [];
        var key = new EntrySlice(d.Entries, from, to - from);
        if (!_byEntries.TryGetValue(key, out var template))
        {
            _byEntries[key] = template = make(from, to);
        }

        return template;
    }

    /// <summary>A principal's entries (a slice of <see cref="Destination.Entries"/>), compared by content.</summary>
    private readonly struct EntrySlice(int[] entries, int start, int length) : IEquatable<EntrySlice>
    {
        private ReadOnlySpan<int> Span => entries.AsSpan(start, length);

        public bool Equals(EntrySlice other) => Span.SequenceEqual(other.Span);

        public override bool Equals(object? obj) => obj is EntrySlice other && Equals(other);

        public override int GetHashCode()
        {
            var hash = new HashCode();
            foreach (int e in Span)
            {
                hash.Add(e);
            }

            return hash.ToHashCode();
        }
    }
}
