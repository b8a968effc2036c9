using DotC1z.Keys;
using DotC1z.Records;
using Google.Protobuf;

namespace DotC1z.Storage;

/// <summary>Which listing a <see cref="RecordListing"/> is (docs/DESIGN.md §5.5).</summary>
public enum ListingKind : byte
{
    /// <summary>Every resource type of a sync, by id.</summary>
    ResourceTypes = 1,

    /// <summary>Every resource of a sync, by (type, id).</summary>
    Resources = 2,

    /// <summary>Resources of one type, by id.</summary>
    ResourcesByType = 3,

    /// <summary>Resources whose parent is one resource, by (type, id).</summary>
    ResourcesByParent = 4,

    /// <summary>Every entitlement of a sync, by id.</summary>
    Entitlements = 5,

    /// <summary>Entitlements of one resource, by id.</summary>
    EntitlementsByResource = 6,

    /// <summary>Every grant of a sync, by id.</summary>
    Grants = 7,

    /// <summary>Grants of one entitlement, by (principal type, principal id, grant id).</summary>
    GrantsByEntitlement = 8,

    /// <summary>Grants held by one principal, by grant id.</summary>
    GrantsByPrincipal = 9,

    /// <summary>Grants of the entitlements of one resource type, by (resource id, grant id).</summary>
    GrantsByResourceType = 10,

    /// <summary>Grants of the entitlements of one resource, by grant id.</summary>
    GrantsByResource = 11,

    /// <summary>Every asset of a sync, by id.</summary>
    Assets = 12,
}

/// <summary>
/// One listing of a sync: what is listed, filtered how, and in which order. Every engine lists a given
/// listing in the same order — the tuple order of its <see cref="SortKey"/> elements, each compared as UTF-8
/// bytes — so a listing can resume strictly after any position, whatever the engine (paging).
/// </summary>
public abstract class RecordListing : IEquatable<RecordListing>
{
    private protected RecordListing(ListingKind kind, RecordKind recordKind, string first, string second)
    {
        Kind = kind;
        RecordKind = recordKind;
        First = first;
        Second = second;
    }

    /// <summary>The listing.</summary>
    public ListingKind Kind { get; }

    /// <summary>The kind of record listed.</summary>
    public RecordKind RecordKind { get; }

    /// <summary>The first filter argument (a type, entitlement or principal type), or empty.</summary>
    public string First { get; }

    /// <summary>The second filter argument (a resource or principal id), or empty.</summary>
    public string Second { get; }

    /// <summary>How many elements a position in this listing has.</summary>
    public int SortKeyLength => Kind switch
    {
        ListingKind.Resources or ListingKind.ResourcesByParent or ListingKind.GrantsByResourceType => 2,
        ListingKind.GrantsByEntitlement => 3,
        _ => 1,
    };

    /// <summary>The position of <paramref name="record"/> in this listing (the elements of its order).</summary>
    /// <param name="record">A record of <see cref="RecordKind"/>.</param>
    /// <returns>The elements, <see cref="SortKeyLength"/> of them.</returns>
    /// <exception cref="ArgumentException">The record is not of this listing's kind.</exception>
    public string[] SortKey(IMessage record) => (Kind, record) switch
    {
        (ListingKind.ResourceTypes, ResourceTypeRecord r) => [r.ExternalId],
        (ListingKind.Resources or ListingKind.ResourcesByParent, ResourceRecord r) => [r.ResourceTypeId, r.ResourceId],
        (ListingKind.ResourcesByType, ResourceRecord r) => [r.ResourceId],
        (ListingKind.Entitlements or ListingKind.EntitlementsByResource, EntitlementRecord r) => [r.ExternalId],
        (ListingKind.Grants or ListingKind.GrantsByPrincipal or ListingKind.GrantsByResource, GrantRecord g) => [g.ExternalId],
        (ListingKind.GrantsByEntitlement, GrantRecord g) => [g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty, g.ExternalId],
        (ListingKind.GrantsByResourceType, GrantRecord g) => [g.Entitlement?.ResourceId ?? string.Empty, g.ExternalId],
        (ListingKind.Assets, AssetRecord a) => [a.ExternalId],
        _ => throw new ArgumentException($"a {record?.Descriptor.Name} is not listed by {Kind}", nameof(record)),
    };

