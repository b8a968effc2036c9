using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;
using DotC1z.Records;

namespace DotC1z.Storage;

/// <summary>
/// Forwards every call to an inner store. Wrappers that own something beside the store (a temporary
/// directory, a file to save back on close) derive from it and extend <see cref="Dispose"/>.
/// </summary>
/// <param name="inner">The store to forward to; this wrapper owns it.</param>
public abstract class ForwardingStore(IC1zStore inner) : IC1zStore
{
    /// <summary>The wrapped store.</summary>
    protected IC1zStore Inner { get; } = inner;

    /// <inheritdoc/>
    public string EngineName => Inner.EngineName;

    /// <inheritdoc/>
    public bool SupportsConcurrentScans => Inner.SupportsConcurrentScans;

    /// <inheritdoc/>
    public bool TryOpenEncodedGrants(SyncId syncId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor) => Inner.TryOpenEncodedGrants(syncId, out cursor);

    /// <inheritdoc/>
    public string? StoredGrantIndexLayout => Inner.StoredGrantIndexLayout;

    /// <inheritdoc/>
    public IReadOnlyList<byte[]> StoredGrantIndexSplits(SyncId syncId, StoredGrantIndex index, int parts) => Inner.StoredGrantIndexSplits(syncId, index, parts);

    /// <inheritdoc/>
    public bool TryOpenStoredGrantIndex(SyncId syncId, StoredGrantIndex index, byte[]? from, byte[]? to, [NotNullWhen(true)] out IStoredIndexCursor? cursor) =>
        Inner.TryOpenStoredGrantIndex(syncId, index, from, to, out cursor);

    /// <inheritdoc/>
    public GrantPartitions PartitionGrants(SyncId syncId, int parts) => Inner.PartitionGrants(syncId, parts);

    /// <inheritdoc/>
    public IReadOnlyList<byte[]> GrantIdSplits(SyncId syncId, int parts) => Inner.GrantIdSplits(syncId, parts);

    /// <inheritdoc/>
    public bool TryOpenEncodedGrants(SyncId syncId, byte[]? fromId, byte[]? toId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor) =>
        Inner.TryOpenEncodedGrants(syncId, fromId, toId, out cursor);

