using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;
using DotC1z.Records;

namespace DotC1z.Storage;

/// <summary>
/// The storage contract every engine implements (RocksDB, SQLite over baton's v1 schema, and the
/// in-memory reference). One store holds many syncs; every record lives under exactly one sync.
/// </summary>
/// <remarks>
/// <para>Identity: resource types, entitlements, grants and assets are keyed by (sync, external_id);
/// resources by (sync, resource_type_id, resource_id); sync runs by sync id. The <c>sync_id</c>
/// field inside a record value is ignored on write (the sync argument decides) and engines return
/// records with <c>sync_id</c> set to the sync they were read from.</para>
/// <para>Index queries have filter semantics: a query returns exactly the records whose fields equal
/// the arguments, where an absent reference (no <c>parent</c>, <c>resource</c>, <c>entitlement</c> or
/// <c>principal</c>) counts as one with all-empty ids. So <c>ResourcesByParent(s, "", "")</c> lists
/// the resources without a parent.</para>
/// <para>Puts overwrite by identity (last write wins, also within one batch), and every index
/// stays exact: an overwrite removes the old record's index entries.</para>
/// <para>Enumerations are lazy and must be disposed (a <c>foreach</c> does it). Each enumeration
/// reads a consistent snapshot taken when it starts, so it is safe while another thread writes.
/// Ordering: by-sync scans follow the identity (ordinal UTF-8 byte order of the id elements);
/// index scans are ordered by the remaining index elements, then identity.</para>
/// <para>Expected misses are values (<c>TryGet…</c> returns <see langword="false"/>; deleting a missing
/// record returns <see langword="false"/>). Failures are <see cref="Errors.C1zException"/> subclasses.</para>
/// </remarks>
public interface IC1zStore : IC1zReader, IC1zWriter, ISyncLifecycle, IDisposable
{
}

/// <summary>Reading a store: sync runs, point reads, scans, resumable listings and counts (see <see cref="IC1zStore"/> for the semantics).</summary>
public partial interface IC1zReader
{
    /// <summary>Engine name ("rocks", "sqlite", "memory").</summary>
    string EngineName { get; }

    /// <summary>
    /// Whether scans of this store may run on other threads while the caller reads or scans it too (RocksDB: yes;
    /// a SQLite connection: no). Streaming operations then read their inputs ahead on a worker thread per input.
    /// </summary>
    bool SupportsConcurrentScans => false;

    /// <summary>
    /// Opens a cursor over the grants of <paramref name="syncId"/> in their stored encoding, in id order, when
    /// this store can hand them out without decoding them (RocksDB: yes; the default: no).
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="cursor">The cursor (the caller disposes it), or null.</param>
    /// <returns>Whether a cursor was opened.</returns>
    bool TryOpenEncodedGrants(SyncId syncId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        cursor = null;
        return false;
    }

    /// <summary>
    /// The key layout of this store's grant index keyspaces, when it can hand them out as stored
    /// (<see cref="TryOpenStoredGrantIndex"/>); null otherwise. Stores of one layout have interchangeable entries.
    /// </summary>
    string? StoredGrantIndexLayout => null;

    /// <summary>
    /// Up to <paramref name="parts"/> − 1 increasing key suffixes that cut one grant index of a sync into ranges of
    /// about equal stored size (none when it cannot be cut or the store keeps no such index).
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="index">The index.</param>
    /// <param name="parts">How many ranges are wanted.</param>
    /// <returns>The split points, as <see cref="IStoredIndexCursor.KeySuffix"/> values.</returns>
    IReadOnlyList<byte[]> StoredGrantIndexSplits(SyncId syncId, StoredGrantIndex index, int parts) => [];

    /// <summary>Opens a cursor over the entries of one grant index of a sync whose key suffixes lie in <c>[from, to)</c>.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="index">The index.</param>
    /// <param name="from">Inclusive lower bound of the key suffix, or null for the start.</param>
    /// <param name="to">Exclusive upper bound, or null for the end.</param>
    /// <param name="cursor">The cursor (the caller disposes it), or null.</param>
    /// <returns>Whether a cursor was opened (false unless <see cref="StoredGrantIndexLayout"/> is set).</returns>
    bool TryOpenStoredGrantIndex(SyncId syncId, StoredGrantIndex index, byte[]? from, byte[]? to, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IStoredIndexCursor? cursor)
    {
        cursor = null;
        return false;
    }

