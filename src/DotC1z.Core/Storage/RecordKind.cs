namespace DotC1z.Storage;

/// <summary>The six stored record kinds. The numeric values are the keyspace type bytes (docs/DESIGN.md §4.1).</summary>
public enum RecordKind : byte
{
    /// <summary><see cref="Records.ResourceTypeRecord"/>.</summary>
    ResourceType = 0x01,

    /// <summary><see cref="Records.ResourceRecord"/>.</summary>
    Resource = 0x02,

    /// <summary><see cref="Records.EntitlementRecord"/>.</summary>
    Entitlement = 0x03,

    /// <summary><see cref="Records.GrantRecord"/>.</summary>
    Grant = 0x04,

    /// <summary><see cref="Records.AssetRecord"/>.</summary>
    Asset = 0x05,

    /// <summary><see cref="Records.SyncRunRecord"/>.</summary>
    SyncRun = 0x06,
}

/// <summary>Per-kind record counts of one sync.</summary>
/// <param name="ResourceTypes">Resource type records.</param>
/// <param name="Resources">Resource records.</param>
/// <param name="Entitlements">Entitlement records.</param>
/// <param name="Grants">Grant records.</param>
/// <param name="Assets">Asset records.</param>
public readonly record struct RecordCounts(long ResourceTypes, long Resources, long Entitlements, long Grants, long Assets)
{
    /// <summary>Sum over all kinds.</summary>
    public long Total => ResourceTypes + Resources + Entitlements + Grants + Assets;
}
