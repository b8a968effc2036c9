using System.Buffers.Binary;

namespace DotC1z.Pebble;

/// <summary>
/// A forward source of point entries in internal-key order (user key ascending, seqnum descending). The
/// current entry's key and value live in buffers owned by the source and stay valid until the next
/// <see cref="Next"/>.
/// </summary>
internal abstract class PointSource : IDisposable
{
    protected byte[] KeyBuf = new byte[256];

    public int KeyLen;
    public ulong Seq;
    public byte Kind;
    protected byte[] ValArr = [];
    protected int ValStart;
    protected int ValLen;

    public ReadOnlySpan<byte> Key => new(KeyBuf, 0, KeyLen);

    public ReadOnlySpan<byte> Value => new(ValArr, ValStart, ValLen);

    /// <summary>Moves to the next entry (the first call positions on the first one). False when exhausted.</summary>
    public abstract bool Next();

    /// <summary>
    /// Makes <see cref="Value"/> available for the current entry. Out-of-line values are fetched only
    /// here, so versions that are shadowed or deleted never cost a value-block read.
    /// </summary>
    public virtual void ResolveValue()
    {
    }

    public virtual void Dispose()
    {
    }
}

/// <summary>
/// Iterates the point entries of one live table, applying its synthetic seqnum and (for virtual tables)
/// its user-key bounds, and verifying as it goes that rows are strictly ordered and within the bounds the
/// MANIFEST gives, so a damaged table cannot reorder the merged output.
/// </summary>
internal sealed class TableIterator : PointSource
{
    private static readonly ColType[] DataCols =
        [ColType.PrefixBytes, ColType.Bytes, ColType.Uint, ColType.Bool, ColType.Bytes, ColType.Bool, ColType.Bool];

    private readonly TableMeta _meta;
    private readonly DecodeBudget _budget;
    private readonly CancellationToken _ct;
    private byte[] _lower;
    private readonly bool _virtual;
    private readonly Scratch _dataScratch = new();
    private readonly Scratch _indexScratch = new();
    private readonly Scratch _valueScratch = new();
    private readonly Scratch _valueIndexScratch = new();
    private TableFile? _t;

    // Index position.
    private int _topRow = -1;
    private IndexBlock _second;
    private int _secondRow = -1;
    private bool _secondValid;

    // Current data block.
    private byte[] _a = [];
    private int _rows;
    private int _row = -1;
    private int _blockMaxKey;
    private int _bundleMask;
    private PrefixBytesColumn _keys;
    private UintColumn _trailers;
    private RawBytesColumn _values;
    private BitmapColumn _external;

    // Ordering checks.
    private byte[] _prevBuf = new byte[256];
    private int _prevLen;
    private ulong _trailer;
    private bool _hasPrev;
    private int _prefixLen;
    private bool _seeking;
    private bool _first = true;
    private bool _done;
    private bool _pendingExternal;

    // Value blocks.
    private BlockBytes? _valueIndex;
    private int _valueBlockNum = -1;
    private BlockBytes _valueBlock;

    private readonly BlockCache? _cache;

    public TableIterator(TableFile table, TableMeta meta, ReadOnlySpan<byte> lower, DecodeBudget budget, CancellationToken ct, BlockCache? cache = null)
    {
        _cache = cache;
        _t = table;
        _meta = meta;
        _budget = budget;
        _ct = ct;
        _virtual = meta.IsVirtual;
        // A virtual table exposes nothing below its smallest user key.
        _lower = _virtual && lower.SequenceCompareTo(meta.SmallestUserKey) < 0 ? meta.SmallestUserKey : lower.ToArray();
        _seeking = _lower.Length > 0;
        if (_seeking)
        {
            var top = table.TopIndex;
            _topRow = top.Seek(_lower) - 1;
            if (table.TwoLevelIndex && _topRow + 1 < top.Rows)
            {
                _topRow++;
                LoadSecond();
                _secondRow = _second.Seek(_lower) - 1;
            }
        }
    }

    public string Name => _meta.FileName;

    /// <summary>The newest seqnum any entry of this table can carry (the MANIFEST bound, enforced per row).</summary>
    public ulong MaxSeq => _meta.LargestSeq;