    /// <summary>Reads one sync run.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="record">The record when found.</param>
    /// <returns>Whether it exists.</returns>
    bool TryGetSyncRun(SyncId syncId, [NotNullWhen(true)] out SyncRunRecord? record);

    /// <summary>All sync runs, ordered by sync id (creation second, then random).</summary>
    /// <returns>The sync runs.</returns>
    IReadOnlyList<SyncRunRecord> ListSyncRuns();

    /// <summary>Reads one resource type.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalId">Its id.</param>
    /// <param name="record">The record when found.</param>
    /// <returns>Whether it exists.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The stored value does not decode.</exception>
    bool TryGetResourceType(SyncId syncId, string externalId, [NotNullWhen(true)] out ResourceTypeRecord? record);

    /// <summary>Reads one resource.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="resourceTypeId">Its resource type.</param>
    /// <param name="resourceId">Its id.</param>
    /// <param name="record">The record when found.</param>
    /// <returns>Whether it exists.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The stored value does not decode.</exception>
    bool TryGetResource(SyncId syncId, string resourceTypeId, string resourceId, [NotNullWhen(true)] out ResourceRecord? record);

    /// <summary>Reads one entitlement.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalId">Its id.</param>
    /// <param name="record">The record when found.</param>
    /// <returns>Whether it exists.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The stored value does not decode.</exception>
    bool TryGetEntitlement(SyncId syncId, string externalId, [NotNullWhen(true)] out EntitlementRecord? record);

    /// <summary>Reads one grant.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalId">Its id.</param>
    /// <param name="record">The record when found.</param>
    /// <returns>Whether it exists.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The stored value does not decode.</exception>
    bool TryGetGrant(SyncId syncId, string externalId, [NotNullWhen(true)] out GrantRecord? record);

    /// <summary>
    /// Reads many grants at once: <paramref name="records"/>[i] receives the grant whose id is
    /// <paramref name="externalIds"/>[i], or null when there is none. An engine may answer the whole
    /// batch in one native call (RocksDB's batched MultiGet, which also reads every id at one point in
    /// time); this default reads the ids one by one.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalIds">The ids (duplicates allowed).</param>
    /// <param name="records">Receives one entry per id; at least as long as <paramref name="externalIds"/>.</param>
    /// <returns>How many ids were found.</returns>
    /// <exception cref="ArgumentException"><paramref name="records"/> is shorter than <paramref name="externalIds"/>.</exception>
    /// <exception cref="ArgumentNullException">An id is null.</exception>
    /// <exception cref="Errors.C1zCorruptionException">A stored value does not decode.</exception>
    int TryGetGrants(SyncId syncId, ReadOnlySpan<string> externalIds, Span<GrantRecord?> records)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(records.Length, externalIds.Length, nameof(records));
        int found = 0;
        for (int i = 0; i < externalIds.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(externalIds[i], nameof(externalIds));
            found += TryGetGrant(syncId, externalIds[i], out records[i]) ? 1 : 0;
        }

