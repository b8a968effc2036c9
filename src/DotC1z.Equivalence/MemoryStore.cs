using System.Diagnostics.CodeAnalysis;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Equivalence;

/// <summary>
/// The in-memory reference store: deliberately simple and obviously correct, so the real engines
/// can be compared against it. Records live in sorted dictionaries keyed by identity in UTF-8 byte
/// order (<see cref="Utf8Ordinal"/>); index queries are plain filters over a snapshot copy, so they
/// cannot disagree with the primary data. One lock guards everything; records are cloned on the way
/// in and out so callers can never alias stored state.
/// </summary>
public sealed class MemoryStore : IC1zStore
{
    private static readonly IComparer<string> Order = Utf8Ordinal.Instance;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<SyncId, SyncRunRecord> _runs = [];
    private readonly Dictionary<SyncId, SyncData> _data = [];
    private readonly SyncLifecycle _lifecycle;
    private bool _disposed;

    private sealed class SyncData
    {
        public SortedDictionary<string, ResourceTypeRecord> ResourceTypes { get; } = new(Order);

        // Keyed by (type, id), ordered element by element like the tuple-encoded keys.
        public SortedDictionary<(string Type, string Id), ResourceRecord> Resources { get; } = new(PairOrder.Instance);

        public SortedDictionary<string, EntitlementRecord> Entitlements { get; } = new(Order);

        public SortedDictionary<string, GrantRecord> Grants { get; } = new(Order);

        public SortedDictionary<string, AssetRecord> Assets { get; } = new(Order);
    }

    /// <summary>Creates an empty store.</summary>
    public MemoryStore()
    {
        _lifecycle = new SyncLifecycle(this, null);
    }

    /// <inheritdoc/>
    public string EngineName => "memory";

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <inheritdoc/>
    public SyncId? CurrentSync => _lifecycle.Current;

    /// <inheritdoc/>
    public SyncId StartSync(SyncType type, SyncId? parent = null)
    {
        ThrowIfDisposed();
        return _lifecycle.Start(type, parent);
    }

    /// <inheritdoc/>
    public void SetCurrentSync(SyncId syncId)
    {
        ThrowIfDisposed();
        _lifecycle.SetCurrent(syncId);
    }

    /// <inheritdoc/>
    public void EndSync(SyncId syncId)
    {
        ThrowIfDisposed();
        _lifecycle.End(syncId);
    }

    /// <inheritdoc/>
    public void PutSyncRun(SyncRunRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!SyncId.TryParse(record.SyncId, out var id))
        {
            throw new C1zArgumentException($"sync run record has an invalid sync id \"{record.SyncId}\"");
        }