    /// <summary>
    /// Jumps forward to the first entry whose user key is ≥ <paramref name="target"/>, skipping whole
    /// blocks through the index; used to pass a range deletion that hides everything in this table.
    /// </summary>
    public bool SeekGE(byte[] target)
    {
        if (_done)
        {
            return false;
        }

        if (_virtual && target.AsSpan().SequenceCompareTo(_meta.SmallestUserKey) < 0)
        {
            target = _meta.SmallestUserKey;
        }

        var t = _t!;
        _lower = target;
        _seeking = true;
        // Rows before the target may be decoded again; the order check restarts after the jump.
        _hasPrev = false;
        _rows = 0;
        _row = -1;
        var top = t.TopIndex;
        int row = top.Seek(target);
        _secondValid = false;
        if (t.TwoLevelIndex && row < top.Rows)
        {
            _topRow = row;
            LoadSecond();
            _secondRow = _second.Seek(target) - 1;
        }
        else
        {
            _topRow = row - 1;
        }

        return Next();
    }

    public override bool Next()
    {
        if (_done)
        {
            return false;
        }

        while (true)
        {
            _row++;
            while (_row >= _rows)
            {
                if (!LoadNextBlock())
                {
                    Finish(naturalEnd: true);
                    return false;
                }
            }

            DecodeRow(_row);
            if (_seeking)
            {
                if (Key.SequenceCompareTo(_lower) < 0)
                {
                    continue;
                }

                _seeking = false;
            }

            if (_first)
            {
                _first = false;
                if (!_virtual && Key.SequenceCompareTo(_meta.SmallestUserKey) < 0)
                {
                    Fail.Corrupt(Name, "a key lies below the table's smallest bound in the MANIFEST");
                }
            }

            if (_virtual)
            {
                int c = Key.SequenceCompareTo(_meta.LargestUserKey);
                if (c > 0 || (c == 0 && _meta.LargestExclusive))
                {
                    Finish(naturalEnd: false);
                    return false;
                }
            }

            if (Seq < _meta.SmallestSeq || Seq > _meta.LargestSeq)
            {
                // Skipping tables under range deletions relies on the MANIFEST's seqnum bounds.
                Fail.Corrupt(Name, $"a key has seqnum {Seq}, outside the table's MANIFEST range {_meta.SmallestSeq}..{_meta.LargestSeq}");
            }

            return true;
        }
    }

    private void Finish(bool naturalEnd)
    {
        if (naturalEnd && !_virtual && _hasPrev)
        {
            var last = Key;
            int c = last.SequenceCompareTo(_meta.LargestUserKey);
            if (c > 0 || (c == 0 && _meta.LargestExclusive))
            {
                Fail.Corrupt(Name, "a key lies above the table's largest bound in the MANIFEST");
            }
        }

        _done = true;
        KeyLen = 0;
        ValLen = 0;
        Release();
    }

    private void Release()
    {
        // Drop the file bytes as soon as the table is passed: a scan holds at most the tables it is in.
        _t = null;
        _a = [];
        ValArr = [];
        _dataScratch.Dispose();
        _indexScratch.Dispose();
        _valueScratch.Dispose();
        _valueIndexScratch.Dispose();
    }

    public override void Dispose() => Release();

    private void LoadSecond()
    {
        var t = _t!;
        var h = t.TopIndex.Handle(t, _topRow, "index entry");
        var b = _cache is null ? t.ReadBlock(h, _indexScratch, _budget, "second-level index block") : _cache.Get(t, h, _budget, "second-level index block");
        _second = IndexBlock.Parse(b, t.Name, "second-level index block");
        _secondValid = true;
    }

