using System.Diagnostics.CodeAnalysis;
using DotC1z.Engine.Rocks.Tables;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Grants handed out as stored: the primary keyspace's values, with the escaped id from the key; and the grant index
/// keyspaces as stored, for a compaction that merges them instead of rebuilding them.
/// </summary>
public sealed partial class RocksStore
{
    /// <inheritdoc/>
    public bool TryOpenEncodedGrants(SyncId syncId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        ThrowIfDisposed();
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId);

        // A whole-sync scan: straight from the table files when they allow it (OpenRangeScan).
        cursor = new EncodedCursor(OpenRangeScan(prefix, KeyRange.UpperBound(prefix)), Keyspace.RecordHeaderLength + 1);
        return true;
    }

    /// <summary>A scan handed out as an encoded grant cursor; the escaped id is the key from <c>idOffset</c> on.</summary>
    private sealed class EncodedCursor(IKvScan scan, int idOffset) : IEncodedGrantCursor
    {
        // The table scan called directly (a sealed class: no interface dispatch per entry, several per grant).
        private readonly TableRangeScan? _table = scan as TableRangeScan;

        public ReadOnlySpan<byte> Id => (_table is not null ? _table.Key : scan.Key)[idOffset..];

        public ReadOnlySpan<byte> Value => _table is not null ? _table.Value : scan.Value;

        public bool MoveNext() => _table?.MoveNext() ?? scan.MoveNext();

        public void Dispose() => scan.Dispose();
    }

    /// <summary>The layout name of this engine's grant indexes: the key format version (<see cref="Keyspace"/>).</summary>
    internal const string GrantIndexLayout = "dotc1z-rocks-3";

    /// <inheritdoc/>
    public string? StoredGrantIndexLayout => GrantIndexLayout;

    /// <inheritdoc/>
    public IReadOnlyList<byte[]> StoredGrantIndexSplits(SyncId syncId, StoredGrantIndex index, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        ThrowIfDisposed();
        return SplitSuffixes(Keyspace.IndexSyncPrefix(IndexId(index), syncId), parts, Keyspace.IndexHeaderLength);
    }

    /// <inheritdoc/>
    public bool TryOpenStoredGrantIndex(SyncId syncId, StoredGrantIndex index, byte[]? from, byte[]? to, [NotNullWhen(true)] out IStoredIndexCursor? cursor)
    {
        ThrowIfDisposed();
        byte[] prefix = Keyspace.IndexSyncPrefix(IndexId(index), syncId);
        byte[] lower = from is null ? prefix : [.. prefix, .. from];
        byte[] upper = to is null ? KeyRange.UpperBound(prefix)! : [.. prefix, .. to];
        cursor = new StoredIndexCursor(this, OpenRangeScan(lower, upper), index is StoredGrantIndex.NeedsExpansion or StoredGrantIndex.ByEntitlementResource);
        return true;
    }

    internal static byte IndexId(StoredGrantIndex index) => index switch
    {
        StoredGrantIndex.ByEntitlement => Keyspace.IdxGrantByEntitlement,
        StoredGrantIndex.ByPrincipal => Keyspace.IdxGrantByPrincipal,
        StoredGrantIndex.NeedsExpansion => Keyspace.IdxGrantNeedsExpansion,
        StoredGrantIndex.ByEntitlementResource => Keyspace.IdxGrantByEntitlementResource,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    private sealed class StoredIndexCursor(RocksStore store, IKvScan scan, bool keyOnly) : IStoredIndexCursor
    {
        // The table scan called directly (a sealed class: no interface dispatch per entry).
        private readonly TableRangeScan? _table = scan as TableRangeScan;

        public ReadOnlySpan<byte> KeySuffix => (_table is not null ? _table.Key : scan.Key)[Keyspace.IndexHeaderLength..];

        // A key-only entry's value is the grant's primary key: its part after the sync is the same in every sync.
        public ReadOnlySpan<byte> Value
        {
            get
            {
                var value = _table is not null ? _table.Value : scan.Value;
                if (!keyOnly)
                {
                    return value;
                }

                return value.Length > Keyspace.RecordHeaderLength
                    ? value[Keyspace.RecordHeaderLength..]
                    : throw new Errors.C1zCorruptionException($"an index entry holds no primary key in {store.Directory}", store.Directory);
            }
        }

        public bool MoveNext() => _table?.MoveNext() ?? scan.MoveNext();

        public void Dispose() => scan.Dispose();
    }
}
