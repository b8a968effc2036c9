using System.Collections.Concurrent;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// The grant indexes of a compaction between stores of this layout, merged from the inputs' stored index keyspaces
/// instead of rebuilt from the merged grants (docs/DESIGN.md §6). While the compaction merges the grant primaries it
/// reports every input record that lost; every other entry of a contributing input belongs to a surviving record and
/// is copied as stored, its key and (for key-only indexes) its primary-key value moved to the output sync. Each index
/// is cut into key ranges, one SST per range, written on both cores.
/// </summary>
/// <remarks>
/// The losers go into a key-only <see cref="GrantChunk"/> per input, which gives their index keys in each index's
/// order exactly as the bulk loader builds stored keys; the merge then drops an input's entry when it equals the
/// next loser key of that input (a merge-join: one comparison per entry, no hashing). Memory: the losers' ids and
/// key elements, at most <see cref="RocksStoreOptions.IndexMergeMaxLosers"/> of them (checked before the merge from
/// the inputs' grant counts), and one iterator per input per range being written.
/// </remarks>
internal sealed class StoredIndexMerge : IStoredIndexMerge, IDisposable
{
    private static readonly StoredGrantIndex[] Indexes =
        [StoredGrantIndex.ByEntitlement, StoredGrantIndex.ByPrincipal, StoredGrantIndex.ByEntitlementResource, StoredGrantIndex.NeedsExpansion];

    private readonly IReadOnlyList<StoredIndexInput> _inputs;
    private readonly RocksBulkLoader _loader;
    private readonly GrantChunk?[] _losers;
    private readonly IReadOnlyDictionary<string, GrantDigest>[]? _inputDigests;
    private readonly GrantDigestBuilder? _loserDigests;
    private long _lost;

    private StoredIndexMerge(IReadOnlyList<StoredIndexInput> inputs, RocksBulkLoader loader)
    {
        _inputs = inputs;
        _loader = loader;
        _losers = new GrantChunk?[inputs.Count];
        _loserPipe = new BlockPipe(LoserBlockBytes, LoserBlocksInFlight, AddLoser);

        // Where every contributing input's per-entitlement digests are known, the output's follow from them and the
        // losers' hashes (XOR removes what it added): hashing the losers replaces hashing every grant written.
        var known = new List<IReadOnlyDictionary<string, GrantDigest>>();
        foreach (var input in inputs.Where(i => i.Contributes))
        {
            if (input.Store is not RocksStore rocks || !rocks.TryGetGrantDigests(input.Sync, out var digests))
            {
                return;
            }

            known.Add(digests);
        }

        _inputDigests = [.. known];
        _loserDigests = new GrantDigestBuilder();
    }

    /// <inheritdoc/>
    public bool DigestsFromInputs => _inputDigests is not null;

    /// <summary>
    /// The output's per-entitlement digests from the inputs' and the losers' (docs/DESIGN.md §6, "Digests on the way"):
    /// per entitlement, the counts of the inputs less the losers', and the XOR of all of them. Null when they do not add
    /// up (a count below zero, or an empty entitlement with a digest left), which only inconsistent input digests give:
    /// the sync then has no known digests and a save computes them from its grants.
    /// </summary>
    public IReadOnlyDictionary<string, GrantDigest>? DerivedDigests()
    {
        if (_inputDigests is null || _loserDigests is null)
        {
            return null;
        }

        var sum = new Dictionary<string, GrantDigest>(StringComparer.Ordinal);
        foreach (var digests in _inputDigests)
        {
            foreach (var (entitlement, digest) in digests)
            {
                sum[entitlement] = sum.TryGetValue(entitlement, out var so) ? so.Combine(digest) : digest;
            }
        }

        foreach (var (entitlement, lost) in _loserDigests.ByEntitlement)
        {
            if (!sum.TryGetValue(entitlement, out var so) || so.Count < lost.Count)
            {
                return null;
            }

            var left = new GrantDigest(so.Count - lost.Count, so.Xor ^ lost.Xor);
            if (left.Count == 0)
            {
                if (left.Xor != 0)
                {
                    return null;
                }

                sum.Remove(entitlement);
            }
            else
            {
                sum[entitlement] = left;
            }
        }

        return sum;
    }

    /// <summary>Whether the inputs can be merged so: all of this layout, with few enough possible losers.</summary>
    public static StoredIndexMerge? TryCreate(IReadOnlyList<StoredIndexInput> inputs, RocksBulkLoader loader, long maxLosers)
    {
        if (maxLosers <= 0 || inputs.Count == 0 || inputs.Any(i => i.Store.StoredGrantIndexLayout != RocksStore.GrantIndexLayout))
        {
            return null;
        }

        // An input's entry can lose only to a grant of a later input, so the later inputs' grants bound the losers.
        // A RocksDB input bounds its grants from file metadata (no scan); an exact count decides only if that is not enough.
        static long Bound(IReadOnlyList<StoredIndexInput> inputs, long maxLosers, bool exact)
        {
            long bound = 0;
            for (int j = 1; j < inputs.Count && bound <= maxLosers; j++)
            {
                bound += j * (!exact && inputs[j].Store is RocksStore rocks ? rocks.GrantCountUpperBound(inputs[j].Sync) : inputs[j].Store.Count(inputs[j].Sync).Grants);
            }

            return bound;
        }

        long bound = Bound(inputs, maxLosers, exact: false);
        if (bound > maxLosers)
        {
            bound = Bound(inputs, maxLosers, exact: true);
        }

        return bound <= maxLosers ? new StoredIndexMerge(inputs, loader) : null;
    }

