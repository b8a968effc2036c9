using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace DotC1z.Pebble;

/// <summary>A block's location in a table file; the length excludes the 5-byte trailer.</summary>
internal readonly record struct BlockHandle(int Offset, int Length);

/// <summary>A decoded block: a window of an array (the file itself for uncompressed blocks, else a scratch buffer).</summary>
internal readonly record struct BlockBytes(byte[] Array, int Start, int Length)
{
    public ReadOnlySpan<byte> Span => Array.AsSpan(Start, Length);
}

/// <summary>
/// A reusable decompression target, rented from the shared pool and grown on demand, so that steady-state
/// iteration allocates nothing per block.
/// </summary>
internal sealed class Scratch : IDisposable
{
    private byte[]? _buf;

    public byte[] Get(int size)
    {
        if (_buf is null || _buf.Length < size)
        {
            if (_buf is not null)
            {
                ArrayPool<byte>.Shared.Return(_buf);
            }

            _buf = ArrayPool<byte>.Shared.Rent(Math.Max(size, 4096));
        }

        return _buf;
    }

    public void Dispose()
    {
        if (_buf is not null)
        {
            ArrayPool<byte>.Shared.Return(_buf);
            _buf = null;
        }
    }
}

/// <summary>
/// Decoded blocks shared by point lookups, keyed by file and offset, bounded in bytes. Lookups hit the
/// same few index and data blocks again and again; scans never use it (they stream and release).
/// When full it simply starts over, which keeps it bounded without tracking recency.
/// </summary>
internal sealed class BlockCache(long capacity)
{
    private readonly Dictionary<(string File, int Offset), BlockBytes> _blocks = [];
    private readonly Lock _lock = new();
    private long _bytes;

    public BlockBytes Get(TableFile t, BlockHandle h, DecodeBudget budget, string what)
    {
        lock (_lock)
        {
            if (_blocks.TryGetValue((t.Name, h.Offset), out var hit))
            {
                return hit;
            }
        }

        // Decompressed blocks get their own array (no scratch), so a cached block is never overwritten;
        // uncompressed ones are copied out so the cache never pins a whole file the table cache dropped.
        var b = t.ReadBlock(h, null, budget, what);
        if (ReferenceEquals(b.Array, t.Data))
        {
            b = new BlockBytes(b.Span.ToArray(), 0, b.Length);
        }

        lock (_lock)
        {
            if (_bytes + b.Length > capacity)
            {
                _blocks.Clear();
                _bytes = 0;
            }

            if (b.Length <= capacity && _blocks.TryAdd((t.Name, h.Offset), b))
            {
                _bytes += b.Length;
            }
        }

        return b;
    }

    public void Clear()
    {
        lock (_lock)
        {
            _blocks.Clear();
            _bytes = 0;
        }
    }
}

/// <summary>One range deletion fragment, already clipped and with its newest seqnum.</summary>
internal sealed record RangeTombstone(byte[] Start, byte[] End, ulong Seq);

/// <summary>
/// One loaded table file: footer, metaindex and properties are verified at load; blocks are read on
/// demand with their trailer checksum verified before decompression. See docs/PEBBLE.md for the formats
/// accepted and refused.
/// </summary>
internal sealed class TableFile
{
    private static readonly byte[] PebbleMagic = [0xF0, 0x9F, 0xAA, 0xB3, 0xF0, 0x9F, 0xAA, 0xB3];
    private static readonly byte[] RocksMagic = [0xF7, 0xCF, 0xF4, 0x85, 0xB7, 0x41, 0xE2, 0x88];
    private static readonly byte[] LevelDbMagic = [0x57, 0xFB, 0x80, 0x8B, 0x24, 0x75, 0x47, 0xDB];
    private static readonly ColType[] KeyValueCols = [ColType.Bytes, ColType.Bytes];

    private const int TrailerLength = 5;
    private const uint AttrValueBlocks = 1u << 0;
    private const uint AttrTwoLevel = 1u << 5;
    private const uint AttrBlobValues = 1u << 6;

    private readonly int _blocksEnd;

