using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Engine.Rocks;

public sealed partial class RocksStore
{
    /// <inheritdoc/>
    public bool TryGetResourceType(SyncId syncId, string externalId, [NotNullWhen(true)] out ResourceTypeRecord? record) =>
        TryGet(syncId, RecordOps.ResourceType, out record, externalId);

    /// <inheritdoc/>
    public bool TryGetResource(SyncId syncId, string resourceTypeId, string resourceId, [NotNullWhen(true)] out ResourceRecord? record) =>
        TryGet(syncId, RecordOps.Resource, out record, resourceTypeId, resourceId);

    /// <inheritdoc/>
    public bool TryGetEntitlement(SyncId syncId, string externalId, [NotNullWhen(true)] out EntitlementRecord? record) =>
        TryGet(syncId, RecordOps.Entitlement, out record, externalId);

    /// <inheritdoc/>
    public bool TryGetGrant(SyncId syncId, string externalId, [NotNullWhen(true)] out GrantRecord? record) =>
        TryGet(syncId, RecordOps.Grant, out record, externalId);

    /// <inheritdoc/>
    public bool TryGetAsset(SyncId syncId, string externalId, [NotNullWhen(true)] out AssetRecord? record) =>
        TryGet(syncId, RecordOps.Asset, out record, externalId);

    private bool TryGet<T>(SyncId syncId, RecordOps<T> ops, [NotNullWhen(true)] out T? record, params string[] ids)
        where T : class, IMessage<T>, new()
    {
        ThrowIfDisposed();
        foreach (string id in ids)
        {
            ArgumentNullException.ThrowIfNull(id);
        }

        byte[] key = Keyspace.RecordKey((byte)ops.Kind, syncId, ids);
        byte[]? value = Get(key, "get");
        record = value is null ? null : ops.DecodeValue(value, syncId.ToString());
        return record is not null;
    }

    /// <inheritdoc/>
    public IEnumerable<ResourceTypeRecord> ResourceTypes(SyncId syncId) => List(syncId, RecordListing.ResourceTypes());

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> Resources(SyncId syncId) => List(syncId, RecordListing.Resources());

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> ResourcesByType(SyncId syncId, string resourceTypeId) => List(syncId, RecordListing.ResourcesByType(resourceTypeId));

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> ResourcesByParent(SyncId syncId, string parentResourceTypeId, string parentResourceId) =>
        List(syncId, RecordListing.ResourcesByParent(parentResourceTypeId, parentResourceId));

    /// <inheritdoc/>
    public IEnumerable<EntitlementRecord> Entitlements(SyncId syncId) => List(syncId, RecordListing.Entitlements());