    /// <inheritdoc/>
    public void Keep(ReadOnlySpan<byte> escapedId, ReadOnlySpan<byte> value) => _loader.AddMergedGrant(escapedId, value);

    /// <inheritdoc/>
    /// <remarks>
    /// The losers are parsed, keyed and hashed on a worker thread (the merge hands them over in blocks), so that work
    /// runs beside the merge instead of on its thread; bytes that are not a grant fail <see cref="Build"/>.
    /// </remarks>
    public void Lose(int input, ReadOnlySpan<byte> value)
    {
        if (!_inputs[input].Contributes)
        {
            return;
        }

        Span<byte> index = stackalloc byte[sizeof(int)];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(index, input);
        _loserPipe.Append(index, value);
    }

    // Losers go to their worker in blocks of this size, a few in flight.
    private const int LoserBlockBytes = 256 * 1024;
    private const int LoserBlocksInFlight = 4;
    private readonly BlockPipe _loserPipe;

    private void AddLoser(ReadOnlySpan<byte> index, ReadOnlySpan<byte> value)
    {
        int input = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(index);

        // The loaders refuse a grant without a valid UTF-8 id, so one here means a damaged input.
        if (!Codecs.GrantRow.TryParse(value, out var row) || row.ExternalId.IsEmpty || !System.Text.Unicode.Utf8.IsValid(row.ExternalId))
        {
            throw new C1zCorruptionException("a stored grant of a compaction input does not decode");
        }

        // Key-only: the loser's value is not needed, only its key elements.
        (_losers[input] ??= new GrantChunk()).Add(in row, [], _lost++);
        _loserDigests?.AddEncoded(value);
    }

    /// <summary>Stops the loser worker if the merge ended without <see cref="Build"/> (a failed compaction).</summary>
    public void Dispose()
    {
        _loserPipe.Dispose();
        foreach (var losers in _losers)
        {
            losers?.Dispose();
        }
    }

    /// <summary>Writes every index of the output sync as SSTs under <paramref name="workDir"/>; returns their paths.</summary>
    public List<string> Build(SyncId output, string workDir, string storeDirectory, int lanes, CancellationToken ct)
    {
        // Every loser handed over is taken in (a damaged one fails here).
        _loserPipe.Finish(ct);
        foreach (var losers in _losers)
        {
            losers?.Seal();
        }

        try
        {
            return BuildPieces(output, workDir, storeDirectory, lanes, ct);
        }
        finally
        {
            foreach (var losers in _losers)
            {
                losers?.Dispose();
            }
        }
    }

    private List<string> BuildPieces(SyncId output, string workDir, string storeDirectory, int lanes, CancellationToken ct)
    {
        var contributing = Enumerable.Range(0, _inputs.Count).Where(i => _inputs[i].Contributes).ToArray();
        var pieces = new List<(StoredGrantIndex Index, byte[]? From, byte[]? To, int Part)>();
        if (contributing.Length > 0)
        {
            var model = _inputs[contributing[0]];
            foreach (var index in Indexes)
            {
                // The key-only expansion index is small; the others are cut so both lanes end together.
                var splits = index == StoredGrantIndex.NeedsExpansion || lanes < 2 ? [] : model.Store.StoredGrantIndexSplits(model.Sync, index, lanes);
                for (int p = 0; p <= splits.Count; p++)
                {
                    pieces.Add((index, p == 0 ? null : splits[p - 1], p == splits.Count ? null : splits[p], p));
                }
            }
        }

        var ssts = new ConcurrentBag<string>();
        Parallel.ForEach(
            Partitioner.Create(pieces, EnumerablePartitionerOptions.NoBuffering),
            new ParallelOptions { MaxDegreeOfParallelism = lanes, CancellationToken = ct },
            piece =>
            {
                string path = Path.Combine(workDir, $"ingest-index-{(int)piece.Index}-{piece.Part:D2}.sst");
                if (WritePiece(output, contributing, piece.Index, piece.From, piece.To, path, storeDirectory, ct) is { } sst)
                {
                    ssts.Add(sst);
                }
            });
        return [.. ssts];
    }