    private TableFile(string name, byte[] data, PebbleReadOptions options, int blocksEnd)
    {
        Name = name;
        Data = data;
        Options = options;
        _blocksEnd = blocksEnd;
    }

    public string Name { get; }

    public byte[] Data { get; }

    public PebbleReadOptions Options { get; }

    public int FormatVersion { get; private set; }

    public BlockHandle IndexHandle { get; private set; }

    public bool TwoLevelIndex { get; private set; }

    public BlockHandle? RangeDelHandle { get; private set; }

    public BlockHandle? ValueIndexHandle { get; private set; }

    /// <summary>Widths of the value index's block number, offset and length fields.</summary>
    public (int Num, int Offset, int Length) ValueIndexWidths { get; private set; }

    /// <summary>The decoded top-level index block (kept for the table's lifetime).</summary>
    public IndexBlock TopIndex { get; private set; }

    public static TableFile Load(string name, byte[] data, PebbleReadOptions options, DecodeBudget budget)
    {
        int len = data.Length;
        if (len < 12)
        {
            Fail.Corrupt(name, $"{len}-byte file is too short to be a table");
        }

        var tail = data.AsSpan(len - 8, 8);
        if (tail.SequenceEqual(RocksMagic))
        {
            Fail.Unsupported(name, "RocksDB-format (row-based) tables are not supported");
        }

        if (tail.SequenceEqual(LevelDbMagic))
        {
            Fail.Unsupported(name, "LevelDB-format tables are not supported");
        }

        if (!tail.SequenceEqual(PebbleMagic))
        {
            Fail.Corrupt(name, "footer magic mismatch (not a Pebble table, or truncated)");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(len - 12, 4));
        // Versions 1-5 use row-based metaindex/properties blocks (and 1-4 row-based data blocks) and a
        // footer without a checksum; they are refused by name rather than half-read.
        int footerLen = version switch
        {
            7 => 61,
            6 => 57,
            _ => throw Fail.Format(name, $"table format version {version} is not supported (only Pebble v6 and v7 columnar tables)"),
        };

        if (len < footerLen)
        {
            Fail.Corrupt(name, $"{len}-byte file is too short for a v{version} footer");
        }

        var footer = data.AsSpan(len - footerLen, footerLen);
        int checksumAt = version == 7 ? 45 : 41;
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(footer.Slice(checksumAt, 4));
        uint actual = Crc32C.Mask(Crc32C.Compute(footer[..checksumAt], footer[(checksumAt + 4)..]));
        if (stored != actual)
        {
            Fail.Corrupt(name, $"footer at {len - footerLen}: checksum mismatch");
        }

        byte checksumType = footer[0];
        if (checksumType != 1)
        {
            if (checksumType == 3)
            {
                Fail.Unsupported(name, "xxhash64 block checksums are not supported (only CRC-32C)");
            }

            Fail.Corrupt(name, $"footer: unknown checksum type {checksumType}");
        }

        var t = new TableFile(name, data, options, len - footerLen) { FormatVersion = (int)version };
        var hr = new SpanReader(footer[1..41], name, "footer");
        var metaHandle = t.ReadHandle(ref hr, "metaindex handle");
        t.IndexHandle = t.ReadHandle(ref hr, "index handle");
        uint attributes = version == 7 ? BinaryPrimitives.ReadUInt32LittleEndian(footer.Slice(41, 4)) : 0;
        if ((attributes & AttrBlobValues) != 0)
        {
            Fail.Unsupported(name, "tables with blob (value-separated) values are not supported");
        }

        using var scratch = new Scratch();
        t.ReadMetaIndex(metaHandle, scratch, budget, out var propsHandle);
        t.ReadProperties(propsHandle, scratch, budget, out int indexType);
        if (version == 7 && (((attributes & AttrTwoLevel) != 0) != (indexType == 2)))
        {
            Fail.Corrupt(name, "the footer's two-level-index attribute disagrees with the index type property");
        }

        t.TwoLevelIndex = indexType == 2;
        if (t.ValueIndexHandle is null && version == 7 && (attributes & AttrValueBlocks) != 0)
        {
            Fail.Corrupt(name, "the footer claims value blocks but the metaindex has no value index");
        }

        // The top-level index is kept for the table's lifetime, so it gets its own array.
        var top = t.ReadBlock(t.IndexHandle, null, budget, "index block");
        t.TopIndex = IndexBlock.Parse(top, name, "index block");
        return t;
    }