        return found;
    }

    /// <summary>Reads one asset.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalId">Its id.</param>
    /// <param name="record">The record when found.</param>
    /// <returns>Whether it exists.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The stored value does not decode.</exception>
    bool TryGetAsset(SyncId syncId, string externalId, [NotNullWhen(true)] out AssetRecord? record);

    /// <summary>All resource types of a sync, by external id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<ResourceTypeRecord> ResourceTypes(SyncId syncId);

    /// <summary>All resources of a sync, by (resource type, id).</summary>
    /// <param name="syncId">The sync.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<ResourceRecord> Resources(SyncId syncId);

    /// <summary>Resources of one resource type, by id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="resourceTypeId">The resource type.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<ResourceRecord> ResourcesByType(SyncId syncId, string resourceTypeId);

    /// <summary>Children of a parent resource, by (child type, child id).</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="parentResourceTypeId">Parent's resource type.</param>
    /// <param name="parentResourceId">Parent's id.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<ResourceRecord> ResourcesByParent(SyncId syncId, string parentResourceTypeId, string parentResourceId);

    /// <summary>All entitlements of a sync, by external id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<EntitlementRecord> Entitlements(SyncId syncId);

    /// <summary>Entitlements on one resource, by external id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="resourceTypeId">Resource type.</param>
    /// <param name="resourceId">Resource id.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<EntitlementRecord> EntitlementsByResource(SyncId syncId, string resourceTypeId, string resourceId);

    /// <summary>All grants of a sync, by external id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<GrantRecord> Grants(SyncId syncId);

    /// <summary>Grants of one entitlement (by <c>entitlement.entitlement_id</c>), by (principal type, principal id, external id).</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="entitlementId">The entitlement id.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<GrantRecord> GrantsByEntitlement(SyncId syncId, string entitlementId);

    /// <summary>Grants held by one principal, by external id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="principalResourceTypeId">Principal's resource type.</param>
    /// <param name="principalResourceId">Principal's id.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<GrantRecord> GrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId);

    /// <summary>Grants whose entitlement is on one resource (<c>entitlement.resource_type_id/resource_id</c>), by external id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="resourceTypeId">Entitlement resource type.</param>
    /// <param name="resourceId">Entitlement resource id.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<GrantRecord> GrantsByEntitlementResource(SyncId syncId, string resourceTypeId, string resourceId);

    /// <summary>Grants with <c>needs_expansion</c> set, by external id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<GrantRecord> GrantsNeedingExpansion(SyncId syncId);

    /// <summary>All assets of a sync, by external id.</summary>
    /// <param name="syncId">The sync.</param>
    /// <returns>A lazy, snapshot-consistent sequence.</returns>
    IEnumerable<AssetRecord> Assets(SyncId syncId);

    /// <summary>Record counts of one sync.</summary>
    /// <param name="syncId">The sync.</param>
    /// <returns>Counts per kind.</returns>
    RecordCounts Count(SyncId syncId);

    /// <summary>
    /// Lists <paramref name="listing"/> of <paramref name="syncId"/> in its order (see <see cref="RecordListing"/>),
    /// starting strictly after position <paramref name="after"/> when given: the resumable form of the scans
    /// above, for paging that stays exact while other threads write.
    /// </summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="syncId">The sync.</param>
    /// <param name="listing">What to list.</param>
    /// <param name="after">A position (<see cref="RecordListing.SortKey"/> of a record) to resume after, or null for the start.</param>
    /// <returns>A lazy enumeration with the snapshot semantics of the other scans.</returns>
    /// <exception cref="Errors.C1zArgumentException"><paramref name="after"/> has the wrong number of elements.</exception>
    IEnumerable<T> List<T>(SyncId syncId, RecordListing<T> listing, IReadOnlyList<string>? after = null)
        where T : class, Google.Protobuf.IMessage<T>, new();

    /// <summary>
    /// Hands every grant of <paramref name="listing"/> to <paramref name="visitor"/> as a <see cref="Codecs.GrantRow"/>
    /// (UTF-8 spans of its ids), in the listing's order and on one snapshot, for callers that need the ids but
    /// not the records (expansion, diff, export of ids). An engine that reads its stored encoding directly
    /// allocates nothing per row; this default builds each record and encodes it again.
    /// </summary>
    /// <typeparam name="TVisitor">A struct visitor: called directly, never boxed.</typeparam>
    /// <param name="syncId">The sync.</param>
    /// <param name="listing">Which grants (any grant listing).</param>
    /// <param name="visitor">The visitor; its state is updated in place.</param>
    /// <returns>Rows visited (the row on which the visitor stopped included).</returns>
    /// <exception cref="Errors.C1zCorruptionException">A stored value does not decode.</exception>
    long VisitGrants<TVisitor>(SyncId syncId, RecordListing<GrantRecord> listing, ref TVisitor visitor)
        where TVisitor : struct, Codecs.IGrantRowVisitor
    {
        ArgumentNullException.ThrowIfNull(listing);
        long rows = 0;
        foreach (var grant in List(syncId, listing))
        {
            byte[] encoded = Codecs.CodecRegistry.Grant.ToArray(grant);
            if (!Codecs.GrantRow.TryParse(encoded, out var row))
            {
                throw new Errors.C1zCorruptionException($"grant {grant.ExternalId} does not re-encode as a grant");
            }

            rows++;
            if (!visitor.Visit(in row))
            {
                break;
            }
        }

        return rows;
    }
}