    private string? WritePiece(SyncId output, int[] contributing, StoredGrantIndex index, byte[]? from, byte[]? to, string path, string storeDirectory, CancellationToken ct)
    {
        var cursors = new IStoredIndexCursor?[contributing.Length];
        var losers = new LoserKeys?[contributing.Length];
        try
        {
            for (int c = 0; c < contributing.Length; c++)
            {
                var input = _inputs[contributing[c]];
                if (!input.Store.TryOpenStoredGrantIndex(input.Sync, index, from, to, out cursors[c]))
                {
                    throw new InvalidOperationException("an input stopped handing out its stored indexes");
                }

                if (_losers[contributing[c]] is { } chunk)
                {
                    losers[c] = new LoserKeys(chunk.Source(OutputOf(index), default));
                }
            }

            bool keyOnly = index is StoredGrantIndex.NeedsExpansion or StoredGrantIndex.ByEntitlementResource;
            byte[] indexHeader = Keyspace.IndexSyncPrefix(RocksStore.IndexId(index), output);
            byte[] recordHeader = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, output);
            var live = new bool[cursors.Length];
            for (int c = 0; c < cursors.Length; c++)
            {
                live[c] = Advance(cursors[c]!, losers[c]);
            }

            using var sst = new SstOutput(path, storeDirectory);
            byte[] key = new byte[256];
            byte[] value = new byte[256];
            while (true)
            {
                int min = -1;
                for (int c = 0; c < cursors.Length; c++)
                {
                    if (live[c] && (min < 0 || cursors[c]!.KeySuffix.SequenceCompareTo(cursors[min]!.KeySuffix) < 0))
                    {
                        min = c;
                    }
                }

                if (min < 0)
                {
                    return sst.Finish();
                }

                var cursor = cursors[min]!;
                var suffix = cursor.KeySuffix;

                // Only the surviving record of a grant keeps its entries, so keys strictly increase; the SST writer
                // refuses an equal key (a damaged input) with an error.
                int keyLength = Concat(ref key, indexHeader, suffix);
                if (keyOnly)
                {
                    var primary = cursor.Value;
                    if (primary.IsEmpty || primary[0] != TupleCodec.Separator)
                    {
                        throw new C1zCorruptionException($"an index entry does not name a grant (compaction into {storeDirectory})", storeDirectory);
                    }

                    int valueLength = Concat(ref value, recordHeader, primary);
                    sst.Put(key.AsSpan(0, keyLength), value.AsSpan(0, valueLength));
                }
                else
                {
                    sst.Put(key.AsSpan(0, keyLength), cursor.Value);
                }

                live[min] = Advance(cursor, losers[min]);
                if ((sst.Count & 0xFFFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }
            }
        }
        finally
        {
            foreach (var cursor in cursors)
            {
                cursor?.Dispose();
            }

            foreach (var keys in losers)
            {
                keys?.Dispose();
            }
        }
    }

    private static GrantChunk.Output OutputOf(StoredGrantIndex index) => index switch
    {
        StoredGrantIndex.ByEntitlement => GrantChunk.Output.ByEntitlement,
        StoredGrantIndex.ByPrincipal => GrantChunk.Output.ByPrincipal,
        StoredGrantIndex.NeedsExpansion => GrantChunk.Output.NeedsExpansion,
        _ => GrantChunk.Output.ByEntitlementResource,
    };

    // Moves to the next entry of a record that survived: one that is not the input's next loser key.
    private static bool Advance(IStoredIndexCursor cursor, LoserKeys? losers)
    {
        while (cursor.MoveNext())
        {
            if (losers is null || !losers.Holds(cursor.KeySuffix))
            {
                return true;
            }
        }

        return false;
    }

    private static int Concat(ref byte[] buffer, ReadOnlySpan<byte> head, ReadOnlySpan<byte> tail)
    {
        int length = head.Length + tail.Length;
        if (length > buffer.Length)
        {
            buffer = new byte[Math.Max(length, buffer.Length * 2)];
        }

        head.CopyTo(buffer);
        tail.CopyTo(buffer.AsSpan(head.Length));
        return length;
    }

    /// <summary>
    /// An input's loser keys of one index, in key order (all of them: those below a piece's range are passed over by
    /// the first <see cref="Holds"/>).
    /// </summary>
    private sealed class LoserKeys : IDisposable
    {
        private readonly IKvSource _source;
        private bool _live;

        public LoserKeys(IKvSource source)
        {
            _source = source;
            _live = _source.MoveNext();
        }

        private ReadOnlySpan<byte> Suffix => _source.Key[Keyspace.IndexHeaderLength..];

        /// <summary>Whether <paramref name="suffix"/> is a loser's key; suffixes must come in increasing order.</summary>
        public bool Holds(ReadOnlySpan<byte> suffix)
        {
            int order = 0;
            while (_live && (order = Suffix.SequenceCompareTo(suffix)) < 0)
            {
                _live = _source.MoveNext();
            }

            return _live && order == 0;
        }

        public void Dispose() => _source.Dispose();
    }
}