    /// <summary>
    /// Whether <paramref name="record"/> belongs to this listing (the filter semantics of the store's index queries:
    /// an absent reference counts as one with all-empty ids). The reference for engines and tests.
    /// </summary>
    /// <param name="record">A record of <see cref="RecordKind"/>.</param>
    /// <returns>True when the listing includes it.</returns>
    public bool Matches(IMessage record) => (Kind, record) switch
    {
        (ListingKind.ResourceTypes, ResourceTypeRecord) or (ListingKind.Resources, ResourceRecord) or (ListingKind.Entitlements, EntitlementRecord)
            or (ListingKind.Grants, GrantRecord) or (ListingKind.Assets, AssetRecord) => true,
        (ListingKind.ResourcesByType, ResourceRecord r) => r.ResourceTypeId == First,
        (ListingKind.ResourcesByParent, ResourceRecord r) => (r.Parent?.ResourceTypeId ?? string.Empty) == First && (r.Parent?.ResourceId ?? string.Empty) == Second,
        (ListingKind.EntitlementsByResource, EntitlementRecord e) => (e.Resource?.ResourceTypeId ?? string.Empty) == First && (e.Resource?.ResourceId ?? string.Empty) == Second,
        (ListingKind.GrantsByEntitlement, GrantRecord g) => (g.Entitlement?.EntitlementId ?? string.Empty) == First,
        (ListingKind.GrantsByPrincipal, GrantRecord g) => (g.Principal?.ResourceTypeId ?? string.Empty) == First && (g.Principal?.ResourceId ?? string.Empty) == Second,
        (ListingKind.GrantsByResourceType, GrantRecord g) => (g.Entitlement?.ResourceTypeId ?? string.Empty) == First,
        (ListingKind.GrantsByResource, GrantRecord g) => (g.Entitlement?.ResourceTypeId ?? string.Empty) == First && (g.Entitlement?.ResourceId ?? string.Empty) == Second,
        _ => false,
    };

    /// <summary>
    /// The reference implementation of a listing over an unordered set of records: filter by <see cref="Matches"/>,
    /// order by <see cref="SortKey"/>, resume strictly after <paramref name="after"/>. Materialises the set, so it is
    /// for small stores (the in-memory engine) and tests.
    /// </summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="records">Every record of the listing's kind in the sync.</param>
    /// <param name="after">The position to resume after, or null.</param>
    /// <returns>The listing.</returns>
    public IEnumerable<T> Apply<T>(IEnumerable<T> records, IReadOnlyList<string>? after)
        where T : class, IMessage
    {
        ArgumentNullException.ThrowIfNull(records);
        var keyed = records.Where(r => Matches(r)).Select(r => (Key: SortKey(r), Record: r)).ToList();
        keyed.Sort((x, y) => Compare(x.Key, y.Key));
        return keyed.Where(k => after is null || IsAfter(k.Key, after)).Select(k => k.Record).ToList();
    }

    /// <summary>Whether position <paramref name="key"/> comes strictly after <paramref name="after"/> in this listing's order.</summary>
    /// <param name="key">A position.</param>
    /// <param name="after">Another position of the same length.</param>
    /// <returns>True when <paramref name="key"/> sorts after <paramref name="after"/>.</returns>
    public static bool IsAfter(IReadOnlyList<string> key, IReadOnlyList<string> after) => Compare(key, after) > 0;

