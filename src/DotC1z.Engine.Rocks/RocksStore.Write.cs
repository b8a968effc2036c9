using System.Buffers;
using System.Runtime.InteropServices;
using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;
using DotC1z.Records;
using Google.Protobuf;

namespace DotC1z.Engine.Rocks;

public sealed partial class RocksStore
{
    /// <inheritdoc/>
    public void PutResourceTypes(SyncId syncId, IReadOnlyList<ResourceTypeRecord> records) => PutRecords(syncId, records, RecordOps.ResourceType);

    /// <inheritdoc/>
    public void PutResources(SyncId syncId, IReadOnlyList<ResourceRecord> records) => PutRecords(syncId, records, RecordOps.Resource);

    /// <inheritdoc/>
    public void PutEntitlements(SyncId syncId, IReadOnlyList<EntitlementRecord> records) => PutRecords(syncId, records, RecordOps.Entitlement);

    /// <inheritdoc/>
    public void PutGrants(SyncId syncId, IReadOnlyList<GrantRecord> records) => PutRecords(syncId, records, RecordOps.Grant);

    /// <inheritdoc/>
    public void PutAssets(SyncId syncId, IReadOnlyList<AssetRecord> records) => PutRecords(syncId, records, RecordOps.Asset);

    /// <inheritdoc/>
    public bool DeleteResourceType(SyncId syncId, string externalId) =>
        DeleteRecord(syncId, Keyspace.RecordKey((byte)RecordOps.ResourceType.Kind, syncId, RequireId(externalId, "external id")), RecordOps.ResourceType);

    /// <inheritdoc/>
    public bool DeleteResource(SyncId syncId, string resourceTypeId, string resourceId) =>
        DeleteRecord(syncId, Keyspace.RecordKey((byte)RecordOps.Resource.Kind, syncId, RequireId(resourceTypeId, "resource type id"), RequireId(resourceId, "resource id")), RecordOps.Resource);

    /// <inheritdoc/>
    public bool DeleteEntitlement(SyncId syncId, string externalId) =>
        DeleteRecord(syncId, Keyspace.RecordKey((byte)RecordOps.Entitlement.Kind, syncId, RequireId(externalId, "external id")), RecordOps.Entitlement);

    /// <inheritdoc/>
    public bool DeleteGrant(SyncId syncId, string externalId) =>
        DeleteRecord(syncId, Keyspace.RecordKey((byte)RecordOps.Grant.Kind, syncId, RequireId(externalId, "external id")), RecordOps.Grant);

    /// <inheritdoc/>
    public bool DeleteAsset(SyncId syncId, string externalId) =>
        DeleteRecord(syncId, Keyspace.RecordKey((byte)RecordOps.Asset.Kind, syncId, RequireId(externalId, "external id")), RecordOps.Asset);

    /// <summary>
    /// One atomic batch: for each identity (last occurrence wins), delete the index entries of the
    /// committed old value, then put the new value and its index entries. Deleting and re-putting an
    /// unchanged index key in one batch keeps it (batch operations apply in order).
    /// </summary>
    private void PutRecords<T>(SyncId syncId, IReadOnlyList<T> records, RecordOps<T> ops)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(records);
        ThrowIfNotWritable();
        if (records.Count == 0)
        {
            return;
        }