/// <summary>Writing a store: puts, deletes, sync-run records and bulk loads (see <see cref="IC1zStore"/> for the semantics).</summary>
public interface IC1zWriter
{
    /// <summary>Whether the store refuses writes (<see cref="Errors.C1zReadOnlyException"/>).</summary>
    bool IsReadOnly { get; }

    /// <summary>Writes a sync run record as given (import, compaction). Its <c>sync_id</c> must be a valid id.</summary>
    /// <param name="record">The record.</param>
    /// <exception cref="Errors.C1zArgumentException">The record's sync id is missing or invalid.</exception>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    void PutSyncRun(SyncRunRecord record);

    /// <summary>Deletes a sync run and every record stored under it.</summary>
    /// <param name="syncId">The sync.</param>
    /// <returns>Whether the sync run existed.</returns>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    bool DeleteSync(SyncId syncId);

    /// <summary>Puts resource types under <paramref name="syncId"/> in one atomic batch.</summary>
    /// <param name="syncId">Target sync.</param>
    /// <param name="records">Records; later ones win over earlier ones with the same identity.</param>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A record has an empty identity.</exception>
    void PutResourceTypes(SyncId syncId, IReadOnlyList<ResourceTypeRecord> records);

    /// <summary>Puts resources in one atomic batch (see <see cref="PutResourceTypes"/>).</summary>
    /// <param name="syncId">Target sync.</param>
    /// <param name="records">Records.</param>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A record has an empty identity.</exception>
    void PutResources(SyncId syncId, IReadOnlyList<ResourceRecord> records);

    /// <summary>Puts entitlements in one atomic batch (see <see cref="PutResourceTypes"/>).</summary>
    /// <param name="syncId">Target sync.</param>
    /// <param name="records">Records.</param>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A record has an empty identity.</exception>
    void PutEntitlements(SyncId syncId, IReadOnlyList<EntitlementRecord> records);

    /// <summary>Puts grants in one atomic batch (see <see cref="PutResourceTypes"/>).</summary>
    /// <param name="syncId">Target sync.</param>
    /// <param name="records">Records.</param>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A record has an empty identity.</exception>
    void PutGrants(SyncId syncId, IReadOnlyList<GrantRecord> records);

    /// <summary>Puts assets in one atomic batch (see <see cref="PutResourceTypes"/>).</summary>
    /// <param name="syncId">Target sync.</param>
    /// <param name="records">Records.</param>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A record has an empty identity.</exception>
    void PutAssets(SyncId syncId, IReadOnlyList<AssetRecord> records);

    /// <summary>Deletes a resource type and its index entries.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalId">Its id.</param>
    /// <returns>Whether it existed.</returns>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    bool DeleteResourceType(SyncId syncId, string externalId);

    /// <summary>Deletes a resource and its index entries.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="resourceTypeId">Its resource type.</param>
    /// <param name="resourceId">Its id.</param>
    /// <returns>Whether it existed.</returns>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    bool DeleteResource(SyncId syncId, string resourceTypeId, string resourceId);

    /// <summary>Deletes an entitlement and its index entries.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalId">Its id.</param>
    /// <returns>Whether it existed.</returns>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    bool DeleteEntitlement(SyncId syncId, string externalId);

    /// <summary>Deletes a grant and its index entries.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalId">Its id.</param>
    /// <returns>Whether it existed.</returns>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    bool DeleteGrant(SyncId syncId, string externalId);

