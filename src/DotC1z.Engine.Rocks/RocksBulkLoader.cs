using System.Runtime.CompilerServices;
using System.Buffers;
using System.Collections.Concurrent;
using DotC1z.Errors;
using DotC1z.Codecs;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// The bulk path. For a sync that holds no records yet, every record becomes its key/value pairs
/// (primary and index entries) in per-keyspace arenas; each full chunk is sorted in memory and
/// spilled to a run file, and <see cref="Complete"/> merges the runs of each keyspace into one SST
/// file and ingests all of them with a single <c>IngestExternalFile</c> call — so the records appear
/// atomically, skip the memtable entirely, and memory stays bounded by the chunk size.
/// Duplicate identities are resolved during the merge of the primary keyspaces (the last added
/// record wins); the index entries of the losers are dropped by their sequence number.
/// Grants, the bulk of every sync, take a faster road: a compact <see cref="GrantChunk"/> whose
/// keyspaces come out in order without key sorts, a primary SST written on a second thread while ids
/// arrive in order (<see cref="PrimarySstStream"/>), and large keyspaces cut into one SST per lane.
/// Grants a producer hands over already sorted (<see cref="AddSortedGrants"/>: an expansion's derived grants) are
/// merged straight into each grant keyspace's SST at <see cref="Complete"/>, never chunked or spilled.
/// For a sync that already has records, records are buffered and applied at
/// <see cref="Complete"/> as one atomic write batch with exact index maintenance.
/// </summary>
internal sealed class RocksBulkLoader : IBulkLoader
{
    // Keyspaces of a load, in the order they are merged: primaries first (they decide which
    // duplicate wins), then the indexes.
    private const int KsResourceType = 0, KsResource = 1, KsEntitlement = 2, KsGrant = 3, KsAsset = 4,
        KsByParent = 5, KsByResource = 6, KsByEntitlement = 7, KsByPrincipal = 8, KsNeedsExpansion = 9, KsByEntitlementResource = 10, KsCount = 11;

    private readonly RocksStore _store;
    private readonly SyncId _sync;
    private readonly bool _fresh;
    private readonly string _workDir;
    private readonly KvRun[] _runs = new KvRun[KsCount];
    private readonly List<string>[] _spills = new List<string>[KsCount];
    private readonly List<IMessage> _buffered = [];
    private readonly GrantChunk _grants = new();

    // Sets of grants handed over sorted (AddSortedGrants), each with the sequence of its first grant.
    private readonly List<(ISortedGrantSet Set, long SeqBase)> _sortedSets = [];
    private byte[] _valueScratch = new byte[1024];
    private byte[] _idScratch = new byte[256];
    private long _seq;
    private int _spillFiles;
    private int _chunkRecords;
    private long _chunkBytes;
    private bool _completed;
    private bool _disposed;

    // The grant primary SST written while grants arrive (see PrimarySstStream): used while ids come
    // in strictly increasing order and everything fits one chunk; otherwise stopped for good, and the
    // primary is built from the chunk (or its spill runs) like any other keyspace.
    private PrimarySstStream? _primaryStream;
    private bool _primaryStreamStopped;
    private byte[]? _streamFloor;
    private Task<string?>? _streamFinish;

    // Set when a compaction's grant indexes come from its inputs' stored indexes: grants then feed only the
    // primary stream, in strictly increasing id order (which the stream's SST writer checks).
    private StoredIndexMerge? _indexMerge;

    public RocksBulkLoader(RocksStore store, SyncId sync)
    {
        _store = store;
        _sync = sync;
        _fresh = store.Count(sync).Total == 0;
        _workDir = Path.Combine(store.Directory, $"{RocksStore.BulkScratchPrefix}{Guid.NewGuid():N}");
        for (int i = 0; i < KsCount; i++)
        {
            int common = i <= KsAsset ? Keyspace.RecordHeaderLength + 1 : Keyspace.IndexHeaderLength + 1;
            _runs[i] = new KvRun(common, 64 * 1024);
            _spills[i] = [];
        }
    }

    public void Add(ResourceTypeRecord record) => AddRecord(record, RecordOps.ResourceType, KsResourceType);

    public void Add(ResourceRecord record) => AddRecord(record, RecordOps.Resource, KsResource);

    public void Add(EntitlementRecord record) => AddRecord(record, RecordOps.Entitlement, KsEntitlement);

    public void Add(GrantRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!_fresh)
        {
            AddRecord(record, RecordOps.Grant, KsGrant);
            return;
        }

        // Hot path (fixture generation, import, compaction): the value is encoded into a reusable
        // scratch buffer and the grant goes into the compact chunk, with no allocation per grant;
        // keys are only built when the chunk's keyspaces are written, already in order.
        ThrowIfClosed();

        RecordOps.Grant.Validate(record);

        // A full chunk spills only when another grant arrives: a load that fits exactly in one
        // chunk is written straight from memory by Complete.
        SpillGrantsIfFull();

