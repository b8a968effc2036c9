using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Fuzz;

/// <summary>Reads everything a store exposes, so lazy decoding paths run too.</summary>
internal static class StoreReader
{
    /// <summary>How many records per family also get point reads and index queries.</summary>
    private const int Probe = 16;

    /// <summary>Lists the sync runs and, per sync, every record family, the counts, and a sample of point reads and index queries.</summary>
    /// <param name="store">The store.</param>
    public static void ReadAll(IC1zStore store)
    {
        _ = store.EngineName;
        _ = store.IsReadOnly;
        foreach (var run in store.ListSyncRuns())
        {
            if (!SyncId.TryParse(run.SyncId, out var id))
            {
                continue;
            }

            _ = store.TryGetSyncRun(id, out _);
            _ = store.Count(id);
            int n = 0;
            foreach (var rt in store.ResourceTypes(id))
            {
                if (n++ < Probe)
                {
                    _ = store.TryGetResourceType(id, rt.ExternalId, out _);
                    _ = store.ResourcesByType(id, rt.ExternalId).Count();
                }
            }

            n = 0;
            foreach (var r in store.Resources(id))
            {
                if (n++ < Probe)
                {
                    _ = store.TryGetResource(id, r.ResourceTypeId, r.ResourceId, out _);
                    _ = store.ResourcesByParent(id, r.ResourceTypeId, r.ResourceId).Count();
                    _ = store.EntitlementsByResource(id, r.ResourceTypeId, r.ResourceId).Count();
                    _ = store.GrantsByPrincipal(id, r.ResourceTypeId, r.ResourceId).Count();
                    _ = store.GrantsByEntitlementResource(id, r.ResourceTypeId, r.ResourceId).Count();
                }
            }

            _ = store.ResourcesByParent(id, "", "").Count();
            n = 0;
            foreach (var e in store.Entitlements(id))
            {
                if (n++ < Probe)
                {
                    _ = store.TryGetEntitlement(id, e.ExternalId, out _);
                    _ = store.GrantsByEntitlement(id, e.ExternalId).Count();
                }
            }

            n = 0;
            foreach (var g in store.Grants(id))
            {
                if (n++ < Probe)
                {
                    _ = store.TryGetGrant(id, g.ExternalId, out _);
                }
            }

            _ = store.GrantsNeedingExpansion(id).Count();
            n = 0;
            foreach (var a in store.Assets(id))
            {
                if (n++ < Probe)
                {
                    _ = store.TryGetAsset(id, a.ExternalId, out _);
                }
            }
        }
    }
}
