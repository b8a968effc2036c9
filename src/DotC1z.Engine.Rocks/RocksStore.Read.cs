using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
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

    /// <inheritdoc/>
    public int TryGetGrants(SyncId syncId, ReadOnlySpan<string> externalIds, Span<GrantRecord?> records)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(records.Length, externalIds.Length, nameof(records));
        ThrowIfDisposed();
        int found = 0;
        for (int start = 0; start < externalIds.Length; start += MultiGetBatch)
        {
            int count = Math.Min(MultiGetBatch, externalIds.Length - start);
            found += MultiGet(syncId, RecordOps.Grant, externalIds.Slice(start, count), records.Slice(start, count));
        }

        return found;
    }

    // Keys per native MultiGet call: large enough that RocksDB batches its filter and block lookups
    // (it works in groups of 32), small enough that the per-batch arrays live on the stack.
    private const int MultiGetBatch = 128;

    // Values up to this size are read into a stack buffer; a larger one is read again into a rented array.
    private const int StackValueBytes = 1024;

    [SkipLocalsInit]
    private bool TryGet<T>(SyncId syncId, RecordOps<T> ops, [NotNullWhen(true)] out T? record, params ReadOnlySpan<string> ids)
        where T : class, IMessage<T>, new()
    {
        ThrowIfDisposed();
        foreach (string id in ids)
        {
            ArgumentNullException.ThrowIfNull(id);
        }

        // The key is built on the stack and the value copied once, inside the library, into a stack
        // buffer, then parsed from there: no key or value array, no closure, no malloc'd value.
        int max = Keyspace.MaxKeyLength(Keyspace.RecordHeaderLength, ids);
        byte[]? rentedKey = null;
        Span<byte> key = max <= Keyspace.StackKeyLimit ? stackalloc byte[Keyspace.StackKeyLimit] : (rentedKey = ArrayPool<byte>.Shared.Rent(max));
        Span<byte> value = stackalloc byte[StackValueBytes];
        byte[]? rentedValue = null;
        ObjectDisposedException.ThrowIf(!TryLease(), this);
        try
        {
            key = key[..Keyspace.WriteRecordKey(key, (byte)ops.Kind, syncId, ids)];
            int length = _db.GetInto(key, _nativeOptions.DefaultRead, value);
            while (length > value.Length)
            {
                // Too large for the buffer: read again into one that fits (the value may change in between, hence the loop).
                if (rentedValue is not null)
                {
                    ArrayPool<byte>.Shared.Return(rentedValue);
                }

                rentedValue = ArrayPool<byte>.Shared.Rent(length);
                value = rentedValue;
                length = _db.GetInto(key, _nativeOptions.DefaultRead, value);
            }

            record = length < 0 ? null : ops.DecodeValue(value[..length], SyncText(syncId));
            return record is not null;
        }
        catch (RocksNativeException ex)
        {
            throw RocksErrors.Map(ex, Directory, "get");
        }
        finally
        {
            ReleaseLease();
            if (rentedKey is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedKey);
            }

            if (rentedValue is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedValue);
            }
        }
    }

    /// <summary>One native MultiGet of at most <see cref="MultiGetBatch"/> single-id records; values are parsed straight from RocksDB's pinned blocks.</summary>
    [SkipLocalsInit]
    private unsafe int MultiGet<T>(SyncId syncId, RecordOps<T> ops, ReadOnlySpan<string> ids, Span<T?> records)
        where T : class, IMessage<T>, new()
    {
        int total = 0;
        foreach (string id in ids)
        {
            ArgumentNullException.ThrowIfNull(id, nameof(ids));
            total += Keyspace.MaxKeyLength(Keyspace.RecordHeaderLength, id);
        }

        int count = ids.Length;
        byte[] keyBytes = ArrayPool<byte>.Shared.Rent(total);
        byte** keys = stackalloc byte*[MultiGetBatch];
        nuint* lengths = stackalloc nuint[MultiGetBatch];
        IntPtr* values = stackalloc IntPtr[MultiGetBatch];
        IntPtr* errors = stackalloc IntPtr[MultiGetBatch];
        new Span<IntPtr>(values, count).Clear();
        new Span<IntPtr>(errors, count).Clear();
        int found = 0;
        ObjectDisposedException.ThrowIf(!TryLease(), this);
        try
        {
            fixed (byte* arena = keyBytes)
            {
                int at = 0;
                for (int i = 0; i < count; i++)
                {
                    int length = Keyspace.WriteRecordKey(keyBytes.AsSpan(at), (byte)ops.Kind, syncId, [ids[i]]);
                    keys[i] = arena + at;
                    lengths[i] = (nuint)length;
                    at += length;
                }

                _db.MultiGet(_nativeOptions.DefaultRead, count, keys, lengths, values, errors);
            }

            string? failure = null;
            for (int i = 0; i < count; i++)
            {
                string? error = RawRocks.TakeError(errors[i]);
                errors[i] = IntPtr.Zero;
                failure ??= error;
            }

            if (failure is not null)
            {
                throw RocksErrors.Map(new RocksNativeException(failure), Directory, "get");
            }

            string syncText = SyncText(syncId);
            for (int i = 0; i < count; i++)
            {
                if (values[i] == IntPtr.Zero)
                {
                    records[i] = null;
                    continue;
                }

                nuint length;
                byte* p = RawRocks.PinnableSliceValue(values[i], &length);
                records[i] = ops.DecodeValue(new ReadOnlySpan<byte>(p, checked((int)length)), syncText);
                found++;
            }

            return found;
        }
        finally
        {
            // Every slice pins a block in the cache until destroyed, and every error string is ours:
            // released on every path, a failed decode included.
            for (int i = 0; i < count; i++)
            {
                if (values[i] != IntPtr.Zero)
                {
                    RawRocks.PinnableSliceDestroy(values[i]);
                }

                if (errors[i] != IntPtr.Zero)
                {
                    RawRocks.Free(errors[i]);
                }
            }

            ReleaseLease();
            ArrayPool<byte>.Shared.Return(keyBytes);
        }
    }

    // The sync id's text, which every returned record carries: formatted once per sync, not per read.
    private sealed class SyncTextCache(SyncId id, string text)
    {
        public SyncId Id { get; } = id;

        public string Text { get; } = text;
    }

    private SyncTextCache? _syncText;

    private string SyncText(SyncId sync)
    {
        var cached = Volatile.Read(ref _syncText);
        if (cached is not null && cached.Id == sync)
        {
            return cached.Text;
        }

        cached = new SyncTextCache(sync, sync.ToString());
        Volatile.Write(ref _syncText, cached);
        return cached.Text;
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
        // A whole-keyspace walk: leave the block cache to the reads that come back (a 400k-grant count
        // filled it with 80 MiB of blocks nothing read again).
        using var scan = new Scan(this, prefix, prefix, fillCache: false);
        while (scan.MoveNext())
        {
            n++;
        }

        return n;
    }

    private IEnumerable<T> IterateRecords<T>(SyncId sync, RecordOps<T> ops, byte[] prefix, byte[] start)
        where T : class, IMessage<T>, new()
    {
        string syncText = SyncText(sync);
        var strings = ops.NewScanTable();
        using var scan = new Scan(this, prefix, start);
        while (scan.MoveNext())
        {
            yield return ops.DecodeValue(scan.Value, syncText, strings);
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
        string syncText = SyncText(sync);
        var strings = ops.NewScanTable();
        using var scan = new Scan(this, prefix, start);
        while (scan.MoveNext())
        {
            if (covering)
            {
                yield return ops.DecodeValue(scan.Value, syncText, strings);
                continue;
            }

            // The entry's value is the primary key; read it on the scan's snapshot so the pair is consistent.
            byte[]? value = scan.Get(scan.Value);
            if (value is null)
            {
                throw new Errors.C1zCorruptionException($"index entry without a primary record in {Directory}", Directory);
            }

            yield return ops.DecodeValue(value, syncText, strings);
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
    internal sealed class Scan : Tables.IKvScan
    {
        private readonly RocksStore _store;
        private readonly IntPtr _snapshot;
        private readonly bool _ownsSnapshot;
        private readonly BoundedIterator _iterator;
        private bool _started;
        private bool _disposed;

        public Scan(RocksStore store, byte[] prefix)
            : this(store, prefix, prefix)
        {
        }

        /// <summary>Scans keys under <paramref name="prefix"/> starting at <paramref name="start"/> (which sorts at or after the prefix).</summary>
        /// <param name="store">The store (leased for the scan's life).</param>
        /// <param name="prefix">The range.</param>
        /// <param name="start">Where to start.</param>
        /// <param name="fillCache">Keep the blocks read in the block cache (false for whole-keyspace scans).</param>
        /// <param name="readaheadBytes">Read this much of the file ahead from the first block (0: RocksDB's own ramp-up).</param>
        public Scan(RocksStore store, byte[] prefix, byte[] start, bool fillCache = true, int readaheadBytes = 0)
        {
            ObjectDisposedException.ThrowIf(!store.TryLease(), store);
            _store = store;
            _snapshot = RawRocks.CreateSnapshot(store._db.Handle);
            _ownsSnapshot = true;
            _iterator = new BoundedIterator(store._db.Handle, prefix, KeyRange.UpperBound(prefix), _snapshot, fillCache: fillCache, readaheadBytes: readaheadBytes);
            _iterator.Seek(start);
        }

        /// <summary>Scans <c>[lower, upper)</c> on a snapshot the caller owns and keeps alive for the scan's life (one part of a partitioned scan).</summary>
        /// <param name="store">The store (leased for the scan's life).</param>
        /// <param name="lower">Inclusive lower bound.</param>
        /// <param name="upper">Exclusive upper bound, or null for none.</param>
        /// <param name="snapshot">The shared snapshot.</param>
        /// <param name="fillCache">Keep the blocks read in the block cache.</param>
        public Scan(RocksStore store, byte[] lower, byte[]? upper, IntPtr snapshot, bool fillCache)
        {
            ObjectDisposedException.ThrowIf(!store.TryLease(), store);
            _store = store;
            _snapshot = snapshot;
            _iterator = new BoundedIterator(store._db.Handle, lower, upper, _snapshot, fillCache: fillCache);
            _iterator.Seek(lower);
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

        /// <summary>
        /// A point read on this scan's snapshot into <paramref name="buffer"/> (rented from the shared pool and
        /// grown as needed; the caller returns it); returns the value's length. The key must exist: an index
        /// entry whose record is missing is corruption.
        /// </summary>
        public int GetInto(ReadOnlySpan<byte> key, ref byte[]? buffer)
        {
            try
            {
                buffer ??= ArrayPool<byte>.Shared.Rent(StackValueBytes);
                int length;
                while ((length = _store._db.GetInto(key, _iterator.ReadOptions, buffer)) > buffer.Length)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(length);
                }

                if (length < 0)
                {
                    throw new Errors.C1zCorruptionException($"index entry without a primary record in {_store.Directory}", _store.Directory);
                }

                return length;
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
            if (_ownsSnapshot)
            {
                RawRocks.ReleaseSnapshot(_store._db.Handle, _snapshot);
            }

            _store.ReleaseLease();
        }
    }
}