    private bool LoadNextBlock()
    {
        _ct.ThrowIfCancellationRequested();
        var t = _t!;
        BlockHandle h;
        if (t.TwoLevelIndex)
        {
            while (true)
            {
                if (_secondValid && _secondRow + 1 < _second.Rows)
                {
                    _secondRow++;
                    h = _second.Handle(t, _secondRow, "index entry");
                    break;
                }

                if (_topRow + 1 >= t.TopIndex.Rows)
                {
                    return false;
                }

                _topRow++;
                LoadSecond();
                _secondRow = -1;
            }
        }
        else
        {
            if (_topRow + 1 >= t.TopIndex.Rows)
            {
                return false;
            }

            _topRow++;
            h = t.TopIndex.Handle(t, _topRow, "index entry");
        }

        var b = _cache is null ? t.ReadBlock(h, _dataScratch, _budget, "data block") : _cache.Get(t, h, _budget, "data block");
        if (b.Length < 4)
        {
            Fail.Corrupt(t.Name, $"data block at {h.Offset}: too short");
        }

        var a = b.Array;
        uint maxKey = BinaryPrimitives.ReadUInt32LittleEndian(b.Span);
        if (maxKey > (uint)t.Options.MaxKeyBytes)
        {
            Fail.Unsupported(t.Name, $"data block at {h.Offset}: keys of up to {maxKey} bytes exceed MaxKeyBytes ({t.Options.MaxKeyBytes})");
        }

        string what = $"data block at {h.Offset}";
        var hdr = ColumnarHeader.Parse(a, b.Start, b.Length, 4, DataCols, t.Name, what);
        int rows = hdr.Rows;
        // Every row's key is materialized, copied and compared, so a block's work grows with rows times
        // key length, not with its size: a small block of many long shared-prefix keys is charged for it.
        _budget.Charge(t.Name, (long)rows * maxKey);
        PrefixBytesColumn.Decode(a, b.Start, hdr.ColumnStart(0), hdr.ColumnEnd(0), rows, t.Name, what, out _keys);
        RawBytesColumn.Decode(a, b.Start, hdr.ColumnStart(1), hdr.ColumnEnd(1), rows, t.Name, what, out var suffixes);
        if (suffixes.DataLength != 0)
        {
            // With the bytewise comparer the whole key is the prefix; a suffix means another key schema.
            Fail.Corrupt(t.Name, $"{what}: non-empty key suffixes");
        }

        UintColumn.Decode(a, b.Start, hdr.ColumnStart(2), hdr.ColumnEnd(2), rows, t.Name, what, out _trailers);
        RawBytesColumn.Decode(a, b.Start, hdr.ColumnStart(4), hdr.ColumnEnd(4), rows, t.Name, what, out _values);
        BitmapColumn.Decode(a, b.Start, hdr.ColumnStart(5), hdr.ColumnEnd(5), rows, t.Name, what, out _external);
        if (!_external.AllFalse && t.ValueIndexHandle is null)
        {
            Fail.Corrupt(t.Name, $"{what}: out-of-line values in a table without a value index");
        }

        _a = a;
        _rows = rows;
        _row = 0;
        _blockMaxKey = (int)maxKey;
        _bundleMask = rows == 0 ? 0 : (1 << _keys.BundleShift) - 1;
        if (KeyBuf.Length < _blockMaxKey)
        {
            var nb = new byte[Math.Max(_blockMaxKey, KeyBuf.Length * 2)];
            KeyBuf.AsSpan(0, KeyLen).CopyTo(nb);
            KeyBuf = nb;
        }

        if (_prevBuf.Length < KeyBuf.Length)
        {
            _prevBuf = new byte[KeyBuf.Length];
        }

        return true;
    }

    private void DecodeRow(int r)
    {
        var a = _a;
        ulong trailer = _trailers.Get(a, r);
        bool sameKey;
        if ((r & _bundleMask) == 0)
        {
            // New bundle: rebuild the key from the shared and bundle prefixes, keeping the previous
            // key in the other buffer for the order check.
            (KeyBuf, _prevBuf) = (_prevBuf, KeyBuf);
            _prevLen = KeyLen;
            var (ss, sl) = _keys.Shared(a);
            var (bs, bl) = _keys.BundlePrefix(a, r >> _keys.BundleShift);
            var (xs, xl) = _keys.Suffix(a, r);
            int n = sl + bl + xl;
            if (n > _blockMaxKey || n > KeyBuf.Length)
            {
                Fail.Corrupt(Name, $"key of {n} bytes exceeds the block's maximum key length {_blockMaxKey}");
            }

            a.AsSpan(ss, sl).CopyTo(KeyBuf);
            a.AsSpan(bs, bl).CopyTo(KeyBuf.AsSpan(sl));
            a.AsSpan(xs, xl).CopyTo(KeyBuf.AsSpan(sl + bl));
            _prefixLen = sl + bl;
            KeyLen = n;
            if (_hasPrev)
            {
                int c = Key.SequenceCompareTo(_prevBuf.AsSpan(0, _prevLen));
                if (c < 0)
                {
                    Fail.Corrupt(Name, "keys are out of order");
                }

                sameKey = c == 0;
            }
            else
            {
                sameKey = false;
            }
        }
        else
        {
            var (xs, xl) = _keys.Suffix(a, r);
            if (xl == 0)
            {
                sameKey = true;
            }
            else
            {
                var suffix = a.AsSpan(xs, xl);
                int c = suffix.SequenceCompareTo(KeyBuf.AsSpan(_prefixLen, KeyLen - _prefixLen));
                if (c < 0)
                {
                    Fail.Corrupt(Name, "keys are out of order");
                }

                sameKey = c == 0;
                int n = _prefixLen + xl;
                if (n > _blockMaxKey || n > KeyBuf.Length)
                {
                    Fail.Corrupt(Name, $"key of {n} bytes exceeds the block's maximum key length {_blockMaxKey}");
                }

                suffix.CopyTo(KeyBuf.AsSpan(_prefixLen));
                KeyLen = n;
            }
        }

        if (sameKey && trailer >= _trailer)
        {
            Fail.Corrupt(Name, "versions of a key are out of order");
        }

        _trailer = trailer;
        _hasPrev = true;
        byte kind = (byte)trailer;
        if (!Kinds.IsPoint(kind))
        {
            Fail.Corrupt(Name, $"data block holds a key of kind {kind}");
        }

        Kind = kind;
        if (_meta.HasSyntheticSeq)
        {
            Seq = _meta.SmallestSeq;
        }
        else
        {
            Seq = trailer >> 8;
        }
        var (vs, vl) = _values.Slice(a, r);
        if (vl > _t!.Options.MaxValueBytes)
        {
            Fail.Unsupported(Name, $"a {vl}-byte value exceeds MaxValueBytes");
        }

        ValArr = a;
        ValStart = vs;
        ValLen = vl;
        _pendingExternal = _external.Get(a, r);
    }