    /// <summary>
    /// Deletes grants and puts grants as one change set: for updates in place of many grants at once
    /// (incremental expansion), where a put or a delete per call would read and commit one grant at a
    /// time. Deletes apply first, so an id both deleted and put ends up put. An engine that can writes
    /// the whole set in one atomic batch (RocksDB: one write batch, its read-before-write as one
    /// MultiGet); this default deletes the grants one by one, then puts in one <see cref="PutGrants"/>
    /// batch, so a failure part way can leave the deletes done without the puts.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="puts">Grants to put; later ones win over earlier ones with the same id.</param>
    /// <param name="deletes">Ids of grants to delete (absent ones are ignored).</param>
    /// <returns>How many of <paramref name="deletes"/> existed and were not put again.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="puts"/>, <paramref name="deletes"/>, a grant or an id is null.</exception>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A grant or an id is empty.</exception>
    int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes)
    {
        ArgumentNullException.ThrowIfNull(puts);
        ArgumentNullException.ThrowIfNull(deletes);
        // Everything is checked before the first write, so a bad argument writes nothing.
        var putIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in puts)
        {
            ArgumentNullException.ThrowIfNull(g, nameof(puts));
            putIds.Add(string.IsNullOrEmpty(g.ExternalId) ? throw new Errors.C1zArgumentException("grant external_id must not be empty") : g.ExternalId);
        }

        foreach (string id in deletes)
        {
            ArgumentNullException.ThrowIfNull(id, nameof(deletes));
            if (id.Length == 0)
            {
                throw new Errors.C1zArgumentException("external id must not be empty");
            }
        }

        int deleted = 0;
        foreach (string id in deletes)
        {
            if (DeleteGrant(syncId, id) && !putIds.Contains(id))
            {
                deleted++;
            }
        }

        PutGrants(syncId, puts);
        return deleted;
    }

    /// <summary>
    /// <see cref="WriteGrantChanges(SyncId, IReadOnlyList{GrantRecord}, IReadOnlyList{string})"/> for a caller that
    /// has just read the committed values of grants it rewrites or deletes (a read-modify-write, with no other
    /// writer in between): an engine may take those values instead of reading them again to find the index
    /// entries to replace (RocksDB: those reads were most of an incremental expansion's write). Ids absent from
    /// <paramref name="committed"/> are read as usual. A value that is not the committed one leaves the indexes
    /// inconsistent, so pass only values read from this store and sync since its last write.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="puts">Grants to put; later ones win over earlier ones with the same id.</param>
    /// <param name="deletes">Ids of grants to delete (absent ones are ignored).</param>
    /// <param name="committed">Committed values by external id, as read from this store.</param>
    /// <returns>How many of <paramref name="deletes"/> existed and were not put again.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="puts"/>, <paramref name="deletes"/>, <paramref name="committed"/>, a grant or an id is null.</exception>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A grant or an id is empty.</exception>
    int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, GrantRecord> committed)
    {
        ArgumentNullException.ThrowIfNull(committed);
        return WriteGrantChanges(syncId, puts, deletes);
    }

    /// <summary>
    /// <see cref="WriteGrantChanges(SyncId, IReadOnlyList{GrantRecord}, IReadOnlyList{string}, IReadOnlyDictionary{string, GrantRecord})"/>
    /// with the committed values as the stored bytes the caller read (<see cref="IC1zReader.TryOpenEncodedGrantsByPrincipal"/>,
    /// <see cref="IC1zReader.TryOpenEncodedGrants(SyncId, out IEncodedGrantCursor?)"/>), for a caller that compared stored bytes instead of decoding
    /// records: decoding them only to hand them back was most of an incremental expansion's diff. The same rules
    /// apply: pass only values read from this store and sync since its last write. An engine without stored bytes
    /// ignores them and reads as usual.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="puts">Grants to put; later ones win over earlier ones with the same id.</param>
    /// <param name="deletes">Ids of grants to delete (absent ones are ignored).</param>
    /// <param name="committedValues">Committed stored values by external id, as read from this store.</param>
    /// <returns>How many of <paramref name="deletes"/> existed and were not put again.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="puts"/>, <paramref name="deletes"/>, <paramref name="committedValues"/>, a grant or an id is null.</exception>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A grant or an id is empty.</exception>
    /// <exception cref="Errors.C1zCorruptionException">A committed value is not an encoded grant.</exception>
    int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> committedValues)
    {
        ArgumentNullException.ThrowIfNull(committedValues);
        return WriteGrantChanges(syncId, puts, deletes);
    }

    /// <summary>
    /// <see cref="WriteGrantChanges(SyncId, IReadOnlyList{GrantRecord}, IReadOnlyList{string}, IReadOnlyDictionary{string, ReadOnlyMemory{byte}})"/>
    /// with the grants to put given as the encoding stores keep — the canonical encoding without <c>sync_id</c>
    /// (<see cref="Codecs.GrantRecordCodec.EncodeCompact"/> with <c>omitSyncId</c>) — for a caller that has just encoded them
    /// to compare with what is stored: an engine that keeps that encoding writes the bytes as they are, reading the
    /// index keys in place, with no record kept alive and no second encoding. Other bytes (a <c>sync_id</c>, another
    /// field order) are stored as given by such an engine, so pass only that encoding. By default each is decoded and
    /// written as a record.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="puts">Encoded grants to put; later ones win over earlier ones with the same id.</param>
    /// <param name="deletes">Ids of grants to delete (absent ones are ignored).</param>
    /// <param name="committedValues">Committed stored values by external id, as read from this store.</param>
    /// <returns>How many of <paramref name="deletes"/> existed and were not put again.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="puts"/>, <paramref name="deletes"/>, <paramref name="committedValues"/> or an id is null.</exception>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    /// <exception cref="Errors.C1zArgumentException">A put does not decode as a grant, or a grant or an id is empty.</exception>
    /// <exception cref="Errors.C1zCorruptionException">A committed value is not an encoded grant.</exception>
    int WriteEncodedGrantChanges(SyncId syncId, IReadOnlyList<ReadOnlyMemory<byte>> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> committedValues)
    {
        ArgumentNullException.ThrowIfNull(puts);
        var records = new List<GrantRecord>(puts.Count);
        foreach (var value in puts)
        {
            try
            {
                records.Add(Codecs.CodecRegistry.Grant.Decode(value.Span));
            }
            catch (Errors.C1zCorruptionException e)
            {
                // Bytes the caller passed, not stored ones: an argument error.
                throw new Errors.C1zArgumentException($"an encoded grant to put does not decode as a grant: {e.InnerException?.Message ?? e.Message}");
            }
        }

        return WriteGrantChanges(syncId, records, deletes, committedValues);
    }

    /// <summary>Deletes an asset.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="externalId">Its id.</param>
    /// <returns>Whether it existed.</returns>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    bool DeleteAsset(SyncId syncId, string externalId);

    /// <summary>
    /// Starts a bulk load into <paramref name="syncId"/>: the fast path for large batches (fixture
    /// generation, import, compaction). Records become visible atomically at
    /// <see cref="IBulkLoader.Complete"/>; disposing without completing discards them.
    /// </summary>
    /// <param name="syncId">Target sync. Engines may require it to hold no records yet (then they say so in the exception).</param>
    /// <returns>The loader; one per store at a time.</returns>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    IBulkLoader BeginBulkLoad(SyncId syncId);
}

