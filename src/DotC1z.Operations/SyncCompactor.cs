using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations;

/// <summary>One input of a streaming operation: a sync of a store (any kind: RocksDB, SQLite/v1, baton's Pebble, memory).</summary>
/// <param name="Store">The store holding the sync; only read.</param>
/// <param name="Sync">The sync.</param>
public readonly record struct SyncSource(IC1zReader Store, SyncId Sync)
{
    /// <summary>Every finished sync of a store as a source, oldest first (by start time, then id), e.g. the additions and deletions syncs of a diff file.</summary>
    /// <param name="store">The store.</param>
    /// <returns>The sources; unfinished syncs are left out unless the store holds nothing else.</returns>
    public static IReadOnlyList<SyncSource> AllOf(IC1zReader store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var runs = store.ListSyncRuns().Where(r => SyncId.TryParse(r.SyncId, out _)).ToList();
        var finished = runs.Where(r => r.EndedAt is not null).ToList();
        return (finished.Count > 0 ? finished : runs)
            .OrderBy(r => r.StartedAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue)
            .ThenBy(r => r.SyncId, StringComparer.Ordinal)
            .Select(r => new SyncSource(store, SyncId.Parse(r.SyncId)))
            .ToList();
    }

    /// <summary>The sync's run record.</summary>
    /// <returns>The run record.</returns>
    /// <exception cref="C1zArgumentException">The store has no such sync.</exception>
    public SyncRunRecord Run() => Store.TryGetSyncRun(Sync, out var run) ? run : throw new C1zArgumentException($"no sync {Sync}");
}

/// <summary>Options of <see cref="SyncCompactor.Compact(IC1zStore, SyncId, SyncId, CompactOptions?, CancellationToken)"/>.</summary>
public sealed record CompactOptions
{
    /// <summary>Delete the two input syncs after the compacted sync is complete.</summary>
    public bool DropInputs { get; init; }
}

/// <summary>What a compaction did.</summary>
/// <param name="Output">The new sync.</param>
/// <param name="Type">Its type: full when a full sync contributed, else partial upserts.</param>
/// <param name="Counts">Records written, per kind.</param>
/// <param name="InputsUsed">Input syncs read (a full sync resets everything before it, so earlier ones are skipped).</param>
/// <param name="InputsSkipped">Input syncs skipped because a later full sync replaced them.</param>
/// <param name="ByDiscoveredAt">Identities held by more than one input whose winner was chosen by <c>discovered_at</c> (both records carry it).</param>
/// <param name="ByDiscoveredAtOlderInput">Of those, how many kept an earlier input's record (it was discovered later).</param>
/// <param name="ByInputOrder">Identities held by more than one input where a record lacked <c>discovered_at</c>, so the later input won.</param>
/// <param name="Deleted">Identities removed by a deletions sync.</param>
public sealed record CompactionResult(SyncId Output, SyncType Type, RecordCounts Counts, int InputsUsed, int InputsSkipped, long ByDiscoveredAt, long ByDiscoveredAtOlderInput, long ByInputOrder, long Deleted)
{
    /// <summary>
    /// Grants copied in their stored encoding, without being decoded (the byte-level road, taken when every input and
    /// the target are RocksDB stores); 0 when the grants went through records.
    /// </summary>
    public long GrantsCopiedAsStored { get; init; }

    /// <summary>
    /// Whether the grant indexes were merged from the inputs' stored index keyspaces instead of rebuilt from the grants
    /// (taken on the byte-level road when the target's loader offers it and few enough grants can lose).
    /// </summary>
    public bool GrantIndexesMerged { get; init; }

    /// <summary>
    /// Whether the output's grant digests were derived from the inputs' known digests and the losing records' hashes
    /// (XOR digests merge) instead of hashing every grant written; taken when the indexes were merged and every
    /// contributing input's digests were known to its store.
    /// </summary>
    public bool GrantDigestsFromInputs { get; init; }
}