    private BlockHandle ReadHandle(ref SpanReader r, string what)
    {
        ulong off = r.Uvarint(what + " offset");
        ulong n = r.Uvarint(what + " length");
        return CheckHandle(off, n, what);
    }

    public BlockHandle CheckHandle(ulong off, ulong n, string what)
    {
        if (n > (ulong)Options.MaxBlockBytes)
        {
            Fail.Unsupported(Name, $"{what}: {n}-byte block exceeds MaxBlockBytes ({Options.MaxBlockBytes})");
        }

        if (off > (ulong)_blocksEnd || n + TrailerLength > (ulong)_blocksEnd - off)
        {
            Fail.Corrupt(Name, $"{what}: block at {off} of {n} bytes lies outside the table's block area");
        }

        return new BlockHandle((int)off, (int)n);
    }

    /// <summary>
    /// Reads a block: verifies the trailer checksum over the stored bytes and the compression byte, then
    /// decompresses into <paramref name="scratch"/> (or returns the file's own bytes when uncompressed).
    /// </summary>
    public BlockBytes ReadBlock(BlockHandle h, Scratch? scratch, DecodeBudget budget, string what)
    {
        var stored = Data.AsSpan(h.Offset, h.Length);
        byte codec = Data[h.Offset + h.Length];
        uint expected = BinaryPrimitives.ReadUInt32LittleEndian(Data.AsSpan(h.Offset + h.Length + 1, 4));
        uint crc = Crc32C.Mask(~Crc32C.Update(Crc32C.Update(0xFFFFFFFFu, stored), [codec]));
        if (crc != expected)
        {
            Fail.Corrupt(Name, $"{what} at {h.Offset}: checksum mismatch");
        }

        switch (codec)
        {
            case 0:
                return new BlockBytes(Data, h.Offset, h.Length);
            case 1:
                {
                    int p = 0;
                    if (!Varint.TryRead(stored, ref p, out ulong n))
                    {
                        Fail.Corrupt(Name, $"{what} at {h.Offset}: bad snappy length");
                    }

                    // Snappy cannot expand more than ~21x (a 3-byte copy of 64 bytes), so a larger claim is
                    // damage, and rejecting it avoids allocating for a length no input could produce.
                    if (n > ((ulong)stored.Length * 32) + 64)
                    {
                        Fail.Corrupt(Name, $"{what} at {h.Offset}: snappy block claims {n} bytes from {stored.Length}");
                    }

                    int size = CheckDecodedSize(n, h, what, budget);
                    byte[] dst = scratch is null ? new byte[size] : scratch.Get(size);
                    int got;
                    try
                    {
                        got = Snappier.Snappy.Decompress(stored, dst.AsSpan(0, size));
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        throw Fail.Corruption(Name, $"{what} at {h.Offset}: snappy data is invalid ({e.Message})");
                    }

                    if (got != size)
                    {
                        Fail.Corrupt(Name, $"{what} at {h.Offset}: snappy produced {got} bytes, expected {size}");
                    }

                    return new BlockBytes(dst, 0, size);
                }

            case 7:
                {
                    int p = 0;
                    if (!Varint.TryRead(stored, ref p, out ulong n))
                    {
                        Fail.Corrupt(Name, $"{what} at {h.Offset}: bad zstd length prefix");
                    }

                    int size = CheckDecodedSize(n, h, what, budget);
                    byte[] dst = scratch is null ? new byte[size] : scratch.Get(size);
                    int got;
                    try
                    {
                        using var z = new ZstdSharp.Decompressor();
                        got = z.Unwrap(stored[p..], dst.AsSpan(0, size));
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        throw Fail.Corruption(Name, $"{what} at {h.Offset}: zstd data is invalid ({e.Message})");
                    }

                    if (got != size)
                    {
                        Fail.Corrupt(Name, $"{what} at {h.Offset}: zstd produced {got} bytes, expected {size}");
                    }

                    return new BlockBytes(dst, 0, size);
                }

            case 8:
                throw Fail.Format(Name, $"{what} at {h.Offset}: MinLZ compression is not supported");
            case >= 2 and <= 6:
                throw Fail.Format(Name, $"{what} at {h.Offset}: compression type {codec} (zlib/bzip2/lz4/xpress) is not supported");
            default:
                throw Fail.Corruption(Name, $"{what} at {h.Offset}: unknown compression type {codec}");
        }
    }

