using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;

namespace DotC1z.Storage;

/// <summary>Conveniences over <see cref="IC1zStore"/> shared by every engine and tool.</summary>
public static class StoreExtensions
{
    /// <summary>The current sync, or an error when none is set.</summary>
    /// <param name="store">The store.</param>
    /// <returns>The current sync id.</returns>
    /// <exception cref="C1zNoCurrentSyncException">No current sync is set.</exception>
    public static SyncId RequireCurrentSync(this IC1zStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return store.CurrentSync ?? throw new C1zNoCurrentSyncException();
    }

    /// <summary>Puts one grant under the current sync.</summary>
    /// <param name="store">The store.</param>
    /// <param name="record">The grant.</param>
    /// <exception cref="C1zNoCurrentSyncException">No current sync is set.</exception>
    public static void PutGrant(this IC1zStore store, GrantRecord record) => store.PutGrants(store.RequireCurrentSync(), [record]);

    /// <summary>
    /// The latest finished sync (by <c>ended_at</c>, then id), else the latest sync of any state, else none.
    /// This is the sync read commands use when the user names none.
    /// </summary>
    /// <param name="store">The store.</param>
    /// <returns>The sync id, or <see langword="null"/> for an empty store.</returns>
    public static SyncId? LatestSync(this IC1zStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        SyncRunRecord? bestFinished = null;
        SyncRunRecord? latest = null;
        foreach (var run in store.ListSyncRuns())
        {
            latest = run; // ListSyncRuns is ordered by id
            if (run.EndedAt is not null && (bestFinished is null || CompareFinished(run, bestFinished) > 0))
            {
                bestFinished = run;
            }
        }

        var pick = bestFinished ?? latest;
        return pick is null ? null : SyncId.Parse(pick.SyncId);
    }

    /// <summary>The latest finished sync, if any.</summary>
    /// <param name="store">The store.</param>
    /// <returns>The sync id, or <see langword="null"/>.</returns>
    public static SyncId? LatestFinishedSync(this IC1zStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        SyncRunRecord? best = null;
        foreach (var run in store.ListSyncRuns())
        {
            if (run.EndedAt is not null && (best is null || CompareFinished(run, best) > 0))
            {
                best = run;
            }
        }

        return best is null ? null : SyncId.Parse(best.SyncId);
    }

    /// <summary>A fresh sync id (current time, random payload) that names no sync run in <paramref name="store"/> yet.</summary>
    /// <param name="store">The store.</param>
    /// <returns>The id.</returns>
    public static SyncId NewUniqueSyncId(this IC1zStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        SyncId id;
        do
        {
            id = SyncId.NewId();
        }
        while (store.TryGetSyncRun(id, out _));

        return id;
    }

    private static int CompareFinished(SyncRunRecord a, SyncRunRecord b)
    {
        int c = a.EndedAt.CompareTo(b.EndedAt);
        return c != 0 ? c : string.CompareOrdinal(a.SyncId, b.SyncId);
    }
}
