using System.Diagnostics.CodeAnalysis;
using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

public sealed partial class RocksStore
{
    /// <inheritdoc/>
    public SyncId StartSync(SyncType type, SyncId? parent = null)
    {
        ThrowIfNotWritable();
        return _lifecycle.Start(type, parent);
    }

    /// <inheritdoc/>
    public void SetCurrentSync(SyncId syncId)
    {
        ThrowIfDisposed();
        _lifecycle.SetCurrent(syncId);
    }

    /// <inheritdoc/>
    public void EndSync(SyncId syncId)
    {
        ThrowIfNotWritable();
        _lifecycle.End(syncId);
    }

    /// <inheritdoc/>
    public void PutSyncRun(SyncRunRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        ThrowIfNotWritable();
        if (!SyncId.TryParse(record.SyncId, out var id))
        {
            throw new C1zArgumentException($"sync run record has an invalid sync id \"{record.SyncId}\"");
        }

        lock (_writeLock)
        {
            WriteSyncRun(id, record);
        }
    }

    private void WriteSyncRun(SyncId id, SyncRunRecord record)
    {
        using var batch = new NativeWriteBatch();
        batch.Put(Keyspace.SyncRunKey(id), CodecRegistry.SyncRun.ToArray(record));
        Commit(batch, keepGrantDigests: true);
    }

    /// <inheritdoc/>
    public bool TryGetSyncRun(SyncId syncId, [NotNullWhen(true)] out SyncRunRecord? record)
    {
        ThrowIfDisposed();
        byte[]? value = Get(Keyspace.SyncRunKey(syncId));
        record = value is null ? null : CodecRegistry.SyncRun.Decode(value);
        return record is not null;
    }

    /// <inheritdoc/>
    public IReadOnlyList<SyncRunRecord> ListSyncRuns()
    {
        ThrowIfDisposed();
        var runs = new List<SyncRunRecord>();
        foreach (var (_, value) in ScanRaw(Keyspace.SyncRunPrefix()))
        {
            runs.Add(CodecRegistry.SyncRun.Decode(value));
        }

        return runs;
    }

    /// <inheritdoc/>
    public bool DeleteSync(SyncId syncId)
    {
        ThrowIfNotWritable();
        lock (_writeLock)
        {
            bool existed = TryGetSyncRun(syncId, out _);
            using var batch = new NativeWriteBatch();
            batch.Delete(Keyspace.SyncRunKey(syncId));
            foreach (var prefix in SyncPrefixes(syncId))
            {
                byte[] upper = KeyRange.UpperBound(prefix)!;
                batch.DeleteRange(prefix, upper);
            }

            // Only this sync's grants go: what is known of the others stays true.
            _grantDigests.TryRemove(syncId, out _);
            Commit(batch, keepGrantDigests: true);
            _lifecycle.Forget(syncId);

            return existed;
        }
    }

    /// <summary>Every per-sync key range prefix: the five record kinds and every index.</summary>
    internal static IEnumerable<byte[]> SyncPrefixes(SyncId syncId)
    {
        foreach (RecordKind kind in new[] { RecordKind.ResourceType, RecordKind.Resource, RecordKind.Entitlement, RecordKind.Grant, RecordKind.Asset })
        {
            yield return Keyspace.RecordSyncPrefix((byte)kind, syncId);
        }

        foreach (byte idx in Keyspace.AllIndexIds)
        {
            yield return Keyspace.IndexSyncPrefix(idx, syncId);
        }
    }
}