    private int CheckDecodedSize(ulong n, BlockHandle h, string what, DecodeBudget budget)
    {
        if (n > (ulong)Options.MaxBlockBytes)
        {
            Fail.Unsupported(Name, $"{what} at {h.Offset}: decompresses to {n} bytes, beyond MaxBlockBytes ({Options.MaxBlockBytes})");
        }

        budget.Charge(Name, (long)n);
        return (int)n;
    }

    private void ReadMetaIndex(BlockHandle h, Scratch scratch, DecodeBudget budget, out BlockHandle props)
    {
        var b = ReadBlock(h, scratch, budget, "metaindex block");
        var hdr = ColumnarHeader.Parse(b.Array, b.Start, b.Length, 0, KeyValueCols, Name, "metaindex block");
        RawBytesColumn.Decode(b.Array, b.Start, hdr.ColumnStart(0), hdr.ColumnEnd(0), hdr.Rows, Name, "metaindex keys", out var keys);
        RawBytesColumn.Decode(b.Array, b.Start, hdr.ColumnStart(1), hdr.ColumnEnd(1), hdr.Rows, Name, "metaindex values", out var values);
        BlockHandle? found = null;
        for (int i = 0; i < hdr.Rows; i++)
        {
            string key = Encoding.UTF8.GetString(keys.Get(b.Array, i));
            var value = values.Get(b.Array, i);
            var r = new SpanReader(value, Name, $"metaindex entry '{key}'");
            switch (key)
            {
                case "rocksdb.properties":
                    found = ReadHandle(ref r, key);
                    break;
                case "rocksdb.range_del2":
                    RangeDelHandle = ReadHandle(ref r, key);
                    break;
                case "rocksdb.range_del":
                    Fail.Unsupported(Name, "v1 range-deletion blocks (rocksdb.range_del) are not supported");
                    break;
                case "pebble.value_index":
                    {
                        ValueIndexHandle = ReadHandle(ref r, key);
                        var w = r.Bytes(3, "value index widths");
                        if (w[0] is < 1 or > 8 || w[1] is < 1 or > 8 || w[2] is < 1 or > 8)
                        {
                            Fail.Corrupt(Name, "value index field widths out of range");
                        }

                        ValueIndexWidths = (w[0], w[1], w[2]);
                        break;
                    }

                default:
                    // Filters, range keys and blob-reference indexes do not affect point reads.
                    continue;
            }

            if (!r.AtEnd)
            {
                Fail.Corrupt(Name, $"metaindex entry '{key}' has trailing bytes");
            }
        }

        if (found is null)
        {
            Fail.Corrupt(Name, "the metaindex has no properties block");
        }

        props = found.Value;
    }