    /// <inheritdoc/>
    public IEnumerable<EntitlementRecord> EntitlementsByResource(SyncId syncId, string resourceTypeId, string resourceId) =>
        List(syncId, RecordListing.EntitlementsByResource(resourceTypeId, resourceId));

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> Grants(SyncId syncId) => List(syncId, RecordListing.Grants());

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByEntitlement(SyncId syncId, string entitlementId) => List(syncId, RecordListing.GrantsByEntitlement(entitlementId));

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId) =>
        List(syncId, RecordListing.GrantsByPrincipal(principalResourceTypeId, principalResourceId));

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByEntitlementResource(SyncId syncId, string resourceTypeId, string resourceId) =>
        List(syncId, RecordListing.GrantsByResource(resourceTypeId, resourceId));

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsNeedingExpansion(SyncId syncId) =>
        ScanIndex(syncId, RecordOps.Grant, Keyspace.IndexSyncPrefix(Keyspace.IdxGrantNeedsExpansion, syncId), covering: false);

    /// <inheritdoc/>
    public IEnumerable<AssetRecord> Assets(SyncId syncId) => List(syncId, RecordListing.Assets());

    /// <inheritdoc/>
    public RecordCounts Count(SyncId syncId)
    {
        ThrowIfDisposed();
        return new RecordCounts(
            CountKeys(Keyspace.RecordSyncPrefix((byte)RecordKind.ResourceType, syncId)),
            CountKeys(Keyspace.RecordSyncPrefix((byte)RecordKind.Resource, syncId)),
            CountKeys(Keyspace.RecordSyncPrefix((byte)RecordKind.Entitlement, syncId)),
            CountKeys(Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId)),
            CountKeys(Keyspace.RecordSyncPrefix((byte)RecordKind.Asset, syncId)));
    }

    private long CountKeys(byte[] prefix)
    {
        long n = 0;
        using var scan = new Scan(this, prefix);
        while (scan.MoveNext())
        {
            n++;
        }

        return n;
    }

    private IEnumerable<T> IterateRecords<T>(SyncId sync, RecordOps<T> ops, byte[] prefix, byte[] start)
        where T : class, IMessage<T>, new()
    {
        string syncText = sync.ToString();
        using var scan = new Scan(this, prefix, start);
        while (scan.MoveNext())
        {
            yield return ops.DecodeValue(scan.Value, syncText);
        }
    }

    private IEnumerable<T> ScanIndex<T>(SyncId syncId, RecordOps<T> ops, byte[] prefix, bool covering)
        where T : class, IMessage<T>, new()
    {
        ThrowIfDisposed();
        return IterateIndex(syncId, ops, prefix, prefix, covering);
    }

    private IEnumerable<T> IterateIndex<T>(SyncId sync, RecordOps<T> ops, byte[] prefix, byte[] start, bool covering)
        where T : class, IMessage<T>, new()
    {
        string syncText = sync.ToString();
        using var scan = new Scan(this, prefix, start);
        while (scan.MoveNext())
        {
            if (covering)
            {
                yield return ops.DecodeValue(scan.Value, syncText);
                continue;
            }

            // The entry's value is the primary key; read it on the scan's snapshot so the pair is consistent.
            byte[]? value = scan.Get(scan.Value);
            if (value is null)
            {
                throw new Errors.C1zCorruptionException($"index entry without a primary record in {Directory}", Directory);
            }

            yield return ops.DecodeValue(value, syncText);
        }
    }

    /// <summary>All raw key/value pairs under a prefix (copies; for small keyspaces and tools).</summary>
    internal IEnumerable<(byte[] Key, byte[] Value)> ScanRaw(byte[] prefix)
    {
        ThrowIfDisposed();
        using var scan = new Scan(this, prefix);
        while (scan.MoveNext())
        {
            yield return (scan.Key.ToArray(), scan.Value.ToArray());
        }
    }

    /// <summary>
    /// A bounded forward scan on its own snapshot. Bounds are <c>[prefix, successor(prefix))</c>.
    /// <see cref="MoveNext"/> checks the native iterator's error status when the range ends, so a
    /// scan that stops early because of corruption raises instead of returning fewer rows.
    /// </summary>
    internal sealed class Scan : IDisposable
    {
        private readonly RocksStore _store;
        private readonly IntPtr _snapshot;
        private readonly BoundedIterator _iterator;
        private bool _started;
        private bool _disposed;

        public Scan(RocksStore store, byte[] prefix)
            : this(store, prefix, prefix)
        {
        }

        /// <summary>Scans keys under <paramref name="prefix"/> starting at <paramref name="start"/> (which sorts at or after the prefix).</summary>
        public Scan(RocksStore store, byte[] prefix, byte[] start)
        {
            ObjectDisposedException.ThrowIf(!store.TryLease(), store);
            _store = store;
            _snapshot = RawRocks.CreateSnapshot(store._db.Handle);
            _iterator = new BoundedIterator(store._db.Handle, prefix, KeyRange.UpperBound(prefix), _snapshot);
            _iterator.Seek(start);
        }

        // Spans over RocksDB's buffers, valid until the next move (raw calls: no copy, no garbage).
        public ReadOnlySpan<byte> Key => _iterator.Key;

        public ReadOnlySpan<byte> Value => _iterator.Value;

        public bool MoveNext()
        {
            // The lease keeps the handles valid, but a disposed store answers nothing more.
            _store.ThrowIfDisposed();
            if (_started)
            {
                _iterator.Next();
            }

            _started = true;
            if (_iterator.Valid)
            {
                return true;
            }

            _iterator.ThrowIfFailed(_store.Directory, "scan");
            return false;
        }

        /// <summary>A point read on this scan's snapshot.</summary>
        public byte[]? Get(ReadOnlySpan<byte> key)
        {
            try
            {
                return _store._db.Get(key, _iterator.ReadOptions);
            }
            catch (RocksNativeException ex)
            {
                throw RocksErrors.Map(ex, _store.Directory, "get");
            }
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _iterator.Dispose();
            RawRocks.ReleaseSnapshot(_store._db.Handle, _snapshot);
            _store.ReleaseLease();
        }
    }
}
