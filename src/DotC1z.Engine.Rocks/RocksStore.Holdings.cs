using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Stored grants in pieces: id ranges of a sync's primary keyspace (for comparisons split across cores) and
/// one principal's grants from the covering by-principal index, both as stored bytes (docs/DESIGN.md §6, §9).
/// </summary>
public sealed partial class RocksStore
{
    /// <inheritdoc/>
    /// <remarks>The partitioned scan's split points (<see cref="PartitionGrants"/>), without the key header.</remarks>
    public IReadOnlyList<byte[]> GrantIdSplits(SyncId syncId, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        ThrowIfDisposed();

        // Grant keys carry the header and a separator before the id.
        return SplitSuffixes(Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId), parts, Keyspace.RecordHeaderLength + 1);
    }

    /// <inheritdoc/>
    public bool TryOpenEncodedGrants(SyncId syncId, byte[]? fromId, byte[]? toId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        ThrowIfDisposed();
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId);
        byte[] lower = fromId is null ? prefix : [.. prefix, TupleCodec.Separator, .. fromId];
        byte[] upper = toId is null ? KeyRange.UpperBound(prefix)! : [.. prefix, TupleCodec.Separator, .. toId];

        // A range of a whole-sync scan: its blocks are read once, so they stay out of the cache. The
        // iterator reads the state of its creation (no explicit snapshot is needed for one cursor).
        cursor = new EncodedCursor(new Scan(this, lower, upper, IntPtr.Zero, fillCache: false), Keyspace.RecordHeaderLength + 1);
        return true;
    }

    /// <summary>
    /// Readahead of a principal's covering index entries: a user of a dense graph holds hundreds of grants, several
    /// 16 KiB blocks in a row, which a cold store otherwise reads one block per I/O until RocksDB's own readahead starts.
    /// </summary>
    private const int PrincipalReadaheadBytes = 256 * 1024;

    /// <inheritdoc/>
    public bool TryOpenEncodedGrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        ArgumentNullException.ThrowIfNull(principalResourceTypeId);
        ArgumentNullException.ThrowIfNull(principalResourceId);
        ThrowIfDisposed();

        // The by-principal index is covering: its values are the stored grants, its keys end with the escaped id.
        byte[] prefix = Keyspace.IndexKey(Keyspace.IdxGrantByPrincipal, syncId, true, principalResourceTypeId, principalResourceId);
        cursor = new EncodedCursor(new Scan(this, prefix, prefix, readaheadBytes: PrincipalReadaheadBytes), prefix.Length);
        return true;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The grants in <paramref name="committed"/> are not read again: in G16 the MultiGets of 19.6k rewritten
    /// grants (random blocks of a 5M-grant sync) took about as long as the rest of the update, for values the
    /// update had read moments before. The rest is <see cref="WriteGrantChanges(SyncId, IReadOnlyList{GrantRecord}, IReadOnlyList{string})"/>.
    /// </remarks>
    public int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, GrantRecord> committed)
    {
        ArgumentNullException.ThrowIfNull(committed);
        return WriteGrantChangesCore(syncId, puts, deletes, committed);
    }

    /// <summary>Whether two values of one grant id have the same index keys (<see cref="Keyspace.IndexEntries(SyncId, GrantRecord)"/>: entitlement, principal, flag).</summary>
    private static bool SameIndexKeys(GrantRecord old, GrantRecord record) =>
        old.NeedsExpansion == record.NeedsExpansion
        && (old.Entitlement?.EntitlementId ?? string.Empty) == (record.Entitlement?.EntitlementId ?? string.Empty)
        && (old.Entitlement?.ResourceTypeId ?? string.Empty) == (record.Entitlement?.ResourceTypeId ?? string.Empty)
        && (old.Entitlement?.ResourceId ?? string.Empty) == (record.Entitlement?.ResourceId ?? string.Empty)
        && (old.Principal?.ResourceTypeId ?? string.Empty) == (record.Principal?.ResourceTypeId ?? string.Empty)
        && (old.Principal?.ResourceId ?? string.Empty) == (record.Principal?.ResourceId ?? string.Empty);

    /// <summary>Fills <paramref name="olds"/> from <paramref name="committed"/>, reading only the ids it lacks (batched MultiGets).</summary>
    private void ReadUnknown(SyncId syncId, IReadOnlyDictionary<string, GrantRecord> committed, ReadOnlySpan<string> ids, Span<GrantRecord?> olds)
    {
        var unknown = new List<int>();
        for (int i = 0; i < ids.Length; i++)
        {
            if (committed.TryGetValue(ids[i], out var old))
            {
                olds[i] = old;
            }
            else
            {
                unknown.Add(i);
            }
        }

        if (unknown.Count == 0)
        {
            return;
        }

        var unknownIds = new string[unknown.Count];
        var read = new GrantRecord?[unknown.Count];
        for (int k = 0; k < unknown.Count; k++)
        {
            unknownIds[k] = ids[unknown[k]];
        }

        TryGetGrants(syncId, unknownIds, read);
        for (int k = 0; k < unknown.Count; k++)
        {
            olds[unknown[k]] = read[k];
        }
    }
}