    private void ReadProperties(BlockHandle h, Scratch scratch, DecodeBudget budget, out int indexType)
    {
        var b = ReadBlock(h, scratch, budget, "properties block");
        var props = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (FormatVersion >= 7)
        {
            var hdr = ColumnarHeader.Parse(b.Array, b.Start, b.Length, 0, KeyValueCols, Name, "properties block");
            RawBytesColumn.Decode(b.Array, b.Start, hdr.ColumnStart(0), hdr.ColumnEnd(0), hdr.Rows, Name, "property names", out var keys);
            RawBytesColumn.Decode(b.Array, b.Start, hdr.ColumnStart(1), hdr.ColumnEnd(1), hdr.Rows, Name, "property values", out var values);
            for (int i = 0; i < hdr.Rows; i++)
            {
                props[Encoding.UTF8.GetString(keys.Get(b.Array, i))] = values.Get(b.Array, i).ToArray();
            }
        }
        else
        {
            RowBlock.ReadAll(b.Span, Name, "properties block", props);
        }

        if (props.TryGetValue("rocksdb.comparator", out var cmp) && !cmp.AsSpan().SequenceEqual("leveldb.BytewiseComparator"u8))
        {
            Fail.Unsupported(Name, $"comparer '{Encoding.UTF8.GetString(cmp)}' is not supported");
        }

        if (!props.TryGetValue("pebble.colblk.schema", out var schema))
        {
            Fail.Unsupported(Name, "the table names no columnar key schema");
        }

        if (!schema.AsSpan().StartsWith("DefaultKeySchema(leveldb.BytewiseComparator,"u8))
        {
            Fail.Unsupported(Name, $"key schema '{Encoding.UTF8.GetString(schema)}' is not supported");
        }

        indexType = 0;
        if (props.TryGetValue("rocksdb.block.based.table.index.type", out var it))
        {
            if (it.Length != 4)
            {
                Fail.Corrupt(Name, "index type property is not a u32");
            }

            indexType = (int)BinaryPrimitives.ReadUInt32LittleEndian(it);
            if (indexType is not (0 or 2))
            {
                Fail.Unsupported(Name, $"index type {indexType} is not supported");
            }
        }
    }

    /// <summary>Decodes the range-deletion block into fragments (seqnums and clipping applied by the caller's meta).</summary>
    public List<RangeTombstone> ReadRangeDels(TableMeta meta, DecodeBudget budget, byte[]? lowerClip, byte[]? upperClipExclusive)
    {
        var result = new List<RangeTombstone>();
        if (RangeDelHandle is not { } h)
        {
            return result;
        }

        using var scratch = new Scratch();
        var b = ReadBlock(h, scratch, budget, "range-del block");
        var a = b.Array;
        if (b.Length < 4)
        {
            Fail.Corrupt(Name, "range-del block is too short");
        }

        uint boundaries = BinaryPrimitives.ReadUInt32LittleEndian(b.Span);
        var hdr = ColumnarHeader.Parse(a, b.Start, b.Length, 4, [ColType.Bytes, ColType.Uint, ColType.Uint, ColType.Bytes, ColType.Bytes], Name, "range-del block");
        if (boundaries > (uint)b.Length || (boundaries == 0 && hdr.Rows != 0))
        {
            Fail.Corrupt(Name, $"range-del block: {boundaries} boundaries for {hdr.Rows} keys");
        }

        int nb = (int)boundaries;
        int k = hdr.Rows;
        RawBytesColumn.Decode(a, b.Start, hdr.ColumnStart(0), hdr.ColumnEnd(0), nb, Name, "range-del boundaries", out var bounds);
        UintColumn.Decode(a, b.Start, hdr.ColumnStart(1), hdr.ColumnEnd(1), nb, Name, "range-del key indexes", out var idx);
        UintColumn.Decode(a, b.Start, hdr.ColumnStart(2), hdr.ColumnEnd(2), k, Name, "range-del trailers", out var trailers);
        for (int j = 0; j + 1 < nb; j++)
        {
            var start = bounds.Get(a, j);
            var end = bounds.Get(a, j + 1);
            if (start.SequenceCompareTo(end) >= 0)
            {
                Fail.Corrupt(Name, "range-del block: boundary keys are not ascending");
            }

            ulong lo = idx.Get(a, j), hi = idx.Get(a, j + 1);
            if (lo > hi || hi > (ulong)k)
            {
                Fail.Corrupt(Name, "range-del block: key indexes out of order");
            }

            if (lo == hi)
            {
                continue;
            }

            ulong maxSeq = 0;
            for (int i = (int)lo; i < (int)hi; i++)
            {
                ulong tr = trailers.Get(a, i);
                if ((byte)tr != Kinds.RangeDelete)
                {
                    Fail.Corrupt(Name, $"range-del block: key of kind {(byte)tr}");
                }

                maxSeq = Math.Max(maxSeq, meta.HasSyntheticSeq ? meta.SmallestSeq : tr >> 8);
            }

            ReadOnlySpan<byte> s = start, e = end;
            if (lowerClip is not null && s.SequenceCompareTo(lowerClip) < 0)
            {
                s = lowerClip;
            }

            if (upperClipExclusive is not null && e.SequenceCompareTo(upperClipExclusive) > 0)
            {
                e = upperClipExclusive;
            }

            if (s.SequenceCompareTo(e) < 0)
            {
                result.Add(new RangeTombstone(s.ToArray(), e.ToArray(), maxSeq));
            }
        }

        if (nb > 0 && idx.Get(a, nb - 1) != (ulong)k)
        {
            Fail.Corrupt(Name, "range-del block: key indexes do not cover every key");
        }

        return result;
    }
}

