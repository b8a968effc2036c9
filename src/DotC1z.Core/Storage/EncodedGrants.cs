using DotC1z.Keys;

namespace DotC1z.Storage;

/// <summary>
/// One sync's grants in their stored encoding, in id order: the byte-level road for whole-sync
/// operations between stores of one engine (compaction copies a grant it keeps without decoding it;
/// docs/DESIGN.md §6). Spans are valid only until the next <see cref="MoveNext"/>.
/// </summary>
public interface IEncodedGrantCursor : IDisposable
{
    /// <summary>
    /// The grant's external id as a key element: its UTF-8 bytes escaped by the tuple codec
    /// (docs/FORMAT.md). Byte order of these spans is the cursor's order; equal ids give equal spans.
    /// </summary>
    ReadOnlySpan<byte> Id { get; }

    /// <summary>The grant as a protobuf <c>GrantRecord</c> without its <c>sync_id</c> (the form a store keeps).</summary>
    ReadOnlySpan<byte> Value { get; }

    /// <summary>Moves to the next grant.</summary>
    /// <returns>False at the end.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The store is damaged.</exception>
    bool MoveNext();
}

/// <summary>The grant index keyspaces a store keeps beside the grant primary (docs/FORMAT.md, "Keyspace").</summary>
public enum StoredGrantIndex
{
    /// <summary>By entitlement id, principal, grant id (covering: the value is the grant).</summary>
    ByEntitlement,

    /// <summary>By principal, grant id (covering).</summary>
    ByPrincipal,

    /// <summary>Grant id of every grant that needs expansion (the value is the primary key).</summary>
    NeedsExpansion,

    /// <summary>By the entitlement's resource, grant id (the value is the primary key).</summary>
    ByEntitlementResource,
}

/// <summary>
/// One grant index keyspace of one sync as the store keeps it, in key order: the byte-level road by which a
/// compaction between stores of one layout (<see cref="IC1zReader.StoredGrantIndexLayout"/>) merges the inputs'
/// indexes instead of rebuilding them (docs/DESIGN.md §6). Spans are valid only until the next
/// <see cref="MoveNext"/>.
/// </summary>
public interface IStoredIndexCursor : IDisposable
{
    /// <summary>The entry's key after its sync: equal for the same entry in any sync of any store of the layout.</summary>
    ReadOnlySpan<byte> KeySuffix { get; }

    /// <summary>
    /// The entry's value: the stored grant for a covering index, else the grant's primary key after its sync
    /// (<see cref="KeySuffix"/>'s counterpart in the primary keyspace).
    /// </summary>
    ReadOnlySpan<byte> Value { get; }

    /// <summary>Moves to the next entry.</summary>
    /// <returns>False at the end.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The store is damaged.</exception>
    bool MoveNext();
}

/// <summary>One input of a stored-index merge (<see cref="IBulkLoader.TryMergeStoredGrantIndexes"/>).</summary>
/// <param name="Store">The store holding the sync.</param>
/// <param name="Sync">The sync.</param>
/// <param name="Contributes">False when none of its grants can survive (a deletions sync): its entries are all dropped.</param>
public readonly record struct StoredIndexInput(IC1zReader Store, SyncId Sync, bool Contributes);

/// <summary>
/// What a compaction tells a stored-index merge while it merges the grant primaries: each surviving grant, and which
/// input's entries of a grant id lost to another input's (or to a deletion). Every other entry of a contributing
/// input is kept.
/// </summary>
public interface IStoredIndexMerge
{
    /// <summary>
    /// Adds a surviving grant, as stored (its primary entry: the indexes come from the merge), in place of
    /// <see cref="IBulkLoader.AddEncodedGrant"/>; ids must arrive in strictly increasing order.
    /// </summary>
    /// <param name="escapedId">The escaped grant id (<see cref="IEncodedGrantCursor.Id"/>).</param>
    /// <param name="value">The stored grant (<see cref="IEncodedGrantCursor.Value"/>).</param>
    /// <remarks>An id that does not follow the one before fails the load when it completes.</remarks>
    void Keep(ReadOnlySpan<byte> escapedId, ReadOnlySpan<byte> value);

    /// <summary>Drops the index entries of input <paramref name="input"/>'s record of a grant (another input's record, or none, survives).</summary>
    /// <param name="input">Index into the inputs given to <see cref="IBulkLoader.TryMergeStoredGrantIndexes"/>.</param>
    /// <param name="value">That input's stored grant (<see cref="IEncodedGrantCursor.Value"/>): its index keys are derived from it.</param>
    /// <exception cref="Errors.C1zCorruptionException">The bytes are not a grant.</exception>
    void Lose(int input, ReadOnlySpan<byte> value);

    /// <summary>
    /// Whether the output's grant digests follow from the inputs' known digests and the losers' hashes, instead of
    /// being folded from every grant written (docs/FORMAT.md, "Grant digests": XOR digests merge).
    /// </summary>
    bool DigestsFromInputs => false;
}