/// <summary>The sync-run lifecycle of a writer: start or resume a sync, end it, and the current one.</summary>
public interface ISyncLifecycle
{
    /// <summary>The sync that <see cref="StartSync"/> or <see cref="SetCurrentSync"/> selected, if any.</summary>
    SyncId? CurrentSync { get; }

    /// <summary>Creates a sync run record (started now, not ended) and makes it the current sync.</summary>
    /// <param name="type">The sync type.</param>
    /// <param name="parent">Parent sync for partial and diff syncs.</param>
    /// <returns>The new sync id.</returns>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    SyncId StartSync(SyncType type, SyncId? parent = null);

    /// <summary>Selects an existing sync as the current sync.</summary>
    /// <param name="syncId">The sync.</param>
    /// <exception cref="Errors.C1zArgumentException">No sync run with that id exists.</exception>
    void SetCurrentSync(SyncId syncId);

    /// <summary>Sets the sync's <c>ended_at</c> to now (if it is not already set). Clears the current sync if it was this one.</summary>
    /// <param name="syncId">The sync.</param>
    /// <exception cref="Errors.C1zArgumentException">No sync run with that id exists.</exception>
    /// <exception cref="Errors.C1zReadOnlyException">The store is read-only.</exception>
    void EndSync(SyncId syncId);
}