/// <summary>An index block: separator user keys and the handles of the blocks they bound.</summary>
internal readonly struct IndexBlock
{
    private static readonly ColType[] Cols = [ColType.Bytes, ColType.Uint, ColType.Uint, ColType.Bytes];

    public readonly byte[] Array;
    public readonly int Rows;
    private readonly RawBytesColumn _seps;
    private readonly UintColumn _offsets;
    private readonly UintColumn _lengths;

    private IndexBlock(byte[] array, int rows, RawBytesColumn seps, UintColumn offsets, UintColumn lengths)
    {
        Array = array;
        Rows = rows;
        _seps = seps;
        _offsets = offsets;
        _lengths = lengths;
    }

    public static IndexBlock Parse(BlockBytes b, string file, string what)
    {
        var hdr = ColumnarHeader.Parse(b.Array, b.Start, b.Length, 0, Cols, file, what);
        RawBytesColumn.Decode(b.Array, b.Start, hdr.ColumnStart(0), hdr.ColumnEnd(0), hdr.Rows, file, what, out var seps);
        UintColumn.Decode(b.Array, b.Start, hdr.ColumnStart(1), hdr.ColumnEnd(1), hdr.Rows, file, what, out var offsets);
        UintColumn.Decode(b.Array, b.Start, hdr.ColumnStart(2), hdr.ColumnEnd(2), hdr.Rows, file, what, out var lengths);
        return new IndexBlock(b.Array, hdr.Rows, seps, offsets, lengths);
    }

    public ReadOnlySpan<byte> Separator(int i) => _seps.Get(Array, i);

    public BlockHandle Handle(TableFile t, int i, string what) => t.CheckHandle(_offsets.Get(Array, i), _lengths.Get(Array, i), what);

    /// <summary>The first row whose separator is ≥ <paramref name="key"/> (Rows if none).</summary>
    public int Seek(ReadOnlySpan<byte> key)
    {
        int lo = 0, hi = Rows;
        while (lo < hi)
        {
            int mid = (int)(((uint)lo + (uint)hi) >> 1);
            if (Separator(mid).SequenceCompareTo(key) < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}

/// <summary>
/// The classic LevelDB row block (shared/unshared key deltas with a restart array), used here only for the
/// properties block of v6 tables, whose other blocks are columnar.
/// </summary>
internal static class RowBlock
{
    public static void ReadAll(ReadOnlySpan<byte> b, string file, string what, Dictionary<string, byte[]> into)
    {
        if (b.Length < 4)
        {
            Fail.Corrupt(file, $"{what}: too short");
        }

        uint restarts = BinaryPrimitives.ReadUInt32LittleEndian(b[^4..]);
        if (restarts == 0 || restarts > (uint)((b.Length - 4) / 4))
        {
            Fail.Corrupt(file, $"{what}: {restarts} restart points");
        }

        int end = b.Length - 4 - ((int)restarts * 4);
        var r = new SpanReader(b[..end], file, what);
        // Property names are short; capping them keeps a block of entries that each share a long
        // prefix from costing time quadratic in its size.
        const int MaxName = 4096;
        var key = new byte[MaxName];
        int keyLen = 0;
        while (!r.AtEnd)
        {
            int shared = r.UvarintInt("shared", keyLen);
            int unshared = r.UvarintInt("unshared", MaxName - shared);
            int vlen = r.UvarintInt("value length", end);
            r.Bytes(unshared, "key").CopyTo(key.AsSpan(shared));
            keyLen = shared + unshared;
            var value = r.Bytes(vlen, "value");
            into[Encoding.UTF8.GetString(key, 0, keyLen)] = value.ToArray();
        }
    }
}