        using var batch = new NativeWriteBatch();
        lock (_writeLock)
        {
            AppendPuts(batch, syncId, records, ops);
            Commit(batch, keepGrantDigests: ops.Kind != RecordKind.Grant);
        }
    }

    /// <summary>
    /// Adds puts to <paramref name="batch"/>: for each identity (last occurrence wins), deletions of the
    /// committed old value's index entries, then the new value and its index entries. Deleting and
    /// re-putting an unchanged index key in one batch keeps it (batch operations apply in order).
    /// Callers hold the write lock, so the committed old value cannot change underneath.
    /// </summary>
    private void AppendPuts<T>(NativeWriteBatch batch, SyncId syncId, IReadOnlyList<T> records, RecordOps<T> ops)
        where T : class, IMessage<T>, new()
    {
        var last = new Dictionary<byte[], int>(records.Count, ByteArrayComparer.Instance);
        var keys = new byte[records.Count][];
        for (int i = 0; i < records.Count; i++)
        {
            var r = records[i] ?? throw new ArgumentException($"record {i} is null", nameof(records));
            ops.Validate(r);
            keys[i] = ops.PrimaryKey(syncId, r);
            last[keys[i]] = i;
        }

        for (int i = 0; i < records.Count; i++)
        {
            if (last[keys[i]] != i)
            {
                continue;
            }

            byte[] key = keys[i];
            byte[]? old = ops.Indexes is null ? null : Get(key, "read before write");
            AppendPut(batch, syncId, key, records[i], old is null ? null : ops.Codec.Decode(old), ops);
        }
    }

    /// <summary>Adds one put to <paramref name="batch"/>: deletions of the committed <paramref name="old"/> value's index entries, then the value and its index entries.</summary>
    private static void AppendPut<T>(NativeWriteBatch batch, SyncId syncId, byte[] key, T record, T? old, RecordOps<T> ops)
        where T : class, IMessage<T>, new()
    {
        if (old is not null && ops.Indexes is not null)
        {
            foreach (var entry in ops.Indexes(syncId, old))
            {
                batch.Delete(entry.Key);
            }
        }

        byte[] value = ops.EncodeValue(record);
        batch.Put(key, value);
        if (ops.Indexes is not null)
        {
            foreach (var entry in ops.Indexes(syncId, record))
            {
                batch.Put(entry.Key, entry.Covering ? value : key);
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// One write batch under the write lock. The read-before-write that finds the index entries of the
    /// committed values is batched MultiGets (<see cref="TryGetGrants"/>) on all cores, not a point read
    /// per grant on one: over a large sync those reads land on different blocks, and were most of the
    /// cost of <see cref="PutGrants"/> followed by one <see cref="DeleteGrant"/> per id.
    /// </remarks>
    public int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes) => WriteGrantChangesCore(syncId, puts, deletes, null, null);

    /// <summary>
    /// The change set, its read-before-write skipped for the ids whose committed values the caller passes, as records
    /// (<see cref="IC1zWriter.WriteGrantChanges(SyncId, IReadOnlyList{GrantRecord}, IReadOnlyList{string}, IReadOnlyDictionary{string, GrantRecord})"/>)
    /// or as stored bytes (<see cref="IC1zWriter.WriteGrantChanges(SyncId, IReadOnlyList{GrantRecord}, IReadOnlyList{string}, IReadOnlyDictionary{string, ReadOnlyMemory{byte}})"/>).
    /// </summary>
    private int WriteGrantChangesCore(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, GrantRecord>? committed, IReadOnlyDictionary<string, ReadOnlyMemory<byte>>? committedValues) =>
        WriteGrantChangesCore(syncId, puts, [], deletes, committed, committedValues);

    /// <summary>
    /// The change set, its puts given as records, as stored encodings, or both (ids in both: the encoded put wins), its
    /// read-before-write skipped for the ids whose committed values the caller passes.
    /// </summary>
    private int WriteGrantChangesCore(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<ReadOnlyMemory<byte>> encodedPuts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, GrantRecord>? committed, IReadOnlyDictionary<string, ReadOnlyMemory<byte>>? committedValues)
    {
        ArgumentNullException.ThrowIfNull(puts);
        ArgumentNullException.ThrowIfNull(encodedPuts);
        ArgumentNullException.ThrowIfNull(deletes);
        ThrowIfNotWritable();
        var ops = RecordOps.Grant;

        // Each id once: the last put wins, and a deleted id that is put again is only put.
        var last = new Dictionary<string, GrantPut>(puts.Count + encodedPuts.Count, StringComparer.Ordinal);
        foreach (var g in puts)
        {
            ArgumentNullException.ThrowIfNull(g, nameof(puts));
            ops.Validate(g);
            last[g.ExternalId] = new GrantPut(g);
        }

        // Encoded puts are parsed once, on all cores: their ids, index entries and, where the caller passed the committed
        // value, whether it keeps their index keys (each put was parsed three times, once on this thread; parsing was a
        // tenth of G16's write).
        var encoded = new GrantPut[encodedPuts.Count];
        InSlices(encoded.Length, (from, to) =>
        {
            for (int i = from; i < to; i++)
            {
                encoded[i] = GrantPut.Encoded(encodedPuts[i], syncId, committed is null ? committedValues : null, Directory);
            }
        });
        foreach (var put in encoded)
        {
            last[put.Id] = put;
        }

        var gone = new HashSet<string>(StringComparer.Ordinal);
        foreach (string id in deletes)
        {
            ArgumentNullException.ThrowIfNull(id, nameof(deletes));
            if (!last.ContainsKey(RequireId(id, "external id")))
            {
                gone.Add(id);
            }
        }

        if (last.Count == 0 && gone.Count == 0)
        {
            return 0;
        }

        string[] ids = [.. gone, .. last.Keys];
        var olds = new CommittedGrant[ids.Length];
        var oldEntries = new Keyspace.IndexEntry[ids.Length][];

        // Whether the committed value has the put's index keys: its entries that hold no value (the primary key) stand.
        var kept = new bool[ids.Length];
        var written = new (byte[] Key, byte[] Value, Keyspace.IndexEntry[] Entries)[ids.Length];
        int deleted = 0;
        void Slices(Action<int, int> body) => InSlices(ids.Length, body);

        // The new values' keys and encodings depend on nothing stored, so they are made before the write lock is
        // taken: another thread's change set commits meanwhile.
        Slices((from, to) =>
        {
            byte[]? scratch = null;
            try
            {
                for (int i = Math.Max(from, gone.Count); i < to; i++)
                {
                    var put = last[ids[i]];
                    written[i] = put.Record is { } record
                        ? (ops.PrimaryKey(syncId, record), EncodeGrantValue(record, ref scratch), [.. Keyspace.IndexEntries(syncId, record)])
                        : (Keyspace.RecordKey((byte)ops.Kind, syncId, put.Id), WholeArray(put.Value), put.Entries!);
                }
            }
            finally
            {
                if (scratch is not null)
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                }
            }
        });

        lock (_writeLock)
        {
            // Read under the write lock, so the committed values cannot change before the batch is written.
            // The reads (random blocks over a large sync), decodes and index keys are the cost, so they run on
            // all cores in slices; the batch is then filled in order on this thread.
            Slices((from, to) =>
            {
                ReadCommitted(syncId, committed, committedValues, ids.AsSpan(from, to - from), olds.AsSpan(from, to - from));
                for (int i = from; i < to; i++)
                {
                    // A rewrite that keeps every indexed field puts the same index keys again, so the old ones need no delete.
                    var old = olds[i];
                    kept[i] = old.Exists && i >= gone.Count && last[ids[i]].SameIndexKeys(old);
                    oldEntries[i] = old.Exists && !kept[i] ? [.. Keyspace.IndexEntries(syncId, old.Record())] : [];
                }
            });

            // The old value's index entries go first: an entry the new value keeps is put again after.
            int count = 0;
            for (int i = 0; i < ids.Length; i++)
            {
                count += oldEntries[i].Length + (i >= gone.Count ? 1 + written[i].Entries.Length : 1);
            }

            var changes = new List<(byte[] Key, byte[]? Value)>(count);
            for (int i = 0; i < ids.Length; i++)
            {
                foreach (var entry in oldEntries[i])
                {
                    changes.Add((entry.Key, null));
                }

                if (i >= gone.Count)
                {
                    var (key, value, entries) = written[i];
                    changes.Add((key, value));
                    foreach (var entry in entries)
                    {
                        if (entry.Covering || !kept[i])
                        {
                            changes.Add((entry.Key, entry.Covering ? value : key));
                        }
                    }
                }
                else if (olds[i].Exists)
                {
                    changes.Add((Keyspace.RecordKey((byte)ops.Kind, syncId, ids[i]), null));
                    deleted++;
                }
            }

            if (ids.Length >= IngestChangeGrants)
            {
                IngestChanges(changes);
            }
            else
            {
                using var batch = new NativeWriteBatch(BatchBytes(changes));
                foreach (var (key, value) in changes)
                {
                    if (value is null)
                    {
                        batch.Delete(key);
                    }
                    else
                    {
                        batch.Put(key, value);
                    }
                }

                Commit(batch);
            }
        }

        return deleted;
    }

    /// <summary>
    /// Runs <paramref name="body"/> over <c>[0, count)</c> cut into contiguous slices, one per core, each at least
    /// 1,024 items (fewer items: one slice, on this thread's share of the loop).
    /// </summary>
    private void InSlices(int count, Action<int, int> body)
    {
        int parts = Math.Clamp(count / 1024, 1, Environment.ProcessorCount);
        C1zErrors.Unwrapped(() => Parallel.For(0, parts, part =>
            body((int)((long)count * part / parts), (int)((long)count * (part + 1) / parts))), Directory);
    }

    /// <summary>The bytes as an array: the caller's own when the memory is one whole array (nothing written changes it), else a copy.</summary>
    private static byte[] WholeArray(ReadOnlyMemory<byte> value) =>
        MemoryMarshal.TryGetArray(value, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length ? segment.Array : value.ToArray();

    /// <summary>
    /// A grant's stored value by the one-pass encoder (byte for byte the canonical encoding without <c>sync_id</c>),
    /// the generated one only for a grant carrying unknown fields: the generic road copies a grant whose sources are
    /// not in key order to sort them.
    /// </summary>
    private static byte[] EncodeGrantValue(GrantRecord record, ref byte[]? scratch) =>
        GrantRecordCodec.EncodeCompactPooled(record, ref scratch, out int written, omitSyncId: true) == OperationStatus.Done
            ? scratch.AsSpan(0, written).ToArray()
            : RecordOps.Grant.EncodeValue(record);

    /// <summary>
    /// Change sets of at least this many grants are written as one SST file ingested over the sync, not through the
    /// memtable: inserting 60k keys and values of a 20k-grant rewrite into the skiplist (each a first touch of fresh
    /// arena pages) was two thirds of an incremental expansion's write (docs/PERFORMANCE.md, G16).
    /// </summary>
    private const int IngestChangeGrants = 4096;

    /// <summary>
    /// Writes a change set, in batch order, as one SST and ingests it: sorted by key, each key's last operation kept
    /// (a deleted index entry the new value puts again is a put), deletions as tombstones over the older values.
    /// The file lands above everything stored, so the set appears at once, as a batch would. Called under the write lock.
    /// </summary>
    private void IngestChanges(List<(byte[] Key, byte[]? Value)> changes)
    {
        // Sorted per keyspace (the keys' first three bytes) on all cores, the keyspaces then in their byte order.
        var groups = new SortedDictionary<int, List<int>>();
        for (int i = 0; i < changes.Count; i++)
        {
            byte[] key = changes[i].Key;
            int space = (key[0] << 16) | (key[1] << 8) | key[2];
            if (!groups.TryGetValue(space, out var group))
            {
                groups[space] = group = [];
            }

            group.Add(i);
        }

        // Each keyspace's entries sorted in a run keyed by the 16 bytes after the keys' common header (KvRun): a
        // comparison sort over the keys themselves compared tens of shared header bytes a time, a quarter of G16's write.
        var spaces = groups.Values.ToArray();
        var runs = new KvRun[spaces.Length];
        C1zErrors.Unwrapped(() => Parallel.For(0, spaces.Length, p =>
        {
            var group = spaces[p];
            byte[] first = changes[group[0]].Key;
            int common = first.Length, bytes = 0;
            foreach (int i in group)
            {
                byte[] key = changes[i].Key;
                common = Math.Min(common, key.AsSpan(0, Math.Min(common, key.Length)).CommonPrefixLength(first));
                bytes += key.Length;
            }

            // Keys only: a value is read from its change when written (copying G16's 20 MB of values into the runs'
            // fresh arenas was a tenth of its write, most of it first touches of the new pages).
            var run = new KvRun(common, Math.Max(bytes, 1));
            foreach (int i in group)
            {
                run.Add(changes[i].Key, [], i);
            }

            run.Sort();
            runs[p] = run;
        }), Directory);
        // One file per keyspace, built on all cores (one file built on one thread was 55 of G16's 140 ms write), ingested
        // in one call: the files' key ranges are disjoint, and one ingestion applies them all at once.
        string stem = System.IO.Path.Combine(Directory, $"{ChangeScratchPrefix}{Guid.NewGuid():N}");
        var paths = new string?[runs.Length];
        try
        {
            C1zErrors.Unwrapped(() => Parallel.For(0, runs.Length, p =>
            {
                var run = runs[p];
                using var sst = new SstOutput($"{stem}-{p}.sst", Directory);
                for (int k = 0; k < run.Count; k++)
                {
                    // Each key's last operation only (runs sort equal keys in arrival order).
                    if (k + 1 < run.Count && run.KeyAt(k + 1).SequenceEqual(run.KeyAt(k)))
                    {
                        continue;
                    }

                    if (changes[(int)run.SeqAt(k)].Value is not { } value)
                    {
                        sst.Delete(run.KeyAt(k));
                    }
                    else
                    {
                        sst.Put(run.KeyAt(k), value);
                    }
                }

                paths[p] = sst.Finish();
            }), Directory);

            var files = paths.OfType<string>().ToList();
            if (files.Count == 0)
            {
                return;
            }

            ForgetGrantDigests();
            Guard(() => _db.IngestExternalFiles(files), "write");
            _modified = true;
        }
        finally
        {
            // Ingestion moves the files into the store; one left here is a failed write's (one a crash leaves is swept at
            // the next writable open).
            for (int p = 0; p < runs.Length; p++)
            {
                System.IO.File.Delete($"{stem}-{p}.sst");
            }
        }
    }

    /// <summary>The bytes a batch of <paramref name="changes"/> will hold (a bound: each operation's tag and lengths counted as 16).</summary>
    private static long BatchBytes(List<(byte[] Key, byte[]? Value)> changes)
    {
        const int PerOperation = 16;
        long bytes = 64;
        foreach (var (key, value) in changes)
        {
            bytes += key.Length + (value?.Length ?? 0) + PerOperation;
        }

        return bytes;
    }

    /// <summary>Applies a non-fresh bulk load: all records in one atomic batch, grouped by kind in arrival order.</summary>
    internal void ApplyBuffered(SyncId syncId, List<IMessage> records)
    {
        ThrowIfNotWritable();
        using var batch = new NativeWriteBatch();
        lock (_writeLock)
        {
            AppendPuts(batch, syncId, records.OfType<ResourceTypeRecord>().ToList(), RecordOps.ResourceType);
            AppendPuts(batch, syncId, records.OfType<ResourceRecord>().ToList(), RecordOps.Resource);
            AppendPuts(batch, syncId, records.OfType<EntitlementRecord>().ToList(), RecordOps.Entitlement);
            AppendPuts(batch, syncId, records.OfType<GrantRecord>().ToList(), RecordOps.Grant);
            AppendPuts(batch, syncId, records.OfType<AssetRecord>().ToList(), RecordOps.Asset);
            Commit(batch);
        }
    }

    /// <inheritdoc/>
    public IBulkLoader BeginBulkLoad(SyncId syncId)
    {
        ThrowIfNotWritable();
        if (!TryEnterBulkLoad())
        {
            throw new C1zArgumentException($"a bulk load is already running on {Directory}", Directory);
        }

        try
        {
            return new RocksBulkLoader(this, syncId);
        }
        catch
        {
            ExitBulkLoad();
            throw;
        }
    }

    /// <summary>
    /// Ingests the SST files of a fresh-sync bulk load in one call, so all keyspaces appear at once.
    /// The sync must still be empty: a write that raced the load would otherwise leave its index entries inconsistent.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="ssts">The files.</param>
    /// <param name="digests">The grant digests of the sync's whole grant set as the loader knows them, or null when it does not.</param>
    internal void Ingest(SyncId syncId, List<string> ssts, IReadOnlyDictionary<string, GrantDigest>? digests)
    {
        ThrowIfNotWritable();
        lock (_writeLock)
        {
            if (Count(syncId).Total != 0)
            {
                throw new C1zArgumentException($"sync {syncId} received writes while a bulk load into it was running; the load was discarded", Directory);
            }

            // The files hold this (empty) sync's keys only: what is known of other syncs stays true.
            _grantDigests.TryRemove(syncId, out _);
            if (ssts.Count > 0)
            {
                Guard(() => _db.IngestExternalFiles(ssts), "ingest");
                _modified = true;
            }

            if (digests is not null)
            {
                _grantDigests[syncId] = digests;
            }
        }
    }

    private bool DeleteRecord<T>(SyncId syncId, byte[] key, RecordOps<T> ops)
        where T : class, IMessage<T>, new()
    {
        ThrowIfNotWritable();
        lock (_writeLock)
        {
            byte[]? old = Get(key, "read before delete");
            if (old is null)
            {
                return false;
            }

            using var batch = new NativeWriteBatch();
            if (ops.Indexes is not null)
            {
                foreach (var entry in ops.Indexes(syncId, ops.Codec.Decode(old)))
                {
                    batch.Delete(entry.Key);
                }
            }

            batch.Delete(key);
            Commit(batch, keepGrantDigests: ops.Kind != RecordKind.Grant);
            return true;
        }
    }
}
