using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;

namespace DotC1z.Storage;

/// <summary>
/// The byte-level road (docs/DESIGN.md §6) in pieces: a sync's stored grants cut into id ranges that
/// separate threads read, and one principal's grants as stored. For whole-sync comparisons on both cores
/// and for readers that need a few fields of many grants (incremental expansion, docs/DESIGN.md §9).
/// </summary>
public partial interface IC1zReader
{
    /// <summary>
    /// Increasing id bounds (escaped ids as in <see cref="IEncodedGrantCursor.Id"/>, not necessarily ids that
    /// exist) that cut the grants of <paramref name="syncId"/> into up to <paramref name="parts"/> ranges of
    /// about equal stored size. Any store's grants can be cut at the same bounds: the ranges are ranges of
    /// id bytes. Empty when the store cannot estimate sizes (the default) or the sync is too small to cut.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="parts">The most ranges wanted (the machine's cores, typically).</param>
    /// <returns>Up to <paramref name="parts"/> − 1 bounds.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parts"/> is below 1.</exception>
    IReadOnlyList<byte[]> GrantIdSplits(SyncId syncId, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        return [];
    }

    /// <summary>
    /// <see cref="TryOpenEncodedGrants(SyncId, out IEncodedGrantCursor?)"/> over the ids in
    /// [<paramref name="fromId"/>, <paramref name="toId"/>) (escaped id bytes; null: unbounded), on its own
    /// snapshot; cursors over adjacent ranges may be read on different threads at the same time.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="fromId">Inclusive lower id bound, or null.</param>
    /// <param name="toId">Exclusive upper id bound, or null.</param>
    /// <param name="cursor">The cursor (the caller disposes it), or null.</param>
    /// <returns>Whether a cursor was opened (RocksDB: yes; the default: no).</returns>
    bool TryOpenEncodedGrants(SyncId syncId, byte[]? fromId, byte[]? toId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        cursor = null;
        return false;
    }

    /// <summary>
    /// The grants of one principal (the set <see cref="GrantsByPrincipal"/> lists) in their stored encoding,
    /// ordered by id, when the store keeps them together (RocksDB: its covering by-principal index).
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="principalResourceTypeId">The principal's resource type.</param>
    /// <param name="principalResourceId">The principal's id.</param>
    /// <param name="cursor">The cursor (the caller disposes it), or null.</param>
    /// <returns>Whether a cursor was opened (the default: no).</returns>
    bool TryOpenEncodedGrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        cursor = null;
        return false;
    }
}