/// <summary>
/// Compaction of N syncs (oldest first) into one, for all five record kinds (docs/DESIGN.md §6): a full sync
/// resets what came before it; partial-upserts syncs overlay; partial-deletions syncs delete. Where several
/// inputs hold one identity the record discovered last wins when both carry <c>discovered_at</c>, else the later
/// input's. Each kind is one sorted N-way merge of the inputs' identity-ordered scans streamed into the target's
/// bulk path (SST ingestion on RocksDB): inputs may live in different files of different kinds, nothing is copied
/// first, memory holds one record per input, and the new sync appears atomically with the inputs untouched.
/// </summary>
public static class SyncCompactor
{
    /// <summary>Compacts N syncs (oldest first; they may live in different stores of any kind) into a new sync of <paramref name="target"/>.</summary>
    /// <param name="inputs">The inputs, oldest first.</param>
    /// <param name="target">A writable store (may be one of the inputs' stores).</param>
    /// <param name="cancellationToken">Stops the compaction; the target then holds no new sync.</param>
    /// <returns>What was done.</returns>
    /// <exception cref="C1zArgumentException">No input, an input sync does not exist, or a sync is given twice.</exception>
    public static CompactionResult Compact(IReadOnlyList<SyncSource> inputs, IC1zStore target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(target);
        if (inputs.Count == 0)
        {
            throw new C1zArgumentException("compaction needs at least one input");
        }

        var runs = inputs.Select(i => i.Run()).ToList();
        for (int i = 0; i < inputs.Count; i++)
        {
            for (int j = 0; j < i; j++)
            {
                if (ReferenceEquals(inputs[i].Store, inputs[j].Store) && inputs[i].Sync == inputs[j].Sync)
                {
                    throw new C1zArgumentException($"sync {inputs[i].Sync} is given twice");
                }
            }
        }

        // A full sync is a whole snapshot: nothing before the last one can show through it.
        int first = Math.Max(0, runs.FindLastIndex(r => r.Type == SyncType.Full));
        var used = inputs.Skip(first).ToList();
        var types = runs.Skip(first).Select(r => r.Type).ToArray();
        var outputType = types[0] == SyncType.Full ? SyncType.Full : SyncType.PartialUpserts;
        return Merge(used, types, target, outputType, runs[^1].SyncToken, first, cancellationToken);
    }

    /// <summary>Compacts two syncs of one store into a new sync of the same store.</summary>
    /// <param name="store">The store holding both syncs.</param>
    /// <param name="baseSync">The older sync.</param>
    /// <param name="appliedSync">The newer sync.</param>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Stops the compaction; the store is then unchanged.</param>
    /// <returns>The new sync's id; its run record names base as parent, applied as linked, and is marked compacted.</returns>
    /// <exception cref="C1zArgumentException">A sync does not exist, or both are the same.</exception>
    public static SyncId Compact(IC1zStore store, SyncId baseSync, SyncId appliedSync, CompactOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new CompactOptions();
        if (baseSync == appliedSync)
        {
            throw new C1zArgumentException("base and applied must be different syncs");
        }

        if (!store.TryGetSyncRun(baseSync, out _))
        {
            throw new C1zArgumentException($"no base sync {baseSync}");
        }

        if (!store.TryGetSyncRun(appliedSync, out var appliedRun))
        {
            throw new C1zArgumentException($"no applied sync {appliedSync}");
        }

        var result = Overlay(new SyncSource(store, baseSync), new SyncSource(store, appliedSync), appliedRun, store, cancellationToken);
        if (options.DropInputs)
        {
            store.DeleteSync(baseSync);
            store.DeleteSync(appliedSync);
        }

        return result.Output;
    }

