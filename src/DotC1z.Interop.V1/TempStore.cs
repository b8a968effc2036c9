using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Interop.V1;

/// <summary>A store that owns a temporary directory and deletes it on dispose; every call is forwarded.</summary>
internal sealed class TempStore(IC1zStore inner, string directory) : IC1zStore
{
    public string EngineName => inner.EngineName;

    public bool IsReadOnly => inner.IsReadOnly;

    public SyncId? CurrentSync => inner.CurrentSync;

    public void Dispose()
    {
        inner.Dispose();
        V1File.TryDeleteDirectory(directory);
    }

    public SyncId StartSync(SyncType type, SyncId? parent = null) => inner.StartSync(type, parent);

    public void SetCurrentSync(SyncId syncId) => inner.SetCurrentSync(syncId);

    public void EndSync(SyncId syncId) => inner.EndSync(syncId);

    public void PutSyncRun(SyncRunRecord record) => inner.PutSyncRun(record);

    public bool TryGetSyncRun(SyncId syncId, [NotNullWhen(true)] out SyncRunRecord? record) => inner.TryGetSyncRun(syncId, out record);

    public IReadOnlyList<SyncRunRecord> ListSyncRuns() => inner.ListSyncRuns();

    public bool DeleteSync(SyncId syncId) => inner.DeleteSync(syncId);

    public void PutResourceTypes(SyncId syncId, IReadOnlyList<ResourceTypeRecord> records) => inner.PutResourceTypes(syncId, records);

    public void PutResources(SyncId syncId, IReadOnlyList<ResourceRecord> records) => inner.PutResources(syncId, records);

    public void PutEntitlements(SyncId syncId, IReadOnlyList<EntitlementRecord> records) => inner.PutEntitlements(syncId, records);

    public void PutGrants(SyncId syncId, IReadOnlyList<GrantRecord> records) => inner.PutGrants(syncId, records);

    public void PutAssets(SyncId syncId, IReadOnlyList<AssetRecord> records) => inner.PutAssets(syncId, records);

    public bool DeleteResourceType(SyncId syncId, string externalId) => inner.DeleteResourceType(syncId, externalId);

    public bool DeleteResource(SyncId syncId, string resourceTypeId, string resourceId) => inner.DeleteResource(syncId, resourceTypeId, resourceId);

    public bool DeleteEntitlement(SyncId syncId, string externalId) => inner.DeleteEntitlement(syncId, externalId);

    public bool DeleteGrant(SyncId syncId, string externalId) => inner.DeleteGrant(syncId, externalId);

    public bool DeleteAsset(SyncId syncId, string externalId) => inner.DeleteAsset(syncId, externalId);

    public bool TryGetResourceType(SyncId syncId, string externalId, [NotNullWhen(true)] out ResourceTypeRecord? record) => inner.TryGetResourceType(syncId, externalId, out record);

    public bool TryGetResource(SyncId syncId, string resourceTypeId, string resourceId, [NotNullWhen(true)] out ResourceRecord? record) => inner.TryGetResource(syncId, resourceTypeId, resourceId, out record);

    public bool TryGetEntitlement(SyncId syncId, string externalId, [NotNullWhen(true)] out EntitlementRecord? record) => inner.TryGetEntitlement(syncId, externalId, out record);

    public bool TryGetGrant(SyncId syncId, string externalId, [NotNullWhen(true)] out GrantRecord? record) => inner.TryGetGrant(syncId, externalId, out record);

    public bool TryGetAsset(SyncId syncId, string externalId, [NotNullWhen(true)] out AssetRecord? record) => inner.TryGetAsset(syncId, externalId, out record);

    public IEnumerable<ResourceTypeRecord> ResourceTypes(SyncId syncId) => inner.ResourceTypes(syncId);

    public IEnumerable<ResourceRecord> Resources(SyncId syncId) => inner.Resources(syncId);

    public IEnumerable<ResourceRecord> ResourcesByType(SyncId syncId, string resourceTypeId) => inner.ResourcesByType(syncId, resourceTypeId);

    public IEnumerable<ResourceRecord> ResourcesByParent(SyncId syncId, string parentResourceTypeId, string parentResourceId) => inner.ResourcesByParent(syncId, parentResourceTypeId, parentResourceId);

    public IEnumerable<EntitlementRecord> Entitlements(SyncId syncId) => inner.Entitlements(syncId);

    public IEnumerable<EntitlementRecord> EntitlementsByResource(SyncId syncId, string resourceTypeId, string resourceId) => inner.EntitlementsByResource(syncId, resourceTypeId, resourceId);

    public IEnumerable<GrantRecord> Grants(SyncId syncId) => inner.Grants(syncId);

    public IEnumerable<GrantRecord> GrantsByEntitlement(SyncId syncId, string entitlementId) => inner.GrantsByEntitlement(syncId, entitlementId);

    public IEnumerable<GrantRecord> GrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId) => inner.GrantsByPrincipal(syncId, principalResourceTypeId, principalResourceId);

    public IEnumerable<GrantRecord> GrantsByEntitlementResource(SyncId syncId, string resourceTypeId, string resourceId) => inner.GrantsByEntitlementResource(syncId, resourceTypeId, resourceId);

    public IEnumerable<GrantRecord> GrantsNeedingExpansion(SyncId syncId) => inner.GrantsNeedingExpansion(syncId);

    public IEnumerable<AssetRecord> Assets(SyncId syncId) => inner.Assets(syncId);

    public RecordCounts Count(SyncId syncId) => inner.Count(syncId);

    public IBulkLoader BeginBulkLoad(SyncId syncId) => inner.BeginBulkLoad(syncId);
}