    public override void ResolveValue()
    {
        if (_pendingExternal)
        {
            _pendingExternal = false;
            ResolveOutOfLine(ValArr, ValStart, ValLen);
        }
    }

    private void ResolveOutOfLine(byte[] a, int vs, int vl)
    {
        if (vl == 0)
        {
            Fail.Corrupt(Name, "an out-of-line value has no value prefix");
        }

        byte prefix = a[vs];
        switch (prefix >> 6)
        {
            case 0:
                ValArr = a;
                ValStart = vs + 1;
                ValLen = vl - 1;
                return;
            case 1:
                Fail.Unsupported(Name, "blob value handles (value separation) are not supported");
                return;
            case 2:
                break;
            default:
                Fail.Corrupt(Name, $"value prefix 0x{prefix:x2} is invalid");
                return;
        }

        var r = new SpanReader(a.AsSpan(vs + 1, vl - 1), Name, "value-block handle");
        int length = r.UvarintInt("value length", _t!.Options.MaxValueBytes);
        int blockNum = r.UvarintInt("value block number", int.MaxValue);
        int offset = r.UvarintInt("value offset", int.MaxValue);
        var block = ValueBlock(blockNum);
        if ((long)offset + length > block.Length)
        {
            Fail.Corrupt(Name, $"value at {offset} of {length} bytes overruns value block {blockNum}");
        }

        ValArr = block.Array;
        ValStart = block.Start + offset;
        ValLen = length;
    }

    private BlockBytes ValueBlock(int n)
    {
        var t = _t!;
        if (_valueBlockNum == n)
        {
            return _valueBlock;
        }

        _valueIndex ??= t.ReadBlock(t.ValueIndexHandle!.Value, _valueIndexScratch, _budget, "value index block");
        var vi = _valueIndex.Value;
        var (wn, wo, wl) = t.ValueIndexWidths;
        int w = wn + wo + wl;
        if (((long)n + 1) * w > vi.Length)
        {
            Fail.Corrupt(Name, $"value block {n} is not in the value index");
        }

        var row = vi.Span.Slice(n * w, w);
        ulong num = ReadFixed(row[..wn]);
        ulong off = ReadFixed(row.Slice(wn, wo));
        ulong len = ReadFixed(row.Slice(wn + wo, wl));
        if (num != (ulong)n)
        {
            Fail.Corrupt(Name, $"value index row {n} names block {num}");
        }

        var h = t.CheckHandle(off, len, $"value block {n}");
        // The value scratch is reused, so drop the cache entry before reading into it.
        _valueBlockNum = -1;
        _valueBlock = t.ReadBlock(h, _valueScratch, _budget, $"value block {n}");
        _valueBlockNum = n;
        return _valueBlock;
    }

    private static ulong ReadFixed(ReadOnlySpan<byte> b)
    {
        ulong v = 0;
        for (int i = b.Length - 1; i >= 0; i--)
        {
            v = (v << 8) | b[i];
        }

        return v;
    }
}