        lock (_lock)
        {
            ThrowIfDisposed();
            _runs[id] = record.Clone();
        }
    }

    /// <inheritdoc/>
    public bool TryGetSyncRun(SyncId syncId, [NotNullWhen(true)] out SyncRunRecord? record)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            record = _runs.TryGetValue(syncId, out var r) ? r.Clone() : null;
            return record is not null;
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<SyncRunRecord> ListSyncRuns()
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            return _runs.Values.Select(r => r.Clone()).ToList();
        }
    }

    /// <inheritdoc/>
    public bool DeleteSync(SyncId syncId)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            _data.Remove(syncId);
            _lifecycle.Forget(syncId);

            return _runs.Remove(syncId);
        }
    }

    private static (string, string) ResourceKey(string type, string id) => (type, id);

    private sealed class PairOrder : IComparer<(string Type, string Id)>
    {
        public static readonly PairOrder Instance = new();

        public int Compare((string Type, string Id) x, (string Type, string Id) y)
        {
            int c = Order.Compare(x.Type, y.Type);
            return c != 0 ? c : Order.Compare(x.Id, y.Id);
        }
    }

    private static T Stored<T>(T record, Action<T> clearSync)
        where T : IMessage<T>
    {
        var copy = record.Clone();
        clearSync(copy);
        return copy;
    }

    private void Put<TKey, T>(SyncId syncId, IReadOnlyList<T> records, Func<SyncData, SortedDictionary<TKey, T>> table, Func<T, TKey> key, Action<T> validate, Action<T> clearSync)
        where TKey : notnull
        where T : IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(records);
        foreach (var r in records)
        {
            ArgumentNullException.ThrowIfNull(r);
            validate(r);
        }

        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_data.TryGetValue(syncId, out var data))
            {
                data = new SyncData();
                _data[syncId] = data;
            }

            foreach (var r in records)
            {
                table(data)[key(r)] = Stored(r, clearSync);
            }
        }
    }

    private static void Require(string? value, string what)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw new C1zArgumentException($"{what} must not be empty");
        }
    }

    /// <inheritdoc/>
    public void PutResourceTypes(SyncId syncId, IReadOnlyList<ResourceTypeRecord> records) =>
        Put(syncId, records, d => d.ResourceTypes, r => r.ExternalId, r => Require(r.ExternalId, "resource type external_id"), r => r.SyncId = string.Empty);

    /// <inheritdoc/>
    public void PutResources(SyncId syncId, IReadOnlyList<ResourceRecord> records) =>
        Put(syncId, records, d => d.Resources, r => ResourceKey(r.ResourceTypeId, r.ResourceId), r =>
        {
            Require(r.ResourceTypeId, "resource resource_type_id");
            Require(r.ResourceId, "resource resource_id");
        }, r => r.SyncId = string.Empty);

    /// <inheritdoc/>
    public void PutEntitlements(SyncId syncId, IReadOnlyList<EntitlementRecord> records) =>
        Put(syncId, records, d => d.Entitlements, r => r.ExternalId, r => Require(r.ExternalId, "entitlement external_id"), r => r.SyncId = string.Empty);

    /// <inheritdoc/>
    public void PutGrants(SyncId syncId, IReadOnlyList<GrantRecord> records) =>
        Put(syncId, records, d => d.Grants, r => r.ExternalId, r => Require(r.ExternalId, "grant external_id"), r => r.SyncId = string.Empty);

    /// <inheritdoc/>
    public void PutAssets(SyncId syncId, IReadOnlyList<AssetRecord> records) =>
        Put(syncId, records, d => d.Assets, r => r.ExternalId, r => Require(r.ExternalId, "asset external_id"), r => r.SyncId = string.Empty);

    private bool Delete<TKey, T>(SyncId syncId, Func<SyncData, SortedDictionary<TKey, T>> table, TKey key)
        where TKey : notnull
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            return _data.TryGetValue(syncId, out var data) && table(data).Remove(key);
        }
    }

    /// <inheritdoc/>
    public bool DeleteResourceType(SyncId syncId, string externalId) => Delete(syncId, d => d.ResourceTypes, externalId);

    /// <inheritdoc/>
    public bool DeleteResource(SyncId syncId, string resourceTypeId, string resourceId) => Delete(syncId, d => d.Resources, ResourceKey(resourceTypeId, resourceId));

    /// <inheritdoc/>
    public bool DeleteEntitlement(SyncId syncId, string externalId) => Delete(syncId, d => d.Entitlements, externalId);

    /// <inheritdoc/>
    public bool DeleteGrant(SyncId syncId, string externalId) => Delete(syncId, d => d.Grants, externalId);

    /// <inheritdoc/>
    public bool DeleteAsset(SyncId syncId, string externalId) => Delete(syncId, d => d.Assets, externalId);

    private bool TryGet<TKey, T>(SyncId syncId, Func<SyncData, SortedDictionary<TKey, T>> table, TKey key, Action<T, string> setSync, [NotNullWhen(true)] out T? record)
        where TKey : notnull
        where T : class, IMessage<T>
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            record = null;
            if (_data.TryGetValue(syncId, out var data) && table(data).TryGetValue(key, out var stored))
            {
                record = stored.Clone();
                setSync(record, syncId.ToString());
            }

            return record is not null;
        }
    }

    /// <inheritdoc/>
    public bool TryGetResourceType(SyncId syncId, string externalId, [NotNullWhen(true)] out ResourceTypeRecord? record) =>
        TryGet(syncId, d => d.ResourceTypes, externalId, (r, s) => r.SyncId = s, out record);

    /// <inheritdoc/>
    public bool TryGetResource(SyncId syncId, string resourceTypeId, string resourceId, [NotNullWhen(true)] out ResourceRecord? record) =>
        TryGet(syncId, d => d.Resources, ResourceKey(resourceTypeId, resourceId), (r, s) => r.SyncId = s, out record);

    /// <inheritdoc/>
    public bool TryGetEntitlement(SyncId syncId, string externalId, [NotNullWhen(true)] out EntitlementRecord? record) =>
        TryGet(syncId, d => d.Entitlements, externalId, (r, s) => r.SyncId = s, out record);

    /// <inheritdoc/>
    public bool TryGetGrant(SyncId syncId, string externalId, [NotNullWhen(true)] out GrantRecord? record) =>
        TryGet(syncId, d => d.Grants, externalId, (r, s) => r.SyncId = s, out record);

    /// <inheritdoc/>
    public bool TryGetAsset(SyncId syncId, string externalId, [NotNullWhen(true)] out AssetRecord? record) =>
        TryGet(syncId, d => d.Assets, externalId, (r, s) => r.SyncId = s, out record);

    /// <summary>A snapshot copy of one table (records cloned, sync id set), taken under the lock.</summary>
    private List<T> Snapshot<TKey, T>(SyncId syncId, Func<SyncData, SortedDictionary<TKey, T>> table, Action<T, string> setSync)
        where TKey : notnull
        where T : IMessage<T>
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_data.TryGetValue(syncId, out var data))
            {
                return [];
            }

            string text = syncId.ToString();
            return table(data).Values.Select(r =>
            {
                var c = r.Clone();
                setSync(c, text);
                return c;
            }).ToList();
        }
    }

    private List<GrantRecord> GrantSnapshot(SyncId s) => Snapshot(s, d => d.Grants, (r, t) => r.SyncId = t);

    /// <inheritdoc/>
    public IEnumerable<ResourceTypeRecord> ResourceTypes(SyncId syncId) => Snapshot(syncId, d => d.ResourceTypes, (r, t) => r.SyncId = t);

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> Resources(SyncId syncId) => Snapshot(syncId, d => d.Resources, (r, t) => r.SyncId = t);

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> ResourcesByType(SyncId syncId, string resourceTypeId) =>
        Resources(syncId).Where(r => r.ResourceTypeId == resourceTypeId).ToList();

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> ResourcesByParent(SyncId syncId, string parentResourceTypeId, string parentResourceId) =>
        Resources(syncId).Where(r => (r.Parent?.ResourceTypeId ?? string.Empty) == parentResourceTypeId && (r.Parent?.ResourceId ?? string.Empty) == parentResourceId).ToList();

    /// <inheritdoc/>
    public IEnumerable<EntitlementRecord> Entitlements(SyncId syncId) => Snapshot(syncId, d => d.Entitlements, (r, t) => r.SyncId = t);

    /// <inheritdoc/>
    public IEnumerable<EntitlementRecord> EntitlementsByResource(SyncId syncId, string resourceTypeId, string resourceId) =>
        Entitlements(syncId).Where(e => (e.Resource?.ResourceTypeId ?? string.Empty) == resourceTypeId && (e.Resource?.ResourceId ?? string.Empty) == resourceId).ToList();

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> Grants(SyncId syncId) => GrantSnapshot(syncId);

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByEntitlement(SyncId syncId, string entitlementId) =>
        GrantSnapshot(syncId)
            .Where(g => (g.Entitlement?.EntitlementId ?? string.Empty) == entitlementId)
            .OrderBy(g => g.Principal?.ResourceTypeId ?? string.Empty, Order)
            .ThenBy(g => g.Principal?.ResourceId ?? string.Empty, Order)
            .ThenBy(g => g.ExternalId, Order)
            .ToList();

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId) =>
        GrantSnapshot(syncId).Where(g => (g.Principal?.ResourceTypeId ?? string.Empty) == principalResourceTypeId && (g.Principal?.ResourceId ?? string.Empty) == principalResourceId).ToList();

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByEntitlementResource(SyncId syncId, string resourceTypeId, string resourceId) =>
        GrantSnapshot(syncId).Where(g => (g.Entitlement?.ResourceTypeId ?? string.Empty) == resourceTypeId && (g.Entitlement?.ResourceId ?? string.Empty) == resourceId).ToList();

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsNeedingExpansion(SyncId syncId) => GrantSnapshot(syncId).Where(g => g.NeedsExpansion).ToList();

    /// <inheritdoc/>
    public IEnumerable<T> List<T>(SyncId syncId, RecordListing<T> listing, IReadOnlyList<string>? after = null)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(listing);
        if (after is not null && after.Count != listing.SortKeyLength)
        {
            throw new C1zArgumentException($"a position in {listing.Kind} has {listing.SortKeyLength} elements, not {after.Count}");
        }

        IEnumerable<IMessage> all = listing.RecordKind switch
        {
            RecordKind.ResourceType => ResourceTypes(syncId),
            RecordKind.Resource => Resources(syncId),
            RecordKind.Entitlement => Entitlements(syncId),
            RecordKind.Grant => Grants(syncId),
            _ => Assets(syncId),
        };
        return listing.Apply(all.Cast<T>(), after);
    }

    /// <inheritdoc/>
    public IEnumerable<AssetRecord> Assets(SyncId syncId) => Snapshot(syncId, d => d.Assets, (r, t) => r.SyncId = t);

    /// <inheritdoc/>
    public RecordCounts Count(SyncId syncId)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            return _data.TryGetValue(syncId, out var d)
                ? new RecordCounts(d.ResourceTypes.Count, d.Resources.Count, d.Entitlements.Count, d.Grants.Count, d.Assets.Count)
                : default;
        }
    }

    /// <inheritdoc/>
    public IBulkLoader BeginBulkLoad(SyncId syncId)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
        }

        return new Loader(this, syncId);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Buffers records and applies them at Complete, under one lock acquisition (atomic for readers).</summary>
    private sealed class Loader(MemoryStore store, SyncId sync) : IBulkLoader
    {
        private readonly List<IMessage> _records = [];
        private bool _done;

        public void Add(ResourceTypeRecord record) => _records.Add(Check(record));

        public void Add(ResourceRecord record) => _records.Add(Check(record));

        public void Add(EntitlementRecord record) => _records.Add(Check(record));

        public void Add(GrantRecord record) => _records.Add(Check(record));

        public void Add(AssetRecord record) => _records.Add(Check(record));

        private IMessage Check(IMessage record)
        {
            ArgumentNullException.ThrowIfNull(record);
            if (_done)
            {
                throw new InvalidOperationException("the bulk load is already complete");
            }

            return record; // the Put methods clone on the way in
        }

        public void Complete(CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (store._lock)
            {
                store.PutResourceTypes(sync, _records.OfType<ResourceTypeRecord>().ToList());
                store.PutResources(sync, _records.OfType<ResourceRecord>().ToList());
                store.PutEntitlements(sync, _records.OfType<EntitlementRecord>().ToList());
                store.PutGrants(sync, _records.OfType<GrantRecord>().ToList());
                store.PutAssets(sync, _records.OfType<AssetRecord>().ToList());
            }

            _done = true;
        }

        public void Dispose() => _records.Clear();
    }
}