    /// <summary>
    /// File-level compaction of the latest sync of each of two stores into <paramref name="output"/>, streamed from
    /// both (nothing is copied first): every record of applied plus every record of base whose identity applied lacks
    /// (where both hold one, the later <c>discovered_at</c> wins, else applied's). For the N-input fold where a full
    /// sync resets, use <see cref="Compact(IReadOnlyList{SyncSource}, IC1zStore, CancellationToken)"/>.
    /// </summary>
    /// <param name="baseStore">Store holding the base sync (its latest sync is used).</param>
    /// <param name="appliedStore">Store holding the applied sync (its latest sync is used).</param>
    /// <param name="output">A writable store.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>The compacted sync's id.</returns>
    /// <exception cref="C1zArgumentException">An input holds no sync.</exception>
    public static SyncId CompactStores(IC1zStore baseStore, IC1zStore appliedStore, IC1zStore output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseStore);
        ArgumentNullException.ThrowIfNull(appliedStore);
        ArgumentNullException.ThrowIfNull(output);
        var b = baseStore.LatestSync() ?? throw new C1zArgumentException("the base holds no sync");
        var a = new SyncSource(appliedStore, appliedStore.LatestSync() ?? throw new C1zArgumentException("the applied input holds no sync"));
        return Overlay(new SyncSource(baseStore, b), a, a.Run(), output, cancellationToken).Output;
    }

    /// <summary>
    /// The two-input contract: base is the starting point whatever its type, applied overlays it (a deletions sync
    /// deletes; a full sync overlays rather than resets) and the output takes applied's type.
    /// </summary>
    private static CompactionResult Overlay(SyncSource baseSource, SyncSource applied, SyncRunRecord appliedRun, IC1zStore target, CancellationToken cancellationToken)
    {
        var appliedRole = appliedRun.Type == SyncType.PartialDeletions ? SyncType.PartialDeletions : SyncType.PartialUpserts;
        return Merge([baseSource, applied], [SyncType.Full, appliedRole], target, appliedRun.Type, appliedRun.SyncToken, 0, cancellationToken);
    }

    /// <summary>The merge proper: <paramref name="types"/>[i] is the role of input i (full, upserts or deletions).</summary>
    private static CompactionResult Merge(List<SyncSource> used, SyncType[] types, IC1zStore target, SyncType outputType, string syncToken, int skipped, CancellationToken cancellationToken)
    {
        var output = target.NewUniqueSyncId();
        var started = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var merger = new KindMerger(used, types, cancellationToken);
        using (var loader = target.BeginBulkLoad(output))
        {
            merger.Loader = loader;
            foreach (var kind in RecordKinds.All)
            {
                kind.Accept(merger);
            }

            loader.Complete(cancellationToken);
        }

        // The run record goes in last: until then the new sync is invisible to sync listings.
        target.PutSyncRun(new SyncRunRecord
        {
            SyncId = output.ToString(),
            Type = outputType,
            ParentSyncId = used[0].Sync.ToString(),
            LinkedSyncId = used.Count > 1 ? used[^1].Sync.ToString() : string.Empty,
            Compacted = true,
            StartedAt = started,
            EndedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            SyncToken = syncToken,
        });
        return new CompactionResult(output, outputType, RecordKindInfo.Counts(merger.Written), used.Count, skipped, merger.ByDiscoveredAt, merger.ByDiscoveredAtOlder, merger.ByInputOrder, merger.Deleted)
        {
            GrantsCopiedAsStored = merger.GrantsCopiedAsStored,
            GrantIndexesMerged = merger.GrantIndexesMerged,
            GrantDigestsFromInputs = merger.GrantDigestsFromInputs,
        };
    }

    /// <summary>The fold of one identity across the inputs, per kind; counts what decided each conflict.</summary>
    private sealed class KindMerger(IReadOnlyList<SyncSource> inputs, SyncType[] types, CancellationToken ct) : IRecordKindVisitor
    {
        private int _kind;

        public IBulkLoader? Loader { get; set; }

        public long[] Written { get; } = new long[RecordKinds.All.Count];

        public long ByDiscoveredAt { get; private set; }

        public long ByDiscoveredAtOlder { get; private set; }

        public long ByInputOrder { get; private set; }

        public long Deleted { get; private set; }

        public long GrantsCopiedAsStored { get; private set; }

        public bool GrantIndexesMerged { get; private set; }

        public bool GrantDigestsFromInputs { get; private set; }

        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, IMessage<T>, new()
        {
            if (typeof(T) == typeof(GrantRecord) && TryMergeEncodedGrants(out long written))
            {
                GrantsCopiedAsStored = written;
                Written[_kind++] = written;
                return;
            }

            var scans = inputs.Select(i => Prefetch.Scan(kind, i, ct)).ToList();
            using var merge = new MultiMerge<T>(scans, kind.IdentityOrder);
            long n = 0;
            long seen = 0;
            while (merge.MoveNext())
            {
                int winner = Fold(new RecordGroup<T>(kind, merge.Group));
                if (winner >= 0)
                {
                    kind.Add(Loader!, merge.Group[winner]!);
                    n++;
                }

                if ((++seen & 0x3FFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }
            }

            Written[_kind++] = n;
        }

        /// <summary>
        /// The byte-level road for grants, taken when every input hands its grants out in their stored encoding and the
        /// target's loader takes them so (RocksDB to RocksDB): the merge compares escaped ids, reads only
        /// <c>discovered_at</c> where inputs collide, and copies each winner's bytes without decoding the record.
        /// </summary>
        private bool TryMergeEncodedGrants(out long written)
        {
            written = 0;
            if (Loader is not { AcceptsEncodedGrants: true } loader)
            {
                return false;
            }

            var cursors = new IEncodedGrantCursor[inputs.Count];
            try
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    if (!inputs[i].Store.TryOpenEncodedGrants(inputs[i].Sync, out var cursor))
                    {
                        return false;
                    }

                    cursors[i] = cursor;
                }

                // Where the target can merge the inputs' stored grant indexes, it needs only each grant's primary entry and
                // which inputs' entries lost; otherwise it rebuilds the indexes from the grants added.
                var indexInputs = inputs.Select((input, i) => new StoredIndexInput(input.Store, input.Sync, types[i] != SyncType.PartialDeletions)).ToList();
                GrantIndexesMerged = loader.TryMergeStoredGrantIndexes(indexInputs, out var indexMerge);
                GrantDigestsFromInputs = indexMerge?.DigestsFromInputs ?? false;

                var live = new bool[cursors.Length];
                var has = new bool[cursors.Length];
                for (int i = 0; i < cursors.Length; i++)
                {
                    live[i] = cursors[i].MoveNext();
                }

                long seen = 0;
                while (true)
                {
                    int min = -1;
                    for (int i = 0; i < cursors.Length; i++)
                    {
                        if (live[i] && (min < 0 || cursors[i].Id.SequenceCompareTo(cursors[min].Id) < 0))
                        {
                            min = i;
                        }
                    }

                    if (min < 0)
                    {
                        return true;
                    }

                    for (int i = 0; i < cursors.Length; i++)
                    {
                        has[i] = live[i] && (i == min || cursors[i].Id.SequenceEqual(cursors[min].Id));
                    }

                    int winner = Fold(new EncodedGroup(cursors, has));
                    if (winner >= 0)
                    {
                        if (indexMerge is not null)
                        {
                            indexMerge.Keep(cursors[winner].Id, cursors[winner].Value);
                        }
                        else
                        {
                            loader.AddEncodedGrant(cursors[winner].Value);
                        }

                        written++;
                    }

                    for (int i = 0; i < cursors.Length; i++)
                    {
                        if (has[i])
                        {
                            if (i != winner)
                            {
                                indexMerge?.Lose(i, cursors[i].Value);
                            }

                            live[i] = cursors[i].MoveNext();
                        }
                    }

                    if ((++seen & 0x3FFF) == 0)
                    {
                        ct.ThrowIfCancellationRequested();
                    }
                }
            }
            finally
            {
                foreach (var cursor in cursors)
                {
                    cursor?.Dispose();
                }
            }
        }

        /// <summary>The fold of one identity: the input whose record survives, or -1 (absent or deleted).</summary>
        private int Fold<TGroup>(TGroup group)
            where TGroup : struct, IFoldGroup
        {
            int current = -1;
            for (int i = 0; i < group.Count; i++)
            {
                if (!group.Has(i))
                {
                    continue;
                }

                if (types[i] == SyncType.PartialDeletions)
                {
                    if (current >= 0)
                    {
                        Deleted++;
                    }

                    current = -1;
                    continue;
                }

                if (current < 0)
                {
                    current = i;
                    continue;
                }

                if (group.TryGetDiscoveredAt(current, out long wasSeconds, out int wasNanos)
                    && group.TryGetDiscoveredAt(i, out long nowSeconds, out int nowNanos))
                {
                    ByDiscoveredAt++;

                    // Ties go to the later input.
                    if ((nowSeconds, nowNanos).CompareTo((wasSeconds, wasNanos)) >= 0)
                    {
                        current = i;
                    }
                    else
                    {
                        ByDiscoveredAtOlder++;
                    }
                }
                else
                {
                    ByInputOrder++;
                    current = i;
                }
            }

            return current;
        }
    }

    /// <summary>The records one identity has in each input, as the fold sees them.</summary>
    private interface IFoldGroup
    {
        int Count { get; }

        bool Has(int input);

        bool TryGetDiscoveredAt(int input, out long seconds, out int nanos);
    }

    private readonly struct RecordGroup<T>(RecordKindInfo<T> kind, T?[] records) : IFoldGroup
        where T : class, IMessage<T>, new()
    {
        public int Count => records.Length;

        public bool Has(int input) => records[input] is not null;

        public bool TryGetDiscoveredAt(int input, out long seconds, out int nanos)
        {
            var at = kind.DiscoveredAt(records[input]!);
            seconds = at?.Seconds ?? 0;
            nanos = at?.Nanos ?? 0;
            return at is not null;
        }
    }

    private readonly struct EncodedGroup(IEncodedGrantCursor[] cursors, bool[] has) : IFoldGroup
    {
        public int Count => cursors.Length;

        public bool Has(int input) => has[input];

        public bool TryGetDiscoveredAt(int input, out long seconds, out int nanos) =>
            Codecs.GrantRow.TryReadDiscoveredAt(cursors[input].Value, out bool present, out seconds, out nanos)
                ? present
                : throw new C1zCorruptionException("a stored grant does not decode");
    }
}
