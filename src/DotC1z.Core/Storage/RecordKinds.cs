using DotC1z.Codecs;
using DotC1z.Keys;
using DotC1z.Records;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Storage;

/// <summary>Receives a <see cref="RecordKindInfo{T}"/> with its record type, so one generic method serves every kind.</summary>
public interface IRecordKindVisitor
{
    /// <summary>Called with the typed descriptor.</summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="kind">The descriptor.</param>
    void Visit<T>(RecordKindInfo<T> kind)
        where T : class, IMessage<T>, new();
}

/// <summary>
/// One record kind described once: its name, message, whole-sync scan, bulk-load call, identity, identity order and
/// counter. Copy, compaction, diff, equivalence and save iterate <see cref="RecordKinds.All"/> instead of repeating
/// a five-way switch (docs/DESIGN.md §5.5).
/// </summary>
public abstract class RecordKindInfo
{
    private protected RecordKindInfo(RecordKind kind, string name, MessageDescriptor descriptor)
    {
        Kind = kind;
        Name = name;
        Descriptor = descriptor;
    }

    /// <summary>The kind.</summary>
    public RecordKind Kind { get; }

    /// <summary>Its table name (<c>resource_types</c>, <c>resources</c>, <c>entitlements</c>, <c>grants</c>, <c>assets</c>).</summary>
    public string Name { get; }

    /// <summary>Its protobuf message.</summary>
    public MessageDescriptor Descriptor { get; }

    /// <summary>Calls <paramref name="visitor"/> with the typed descriptor.</summary>
    /// <param name="visitor">The visitor.</param>
    public abstract void Accept(IRecordKindVisitor visitor);

    /// <summary>This kind's count in <paramref name="counts"/>.</summary>
    /// <param name="counts">Per-kind counts.</param>
    /// <returns>The count.</returns>
    public long CountIn(RecordCounts counts) => Kind switch
    {
        RecordKind.ResourceType => counts.ResourceTypes,
        RecordKind.Resource => counts.Resources,
        RecordKind.Entitlement => counts.Entitlements,
        RecordKind.Grant => counts.Grants,
        _ => counts.Assets,
    };

    /// <summary>Per-kind counts from a count per kind in <see cref="RecordKinds.All"/> order.</summary>
    /// <param name="byKind">Five counts.</param>
    /// <returns>The counts.</returns>
    public static RecordCounts Counts(ReadOnlySpan<long> byKind) => new(byKind[0], byKind[1], byKind[2], byKind[3], byKind[4]);
}

/// <summary>A <see cref="RecordKindInfo"/> for records of type <typeparamref name="T"/>.</summary>
/// <typeparam name="T">The record type.</typeparam>
public sealed class RecordKindInfo<T> : RecordKindInfo
    where T : class, IMessage<T>, new()
{
    private readonly Func<IC1zReader, SyncId, IEnumerable<T>> _scan;
    private readonly Action<IBulkLoader, T> _add;
    private readonly Func<T, T> _identityOnly;
    private readonly Action<T> _clearSync;
    private readonly Func<T, Timestamp?> _discoveredAt;

    internal RecordKindInfo(RecordKind kind, string name, DirectCodec<T> codec, Func<IC1zReader, SyncId, IEnumerable<T>> scan, Action<IBulkLoader, T> add, Comparison<T> identityOrder, Func<T, T> identityOnly, Action<T> clearSync, Func<T, Timestamp?> discoveredAt)
        : base(kind, name, codec.Descriptor)
    {
        _clearSync = clearSync;
        _discoveredAt = discoveredAt;
        Codec = codec;
        _scan = scan;
        _add = add;
        IdentityOrder = identityOrder;
        _identityOnly = identityOnly;
    }

    /// <summary>The record codec.</summary>
    public DirectCodec<T> Codec { get; }

    /// <summary>Identity order (UTF-8 byte order of the identity elements): the order of every whole-sync scan.</summary>
    public Comparison<T> IdentityOrder { get; }

    /// <summary>Every record of this kind in <paramref name="syncId"/>, in identity order.</summary>
    /// <param name="reader">The store.</param>
    /// <param name="syncId">The sync.</param>
    /// <returns>The records, lazily.</returns>
    public IEnumerable<T> Scan(IC1zReader reader, SyncId syncId) => _scan(reader, syncId);

    /// <summary>Adds a record to a bulk load.</summary>
    /// <param name="loader">The loader.</param>
    /// <param name="record">The record.</param>
    public void Add(IBulkLoader loader, T record) => _add(loader, record);

    /// <summary>A record carrying only <paramref name="record"/>'s identity (what a deletions sync stores).</summary>
    /// <param name="record">A record.</param>
    /// <returns>The identity-only record.</returns>
    public T IdentityOnly(T record) => _identityOnly(record);

    /// <summary>Clears the record's <c>sync_id</c> (the sync it was read from), e.g. to compare records across syncs.</summary>
    /// <param name="record">The record, changed in place.</param>
    public void ClearSync(T record) => _clearSync(record);

    /// <summary>The record's <c>discovered_at</c>, or null when it carries none.</summary>
    /// <param name="record">A record.</param>
    /// <returns>When the connector saw the record.</returns>
    public Timestamp? DiscoveredAt(T record) => _discoveredAt(record);

    /// <summary>
    /// Whether two records (typically of different syncs) hold the same content, their <c>sync_id</c> aside.
    /// Both records' sync ids are cleared (scans hand out fresh records, so callers own them).
    /// </summary>
    /// <param name="x">A record (changed in place).</param>
    /// <param name="y">Another record (changed in place).</param>
    /// <returns>True when every other field is equal.</returns>
    public bool SameContent(T x, T y)
    {
        _clearSync(x);
        _clearSync(y);
        return x.Equals(y);
    }

    /// <inheritdoc/>
    public override void Accept(IRecordKindVisitor visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        visitor.Visit(this);
    }
}

