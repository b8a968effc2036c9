using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// One keyspace of an <see cref="ISortedGrantSet"/> as a sorted key/value source of the bulk loader's merge: the
/// cursor of the keyspace's order, each grant's key built from its elements. A grant's sequence is the set's base
/// plus its ordinal, the same in every keyspace, so the merge's duplicate handling treats the set like grants added
/// one by one at the moment it was added.
/// </summary>
internal sealed class SortedGrantSource : IKvSource
{
    private readonly ISortedGrantCursor _cursor;
    private readonly byte _index;
    private readonly byte[] _header;
    private readonly byte[] _recordHeader;
    private readonly long _seqBase;
    private byte[] _key = new byte[256];
    private byte[] _primaryKey = new byte[256];
    private int _keyLength;
    private int _primaryKeyLength;

    /// <summary>Opens the set's order for <paramref name="index"/> (0 for the grant primary).</summary>
    public SortedGrantSource(ISortedGrantSet set, byte index, SyncId sync, long seqBase)
    {
        _index = index;
        _seqBase = seqBase;
        _recordHeader = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, sync);
        _header = index == 0 ? _recordHeader : Keyspace.IndexSyncPrefix(index, sync);
        _cursor = set.Open(index switch
        {
            0 => GrantOrder.ById,
            Keyspace.IdxGrantByEntitlement => GrantOrder.ByEntitlement,
            Keyspace.IdxGrantByPrincipal => GrantOrder.ByPrincipal,
            Keyspace.IdxGrantByEntitlementResource => GrantOrder.ByEntitlementResource,
            _ => throw new ArgumentOutOfRangeException(nameof(index), "a sorted grant set feeds no such keyspace"),
        });
    }

    public ReadOnlySpan<byte> Key => _key.AsSpan(0, _keyLength);

    public ReadOnlySpan<byte> Value => _index == Keyspace.IdxGrantByEntitlementResource ? _primaryKey.AsSpan(0, _primaryKeyLength) : _cursor.Value;

    public long Seq => _seqBase + _cursor.Ordinal;

    /// <summary>The producer promises strictly increasing keys; the SST writer refuses any that are not.</summary>
    public bool DistinctKeys => true;

    public bool MoveNext()
    {
        if (!_cursor.MoveNext())
        {
            return false;
        }

        var id = _cursor.ExternalId;
        if (id.IsEmpty)
        {
            throw new C1zArgumentException("grant external_id is required");
        }

        switch (_index)
        {
            case 0:
                _keyLength = BuildKey(ref _key, _header, id, default, default, default, 1);
                break;
            case Keyspace.IdxGrantByEntitlement:
                _keyLength = BuildKey(ref _key, _header, _cursor.EntitlementId, _cursor.PrincipalType, _cursor.PrincipalId, id, 4);
                break;
            case Keyspace.IdxGrantByPrincipal:
                _keyLength = BuildKey(ref _key, _header, _cursor.PrincipalType, _cursor.PrincipalId, id, default, 3);
                break;
            default:
                _keyLength = BuildKey(ref _key, _header, _cursor.EntitlementResourceType, _cursor.EntitlementResourceId, id, default, 3);
                _primaryKeyLength = BuildKey(ref _primaryKey, _recordHeader, id, default, default, default, 1);
                break;
        }

        return true;
    }

    public void Dispose() => _cursor.Dispose();

    /// <summary>Writes the key (<see cref="Keyspace.WriteKey"/>) into <paramref name="buffer"/>, grown as needed; returns its length.</summary>
    private static int BuildKey(ref byte[] buffer, byte[] header, ReadOnlySpan<byte> e1, ReadOnlySpan<byte> e2, ReadOnlySpan<byte> e3, ReadOnlySpan<byte> e4, int count)
    {
        int max = Keyspace.MaxKeyLength(header.Length, e1.Length + e2.Length + e3.Length + e4.Length, count);
        if (max > buffer.Length)
        {
            buffer = new byte[Math.Max(max, buffer.Length * 2)];
        }

        return Keyspace.WriteKey(buffer, header, e1, e2, e3, e4, count);
    }
}