/// <summary>
/// Collects records for one sync and makes them durable and visible at once.
/// Later records win over earlier ones with the same identity, exactly as with puts.
/// </summary>
public interface IBulkLoader : IDisposable
{
    /// <summary>Adds a resource type.</summary>
    /// <param name="record">The record.</param>
    void Add(ResourceTypeRecord record);

    /// <summary>Adds a resource.</summary>
    /// <param name="record">The record.</param>
    void Add(ResourceRecord record);

    /// <summary>Adds an entitlement.</summary>
    /// <param name="record">The record.</param>
    void Add(EntitlementRecord record);

    /// <summary>Adds a grant.</summary>
    /// <param name="record">The record.</param>
    void Add(GrantRecord record);

    /// <summary>Adds an asset.</summary>
    /// <param name="record">The record.</param>
    void Add(AssetRecord record);

    /// <summary>Whether <see cref="AddEncodedGrant"/> is available on this load (RocksDB, into an empty sync).</summary>
    bool AcceptsEncodedGrants => false;

    /// <summary>Adds a grant in its stored encoding, as an <see cref="IEncodedGrantCursor"/> hands it out.</summary>
    /// <param name="value">A protobuf <c>GrantRecord</c> without <c>sync_id</c>.</param>
    /// <exception cref="NotSupportedException"><see cref="AcceptsEncodedGrants"/> is false.</exception>
    /// <exception cref="Errors.C1zCorruptionException">The bytes are not a grant.</exception>
    void AddEncodedGrant(ReadOnlySpan<byte> value) => throw new NotSupportedException("this bulk load takes records only");

    /// <summary>
    /// Offers to build this load's grant indexes by merging the inputs' stored index keyspaces instead of from the
    /// grants added (a compaction between stores of this loader's layout). When it returns true, the caller adds
    /// each surviving grant with <see cref="IStoredIndexMerge.Keep"/> (or <see cref="AddEncodedGrant"/>) in strictly
    /// increasing id order, reports every (input, grant) entry that lost with <see cref="IStoredIndexMerge.Lose"/>, and
    /// calls <see cref="Complete"/>.
    /// </summary>
    /// <param name="inputs">The compaction's inputs, in its order.</param>
    /// <param name="merge">Where losing entries are reported, or null.</param>
    /// <returns>False when the loader cannot (another layout, a sync that is not empty, or more possible losers than its memory budget).</returns>
    bool TryMergeStoredGrantIndexes(IReadOnlyList<StoredIndexInput> inputs, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IStoredIndexMerge? merge)
    {
        merge = null;
        return false;
    }

    /// <summary>Whether <see cref="AddSortedGrants"/> is available on this load (RocksDB, into an empty sync).</summary>
    bool AcceptsSortedGrantSets => false;

    /// <summary>
    /// Adds every grant of a set that hands them out sorted (written straight into the sorted outputs at
    /// <see cref="Complete"/>, not encoded, sorted and spilled one by one). The set counts as added now: a grant
    /// added later with the same id wins over it, and it wins over one added before. The set is read at
    /// <see cref="Complete"/> and must stay unchanged until then.
    /// </summary>
    /// <param name="grants">The set.</param>
    /// <exception cref="NotSupportedException"><see cref="AcceptsSortedGrantSets"/> is false.</exception>
    void AddSortedGrants(ISortedGrantSet grants) => throw new NotSupportedException("this bulk load takes records only");

    /// <summary>Makes every added record durable and visible, atomically.</summary>
    /// <param name="cancellationToken">Stops the load; nothing becomes visible then.</param>
    /// <exception cref="OperationCanceledException">The load was cancelled; the store is unchanged.</exception>
    void Complete(CancellationToken cancellationToken = default);
}