/// <summary>The five record kinds of a sync, in the order every whole-sync operation processes them.</summary>
public static class RecordKinds
{
    private static int ById(string a, string b) => Utf8Ordinal.Instance.Compare(a, b);

    /// <summary>Resource types.</summary>
    public static RecordKindInfo<ResourceTypeRecord> ResourceType { get; } = new(
        RecordKind.ResourceType, "resource_types", CodecRegistry.ResourceType, static (s, id) => s.ResourceTypes(id), static (l, r) => l.Add(r),
        static (a, b) => ById(a.ExternalId, b.ExternalId), static r => new ResourceTypeRecord { ExternalId = r.ExternalId }, static r => r.SyncId = string.Empty, static r => r.DiscoveredAt);

    /// <summary>Resources.</summary>
    public static RecordKindInfo<ResourceRecord> Resource { get; } = new(
        RecordKind.Resource, "resources", CodecRegistry.Resource, static (s, id) => s.Resources(id), static (l, r) => l.Add(r),
        static (a, b) => ById(a.ResourceTypeId, b.ResourceTypeId) is var c and not 0 ? c : ById(a.ResourceId, b.ResourceId),
        static r => new ResourceRecord { ResourceTypeId = r.ResourceTypeId, ResourceId = r.ResourceId }, static r => r.SyncId = string.Empty, static r => r.DiscoveredAt);

    /// <summary>Entitlements.</summary>
    public static RecordKindInfo<EntitlementRecord> Entitlement { get; } = new(
        RecordKind.Entitlement, "entitlements", CodecRegistry.Entitlement, static (s, id) => s.Entitlements(id), static (l, r) => l.Add(r),
        static (a, b) => ById(a.ExternalId, b.ExternalId), static r => new EntitlementRecord { ExternalId = r.ExternalId }, static r => r.SyncId = string.Empty, static r => r.DiscoveredAt);

    /// <summary>Grants.</summary>
    public static RecordKindInfo<GrantRecord> Grant { get; } = new(
        RecordKind.Grant, "grants", CodecRegistry.Grant, static (s, id) => s.Grants(id), static (l, r) => l.Add(r),
        static (a, b) => ById(a.ExternalId, b.ExternalId), static r => new GrantRecord { ExternalId = r.ExternalId }, static r => r.SyncId = string.Empty, static r => r.DiscoveredAt);

    /// <summary>Assets.</summary>
    public static RecordKindInfo<AssetRecord> Asset { get; } = new(
        RecordKind.Asset, "assets", CodecRegistry.Asset, static (s, id) => s.Assets(id), static (l, r) => l.Add(r),
        static (a, b) => ById(a.ExternalId, b.ExternalId), static r => new AssetRecord { ExternalId = r.ExternalId }, static r => r.SyncId = string.Empty, static r => r.DiscoveredAt);

    /// <summary>All five, in processing order (the index of a kind here is its index in per-kind arrays).</summary>
    public static IReadOnlyList<RecordKindInfo> All { get; } = [ResourceType, Resource, Entitlement, Grant, Asset];

    /// <summary>The index of <paramref name="kind"/> in <see cref="All"/> (and in per-kind arrays).</summary>
    /// <param name="kind">One of the five kinds.</param>
    /// <returns>Its index.</returns>
    /// <exception cref="ArgumentException">Not one of <see cref="All"/>.</exception>
    public static int IndexOf(RecordKindInfo kind)
    {
        for (int i = 0; i < All.Count; i++)
        {
            if (ReferenceEquals(All[i], kind))
            {
                return i;
            }
        }

        throw new ArgumentException("not one of the record kinds", nameof(kind));
    }
}
