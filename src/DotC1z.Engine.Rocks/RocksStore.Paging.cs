using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Engine.Rocks;

/// <summary>Resumable listings: each <see cref="RecordListing"/> is one key range, and a position is a suffix of its keys.</summary>
public sealed partial class RocksStore
{
    /// <inheritdoc/>
    public IEnumerable<T> List<T>(SyncId syncId, RecordListing<T> listing, IReadOnlyList<string>? after = null)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(listing);
        ThrowIfDisposed();
        if (after is not null && after.Count != listing.SortKeyLength)
        {
            throw new C1zArgumentException($"a position in {listing.Kind} has {listing.SortKeyLength} elements, not {after.Count}");
        }

        var (prefix, primary, covering) = Range(syncId, listing);

        // Strictly after a position: its encoded key suffix, then the smallest longer key (a trailing 0x00).
        byte[] start = after is null ? prefix : [.. prefix, .. EncodeElements(after), 0x00];
        var ops = (RecordOps<T>)OpsFor(listing.RecordKind);
        return primary ? IterateRecords(syncId, ops, prefix, start) : IterateIndex(syncId, ops, prefix, start, covering);
    }

    private static object OpsFor(RecordKind kind) => kind switch
    {
        RecordKind.ResourceType => RecordOps.ResourceType,
        RecordKind.Resource => RecordOps.Resource,
        RecordKind.Entitlement => RecordOps.Entitlement,
        RecordKind.Grant => RecordOps.Grant,
        RecordKind.Asset => RecordOps.Asset,
        _ => throw new C1zArgumentException($"no records of kind {kind}"),
    };

    /// <summary>The key range of a listing: its prefix, whether it is the primary keyspace, and whether index values hold the record.</summary>
    private static (byte[] Prefix, bool Primary, bool Covering) Range(SyncId sync, RecordListing listing) => listing.Kind switch
    {
        ListingKind.ResourceTypes or ListingKind.Resources or ListingKind.Entitlements or ListingKind.Grants or ListingKind.Assets =>
            ([.. Keyspace.RecordSyncPrefix((byte)listing.RecordKind, sync), TupleCodec.Separator], true, false),
        ListingKind.ResourcesByType => ([.. Keyspace.RecordKey((byte)RecordKind.Resource, sync, listing.First), TupleCodec.Separator], true, false),
        ListingKind.ResourcesByParent => (Keyspace.IndexKey(Keyspace.IdxResourceByParent, sync, true, listing.First, listing.Second), false, false),
        ListingKind.EntitlementsByResource => (Keyspace.IndexKey(Keyspace.IdxEntitlementByResource, sync, true, listing.First, listing.Second), false, false),
        ListingKind.GrantsByEntitlement => (Keyspace.IndexKey(Keyspace.IdxGrantByEntitlement, sync, true, listing.First), false, true),
        ListingKind.GrantsByPrincipal => (Keyspace.IndexKey(Keyspace.IdxGrantByPrincipal, sync, true, listing.First, listing.Second), false, true),
        ListingKind.GrantsByResourceType => (Keyspace.IndexKey(Keyspace.IdxGrantByEntitlementResource, sync, true, listing.First), false, false),
        ListingKind.GrantsByResource => (Keyspace.IndexKey(Keyspace.IdxGrantByEntitlementResource, sync, true, listing.First, listing.Second), false, false),
        _ => throw new C1zArgumentException($"unknown listing {listing.Kind}"),
    };

    private static byte[] EncodeElements(IReadOnlyList<string> elements)
    {
        int max = 0;
        foreach (string e in elements)
        {
            max += 1 + TupleCodec.MaxEncodedStringLength((e ?? throw new C1zArgumentException("a position element is null")).Length);
        }

        var buffer = new byte[max];
        var w = new TupleWriter(buffer);
        for (int i = 0; i < elements.Count; i++)
        {
            if (i > 0)
            {
                w.Separator();
            }

            w.String(elements[i]);
        }

        return w.Written.ToArray();
    }
}
