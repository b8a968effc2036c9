using System.Collections.Concurrent;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// The grant indexes of a compaction between stores of this layout, merged from the inputs' stored index keyspaces
/// instead of rebuilt from the merged grants (docs/DESIGN.md §6). While the compaction merges the grant primaries it
/// reports every (input, grant id) whose record lost; every other entry of a contributing input belongs to the
/// surviving record and is copied as stored, its key and (for key-only indexes) its primary-key value moved to the
/// output sync. Each index is cut into key ranges, one SST per range, written on both cores.
/// </summary>
/// <remarks>
/// Memory: the losing ids, at most <see cref="RocksStoreOptions.IndexMergeMaxLosers"/> (checked before the merge from
/// the inputs' grant counts), and one iterator per input per range being written.
/// </remarks>
internal sealed class StoredIndexMerge : IStoredIndexMerge
{
    private static readonly StoredGrantIndex[] Indexes =
        [StoredGrantIndex.ByEntitlement, StoredGrantIndex.ByPrincipal, StoredGrantIndex.ByEntitlementResource, StoredGrantIndex.NeedsExpansion];

    private readonly IReadOnlyList<StoredIndexInput> _inputs;
    private readonly RocksBulkLoader _loader;
    private readonly IdSet?[] _losers;

    private StoredIndexMerge(IReadOnlyList<StoredIndexInput> inputs, RocksBulkLoader loader)
    {
        _inputs = inputs;
        _loader = loader;
        _losers = new IdSet?[inputs.Count];
    }

    /// <summary>Whether the inputs can be merged so: all of this layout, with few enough possible losers.</summary>
    public static StoredIndexMerge? TryCreate(IReadOnlyList<StoredIndexInput> inputs, RocksBulkLoader loader, long maxLosers)
    {
        if (inputs.Count == 0 || inputs.Any(i => i.Store.StoredGrantIndexLayout != RocksStore.GrantIndexLayout))
        {
            return null;
        }

        // An input's entry can lose only to a grant of a later input, so the later inputs' grants bound the losers.
        long bound = 0;
        for (int j = 1; j < inputs.Count && bound <= maxLosers; j++)
        {
            bound += j * inputs[j].Store.Count(inputs[j].Sync).Grants;
        }

        return bound <= maxLosers && maxLosers > 0 ? new StoredIndexMerge(inputs, loader) : null;
    }

    /// <inheritdoc/>
    public void Keep(ReadOnlySpan<byte> escapedId, ReadOnlySpan<byte> value) => _loader.AddMergedGrant(escapedId, value);

    /// <inheritdoc/>
    public void Lose(int input, ReadOnlySpan<byte> escapedId)
    {
        if (_inputs[input].Contributes)
        {
            (_losers[input] ??= new IdSet()).Add(escapedId);
        }
    }

    /// <summary>Writes every index of the output sync as SSTs under <paramref name="workDir"/>; returns their paths.</summary>
    public List<string> Build(SyncId output, string workDir, string storeDirectory, int lanes, CancellationToken ct)
    {
        foreach (var losers in _losers)
        {
            losers?.Seal();
        }

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
        try
        {
            for (int c = 0; c < contributing.Length; c++)
            {
                var input = _inputs[contributing[c]];
                if (!input.Store.TryOpenStoredGrantIndex(input.Sync, index, from, to, out cursors[c]))
                {
                    throw new InvalidOperationException("an input stopped handing out its stored indexes");
                }
            }

            bool keyOnly = index is StoredGrantIndex.NeedsExpansion or StoredGrantIndex.ByEntitlementResource;
            byte[] indexHeader = Keyspace.IndexSyncPrefix(RocksStore.IndexId(index), output);
            byte[] recordHeader = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, output);
            var live = new bool[cursors.Length];
            for (int c = 0; c < cursors.Length; c++)
            {
                live[c] = Advance(cursors[c]!, contributing[c]);
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

                live[min] = Advance(cursor, contributing[min]);
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
        }
    }

    // Moves to the next entry of a record that survived.
    private bool Advance(IStoredIndexCursor cursor, int input)
    {
        var losers = _losers[input];
        while (cursor.MoveNext())
        {
            if (losers is null || !losers.Contains(cursor.GrantId))
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
    /// A set of escaped ids for the merge's hot lookup. Almost every lookup misses, and a miss usually ends at one read
    /// of a small bitmap (about 16 bits per id) that stays in the cache; a hit reads one slot (hash, offset, length)
    /// and the id's bytes. Adds come from one thread; lookups from many, after <see cref="Seal"/>.
    /// </summary>
    private sealed class IdSet
    {
        private Slot[] _slots = new Slot[1024];
        private byte[] _bytes = new byte[16 * 1024];
        private int _used;
        private int _count;
        private ulong[] _filter = [];
        private int _filterShift;

        public void Add(ReadOnlySpan<byte> id)
        {
            ulong hash = Hash(id);
            int mask = _slots.Length - 1;
            int slot = (int)hash & mask;
            for (; _slots[slot].Hash != 0; slot = (slot + 1) & mask)
            {
                if (Matches(in _slots[slot], hash, id))
                {
                    return;
                }
            }

            if (_used + id.Length > _bytes.Length)
            {
                Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + id.Length));
            }

            id.CopyTo(_bytes.AsSpan(_used));
            _slots[slot] = new Slot(hash, _used, id.Length);
            _used += id.Length;
            if (++_count * 2 > _slots.Length)
            {
                Grow();
            }
        }

        /// <summary>Builds the filter; no more adds after it.</summary>
        public void Seal()
        {
            int bits = 64;
            while (bits < _count * 16 && bits < (1 << 30))
            {
                bits *= 2;
            }

            _filter = new ulong[bits / 64];
            _filterShift = 64 - System.Numerics.BitOperations.Log2((uint)bits);
            foreach (var slot in _slots)
            {
                if (slot.Hash != 0)
                {
                    ulong bit = slot.Hash >> _filterShift;
                    _filter[bit >> 6] |= 1UL << (int)(bit & 63);
                }
            }
        }

        public bool Contains(ReadOnlySpan<byte> id)
        {
            ulong hash = Hash(id);
            ulong bit = hash >> _filterShift;
            if ((_filter[bit >> 6] & (1UL << (int)(bit & 63))) == 0)
            {
                return false;
            }

            int mask = _slots.Length - 1;
            for (int slot = (int)hash & mask; _slots[slot].Hash != 0; slot = (slot + 1) & mask)
            {
                if (Matches(in _slots[slot], hash, id))
                {
                    return true;
                }
            }

            return false;
        }

        private bool Matches(in Slot slot, ulong hash, ReadOnlySpan<byte> id) =>
            slot.Hash == hash && slot.Length == id.Length && _bytes.AsSpan(slot.Offset, slot.Length).SequenceEqual(id);

        // Zero marks an empty slot, so no hash is zero.
        private static ulong Hash(ReadOnlySpan<byte> id) => System.IO.Hashing.XxHash3.HashToUInt64(id) | 1;

        private void Grow()
        {
            var slots = new Slot[_slots.Length * 2];
            int mask = slots.Length - 1;
            foreach (var entry in _slots)
            {
                if (entry.Hash == 0)
                {
                    continue;
                }

                int slot = (int)entry.Hash & mask;
                while (slots[slot].Hash != 0)
                {
                    slot = (slot + 1) & mask;
                }

                slots[slot] = entry;
            }

            _slots = slots;
        }

        private readonly record struct Slot(ulong Hash, int Offset, int Length);
    }
}
