using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using DotC1z.Codecs;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// The grants of one bulk-load chunk in a compact form: escaped external ids and encoded values in
/// one arena, every other key element interned once. Its keyspaces are emitted in key order without
/// comparison sorts of the keys themselves: the primary order comes from the ids (already sorted
/// when the producer emits them in order, as fixture generation, compaction and import do), and each
/// index order is a few stable counting sorts over the ranks of the interned elements, applied to
/// the primary order (least significant element first). The tuple codec makes key order equal to
/// element-wise order of the escaped elements, so ranking the distinct escaped elements is exact
/// (docs/PERF-ANCHORS.md H16: comparison sorts over a large arena were cache-miss bound).
/// </summary>
internal sealed class GrantChunk : IDisposable
{
    /// <summary>The keyspaces a grant chunk produces.</summary>
    public enum Output
    {
        Primary,
        ByEntitlement,
        ByPrincipal,
        NeedsExpansion,
        ByEntitlementResource,
    }

    private struct Row
    {
        public int Seg;
        public int Id;
        public int IdLength;
        public int Value;
        public int ValueLength;
        public int Ent;
        public int Prt;
        public int Pid;
        public int Ert;
        public int Erid;
        public bool NeedsExpansion;
        public long Seq;
    }

    private readonly Dictionary<string, int> _intern = new(StringComparer.Ordinal);
    private readonly List<string> _strings = [];
    // Rows and bytes live in fixed-size segments: growth never copies what is already there
    // (doubling one large array moved hundreds of MB per million grants).
    private const int RowSegmentShift = 16;
    private const int RowSegmentSize = 1 << RowSegmentShift;
    private const int ArenaSegmentBytes = 4 << 20;
    private readonly List<Row[]> _rows = [];
    private readonly List<byte[]> _arenas = [];
    // Segments of a cleared chunk, refilled after a spill. They are the chunk's own, not the shared
    // ArrayPool's: the pool kept a finished load's segments (100+ MiB after a 400k-grant load) for
    // the life of the process, and a later operation's peak stood on top of them.
    private readonly Stack<byte[]> _spare = new();
    private int _count;
    private byte[] _arena = [];
    private int _used;
    private long _arenaBytes;
    private bool _idsSorted = true;

    // Set by Seal.
    private Lazy<int[]>[]? _orders;
    private byte[][]? _encoded;
    private int[]? _rank;
    private int _rankCount;

    public int Count => _count;

