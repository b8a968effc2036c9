using System.Buffers.Text;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using Google.Protobuf;

namespace DotC1z.Engine.Rocks;

/// <summary>One page of records and the token of the next page.</summary>
/// <typeparam name="T">The record type.</typeparam>
/// <param name="Items">The records of this page, in scan order.</param>
/// <param name="NextPageToken">Opaque token for the next page, or <see langword="null"/> after the last page.</param>
public sealed record RecordPage<T>(IReadOnlyList<T> Items, string? NextPageToken);

public sealed partial class RocksStore
{
    /// <summary>Largest page size served; larger requests are capped.</summary>
    public const int MaxPageSize = 10_000;

    /// <summary>A page of resource types. See <see cref="PageGrants"/> for the token contract.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="pageToken">Null for the first page, else the previous page's token.</param>
    /// <param name="pageSize">1..<see cref="MaxPageSize"/> (larger values are capped).</param>
    /// <returns>The page.</returns>
    /// <exception cref="C1zArgumentException">The token is malformed or belongs to another scan, or the size is not positive.</exception>
    public RecordPage<ResourceTypeRecord> PageResourceTypes(SyncId syncId, string? pageToken, int pageSize) => Page(syncId, RecordOps.ResourceType, pageToken, pageSize);

    /// <summary>A page of resources. See <see cref="PageGrants"/> for the token contract.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="pageToken">Null for the first page, else the previous page's token.</param>
    /// <param name="pageSize">1..<see cref="MaxPageSize"/> (larger values are capped).</param>
    /// <returns>The page.</returns>
    /// <exception cref="C1zArgumentException">The token is malformed or belongs to another scan, or the size is not positive.</exception>
    public RecordPage<ResourceRecord> PageResources(SyncId syncId, string? pageToken, int pageSize) => Page(syncId, RecordOps.Resource, pageToken, pageSize);

    /// <summary>A page of entitlements. See <see cref="PageGrants"/> for the token contract.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="pageToken">Null for the first page, else the previous page's token.</param>
    /// <param name="pageSize">1..<see cref="MaxPageSize"/> (larger values are capped).</param>
    /// <returns>The page.</returns>
    /// <exception cref="C1zArgumentException">The token is malformed or belongs to another scan, or the size is not positive.</exception>
    public RecordPage<EntitlementRecord> PageEntitlements(SyncId syncId, string? pageToken, int pageSize) => Page(syncId, RecordOps.Entitlement, pageToken, pageSize);

    /// <summary>
    /// A page of grants in external-id order. The token is the last key returned (base64url), so a
    /// page continues strictly after it: records written or deleted elsewhere in the meantime never
    /// shift or repeat the rest of the listing.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="pageToken">Null for the first page, else the previous page's token.</param>
    /// <param name="pageSize">1..<see cref="MaxPageSize"/> (larger values are capped).</param>
    /// <returns>The page.</returns>
    /// <exception cref="C1zArgumentException">The token is malformed or belongs to another scan, or the size is not positive.</exception>
    public RecordPage<GrantRecord> PageGrants(SyncId syncId, string? pageToken, int pageSize) => Page(syncId, RecordOps.Grant, pageToken, pageSize);

    /// <summary>A page of assets. See <see cref="PageGrants"/> for the token contract.</summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="pageToken">Null for the first page, else the previous page's token.</param>
    /// <param name="pageSize">1..<see cref="MaxPageSize"/> (larger values are capped).</param>
    /// <returns>The page.</returns>
    /// <exception cref="C1zArgumentException">The token is malformed or belongs to another scan, or the size is not positive.</exception>
    public RecordPage<AssetRecord> PageAssets(SyncId syncId, string? pageToken, int pageSize) => Page(syncId, RecordOps.Asset, pageToken, pageSize);

    private RecordPage<T> Page<T>(SyncId syncId, RecordOps<T> ops, string? pageToken, int pageSize)
        where T : class, IMessage<T>, new()
    {
        ThrowIfDisposed();
        if (pageSize <= 0)
        {
            throw new C1zArgumentException($"page size must be positive, got {pageSize}");
        }

        pageSize = Math.Min(pageSize, MaxPageSize);
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)ops.Kind, syncId);
        byte[] start = prefix;
        if (pageToken is not null)
        {
            byte[] last;
            try
            {
                last = Base64Url.DecodeFromChars(pageToken);
            }
            catch (FormatException ex)
            {
                throw new C1zArgumentException("invalid page token: not base64url", inner: ex);
            }

            if (last.Length <= prefix.Length || !last.AsSpan().StartsWith(prefix))
            {
                throw new C1zArgumentException("invalid page token: it belongs to another listing");
            }

            // Strictly after the last returned key: the smallest longer key.
            start = [.. last, 0x00];
        }

        var items = new List<T>(Math.Min(pageSize, 1024));
        string syncText = syncId.ToString();
        byte[]? lastKey = null;
        bool more = false;
        using (var scan = new Scan(this, prefix, start))
        {
            while (scan.MoveNext())
            {
                if (items.Count == pageSize)
                {
                    more = true;
                    break;
                }

                items.Add(ops.DecodeValue(scan.Value, syncText));
                lastKey = scan.Key.ToArray();
            }
        }

        return new RecordPage<T>(items, more && lastKey is not null ? Base64Url.EncodeToString(lastKey) : null);
    }
}