    /// <inheritdoc/>
    public bool TryOpenEncodedGrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor) =>
        Inner.TryOpenEncodedGrantsByPrincipal(syncId, principalResourceTypeId, principalResourceId, out cursor);

    /// <inheritdoc/>
    public bool IsReadOnly => Inner.IsReadOnly;

    /// <inheritdoc/>
    public SyncId? CurrentSync => Inner.CurrentSync;

    /// <summary>Disposes the inner store; derived classes release what they own after calling it.</summary>
    public virtual void Dispose()
    {
        Inner.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    public virtual SyncId StartSync(SyncType type, SyncId? parent = null) => Inner.StartSync(type, parent);

    /// <inheritdoc/>
    public virtual void SetCurrentSync(SyncId syncId) => Inner.SetCurrentSync(syncId);

    /// <inheritdoc/>
    public virtual void EndSync(SyncId syncId) => Inner.EndSync(syncId);

    /// <inheritdoc/>
    public virtual void PutSyncRun(SyncRunRecord record) => Inner.PutSyncRun(record);

    /// <inheritdoc/>
    public virtual bool TryGetSyncRun(SyncId syncId, [NotNullWhen(true)] out SyncRunRecord? record) => Inner.TryGetSyncRun(syncId, out record);

    /// <inheritdoc/>
    public virtual IReadOnlyList<SyncRunRecord> ListSyncRuns() => Inner.ListSyncRuns();

    /// <inheritdoc/>
    public virtual bool DeleteSync(SyncId syncId) => Inner.DeleteSync(syncId);

    /// <inheritdoc/>
    public virtual void PutResourceTypes(SyncId syncId, IReadOnlyList<ResourceTypeRecord> records) => Inner.PutResourceTypes(syncId, records);

    /// <inheritdoc/>
    public virtual void PutResources(SyncId syncId, IReadOnlyList<ResourceRecord> records) => Inner.PutResources(syncId, records);

    /// <inheritdoc/>
    public virtual void PutEntitlements(SyncId syncId, IReadOnlyList<EntitlementRecord> records) => Inner.PutEntitlements(syncId, records);

    /// <inheritdoc/>
    public virtual void PutGrants(SyncId syncId, IReadOnlyList<GrantRecord> records) => Inner.PutGrants(syncId, records);

    /// <inheritdoc/>
    public virtual void PutAssets(SyncId syncId, IReadOnlyList<AssetRecord> records) => Inner.PutAssets(syncId, records);

    /// <inheritdoc/>
    public virtual bool DeleteResourceType(SyncId syncId, string externalId) => Inner.DeleteResourceType(syncId, externalId);

    /// <inheritdoc/>
    public virtual bool DeleteResource(SyncId syncId, string resourceTypeId, string resourceId) => Inner.DeleteResource(syncId, resourceTypeId, resourceId);

    /// <inheritdoc/>
    public virtual bool DeleteEntitlement(SyncId syncId, string externalId) => Inner.DeleteEntitlement(syncId, externalId);

    /// <inheritdoc/>
    public virtual bool DeleteGrant(SyncId syncId, string externalId) => Inner.DeleteGrant(syncId, externalId);

    /// <inheritdoc/>
    public virtual int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes) => Inner.WriteGrantChanges(syncId, puts, deletes);

    /// <inheritdoc/>
    public virtual int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, GrantRecord> committed) =>
        Inner.WriteGrantChanges(syncId, puts, deletes, committed);

    /// <inheritdoc/>
    public virtual int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> committedValues) =>
        Inner.WriteGrantChanges(syncId, puts, deletes, committedValues);

    /// <inheritdoc/>
    public virtual int WriteEncodedGrantChanges(SyncId syncId, IReadOnlyList<ReadOnlyMemory<byte>> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> committedValues) =>
        Inner.WriteEncodedGrantChanges(syncId, puts, deletes, committedValues);

    /// <inheritdoc/>
    public virtual bool DeleteAsset(SyncId syncId, string externalId) => Inner.DeleteAsset(syncId, externalId);

    /// <inheritdoc/>
    public virtual bool TryGetResourceType(SyncId syncId, string externalId, [NotNullWhen(true)] out ResourceTypeRecord? record) => Inner.TryGetResourceType(syncId, externalId, out record);

    /// <inheritdoc/>
    public virtual bool TryGetResource(SyncId syncId, string resourceTypeId, string resourceId, [NotNullWhen(true)] out ResourceRecord? record) => Inner.TryGetResource(syncId, resourceTypeId, resourceId, out record);

    /// <inheritdoc/>
    public virtual bool TryGetEntitlement(SyncId syncId, string externalId, [NotNullWhen(true)] out EntitlementRecord? record) => Inner.TryGetEntitlement(syncId, externalId, out record);

    /// <inheritdoc/>
    public virtual bool TryGetGrant(SyncId syncId, string externalId, [NotNullWhen(true)] out GrantRecord? record) => Inner.TryGetGrant(syncId, externalId, out record);

    /// <inheritdoc/>
    public virtual long VisitGrants<TVisitor>(SyncId syncId, RecordListing<GrantRecord> listing, ref TVisitor visitor)
        where TVisitor : struct, Codecs.IGrantRowVisitor => Inner.VisitGrants(syncId, listing, ref visitor);

    /// <inheritdoc/>
    public virtual int TryGetGrants(SyncId syncId, ReadOnlySpan<string> externalIds, Span<GrantRecord?> records) => Inner.TryGetGrants(syncId, externalIds, records);

    /// <inheritdoc/>
    public virtual bool TryGetAsset(SyncId syncId, string externalId, [NotNullWhen(true)] out AssetRecord? record) => Inner.TryGetAsset(syncId, externalId, out record);

    /// <inheritdoc/>
    public virtual IEnumerable<ResourceTypeRecord> ResourceTypes(SyncId syncId) => Inner.ResourceTypes(syncId);

    /// <inheritdoc/>
    public virtual IEnumerable<ResourceRecord> Resources(SyncId syncId) => Inner.Resources(syncId);

    /// <inheritdoc/>
    public virtual IEnumerable<ResourceRecord> ResourcesByType(SyncId syncId, string resourceTypeId) => Inner.ResourcesByType(syncId, resourceTypeId);

    /// <inheritdoc/>
    public virtual IEnumerable<ResourceRecord> ResourcesByParent(SyncId syncId, string parentResourceTypeId, string parentResourceId) => Inner.ResourcesByParent(syncId, parentResourceTypeId, parentResourceId);

    /// <inheritdoc/>
    public virtual IEnumerable<EntitlementRecord> Entitlements(SyncId syncId) => Inner.Entitlements(syncId);

    /// <inheritdoc/>
    public virtual IEnumerable<EntitlementRecord> EntitlementsByResource(SyncId syncId, string resourceTypeId, string resourceId) => Inner.EntitlementsByResource(syncId, resourceTypeId, resourceId);

    /// <inheritdoc/>
    public virtual IEnumerable<GrantRecord> Grants(SyncId syncId) => Inner.Grants(syncId);

    /// <inheritdoc/>
    public virtual IEnumerable<GrantRecord> GrantsByEntitlement(SyncId syncId, string entitlementId) => Inner.GrantsByEntitlement(syncId, entitlementId);

    /// <inheritdoc/>
    public virtual IEnumerable<GrantRecord> GrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId) => Inner.GrantsByPrincipal(syncId, principalResourceTypeId, principalResourceId);

    /// <inheritdoc/>
    public virtual IEnumerable<T> List<T>(SyncId syncId, RecordListing<T> listing, IReadOnlyList<string>? after = null)
        where T : class, Google.Protobuf.IMessage<T>, new() => Inner.List(syncId, listing, after);

    /// <inheritdoc/>
    public virtual IEnumerable<GrantRecord> GrantsByEntitlementResource(SyncId syncId, string resourceTypeId, string resourceId) => Inner.GrantsByEntitlementResource(syncId, resourceTypeId, resourceId);

    /// <inheritdoc/>
    public virtual IEnumerable<GrantRecord> GrantsNeedingExpansion(SyncId syncId) => Inner.GrantsNeedingExpansion(syncId);

    /// <inheritdoc/>
    public virtual IEnumerable<AssetRecord> Assets(SyncId syncId) => Inner.Assets(syncId);

    /// <inheritdoc/>
    public virtual RecordCounts Count(SyncId syncId) => Inner.Count(syncId);

    /// <inheritdoc/>
    public virtual IBulkLoader BeginBulkLoad(SyncId syncId) => Inner.BeginBulkLoad(syncId);
}