    /// <summary>Orders two positions: element by element as UTF-8 bytes, a shorter position first on a tie.</summary>
    /// <param name="x">A position.</param>
    /// <param name="y">Another position.</param>
    /// <returns>Negative, zero or positive as <paramref name="x"/> sorts before, with or after <paramref name="y"/>.</returns>
    public static int Compare(IReadOnlyList<string> x, IReadOnlyList<string> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        for (int i = 0; i < Math.Min(x.Count, y.Count); i++)
        {
            int c = Utf8Ordinal.Instance.Compare(x[i], y[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return x.Count.CompareTo(y.Count);
    }

    /// <summary>Every resource type.</summary>
    /// <returns>The listing.</returns>
    public static RecordListing<ResourceTypeRecord> ResourceTypes() => new(ListingKind.ResourceTypes, RecordKind.ResourceType);

    /// <summary>Every resource.</summary>
    /// <returns>The listing.</returns>
    public static RecordListing<ResourceRecord> Resources() => new(ListingKind.Resources, RecordKind.Resource);

    /// <summary>Resources of one type.</summary>
    /// <param name="resourceTypeId">The type.</param>
    /// <returns>The listing.</returns>
    public static RecordListing<ResourceRecord> ResourcesByType(string resourceTypeId) => new(ListingKind.ResourcesByType, RecordKind.Resource, resourceTypeId);

    /// <summary>Children of one resource.</summary>
    /// <param name="parentResourceTypeId">The parent's type (empty with an empty id: resources without a parent).</param>
    /// <param name="parentResourceId">The parent's id.</param>
    /// <returns>The listing.</returns>
    public static RecordListing<ResourceRecord> ResourcesByParent(string parentResourceTypeId, string parentResourceId) => new(ListingKind.ResourcesByParent, RecordKind.Resource, parentResourceTypeId, parentResourceId);

    /// <summary>Every entitlement.</summary>
    /// <returns>The listing.</returns>
    public static RecordListing<EntitlementRecord> Entitlements() => new(ListingKind.Entitlements, RecordKind.Entitlement);

    /// <summary>Entitlements of one resource.</summary>
    /// <param name="resourceTypeId">The resource's type.</param>
    /// <param name="resourceId">The resource's id.</param>
    /// <returns>The listing.</returns>
    public static RecordListing<EntitlementRecord> EntitlementsByResource(string resourceTypeId, string resourceId) => new(ListingKind.EntitlementsByResource, RecordKind.Entitlement, resourceTypeId, resourceId);

    /// <summary>Every grant.</summary>
    /// <returns>The listing.</returns>
    public static RecordListing<GrantRecord> Grants() => new(ListingKind.Grants, RecordKind.Grant);

    /// <summary>Grants of one entitlement.</summary>
    /// <param name="entitlementId">The entitlement.</param>
    /// <returns>The listing.</returns>
    public static RecordListing<GrantRecord> GrantsByEntitlement(string entitlementId) => new(ListingKind.GrantsByEntitlement, RecordKind.Grant, entitlementId);

    /// <summary>Grants one principal holds.</summary>
    /// <param name="principalResourceTypeId">The principal's type.</param>
    /// <param name="principalResourceId">The principal's id.</param>
    /// <returns>The listing.</returns>
    public static RecordListing<GrantRecord> GrantsByPrincipal(string principalResourceTypeId, string principalResourceId) => new(ListingKind.GrantsByPrincipal, RecordKind.Grant, principalResourceTypeId, principalResourceId);

    /// <summary>Grants of the entitlements of every resource of one type.</summary>
    /// <param name="resourceTypeId">The resource type.</param>
    /// <returns>The listing.</returns>
    public static RecordListing<GrantRecord> GrantsByResourceType(string resourceTypeId) => new(ListingKind.GrantsByResourceType, RecordKind.Grant, resourceTypeId);

    /// <summary>Grants of the entitlements of one resource.</summary>
    /// <param name="resourceTypeId">The resource's type.</param>
    /// <param name="resourceId">The resource's id.</param>
    /// <returns>The listing.</returns>
    public static RecordListing<GrantRecord> GrantsByResource(string resourceTypeId, string resourceId) => new(ListingKind.GrantsByResource, RecordKind.Grant, resourceTypeId, resourceId);

    /// <summary>Every asset.</summary>
    /// <returns>The listing.</returns>
    public static RecordListing<AssetRecord> Assets() => new(ListingKind.Assets, RecordKind.Asset);

    /// <inheritdoc/>
    public bool Equals(RecordListing? other) => other is not null && Kind == other.Kind && First == other.First && Second == other.Second;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as RecordListing);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, First, Second);

    /// <inheritdoc/>
    public override string ToString() => (First, Second) switch
    {
        ("", "") => Kind.ToString(),
        (_, "") => $"{Kind}({First})",
        _ => $"{Kind}({First}, {Second})",
    };
}

/// <summary>A <see cref="RecordListing"/> of records of type <typeparamref name="T"/>.</summary>
/// <typeparam name="T">The record type.</typeparam>
public sealed class RecordListing<T> : RecordListing
    where T : class, IMessage<T>
{
    internal RecordListing(ListingKind kind, RecordKind recordKind, string first = "", string second = "")
        : base(kind, recordKind, first ?? throw new ArgumentNullException(nameof(first)), second ?? throw new ArgumentNullException(nameof(second)))
    {
    }
}
