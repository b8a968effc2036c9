namespace DotC1z.Storage;

/// <summary>
/// The orders a store keeps grants in (docs/DESIGN.md §2.5, §4.4): each is the ordinal order of the UTF-8 elements listed,
/// element by element, a shorter element before a longer one it starts.
/// </summary>
public enum GrantOrder
{
    /// <summary>By <c>external_id</c> (the primary keyspace).</summary>
    ById,

    /// <summary>By entitlement id, principal type, principal id, <c>external_id</c>.</summary>
    ByEntitlement,

    /// <summary>By principal type, principal id, <c>external_id</c>.</summary>
    ByPrincipal,

    /// <summary>By the entitlement's resource type, resource id, <c>external_id</c>.</summary>
    ByEntitlementResource,
}

/// <summary>
/// Grants a producer can hand out already sorted in every <see cref="GrantOrder"/> — a grant expansion's derived grants,
/// which follow from a few numbers per grant — so a bulk loader writes them straight into its sorted outputs instead of
/// encoding, sorting and spilling each one (docs/DESIGN.md §9, "Derived grants as a sorted set"). Immutable once handed
/// over: the loader may open several cursors at once, on different threads.
/// </summary>
public interface ISortedGrantSet
{
    /// <summary>Number of grants.</summary>
    long Count { get; }

    /// <summary>Opens a cursor over every grant in <paramref name="order"/>, with strictly increasing keys of that order.</summary>
    /// <param name="order">The order.</param>
    /// <returns>A cursor owned by the caller; it may run on any thread, beside other cursors of the set.</returns>
    ISortedGrantCursor Open(GrantOrder order);

    /// <summary>
    /// The digests of the set's grants by entitlement id (<see cref="GrantDigest"/>), when the producer computed them
    /// from the grants' shared parts; null leaves the loader to hash every grant.
    /// </summary>
    IReadOnlyDictionary<string, GrantDigest>? Digests => null;
}

/// <summary>One pass over an <see cref="ISortedGrantSet"/>; spans are valid until the next <see cref="MoveNext"/>.</summary>
public interface ISortedGrantCursor : IDisposable
{
    /// <summary>Moves to the next grant; false at the end.</summary>
    /// <returns>Whether there is a grant.</returns>
    bool MoveNext();

    /// <summary>The grant's number in the set, 0 to <see cref="ISortedGrantSet.Count"/> − 1, the same in every order.</summary>
    long Ordinal { get; }

    /// <summary>The grant's <c>external_id</c>, UTF-8.</summary>
    ReadOnlySpan<byte> ExternalId { get; }

    /// <summary>The entitlement id, UTF-8.</summary>
    ReadOnlySpan<byte> EntitlementId { get; }

    /// <summary>The entitlement's resource type, UTF-8.</summary>
    ReadOnlySpan<byte> EntitlementResourceType { get; }

    /// <summary>The entitlement's resource id, UTF-8.</summary>
    ReadOnlySpan<byte> EntitlementResourceId { get; }

    /// <summary>The principal's resource type, UTF-8.</summary>
    ReadOnlySpan<byte> PrincipalType { get; }

    /// <summary>The principal's resource id, UTF-8.</summary>
    ReadOnlySpan<byte> PrincipalId { get; }

    /// <summary>
    /// The grant as protobuf <c>GrantRecord</c> bytes in canonical field order, without <c>sync_id</c> and with
    /// <c>needs_expansion</c> false — the form a store keeps.
    /// </summary>
    ReadOnlySpan<byte> Value { get; }
}