        // Records read from a store (compaction, import, copies) carry their sync id; the stored value
        // never does (the key holds it).
        var status = GrantRecordCodec.EncodeCompact(record, _valueScratch, out int valueLength, omitSyncId: true);
        if (status == OperationStatus.DestinationTooSmall)
        {
            EnsureScratch(ref _valueScratch, valueLength);
            status = GrantRecordCodec.EncodeCompact(record, _valueScratch, out valueLength, omitSyncId: true);
        }

        if (status != OperationStatus.Done)
        {
            if (record.SyncId.Length != 0)
            {
                record = record.Clone();
                record.SyncId = string.Empty;
            }

            EnsureScratch(ref _valueScratch, CodecRegistry.Grant.CalculateSize(record));
            valueLength = CodecRegistry.Grant.Encode(record, _valueScratch);
        }

        var value = _valueScratch.AsSpan(0, valueLength);
        Stream(_grants.Add(record, value, _seq++), value);
    }

    /// <inheritdoc/>
    public bool AcceptsEncodedGrants => _fresh;

    /// <inheritdoc/>
    public void AddEncodedGrant(ReadOnlySpan<byte> value)
    {
        if (!_fresh)
        {
            throw new NotSupportedException("encoded grants go only into an empty sync");
        }

        ThrowIfClosed();

        // The byte-level road (compaction between RocksDB stores): the stored bytes are kept as they are,
        // and only the key elements are read out of them.
        if (!GrantRow.TryParse(value, out var row) || !System.Text.Unicode.Utf8.IsValid(row.ExternalId))
        {
            throw new C1zCorruptionException($"an encoded grant does not decode (bulk load into {_store.Directory})", _store.Directory);
        }

        if (row.ExternalId.IsEmpty)
        {
            throw new C1zArgumentException("grant external_id is required");
        }

        if (_indexMerge is not null)
        {
            EnsureScratch(ref _idScratch, TupleCodec.MaxEncodedLength(row.ExternalId.Length));
            if (TupleCodec.EncodeBytes(row.ExternalId, _idScratch, out int idLength) != OperationStatus.Done)
            {
                throw new InvalidOperationException("grant id does not fit its reserved space");
            }

            AddMergedGrant(_idScratch.AsSpan(0, idLength), value);
            return;
        }

        SpillGrantsIfFull();

        Stream(_grants.Add(in row, value, _seq++), value);
    }

    /// <inheritdoc/>
    public bool AcceptsSortedGrantSets => _fresh && _indexMerge is null;

    /// <inheritdoc/>
    public void AddSortedGrants(ISortedGrantSet grants)
    {
        ArgumentNullException.ThrowIfNull(grants);
        ThrowIfClosed();
        if (!AcceptsSortedGrantSets)
        {
            throw new NotSupportedException("sorted grant sets go only into an empty sync, outside a stored-index merge");
        }

        // The set's grants are not in the primary stream's order: the primary is merged at Complete instead.
        StopPrimaryStream();
        _sortedSets.Add((grants, _seq));
        _seq += grants.Count;
    }

    /// <inheritdoc/>
    public bool TryMergeStoredGrantIndexes(IReadOnlyList<StoredIndexInput> inputs, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IStoredIndexMerge? merge)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ThrowIfClosed();
        merge = null;
        if (!_fresh || _indexMerge is not null || _sortedSets.Count != 0 || _grants.Count != 0 || _spills[KsGrant].Count != 0 || _runs[KsGrant].Count != 0 || _primaryStream is not null || _primaryStreamStopped)
        {
            return false;
        }

        _indexMerge = StoredIndexMerge.TryCreate(inputs, this, _store.Options.IndexMergeMaxLosers);
        merge = _indexMerge;
        return merge is not null;
    }

    /// <summary>
    /// A grant of a stored-index merge: only its primary entry is written here (on the primary stream's threads, whose
    /// digest fold also rejects bytes that are not a grant).
    /// </summary>
    internal void AddMergedGrant(ReadOnlySpan<byte> escapedId, ReadOnlySpan<byte> value)
    {
        ThrowIfClosed();

        // The order is checked where the keys are written: the primary stream's SST writer refuses a key that is not
        // above the last one, and its Finish reports it. (A second check here, per grant, was 4 % of a compaction.)
        _seq++;
        PrimaryStream()!.Append(escapedId, value);
    }

    // The primary SST streams while ids keep increasing, across spilled chunks too (the floor is the
    // last id of the chunk before); the first id out of order stops it for good.
    private void Stream(ReadOnlySpan<byte> id, ReadOnlySpan<byte> value)
    {
        if (_primaryStreamStopped)
        {
            return;
        }

        bool increasing = _grants.Count == 1
            ? _streamFloor is null || _streamFloor.AsSpan().SequenceCompareTo(id) < 0
            : _grants.IdsStrictlyIncreasing;
        if (increasing)
        {
            PrimaryStream()?.Append(id, value);
        }
        else
        {
            StopPrimaryStream();
        }
    }

    private PrimarySstStream? PrimaryStream()
    {
        if (_primaryStream is null && !_primaryStreamStopped)
        {
            if (LaneCount < 2 && _indexMerge is null)
            {
                // One core: a second thread would only compete with the caller.
                _primaryStreamStopped = true;
                return null;
            }

            System.IO.Directory.CreateDirectory(_workDir);
            _primaryStream = new PrimarySstStream(Path.Combine(_workDir, "ingest-grants-streamed.sst"), _store.Directory, Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, _sync), foldDigests: _indexMerge is not { DigestsFromInputs: true });
        }

        return _primaryStream;
    }

    private void StopPrimaryStream()
    {
        _primaryStreamStopped = true;
        _primaryStream?.Dispose();
        _primaryStream = null;
    }

    private void ThrowIfClosed()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            throw new InvalidOperationException("the bulk load is already complete");
        }
    }

    private static void EnsureScratch(ref byte[] buffer, int size)
    {
        if (buffer.Length < size)
        {
            buffer = new byte[Math.Max(size, buffer.Length * 2)];
        }
    }

    public void Add(AssetRecord record) => AddRecord(record, RecordOps.Asset, KsAsset);

    private void AddRecord<T>(T record, RecordOps<T> ops, int keyspace)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(record);
        ThrowIfClosed();

        ops.Validate(record);
        if (!_fresh)
        {
            _buffered.Add(record);
            return;
        }

        long seq = _seq++;
        byte[] key = ops.PrimaryKey(_sync, record);
        byte[] value = ops.EncodeValue(record);
        _runs[keyspace].Add(key, value, seq);
        _chunkBytes += key.Length + value.Length;
        if (ops.Indexes is not null)
        {
            foreach (var entry in ops.Indexes(_sync, record))
            {
                byte[] entryValue = entry.Covering ? value : key;
                _runs[IndexKeyspace(entry.Key)].Add(entry.Key, entryValue, seq);
                _chunkBytes += entry.Key.Length + entryValue.Length;
            }
        }

        if (++_chunkRecords >= _store.Options.BulkChunkRecords || _chunkBytes >= _store.Options.BulkChunkBytes)
        {
            Spill();
        }
    }

    private static int IndexKeyspace(byte[] indexKey) => indexKey[2] switch
    {
        Keyspace.IdxResourceByParent => KsByParent,
        Keyspace.IdxEntitlementByResource => KsByResource,
        Keyspace.IdxGrantByEntitlement => KsByEntitlement,
        Keyspace.IdxGrantByPrincipal => KsByPrincipal,
        Keyspace.IdxGrantNeedsExpansion => KsNeedsExpansion,
        Keyspace.IdxGrantByEntitlementResource => KsByEntitlementResource,
        _ => throw new InvalidOperationException("unknown index id"),
    };

    // Which loader keyspace each output of a grant chunk feeds.
    private static readonly (GrantChunk.Output Output, int Keyspace)[] GrantOutputs =
    [
        (GrantChunk.Output.Primary, KsGrant),
        (GrantChunk.Output.ByEntitlement, KsByEntitlement),
        (GrantChunk.Output.ByPrincipal, KsByPrincipal),
        (GrantChunk.Output.NeedsExpansion, KsNeedsExpansion),
        (GrantChunk.Output.ByEntitlementResource, KsByEntitlementResource),
    ];

    /// <summary>The grant-chunk output that feeds keyspace <paramref name="ks"/>, if any.</summary>
    private static GrantChunk.Output? GrantOutputFor(int ks)
    {
        foreach (var (output, grantKs) in GrantOutputs)
        {
            if (grantKs == ks)
            {
                return output;
            }
        }

        return null;
    }

    private static int LaneCount => Math.Max(1, Math.Min(2, Environment.ProcessorCount));

    private void SpillGrantsIfFull()
    {
        if (_grants.Count >= _store.Options.BulkChunkRecords || _grants.Bytes >= _store.Options.BulkChunkBytes)
        {
            SpillGrants();
        }
    }

    /// <summary>Writes the grant chunk's keyspaces to run files (in parallel) and empties it.</summary>
    private void SpillGrants() => C1zErrors.Unwrapped(SpillGrantsCore, _store.Directory);

    private void SpillGrantsCore()
    {
        // The primary keeps streaming into the next chunk while ids keep increasing past this chunk's
        // last one. Its part of the chunk spills all the same: should a later id arrive out of order, the
        // stream is dropped and the primary is merged from the runs like any other keyspace.
        if (_primaryStream is not null)
        {
            _streamFloor = _grants.LastId.ToArray();
        }

        System.IO.Directory.CreateDirectory(_workDir);
        _grants.Seal();
        var paths = new string?[GrantOutputs.Length];
        Parallel.For(0, GrantOutputs.Length, new ParallelOptions { MaxDegreeOfParallelism = LaneCount }, i =>
        {
            var (output, ks) = GrantOutputs[i];

            using var source = _grants.Source(output, _sync);
            // Names come from one counter: an output can be empty (no grant needs expansion) and is then not kept.
            string path = Path.Combine(_workDir, $"grants-{ks:D2}-{Interlocked.Increment(ref _spillFiles):D6}.kv");
            long written;
            using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                written = RunFile.Write(stream, source);
            }

            if (written > 0)
            {
                paths[i] = path;
            }
            else
            {
                File.Delete(path);
            }
        });
        for (int i = 0; i < GrantOutputs.Length; i++)
        {
            if (paths[i] is { } path)
            {
                _spills[GrantOutputs[i].Keyspace].Add(path);
            }
        }

        _grants.Clear();
    }

    /// <summary>Sorts every non-empty arena and writes it to a run file.</summary>
    private void Spill() => C1zErrors.Unwrapped(SpillCore, _store.Directory);

    private void SpillCore()
    {
        System.IO.Directory.CreateDirectory(_workDir);
        var paths = new string?[KsCount];
        Parallel.For(0, KsCount, new ParallelOptions { MaxDegreeOfParallelism = LaneCount }, i =>
        {
            var run = _runs[i];
            if (run.Count == 0)
            {
                return;
            }

            run.Sort();
            string path = Path.Combine(_workDir, $"run-{i:D2}-{_spills[i].Count:D4}.kv");
            using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                RunFile.Write(stream, new MemorySource(run));
            }

            paths[i] = path;
            run.Clear();
        });
        for (int i = 0; i < KsCount; i++)
        {
            if (paths[i] is not null)
            {
                _spills[i].Add(paths[i]!);
            }
        }

        _chunkRecords = 0;
        _chunkBytes = 0;
    }

    public void Complete(CancellationToken cancellationToken = default) => C1zErrors.Unwrapped(() => CompleteCore(cancellationToken), _store.Directory);

    private void CompleteCore(CancellationToken cancellationToken)
    {
        ThrowIfClosed();

        cancellationToken.ThrowIfCancellationRequested();
        if (!_fresh)
        {
            _store.ApplyBuffered(_sync, _buffered);
            _completed = true;
            return;
        }

        System.IO.Directory.CreateDirectory(_workDir);
        var dead = new HashSet<long>();
        _grants.Seal();

        // Primaries first (a later duplicate marks the earlier record dead), then the indexes, which
        // drop the entries of dead records. The grant indexes need not wait when nothing can die:
        // all grants sit in the one in-memory chunk and its ids are distinct. Within a phase the
        // pieces are independent; two lanes take them largest first. A large keyspace fed only by
        // the chunk is cut into one SST per lane (disjoint key ranges), so the lanes end together.
        // A primary that streamed to the end saw every id strictly increasing, across spilled chunks too.
        bool grantIndexesFree = _primaryStream is not null
            || (!_grants.HasDuplicateIds && _spills[KsGrant].Count == 0 && _runs[KsGrant].Count == 0);

        // A sorted set's ids can still meet an added grant's id, which only the primary merge sees. Its grant indexes
        // are built beside the primary all the same, without the dead set, and built again in the rare case that a
        // record died (docs/DESIGN.md §9).
        bool speculative = grantIndexesFree && _sortedSets.Count != 0;
        var noneDead = new HashSet<long>();
        var first = new List<Piece>();
        var second = new List<Piece>();
        for (int ks = 0; ks < KsCount; ks++)
        {
            bool grantIndex = ks != KsGrant && GrantOutputFor(ks) is not null;
            var phase = ks <= KsAsset || (grantIndex && grantIndexesFree) ? first : second;
            int parts = PartsOf(ks);
            for (int part = 0; part < parts; part++)
            {
                phase.Add(new Piece(ks, part, parts));
            }
        }

        var built = new ConcurrentDictionary<Piece, string>();
        var digests = new System.Collections.Concurrent.ConcurrentBag<PrimaryDigests>();

        // A sorted set that knows its grants' digests is not hashed again (docs/DESIGN.md §9).
        bool setsHashed = _sortedSets.Count != 0 && _sortedSets.TrueForAll(s => s.Set.Digests is not null);
        // The streamed primary needs only its last blocks written: it finishes beside the pieces.
        var streamed = _streamFinish = _primaryStream is { } stream
            ? Task.Run(() => stream.Finish(cancellationToken), cancellationToken)
            : null;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = LaneCount, CancellationToken = cancellationToken };
        foreach (var phase in new[] { first, second })
        {
            phase.Sort((a, b) => (EstimatedCost(b.Keyspace) / b.Parts).CompareTo(EstimatedCost(a.Keyspace) / a.Parts));
            Parallel.ForEach(
                Partitioner.Create(phase, EnumerablePartitionerOptions.NoBuffering),
                parallel,
                piece =>
                {
                    bool early = speculative && piece.Keyspace != KsGrant && GrantOutputFor(piece.Keyspace) is not null;
                    if (BuildPiece(piece, early ? noneDead : dead, digests, setsHashed, cancellationToken) is { } sst)
                    {
                        built[piece] = sst;
                    }
                });
        }

        if (speculative && dead.Count != 0)
        {
            var again = first.Where(p => p.Keyspace != KsGrant && GrantOutputFor(p.Keyspace) is not null).ToList();
            foreach (var piece in again)
            {
                if (built.TryRemove(piece, out string? stale))
                {
                    File.Delete(stale);
                }
            }

            Parallel.ForEach(again, parallel, piece =>
            {
                if (BuildPiece(piece, dead, digests, setsHashed, cancellationToken) is { } sst)
                {
                    built[piece] = sst;
                }
            });
        }

        var ssts = new List<string>(built.Values);

        // The grant indexes of a stored-index merge, beside the primary's last blocks.
        if (_indexMerge is not null)
        {
            foreach (string sst in _indexMerge.Build(_sync, _workDir, _store.Directory, LaneCount, cancellationToken))
            {
                ssts.Add(sst);
            }
        }

        if (streamed?.GetAwaiter().GetResult() is { } primary)
        {
            ssts.Add(primary);
        }

        // The grant digests were folded wherever the primary was written (the stream, or the pieces that built it),
        // or follow from a stored-index merge's inputs.
        IReadOnlyDictionary<string, GrantDigest>? known;
        if (_indexMerge is { DigestsFromInputs: true })
        {
            known = _indexMerge.DerivedDigests();
        }
        else
        {
            var all = _primaryStream?.Digests ?? new GrantDigestBuilder();
            foreach (var part in digests)
            {
                all.Merge(part.Builder);
            }

            if (setsHashed)
            {
                foreach (var (set, _) in _sortedSets)
                {
                    foreach (var (entitlement, digest) in set.Digests!)
                    {
                        all.Add(entitlement, digest);
                    }
                }
            }

            // A set's grant that lost to a record with its id is in the set's digests: they no longer add up.
            known = setsHashed && digests.Any(d => d.SortedGrantLost) ? null : all.ByEntitlement;
        }

        cancellationToken.ThrowIfCancellationRequested();
        _store.Ingest(_sync, [.. ssts.Order(StringComparer.Ordinal)], known);
        _completed = true;
    }

    /// <summary>One SST file to build: part <see cref="Part"/> of <see cref="Parts"/> of a keyspace.</summary>
    private readonly record struct Piece(int Keyspace, int Part, int Parts);

    // Below this many grants one SST per keyspace is cheaper than balancing the lanes.
    private const int MinGrantsToSplit = 32 * 1024;

    private int PartsOf(int ks) =>
        ks == KsGrant && _primaryStream is not null ? 0
        : GrantOutputFor(ks) is { } output && output != GrantChunk.Output.NeedsExpansion
            && _grants.Count >= MinGrantsToSplit && !_grants.HasDuplicateIds && _sortedSets.Count == 0
            && _spills[ks].Count == 0 && _runs[ks].Count == 0
            ? LaneCount
            : 1;

    // For scheduling only (largest first balances the two lanes): entries, with spilled runs counted
    // as a full chunk each, weighted by the measured relative cost of writing one entry — covering
    // grant indexes carry the whole record and are read in permuted order (≈1.0), the primary is
    // sequential (≈0.65), key-only grant indexes are permuted but small (≈0.55).
    private long EstimatedCost(int ks)
    {
        long n = _runs[ks].Count + ((long)_spills[ks].Count * _store.Options.BulkChunkRecords);
        if (GrantOutputFor(ks) is not null)
        {
            n += _grants.Count;
        }

        if (SortedIndexFor(ks) is not null)
        {
            n += _sortedSets.Sum(s => s.Set.Count);
        }

        int weight = ks switch
        {
            KsByEntitlement or KsByPrincipal => 100,
            KsGrant => 65,
            KsNeedsExpansion or KsByEntitlementResource => 55,
            _ => 80,
        };
        return n * weight;
    }

    /// <summary>The index id (0: the primary) of <see cref="SortedGrantSource"/> that keyspace <paramref name="ks"/> takes, if any.</summary>
    private static byte? SortedIndexFor(int ks) => ks switch
    {
        KsGrant => 0,
        KsByEntitlement => Keyspace.IdxGrantByEntitlement,
        KsByPrincipal => Keyspace.IdxGrantByPrincipal,
        KsByEntitlementResource => Keyspace.IdxGrantByEntitlementResource,
        _ => null,
    };

    /// <summary>Sorts one keyspace's last arena, merges it with its spill runs and writes one SST (null when empty); a split keyspace's part reads only its slice of the grant chunk.</summary>
    private string? BuildPiece(Piece piece, HashSet<long> dead, System.Collections.Concurrent.ConcurrentBag<PrimaryDigests> digests, bool setsHashed, CancellationToken ct)
    {
        int ks = piece.Keyspace;
        var sources = new List<IKvSource>();
        try
        {
            foreach (string spill in _spills[ks])
            {
                sources.Add(new RunFile.Reader(spill));
            }

            if (_runs[ks].Count > 0)
            {
                _runs[ks].Sort();
                sources.Add(new MemorySource(_runs[ks]));
            }

            if (_grants.Count > 0 && GrantOutputFor(ks) is { } output)
            {
                sources.Add(_grants.Source(output, _sync, piece.Part, piece.Parts));
            }

            if (SortedIndexFor(ks) is { } index)
            {
                foreach (var (set, seqBase) in _sortedSets)
                {
                    sources.Add(new SortedGrantSource(set, index, _sync, seqBase));
                }
            }

            if (sources.Count == 0)
            {
                return null;
            }

            using var sst = new SstOutput(Path.Combine(_workDir, $"ingest-{ks:D2}-{piece.Part:D2}.sst"), _store.Directory);
            PrimaryDigests? folded = null;
            if (ks == KsGrant)
            {
                digests.Add(folded = new PrimaryDigests(hashSorted: !setsHashed));
            }

            WriteSst(sst, sources, dead, isPrimary: ks <= KsAsset, folded, ct);
            return sst.Finish();
        }
        finally
        {
            foreach (var s in sources)
            {
                s.Dispose();
            }
        }
    }

    /// <summary>Merges sorted sources into one SST; among equal keys the highest sequence wins.</summary>
    /// <param name="sst">The output.</param>
    /// <param name="sources">The sorted sources.</param>
    /// <param name="dead">Sequences of replaced records.</param>
    /// <param name="isPrimary">Whether this is a primary keyspace.</param>
    /// <param name="digests">For the grant primary: folds every grant written (a sorted set's only when it gives no digests).</param>
    /// <param name="ct">Cancellation.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteSst(SstOutput sst, List<IKvSource> sources, HashSet<long> dead, bool isPrimary, PrimaryDigests? digests, CancellationToken ct)
    {
        // One source (the common case: everything fit in one chunk) streams straight through.
        var merged = sources.Count switch
        {
            1 => sources[0],
            2 => new TwoWayMerge(sources[0], sources[1]),
            _ => new MergeSource(sources),
        };
        if (merged.DistinctKeys)
        {
            // No key repeats here: every live entry goes straight to the writer (an index entry can
            // still belong to a record that a duplicate from another source replaced; Seq is only
            // read once something died).
            while (merged.MoveNext())
            {
                if (!isPrimary && dead.Count != 0 && dead.Contains(merged.Seq))
                {
                    continue;
                }

                sst.Put(merged.Key, merged.Value);
                digests?.Fold(merged, merged.Value);
                if ((sst.Count & 0xFFFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }
            }

            return;
        }

        if (merged is KvMerge { SourcesDistinct: true } across)
        {
            // Keys repeat only across sources, and the heap gives equal keys by rising sequence: an entry whose key the
            // next one repeats lost to a later record. (Its other entries are dropped through the dead set.)
            while (across.MoveNext())
            {
                if (!isPrimary && IsDead(dead, across.Seq))
                {
                    continue;
                }

                if (across.NextHasSameKey)
                {
                    if (isPrimary)
                    {
                        lock (dead)
                        {
                            dead.Add(across.Seq);
                        }

                        digests?.Lost(across.Current);
                    }

                    continue;
                }

                sst.Put(across.Key, across.Value);
                digests?.Fold(across.Current, across.Value);
                if ((sst.Count & 0xFFFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }
            }

            return;
        }

        byte[] pendingKey = ArrayPool<byte>.Shared.Rent(1024);
        byte[] pendingValue = ArrayPool<byte>.Shared.Rent(4096);
        int pendingKeyLength = -1, pendingValueLength = 0;
        long pendingSeq = -1;
        IKvSource? pendingSource = null;
        try
        {
            while (merged.MoveNext())
            {
                var key = merged.Key;
                long seq = merged.Seq;
                if (!isPrimary && IsDead(dead, seq))
                {
                    // An index entry of a record that a later duplicate replaced.
                }
                else if (pendingKeyLength >= 0 && key.SequenceEqual(pendingKey.AsSpan(0, pendingKeyLength)))
                {
                    // Same key again with a higher sequence: it replaces the pending one.
                    if (isPrimary)
                    {
                        lock (dead)
                        {
                            dead.Add(pendingSeq);
                        }

                        digests?.Lost(pendingSource!);
                    }

                    Copy(merged.Value, ref pendingValue, out pendingValueLength);
                    pendingSeq = seq;
                    pendingSource = CurrentSource(merged);
                }
                else
                {
                    if (pendingKeyLength >= 0)
                    {
                        sst.Put(pendingKey.AsSpan(0, pendingKeyLength), pendingValue.AsSpan(0, pendingValueLength));
                        digests?.Fold(pendingSource!, pendingValue.AsSpan(0, pendingValueLength));
                        if ((sst.Count & 0xFFFF) == 0)
                        {
                            ct.ThrowIfCancellationRequested();
                        }
                    }

                    Copy(key, ref pendingKey, out pendingKeyLength);
                    Copy(merged.Value, ref pendingValue, out pendingValueLength);
                    pendingSeq = seq;
                    pendingSource = CurrentSource(merged);
                }
            }

            if (pendingKeyLength >= 0)
            {
                sst.Put(pendingKey.AsSpan(0, pendingKeyLength), pendingValue.AsSpan(0, pendingValueLength));
                digests?.Fold(pendingSource!, pendingValue.AsSpan(0, pendingValueLength));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pendingKey);
            ArrayPool<byte>.Shared.Return(pendingValue);
        }
    }

    private static IKvSource CurrentSource(IKvSource merged) => merged is KvMerge m ? m.Current : merged;

    /// <summary>
    /// The digests folded while the grant primary is written: every grant, except those of sorted sets whose digests the
    /// set gives (<see cref="ISortedGrantSet.Digests"/>); notes when such a grant loses to a record with its id.
    /// </summary>
    private sealed class PrimaryDigests(bool hashSorted)
    {
        public GrantDigestBuilder Builder { get; } = new();

        public bool SortedGrantLost { get; private set; }

        public void Fold(IKvSource from, ReadOnlySpan<byte> value)
        {
            if (hashSorted || from is not SortedGrantSource)
            {
                Builder.AddEncoded(value);
            }
        }

        public void Lost(IKvSource from) => SortedGrantLost |= from is SortedGrantSource;
    }

    // The set is only written during the primary phase; index-phase readers never race a writer,
    // and an empty set (no duplicates, the common case) costs nothing.
    private static bool IsDead(HashSet<long> dead, long seq) => dead.Count != 0 && dead.Contains(seq);

    private static void Copy(ReadOnlySpan<byte> source, ref byte[] buffer, out int length)
    {
        if (source.Length > buffer.Length)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent(source.Length);
        }

        source.CopyTo(buffer);
        length = source.Length;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var run in _runs)
        {
            run.Dispose();
        }

        _grants.Dispose();
        try
        {
            // A failed Complete can leave the stream's finish running; it must end before the stream goes.
            _streamFinish?.Wait();
        }
        catch (AggregateException)
        {
            // Already reported by Complete.
        }

        _primaryStream?.Dispose();
        _indexMerge?.Dispose();

        try
        {
            if (System.IO.Directory.Exists(_workDir))
            {
                System.IO.Directory.Delete(_workDir, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a leftover work dir holds only scratch files and is swept when the store is next opened for writing.
        }
        finally
        {
            _store.ExitBulkLoad();
        }
    }

    /// <summary>A merge of sorted sources, ordered by key, then sequence.</summary>
    private abstract class KvMerge : IKvSource
    {
        public abstract ReadOnlySpan<byte> Key { get; }

        public abstract ReadOnlySpan<byte> Value { get; }

        public abstract long Seq { get; }

        /// <summary>The source of the current entry.</summary>
        public abstract IKvSource Current { get; }

        /// <summary>Whether no source repeats a key within itself (keys can still repeat across sources).</summary>
        public abstract bool SourcesDistinct { get; }

        /// <summary>Whether the entry after the current one has the same key (it then has a higher sequence).</summary>
        public abstract bool NextHasSameKey { get; }

        public abstract bool MoveNext();

        public void Dispose()
        {
        }
    }

    /// <summary>Two sources (a sorted grant set beside the records added one by one): one comparison per entry, no heap.</summary>
    /// <remarks>
    /// Each source keeps its own field and its own call sites (a flag says which one is current): swapping them made
    /// every call site see both types, and the runtime's polymorphic interface dispatch was 5 % of G15's write
    /// (docs/PERFORMANCE.md, G15).
    /// </remarks>
    private sealed class TwoWayMerge(IKvSource a, IKvSource b) : KvMerge
    {
        private bool _aLive;
        private bool _bLive;
        private bool _aCurrent;
        private bool _started;

        public override ReadOnlySpan<byte> Key => _aCurrent ? a.Key : b.Key;

        public override ReadOnlySpan<byte> Value => _aCurrent ? a.Value : b.Value;

        public override long Seq => _aCurrent ? a.Seq : b.Seq;

        public override IKvSource Current => _aCurrent ? a : b;

        public override bool SourcesDistinct => a.DistinctKeys && b.DistinctKeys;

        public override bool NextHasSameKey => _aCurrent ? _bLive && b.Key.SequenceEqual(a.Key) : _aLive && a.Key.SequenceEqual(b.Key);

        public override bool MoveNext()
        {
            if (!_started)
            {
                _started = true;
                _aLive = a.MoveNext();
                _bLive = b.MoveNext();
            }
            else if (_aCurrent)
            {
                // The current source moves only now: its key stayed valid while the caller used it.
                _aLive = a.MoveNext();
            }
            else
            {
                _bLive = b.MoveNext();
            }

            if (!_aLive || !_bLive)
            {
                _aCurrent = _aLive;
                return _aLive || _bLive;
            }

            // The lower key, and among equal keys the lower sequence, goes first.
            int c = a.Key.SequenceCompareTo(b.Key);
            _aCurrent = c < 0 || (c == 0 && a.Seq <= b.Seq);
            return true;
        }
    }

    /// <summary>A k-way merge of sorted sources, ordered by key, then sequence.</summary>
    private sealed class MergeSource : KvMerge
    {
        private readonly List<IKvSource> _sources;
        private readonly PriorityQueue<int, int> _queue;
        private int _current = -1;

        public MergeSource(List<IKvSource> sources)
        {
            _sources = sources;
            _queue = new PriorityQueue<int, int>(Comparer<int>.Create((x, y) =>
            {
                int c = sources[x].Key.SequenceCompareTo(sources[y].Key);
                return c != 0 ? c : sources[x].Seq.CompareTo(sources[y].Seq);
            }));
            for (int i = 0; i < sources.Count; i++)
            {
                if (sources[i].MoveNext())
                {
                    _queue.Enqueue(i, i);
                }
            }
        }

        public override ReadOnlySpan<byte> Key => _sources[_current].Key;

        public override ReadOnlySpan<byte> Value => _sources[_current].Value;

        public override long Seq => _sources[_current].Seq;

        public override IKvSource Current => _sources[_current];

        public override bool SourcesDistinct => _sources.TrueForAll(s => s.DistinctKeys);

        public override bool NextHasSameKey => _queue.TryPeek(out int next, out _) && _sources[next].Key.SequenceEqual(Key);

        public override bool MoveNext()
        {
            // The current source moves only now: its key stayed valid while the caller used it.
            if (_current >= 0 && _sources[_current].MoveNext())
            {
                _queue.Enqueue(_current, _current);
            }

            return _queue.TryDequeue(out _current, out _);
        }
    }
}

/// <summary>A sorted stream of key/value/sequence triples.</summary>
internal interface IKvSource : IDisposable
{
    ReadOnlySpan<byte> Key { get; }

    ReadOnlySpan<byte> Value { get; }

    long Seq { get; }

    /// <summary>Whether no two entries share a key (then a merge needs no duplicate handling).</summary>
    bool DistinctKeys => false;

    bool MoveNext();
}

/// <summary>A sorted in-memory run.</summary>
internal sealed class MemorySource(KvRun run) : IKvSource
{
    private int _index = -1;

    public ReadOnlySpan<byte> Key => run.KeyAt(_index);

    public ReadOnlySpan<byte> Value => run.ValueAt(_index);

    public long Seq => run.SeqAt(_index);

    public bool MoveNext() => ++_index < run.Count;

    public void Dispose()
    {
    }
}

/// <summary>Spill run files: a sequence of <c>[u32 keyLen][u32 valueLen][i64 seq][key][value]</c> records, sorted by key then sequence.</summary>
internal static class RunFile
{
    /// <summary>Writes a sorted source out; returns the number of entries.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static long Write(Stream stream, IKvSource source)
    {
        Span<byte> header = stackalloc byte[16];
        long n = 0;
        while (source.MoveNext())
        {
            var key = source.Key;
            var value = source.Value;
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header, key.Length);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(header[4..], value.Length);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(header[8..], source.Seq);
            stream.Write(header);
            stream.Write(key);
            stream.Write(value);
            n++;
        }

        return n;
    }

    public sealed class Reader : IKvSource
    {
        private readonly FileStream _stream;
        private byte[] _buffer = new byte[4096];
        private int _keyLength;
        private int _valueLength;

        public Reader(string path)
        {
            _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        }

        public ReadOnlySpan<byte> Key => _buffer.AsSpan(0, _keyLength);

        public ReadOnlySpan<byte> Value => _buffer.AsSpan(_keyLength, _valueLength);

        public long Seq { get; private set; }

        public bool MoveNext()
        {
            Span<byte> header = stackalloc byte[16];
            int read = _stream.ReadAtLeast(header, 16, throwOnEndOfStream: false);
            if (read == 0)
            {
                return false;
            }

            if (read != 16)
            {
                throw new C1zCorruptionException($"bulk-load run file is truncated: {_stream.Name}", _stream.Name);
            }

            _keyLength = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(header);
            _valueLength = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
            Seq = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
            int total = _keyLength + _valueLength;
            if (total > _buffer.Length)
            {
                _buffer = new byte[Math.Max(total, _buffer.Length * 2)];
            }

            _stream.ReadExactly(_buffer, 0, total);
            return true;
        }

        public void Dispose() => _stream.Dispose();
    }
}
