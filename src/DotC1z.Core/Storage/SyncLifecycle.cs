using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Storage;

/// <summary>
/// The sync-run lifecycle of <see cref="ISyncLifecycle"/>, written once for every engine: start (a new unique id and
/// its run record), select the current sync, end (stamp <c>ended_at</c> once), forget a deleted sync. An engine owns
/// one and forwards to it; the run records go through the engine's own <see cref="IC1zWriter.PutSyncRun"/>.
/// </summary>
/// <param name="store">The engine (reads and writes its run records).</param>
/// <param name="display">How the store is named in errors.</param>
public sealed class SyncLifecycle(IC1zStore store, string? display)
{
    private readonly Lock _gate = new();
    private SyncId? _current;

    /// <summary>The sync <see cref="Start"/> or <see cref="SetCurrent"/> selected, if any.</summary>
    public SyncId? Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>Starts a sync: a new id no run of the store has, its run record, and it becomes current.</summary>
    /// <param name="type">The sync type.</param>
    /// <param name="parent">The parent sync, if any.</param>
    /// <returns>The new sync.</returns>
    public SyncId Start(SyncType type, SyncId? parent)
    {
        lock (_gate)
        {
            var id = store.NewUniqueSyncId();
            store.PutSyncRun(new SyncRunRecord
            {
                SyncId = id.ToString(),
                Type = type,
                ParentSyncId = parent?.ToString() ?? string.Empty,
                StartedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            });
            _current = id;
            return id;
        }
    }

    /// <summary>Selects an existing sync as current (resume).</summary>
    /// <param name="syncId">The sync.</param>
    /// <exception cref="C1zArgumentException">The store has no such sync.</exception>
    public void SetCurrent(SyncId syncId)
    {
        lock (_gate)
        {
            _ = Require(syncId);
            _current = syncId;
        }
    }

    /// <summary>Ends a sync: stamps <c>ended_at</c> unless already ended; it stops being current.</summary>
    /// <param name="syncId">The sync.</param>
    /// <exception cref="C1zArgumentException">The store has no such sync.</exception>
    public void End(SyncId syncId)
    {
        lock (_gate)
        {
            var run = Require(syncId);
            if (run.EndedAt is null)
            {
                run.EndedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
                store.PutSyncRun(run);
            }

            Forget(syncId);
        }
    }

    /// <summary>A deleted sync stops being current.</summary>
    /// <param name="syncId">The sync.</param>
    public void Forget(SyncId syncId)
    {
        lock (_gate)
        {
            if (_current == syncId)
            {
                _current = null;
            }
        }
    }

    private SyncRunRecord Require(SyncId syncId) => store.TryGetSyncRun(syncId, out var run)
        ? run
        : throw new C1zArgumentException(display is null ? $"no sync run {syncId}" : $"no sync run {syncId} in {display}", display);
}