    /// <summary>Memory held: the arena plus the row table.</summary>
    public long Bytes => _arenaBytes + ((long)_count * Unsafe.SizeOf<Row>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Row RowAt(int i) => ref _rows[i >> RowSegmentShift][i & (RowSegmentSize - 1)];

    /// <summary>Whether two rows of the sealed chunk share an external id (the later one must win).</summary>
    public bool HasDuplicateIds { get; private set; }

    /// <summary>Whether every id so far was greater than the one before (so no two rows share one).</summary>
    public bool IdsStrictlyIncreasing { get; private set; } = true;

    /// <summary>Adds one grant with its encoded value; <paramref name="seq"/> must grow with every call.</summary>
    /// <returns>The grant's escaped external id (valid until the chunk is cleared).</returns>
    public ReadOnlySpan<byte> Add(GrantRecord record, ReadOnlySpan<byte> value, long seq)
    {
        string id = record.ExternalId;
        Reserve(TupleCodec.MaxEncodedStringLength(id.Length) + value.Length);
        if (TupleCodec.EncodeString(id, _arena.AsSpan(_used), out int idLength) != OperationStatus.Done)
        {
            throw new ArgumentException("grant external id cannot be encoded", nameof(record));
        }

        return Append(idLength, value, seq, new Row
        {
            Ent = Intern(record.Entitlement?.EntitlementId ?? string.Empty),
            Prt = Intern(record.Principal?.ResourceTypeId ?? string.Empty),
            Pid = Intern(record.Principal?.ResourceId ?? string.Empty),
            Ert = Intern(record.Entitlement?.ResourceTypeId ?? string.Empty),
            Erid = Intern(record.Entitlement?.ResourceId ?? string.Empty),
            NeedsExpansion = record.NeedsExpansion,
        });
    }

    /// <summary>
    /// Adds one grant from its stored encoding and the row parsed from it (the byte-level road: no record);
    /// the elements are interned exactly as <see cref="Add(GrantRecord, ReadOnlySpan{byte}, long)"/> would.
    /// </summary>
    /// <returns>The grant's escaped external id (valid until the chunk is cleared).</returns>
    public ReadOnlySpan<byte> Add(in GrantRow row, ReadOnlySpan<byte> value, long seq)
    {
        Reserve(TupleCodec.MaxEncodedLength(row.ExternalId.Length) + value.Length);
        if (TupleCodec.EncodeBytes(row.ExternalId, _arena.AsSpan(_used), out int idLength) != OperationStatus.Done)
        {
            throw new InvalidOperationException("grant id does not fit its reserved space");
        }

        return Append(idLength, value, seq, new Row
        {
            Ent = InternUtf8(row.EntitlementId, 0),
            Prt = InternUtf8(row.PrincipalResourceTypeId, 1),
            Pid = InternUtf8(row.PrincipalResourceId, 2),
            Ert = InternUtf8(row.EntitlementResourceTypeId, 3),
            Erid = InternUtf8(row.EntitlementResourceId, 4),
            NeedsExpansion = row.NeedsExpansion,
        });
    }

    /// <summary>The escaped id of the last grant added (valid until the chunk is cleared).</summary>
    public ReadOnlySpan<byte> LastId => _count == 0 ? default : IdOf(ref RowAt(_count - 1));

    private void Reserve(int need)
    {
        _orders = null;
        if (_used + need > _arena.Length)
        {
            _arena = need <= ArenaSegmentBytes
                ? (_spare.TryPop(out var spare) ? spare : GC.AllocateUninitializedArray<byte>(ArenaSegmentBytes))
                : GC.AllocateUninitializedArray<byte>(need);
            _arenas.Add(_arena);
            _used = 0;
        }
    }

    // The id was just escaped at _used; the value goes after it, and the row takes both places.
    private ReadOnlySpan<byte> Append(int idLength, ReadOnlySpan<byte> value, long seq, Row row)
    {
        int idOffset = _used;
        _used += idLength;
        value.CopyTo(_arena.AsSpan(_used));
        int valueOffset = _used;
        _used += value.Length;
        _arenaBytes += idLength + value.Length;
        int seg = _arenas.Count - 1;

        if (_idsSorted && _count > 0)
        {
            ref var last = ref RowAt(_count - 1);
            int order = _arenas[last.Seg].AsSpan(last.Id, last.IdLength).SequenceCompareTo(_arena.AsSpan(idOffset, idLength));
            _idsSorted = order <= 0;
            IdsStrictlyIncreasing = order < 0;
        }

        if ((_count & (RowSegmentSize - 1)) == 0 && (_count >> RowSegmentShift) == _rows.Count)
        {
            // Every row is written before it is read: skip the zeroing (as for the orders below).
            _rows.Add(GC.AllocateUninitializedArray<Row>(RowSegmentSize));
        }

        row.Seg = seg;
        row.Id = idOffset;
        row.IdLength = idLength;
        row.Value = valueOffset;
        row.ValueLength = value.Length;
        row.Seq = seq;
        RowAt(_count++) = row;
        return _arena.AsSpan(idOffset, idLength);
    }

    private ReadOnlySpan<byte> IdOf(ref Row row) => _arenas[row.Seg].AsSpan(row.Id, row.IdLength);

    private ReadOnlySpan<byte> ValueOf(ref Row row) => _arenas[row.Seg].AsSpan(row.Value, row.ValueLength);

    // Producers usually share element strings between grants (a generator's cached names, a
    // connector's ids): a small table keyed by object identity answers those without hashing the text.
    private const int RecentSlots = 4096;
    private readonly (string? Text, int Id)[] _recent = new (string?, int)[RecentSlots];

    private int Intern(string s)
    {
        ref var recent = ref _recent[RuntimeHelpers.GetHashCode(s) & (RecentSlots - 1)];
        if (ReferenceEquals(recent.Text, s))
        {
            return recent.Id;
        }

        recent = (s, InternText(s));
        return recent.Id;
    }

    // The byte-level road interns UTF-8 elements by their bytes, one index per field (consecutive grants
    // usually repeat each field's element, which each index's last lookup answers with a compare); only a
    // new element makes its string, interned with the record road's so both share ids.
    private readonly Utf8Index[] _utf8Fields = [new(), new(), new(), new(), new()];
    private readonly List<int>[] _utf8Ids = [[], [], [], [], []];

    private int InternUtf8(ReadOnlySpan<byte> utf8, int field)
    {
        int index = _utf8Fields[field].GetOrAdd(utf8, out bool added);
        if (added)
        {
            // Invalid UTF-8 becomes U+FFFD, as protobuf's string decoding (and so the record road) makes it.
            _utf8Ids[field].Add(InternText(System.Text.Encoding.UTF8.GetString(utf8)));
        }

        return _utf8Ids[field][index];
    }

    private int InternText(string s)
    {
        ref int slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_intern, s, out bool exists);
        if (!exists)
        {
            slot = _strings.Count;
            _strings.Add(s);
        }

        return slot;
    }

