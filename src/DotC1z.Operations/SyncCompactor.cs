using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations;

/// <summary>Options of <see cref="SyncCompactor.Compact"/>.</summary>
public sealed record CompactOptions
{
    /// <summary>Delete the two input syncs after the compacted sync is complete.</summary>
    public bool DropInputs { get; init; }
}

/// <summary>
/// Compaction between syncs, for all five record kinds (upstream compacted only grants): the output
/// sync holds every record of <c>applied</c> plus every record of <c>base</c> whose identity
/// <c>applied</c> lacks. It is built by one sorted merge per kind streamed into the store's bulk path
/// (SST ingestion on RocksDB), so it appears atomically and the inputs are untouched.
/// </summary>
public static class SyncCompactor
{
    /// <summary>Compacts two syncs of one store into a new sync of the same store.</summary>
    /// <param name="store">The store holding both syncs.</param>
    /// <param name="baseSync">The older sync.</param>
    /// <param name="appliedSync">The newer sync, whose records win.</param>
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

        var output = store.NewUniqueSyncId();

        var started = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        using (var loader = store.BeginBulkLoad(output))
        {
            var merger = new KindMerger(store, baseSync, appliedSync, loader, cancellationToken);
            foreach (var kind in RecordKinds.All)
            {
                kind.Accept(merger);
            }

            loader.Complete(cancellationToken);
        }

        // The run record goes in last: until then the new sync is invisible to sync listings.
        store.PutSyncRun(new SyncRunRecord
        {
            SyncId = output.ToString(),
            Type = appliedRun.Type,
            ParentSyncId = baseSync.ToString(),
            LinkedSyncId = appliedSync.ToString(),
            Compacted = true,
            StartedAt = started,
            EndedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            SyncToken = appliedRun.SyncToken,
        });
        if (options.DropInputs)
        {
            store.DeleteSync(baseSync);
            store.DeleteSync(appliedSync);
        }

        return output;
    }

    /// <summary>One kind: a merge-join of the two identity-ordered scans, the applied side winning.</summary>
    private sealed class KindMerger(IC1zReader store, SyncId baseSync, SyncId appliedSync, IBulkLoader loader, CancellationToken ct) : IRecordKindVisitor
    {
        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, Google.Protobuf.IMessage<T>, new()
        {
            long n = 0;
            foreach (var (_, b, a) in SortedMerge.Join(kind.Scan(store, baseSync), kind.Scan(store, appliedSync), kind.IdentityOrder))
            {
                kind.Add(loader, a ?? b!);
                if ((++n & 0x3FFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }
            }
        }
    }

    /// <summary>
    /// File-level compaction: copies the latest sync of each input into <paramref name="output"/>,
    /// compacts them there and drops the copies, leaving one compacted sync.
    /// </summary>
    /// <param name="baseStore">Store holding the base sync (its latest sync is used).</param>
    /// <param name="appliedStore">Store holding the applied sync (its latest sync is used).</param>
    /// <param name="output">An empty writable store.</param>
    /// <param name="cancellationToken">Stops the work.</param>
    /// <returns>The compacted sync's id.</returns>
    /// <exception cref="C1zArgumentException">An input holds no sync, or both inputs' latest syncs have the same id.</exception>
    public static SyncId CompactStores(IC1zStore baseStore, IC1zStore appliedStore, IC1zStore output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseStore);
        ArgumentNullException.ThrowIfNull(appliedStore);
        ArgumentNullException.ThrowIfNull(output);
        var b = baseStore.LatestSync() ?? throw new C1zArgumentException("the base holds no sync");
        var a = appliedStore.LatestSync() ?? throw new C1zArgumentException("the applied input holds no sync");
        if (a == b)
        {
            throw new C1zArgumentException($"base and applied hold the same sync {a}");
        }

        StoreCopy.CopySync(baseStore, b, output, b, cancellationToken);
        StoreCopy.CopySync(appliedStore, a, output, a, cancellationToken);
        return Compact(output, b, a, new CompactOptions { DropInputs = true }, cancellationToken);
    }
}
