using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Stored grants in pieces: id ranges of a sync's primary keyspace (for comparisons split across cores) and
/// one principal's grants from the covering by-principal index, both as stored bytes (docs/DESIGN.md §6, §9).
/// </summary>
public sealed partial class RocksStore
{
    /// <inheritdoc/>
    /// <remarks>The bounds are the partitioned scan's split points (<see cref="PartitionGrants"/>) with the key header removed.</remarks>
    public IReadOnlyList<byte[]> GrantIdSplits(SyncId syncId, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        ThrowIfDisposed();
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId);
        byte[] upper = KeyRange.UpperBound(prefix)!;
        using var snapshot = new SharedSnapshot(this);
        var bounds = RangeBounds(prefix, upper, snapshot, parts, "partition");
        var splits = new List<byte[]>(bounds.Count);
        int header = Keyspace.RecordHeaderLength + 1;
        for (int i = 1; i + 1 < bounds.Count; i++)
        {
            // Split points lie between two grant keys, so they carry the header and its separator.
            if (bounds[i].Length > header)
            {
                splits.Add(bounds[i][header..]);
            }
        }

        return splits;
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
        cursor = new RangeCursor(new Scan(this, lower, upper, IntPtr.Zero, fillCache: false), Keyspace.RecordHeaderLength + 1);
        return true;
    }

    /// <inheritdoc/>
    public bool TryOpenEncodedGrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        ArgumentNullException.ThrowIfNull(principalResourceTypeId);
        ArgumentNullException.ThrowIfNull(principalResourceId);
        ThrowIfDisposed();

        // The by-principal index is covering: its values are the stored grants, its keys end with the escaped id.
        byte[] prefix = Keyspace.IndexKey(Keyspace.IdxGrantByPrincipal, syncId, true, principalResourceTypeId, principalResourceId);
        cursor = new RangeCursor(new Scan(this, prefix), prefix.Length);
        return true;
    }

    /// <summary>A scan handed out as an encoded grant cursor; the id is the key from <c>idOffset</c> on.</summary>
    private sealed class RangeCursor(Scan scan, int idOffset) : IEncodedGrantCursor
    {
        public ReadOnlySpan<byte> Id => scan.Key[idOffset..];

        public ReadOnlySpan<byte> Value => scan.Value;

        public bool MoveNext() => scan.MoveNext();

        public void Dispose() => scan.Dispose();
    }
}