    /// <summary>Computes the primary order and the element ranks; the chunk must not change afterwards.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Seal()
    {
        if (_orders is not null)
        {
            return;
        }

        var primary = GC.AllocateUninitializedArray<int>(_count);
        for (int i = 0; i < primary.Length; i++)
        {
            primary[i] = i;
        }

        if (!_idsSorted)
        {
            primary.AsSpan().Sort(new IdComparer(this));
        }

        bool duplicates = false;
        for (int i = 1; i < primary.Length && !duplicates; i++)
        {
            duplicates = IdOf(ref RowAt(primary[i - 1])).SequenceEqual(IdOf(ref RowAt(primary[i])));
        }

        HasDuplicateIds = duplicates;

        // Dense ranks of the distinct escaped elements (equal encodings share a rank).
        var encoded = new byte[_strings.Count][];
        Span<byte> buffer = stackalloc byte[256];
        for (int i = 0; i < encoded.Length; i++)
        {
            string s = _strings[i];
            var target = TupleCodec.MaxEncodedStringLength(s.Length) <= buffer.Length ? buffer : new byte[TupleCodec.MaxEncodedStringLength(s.Length)];
            if (TupleCodec.EncodeString(s, target, out int written) != OperationStatus.Done)
            {
                throw new ArgumentException("grant key element cannot be encoded");
            }

            encoded[i] = target[..written].ToArray();
        }

        var byBytes = new int[encoded.Length];
        for (int i = 0; i < byBytes.Length; i++)
        {
            byBytes[i] = i;
        }

        Array.Sort(byBytes, (x, y) => encoded[x].AsSpan().SequenceCompareTo(encoded[y]));
        var rank = new int[encoded.Length];
        int r = -1;
        for (int i = 0; i < byBytes.Length; i++)
        {
            if (i == 0 || !encoded[byBytes[i]].AsSpan().SequenceEqual(encoded[byBytes[i - 1]]))
            {
                r++;
            }

            rank[byBytes[i]] = r;
        }

        _encoded = encoded;
        _rank = rank;
        _rankCount = r + 1;

        // Each output's order is built once, on first use, under its lazy's lock: both lanes (and every
        // part of a split output) may ask at once. By principal is (prt, pid, id); by entitlement is
        // the same order stably re-sorted by ent, so it reuses the by-principal passes.
        var orders = new Lazy<int[]>[Enum.GetValues<Output>().Length];
        orders[(int)Output.Primary] = new Lazy<int[]>(primary);
        orders[(int)Output.ByPrincipal] = new Lazy<int[]>(() => SortBy(SortBy(primary, RowRanks(static r => r.Pid)), RowRanks(static r => r.Prt)));
        orders[(int)Output.ByEntitlement] = new Lazy<int[]>(() => SortBy(orders[(int)Output.ByPrincipal].Value, RowRanks(static r => r.Ent)));
        orders[(int)Output.ByEntitlementResource] = new Lazy<int[]>(() => SortBy(SortBy(primary, RowRanks(static r => r.Erid)), RowRanks(static r => r.Ert)));
        orders[(int)Output.NeedsExpansion] = new Lazy<int[]>(() => Array.FindAll(primary, i => RowAt(i).NeedsExpansion));
        _orders = orders;
    }

    /// <summary>
    /// A sorted source over part <paramref name="part"/> of <paramref name="parts"/> of one output
    /// keyspace: equal slices of its order, so with distinct ids the parts cover disjoint key ranges
    /// in order (the chunk must be sealed and outlive the source).
    /// </summary>
    public IKvSource Source(Output output, SyncId sync, int part = 0, int parts = 1)
    {
        if (_orders is null)
        {
            throw new InvalidOperationException("the chunk is not sealed");
        }

        int[] order = _orders[(int)output].Value;
        int from = (int)((long)order.Length * part / parts);
        int to = (int)((long)order.Length * (part + 1) / parts);
        return new ChunkSource(this, output, order, from, to, sync);
    }

    // The rank of one element for every row, in row order: one sequential pass, so the sort passes
    // below touch a small int array instead of the wide rows in permuted order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int[] RowRanks(Func<Row, int> element)
    {
        var rank = _rank!;
        var keys = GC.AllocateUninitializedArray<int>(_count);
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = rank[element(RowAt(i))];
        }

        return keys;
    }

    // One stable counting-sort pass of an order by per-row keys.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int[] SortBy(int[] order, int[] rowKeys)
    {
        var counts = new int[_rankCount + 1];
        foreach (int row in order)
        {
            counts[rowKeys[row] + 1]++;
        }

        for (int k = 1; k < counts.Length; k++)
        {
            counts[k] += counts[k - 1];
        }

        var sorted = GC.AllocateUninitializedArray<int>(order.Length);
        foreach (int row in order)
        {
            sorted[counts[rowKeys[row]]++] = row;
        }

        return sorted;
    }

    /// <summary>
    /// A grant key into <paramref name="buffer"/> (grown as needed): header 00 e1 00 e2 00 e3 00 id,
    /// skipping null elements (an empty element is still written); the elements and the id are
    /// already escaped. With no elements it is the primary key (<see cref="Keyspace"/>'s layout).
    /// </summary>
    /// <returns>The key's length.</returns>
    internal static int BuildKey(ref byte[] buffer, byte[] header, byte[]? e1, byte[]? e2, byte[]? e3, ReadOnlySpan<byte> id)
    {
        int need = header.Length + (e1?.Length ?? 0) + (e2?.Length ?? 0) + (e3?.Length ?? 0) + id.Length + 4;
        if (need > buffer.Length)
        {
            buffer = new byte[Math.Max(need, buffer.Length * 2)];
        }

        var span = buffer.AsSpan();
        header.CopyTo(span);
        int n = header.Length;
        foreach (var element in (ReadOnlySpan<byte[]?>)[e1, e2, e3])
        {
            if (element is not null)
            {
                span[n++] = TupleCodec.Separator;
                element.CopyTo(span[n..]);
                n += element.Length;
            }
        }

        span[n++] = TupleCodec.Separator;
        id.CopyTo(span[n..]);
        return n + id.Length;
    }

    public void Clear()
    {
        foreach (var arena in _arenas)
        {
            if (arena.Length == ArenaSegmentBytes)
            {
                _spare.Push(arena);
            }
        }

        _arenas.Clear();
        _rows.Clear();
        _arena = [];
        _arenaBytes = 0;
        _count = 0;
        _used = 0;
        _idsSorted = true;
        IdsStrictlyIncreasing = true;
        _intern.Clear();
        _strings.Clear();
        Array.Clear(_recent);
        for (int field = 0; field < _utf8Fields.Length; field++)
        {
            _utf8Fields[field].Clear();
            _utf8Ids[field].Clear();
        }

        _orders = null;
        _encoded = null;
        _rank = null;
        HasDuplicateIds = false;
    }

    public void Dispose()
    {
        Clear();
        _spare.Clear();
    }

    private readonly struct IdComparer(GrantChunk chunk) : IComparer<int>
    {
        public int Compare(int x, int y)
        {
            ref var a = ref chunk.RowAt(x);
            ref var b = ref chunk.RowAt(y);
            int c = chunk.IdOf(ref a).SequenceCompareTo(chunk.IdOf(ref b));
            return c != 0 ? c : a.Seq.CompareTo(b.Seq);
        }
    }

    /// <summary>Builds each key (and the primary-key value of key-only indexes) on the fly from the rows.</summary>
    private sealed class ChunkSource : IKvSource
    {
        private readonly Output _output;
        private readonly int[] _order;
        // The sealed chunk's segments as plain arrays: every step indexes them in permuted order.
        private readonly Row[][] _rows;
        private readonly byte[][] _arenas;
        private readonly byte[][] _encoded;
        private readonly bool _distinct;
        private readonly byte[] _recordHeader;
        private readonly byte[] _indexHeader;
        private byte[] _key = new byte[256];
        private byte[] _primaryKey = new byte[256];
        private int _keyLength;
        private int _primaryKeyLength;
        private byte[] _valueArena = [];
        private int _valueOffset;
        private int _valueLength;
        private readonly int _end;
        private int _position;

        public ChunkSource(GrantChunk chunk, Output output, int[] order, int from, int to, SyncId sync)
        {
            _output = output;
            _order = order;
            _rows = [.. chunk._rows];
            _arenas = [.. chunk._arenas];
            _encoded = chunk._encoded!;
            _distinct = !chunk.HasDuplicateIds;
            _position = from - 1;
            _end = to;
            _recordHeader = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, sync);
            byte index = output switch
            {
                Output.ByEntitlement => Keyspace.IdxGrantByEntitlement,
                Output.ByPrincipal => Keyspace.IdxGrantByPrincipal,
                Output.NeedsExpansion => Keyspace.IdxGrantNeedsExpansion,
                Output.ByEntitlementResource => Keyspace.IdxGrantByEntitlementResource,
                _ => 0,
            };
            _indexHeader = index == 0 ? [] : Keyspace.IndexSyncPrefix(index, sync);
        }

        public ReadOnlySpan<byte> Key => _key.AsSpan(0, _keyLength);

        public ReadOnlySpan<byte> Value => _output is Output.NeedsExpansion or Output.ByEntitlementResource
            ? _primaryKey.AsSpan(0, _primaryKeyLength)
            : _valueArena.AsSpan(_valueOffset, _valueLength);

        public long Seq => Row(_order[_position]).Seq;

        public bool DistinctKeys => _distinct;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private ref Row Row(int i) => ref _rows[i >> RowSegmentShift][i & (RowSegmentSize - 1)];

        // How far ahead rows, then their bytes, are prefetched: a permuted order misses the cache on
        // every row otherwise (measured: the copies of id and value dominated the index writes).
        private const int RowLookahead = 16;
        private const int BytesLookahead = 8;

        public unsafe bool MoveNext()
        {
            if (++_position >= _end)
            {
                return false;
            }

            if (Sse.IsSupported)
            {
                // Prefetches are hints: a stale address after a GC move costs nothing but the hint.
                if (_position + RowLookahead < _end)
                {
                    Sse.Prefetch0(Unsafe.AsPointer(ref Row(_order[_position + RowLookahead])));
                }

                if (_position + BytesLookahead < _end)
                {
                    ref var ahead = ref Row(_order[_position + BytesLookahead]);
                    ref byte bytes = ref MemoryMarshal.GetArrayDataReference(_arenas[ahead.Seg]);
                    Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref bytes, ahead.Id)));
                    Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref bytes, ahead.Value + 64)));
                }
            }

            ref var row = ref Row(_order[_position]);
            var arena = _arenas[row.Seg];
            var id = arena.AsSpan(row.Id, row.IdLength);
            _valueArena = arena;
            _valueOffset = row.Value;
            _valueLength = row.ValueLength;
            var e = _encoded;
            switch (_output)
            {
                case Output.Primary:
                    _keyLength = BuildKey(ref _key, _recordHeader, null, null, null, id);
                    break;
                case Output.ByEntitlement:
                    _keyLength = BuildKey(ref _key, _indexHeader, e[row.Ent], e[row.Prt], e[row.Pid], id);
                    break;
                case Output.ByPrincipal:
                    _keyLength = BuildKey(ref _key, _indexHeader, e[row.Prt], e[row.Pid], null, id);
                    break;
                case Output.NeedsExpansion:
                    _keyLength = BuildKey(ref _key, _indexHeader, null, null, null, id);
                    _primaryKeyLength = BuildKey(ref _primaryKey, _recordHeader, null, null, null, id);
                    break;
                default:
                    _keyLength = BuildKey(ref _key, _indexHeader, e[row.Ert], e[row.Erid], null, id);
                    _primaryKeyLength = BuildKey(ref _primaryKey, _recordHeader, null, null, null, id);
                    break;
            }

            return true;
        }

        public void Dispose()
        {
        }
    }
}
