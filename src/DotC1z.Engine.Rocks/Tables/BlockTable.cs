using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using DotC1z.Errors;
using Microsoft.Win32.SafeHandles;

namespace DotC1z.Engine.Rocks.Tables;

/// <summary>
/// One RocksDB block-based table file opened for a sequential read without RocksDB (docs/DESIGN.md §6, "Reading table files directly"): footer,
/// meta-index, properties and index are read and checked at open; data blocks are then read, checksum-verified and
/// decompressed on demand. Only the subset the engine writes is handled — format versions 2–7, XXH3 or no checksums,
/// LZ4 or no compression, a binary-search index, no range deletions, no point deletions, no merge operands, bytewise
/// order. A table outside it opens as null and the caller reads through RocksDB instead; a table inside it whose bytes
/// do not check is a <see cref="C1zCorruptionException"/>.
/// </summary>
internal sealed class BlockTable : IDisposable
{
    /// <summary>The block-based table's magic number (the last 8 bytes of the file, little-endian).</summary>
    public const ulong Magic = 0x88e241b785f4cff7;

    /// <summary>Compression type byte + fixed32 checksum after every block.</summary>
    public const int TrailerBytes = 5;

    private const int FooterBytes = 53;
    private const byte NoChecksum = 0;
    private const byte Xxh3Checksum = 4;
    private const byte NoCompression = 0;
    private const byte Lz4 = 4;
    private const byte Lz4Hc = 5;

    // ModifyChecksumForLastByte's multiplier.
    private const uint LastBytePrime = 0x6b9083d9;

    // Blocks are 16 KiB in this engine; anything far larger is damage, not data.
    private const int MaxBlockBytes = 64 << 20;

    private readonly SafeFileHandle _file;

    // Shared by a store's cache and the scans reading it: the file closes when the last holder lets go.
    private int _holders = 1;
    private int _formatVersion;
    private byte _checksumType;
    private uint _baseContext;
    private bool _indexDeltaEncoded;
    private bool _indexKeyIsUserKey;

    private BlockTable(string path, SafeFileHandle file, long length)
    {
        Path = path;
        _file = file;
        Length = length;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Its length in bytes.</summary>
    public long Length { get; }

    /// <summary>The data blocks in key order, each with the user key its index entry separates at (≥ its last key).</summary>
    public List<DataBlock> Blocks { get; } = [];

    /// <summary>One data block: where it is, and an upper bound of its user keys.</summary>
    public readonly record struct DataBlock(long Offset, int Size, byte[] Separator);

    /// <summary>Opens and checks a table; null when it uses a feature this reader leaves to RocksDB, or is gone.</summary>
    /// <exception cref="C1zCorruptionException">The table's structure does not check.</exception>
    public static BlockTable? TryOpen(string path)
    {
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            // Compacted away since the file list was taken: RocksDB's own view is the one to read.
            return null;
        }

        var table = new BlockTable(path, file, RandomAccess.GetLength(file));
        try
        {
            if (table.TryLoad())
            {
                return table;
            }

            table.Dispose();
            return null;
        }
        catch
        {
            table.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the stored block at <paramref name="offset"/> (through <paramref name="buffers"/>' read-ahead window),
    /// verifies its checksum and returns its contents, decompressed if need be (valid until the next read).
    /// </summary>
    /// <exception cref="C1zCorruptionException">The block does not check or decode.</exception>
    public ReadOnlySpan<byte> ReadBlock(long offset, int size, TableBuffers buffers) => ReadBlockSegment(offset, size, buffers);

    /// <summary>As <see cref="ReadBlock"/>, as a segment of the buffer it lies in.</summary>
    /// <exception cref="C1zCorruptionException">The block does not check or decode.</exception>
    public ArraySegment<byte> ReadBlockSegment(long offset, int size, TableBuffers buffers)
    {
        if (size < 0 || size > MaxBlockBytes || offset < 0 || offset + size + TrailerBytes > Length)
        {
            throw Corrupt($"a block handle points outside the file (offset {offset}, size {size})");
        }

        var segment = buffers.Read(this, offset, size + TrailerBytes);
        var stored = segment.AsSpan();
        var data = stored[..size];
        byte type = stored[size];
        if (_checksumType == Xxh3Checksum)
        {
            uint expected = BinaryPrimitives.ReadUInt32LittleEndian(stored[(size + 1)..]);
            if (Checksum(data, type) + ContextModifier(offset) != expected)
            {
                throw Corrupt($"block checksum mismatch at offset {offset}");
            }
        }

        switch (type)
        {
            case NoCompression:
                return segment[..size];
            case Lz4:
            case Lz4Hc:
                {
                    int at = 0;
                    if (!TryVarint32(data, ref at, out uint length) || length > MaxBlockBytes)
                    {
                        throw Corrupt($"a compressed block's size is unreadable at offset {offset}");
                    }

                    var contents = buffers.Contents((int)length);
                    if (!Lz4Block.TryDecode(data[at..], contents.AsSpan()))
                    {
                        throw Corrupt($"an LZ4 block does not decode at offset {offset}");
                    }

                    return contents;
                }

            default:
                throw Corrupt($"block compression type {type} at offset {offset} is not the one its table declares");
        }
    }

    /// <summary>Reads exactly <paramref name="destination"/>'s length at <paramref name="offset"/>.</summary>
    /// <exception cref="C1zCorruptionException">The file ends first.</exception>
    public void ReadExactly(long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(_file, destination, offset);
            if (n <= 0)
            {
                throw Corrupt($"the file ends before offset {offset + destination.Length}");
            }

            offset += n;
            destination = destination[n..];
        }
    }

    /// <summary>A corruption error naming this table.</summary>
    public C1zCorruptionException Corrupt(string what) => new($"store is corrupt: table {Path}: {what}", Path);

    /// <summary>Takes one more hold on the open file; false once it has closed.</summary>
    public bool TryAcquire()
    {
        int holders;
        do
        {
            holders = Volatile.Read(ref _holders);
            if (holders == 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _holders, holders + 1, holders) != holders);

        return true;
    }

    /// <summary>Lets go of one hold (the opener's, or one taken by <see cref="TryAcquire"/>); the last closes the file.</summary>
    public void Dispose()
    {
        if (Interlocked.Decrement(ref _holders) == 0)
        {
            _file.Dispose();
        }
    }

    /// <summary>Parses one varint32 of a block.</summary>
    public static bool TryVarint32(ReadOnlySpan<byte> data, ref int at, out uint value)
    {
        bool ok = TryVarint64(data, ref at, out ulong wide) && wide <= uint.MaxValue;
        value = (uint)wide;
        return ok;
    }

    private static bool TryVarint64(ReadOnlySpan<byte> data, ref int at, out ulong value)
    {
        value = 0;
        for (int shift = 0; shift <= 63; shift += 7)
        {
            if ((uint)at >= (uint)data.Length)
            {
                return false;
            }

            ulong b = data[at++];
            value |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    // RocksDB's XXH3 block checksum: the low 32 bits of XXH3-64 over the data, mixed with the byte after it.
    private static uint Checksum(ReadOnlySpan<byte> data, byte lastByte) => (uint)XxHash3.HashToUInt64(data) ^ (lastByte * LastBytePrime);

    // Format version 6 on ties every checksum to its offset in the file.
    private uint ContextModifier(long offset) => _baseContext == 0 ? 0 : _baseContext ^ ((uint)offset + (uint)((ulong)offset >> 32));

    private bool TryLoad()
    {
        if (Length < FooterBytes)
        {
            throw Corrupt("shorter than a table footer");
        }

        Span<byte> footer = stackalloc byte[FooterBytes];
        long footerOffset = Length - FooterBytes;
        ReadExactly(footerOffset, footer);
        if (BinaryPrimitives.ReadUInt64LittleEndian(footer[^8..]) != Magic)
        {
            return false;
        }

        _formatVersion = (int)BinaryPrimitives.ReadUInt32LittleEndian(footer[^12..]);
        _checksumType = footer[0];
        if (_formatVersion is < 2 or > 7 || _checksumType is not (NoChecksum or Xxh3Checksum))
        {
            return false;
        }

        long metaOffset;
        int metaSize;
        (long Offset, int Size)? index = null;
        if (_formatVersion >= 6)
        {
            if (footer[1] != 0x3e || footer[2] != 0 || footer[3] != 0x7a || footer[4] != 0)
            {
                throw Corrupt("the footer's extended magic is wrong");
            }

            uint stored = BinaryPrimitives.ReadUInt32LittleEndian(footer[5..]);
            _baseContext = BinaryPrimitives.ReadUInt32LittleEndian(footer[9..]);
            metaSize = (int)BinaryPrimitives.ReadUInt32LittleEndian(footer[13..]);
            metaOffset = footerOffset - TrailerBytes - metaSize;
            if (_checksumType == Xxh3Checksum)
            {
                Span<byte> zeroed = stackalloc byte[FooterBytes];
                footer.CopyTo(zeroed);
                zeroed.Slice(5, 4).Clear();
                if (Checksum(zeroed[..^1], zeroed[^1]) + ContextModifier(footerOffset) != stored)
                {
                    throw Corrupt("footer checksum mismatch");
                }
            }
        }
        else
        {
            int at = 1;
            if (!TryHandle(footer, ref at, out metaOffset, out metaSize) || !TryHandle(footer, ref at, out long indexOffset, out int indexSize))
            {
                throw Corrupt("the footer's block handles are unreadable");
            }

            index = (indexOffset, indexSize);
        }

        // Meta-index: which optional blocks exist.
        var buffers = new TableBuffers(64 * 1024);
        (long Offset, int Size)? properties = null;
        foreach (var (name, value) in Entries(ReadBlock(metaOffset, metaSize, buffers), deltaValues: false))
        {
            string key = Encoding.UTF8.GetString(name);
            if (key is "rocksdb.properties" or "rocksdb.index")
            {
                int at = 0;
                if (!TryHandle(value, ref at, out long offset, out int size))
                {
                    throw Corrupt($"the meta-index entry {key} is unreadable");
                }

                if (key == "rocksdb.properties")
                {
                    properties = (offset, size);
                }
                else
                {
                    index = (offset, size);
                }
            }
            else if (key is "rocksdb.range_del" or "rocksdb.compression_dict" || key.StartsWith("rocksdb.hashindex.", StringComparison.Ordinal)
                || key.StartsWith("rocksdb.user_defined_index.", StringComparison.Ordinal))
            {
                return false;
            }
        }

        if (properties is null || index is null || !TryProperties(ReadBlock(properties.Value.Offset, properties.Value.Size, buffers)))
        {
            return false;
        }

        LoadIndex(ReadBlock(index.Value.Offset, index.Value.Size, buffers));
        return true;
    }

    // The properties that decide whether this reader may read the table.
    private bool TryProperties(ReadOnlySpan<byte> block)
    {
        bool binaryIndex = false;
        bool bytewise = false;
        bool compressionKnown = false;
        foreach (var (name, value) in Entries(block, deltaValues: false))
        {
            switch (Encoding.UTF8.GetString(name))
            {
                case "rocksdb.block.based.table.index.type":
                    binaryIndex = value.Length == 4 && BinaryPrimitives.ReadUInt32LittleEndian(value) == 0;
                    break;
                case "rocksdb.comparator":
                    bytewise = value.SequenceEqual("leveldb.BytewiseComparator"u8);
                    break;
                case "rocksdb.compression":
                    compressionKnown = KnownCompression(value);
                    break;
                case "rocksdb.index.value.is.delta.encoded":
                    _indexDeltaEncoded = Number(value) != 0;
                    break;
                case "rocksdb.index.key.is.user.key":
                    _indexKeyIsUserKey = Number(value) != 0;
                    break;
                case "rocksdb.deleted.keys" or "rocksdb.merge.operands" or "rocksdb.num.range-deletions" or "rocksdb.separate.key.value.in.data.block":
                    if (Number(value) != 0)
                    {
                        return false;
                    }

                    break;
                case "rocksdb.user.defined.timestamps.persisted":
                    return false;
            }
        }

        return binaryIndex && bytewise && compressionKnown;
    }

    private ulong Number(ReadOnlySpan<byte> value)
    {
        int at = 0;
        return TryVarint64(value, ref at, out ulong n) ? n : throw Corrupt("a numeric table property is unreadable");
    }

    // Format 7 lists the compression types used ("BuiltinV2;04;"); older formats name the configured one.
    private static bool KnownCompression(ReadOnlySpan<byte> value)
    {
        string text = Encoding.UTF8.GetString(value);
        if (text.StartsWith("BuiltinV2;", StringComparison.Ordinal))
        {
            foreach (string type in text["BuiltinV2;".Length..].Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                if (type is not ("00" or "04" or "05"))
                {
                    return false;
                }
            }

            return true;
        }

        return text is "NoCompression" or "LZ4" or "LZ4HC";
    }

    private void LoadIndex(ReadOnlySpan<byte> block)
    {
        long previousOffset = 0;
        int previousSize = 0;
        foreach (var (key, value, shared) in IndexEntries(block))
        {
            int at = 0;
            long offset;
            int size;
            if (_indexDeltaEncoded && shared != 0)
            {
                if (Blocks.Count == 0)
                {
                    throw Corrupt("an index begins with a size delta");
                }

                // A non-restart entry stores only the size change; the block follows the previous one.
                if (!TryVarint64(value, ref at, out ulong zigzag))
                {
                    throw Corrupt("an index entry's size delta is unreadable");
                }

                long delta = (long)(zigzag >> 1) ^ -(long)(zigzag & 1);
                offset = previousOffset + previousSize + TrailerBytes;
                size = checked((int)(previousSize + delta));
            }
            else if (!TryHandle(value, ref at, out offset, out size))
            {
                throw Corrupt("an index entry's block handle is unreadable");
            }

            if (_indexKeyIsUserKey ? key.Length == 0 : key.Length < 8)
            {
                throw Corrupt("an index entry's key is too short");
            }

            byte[] separator = (_indexKeyIsUserKey ? key : key[..^8]).ToArray();
            Blocks.Add(new DataBlock(offset, size, separator));
            previousOffset = offset;
            previousSize = size;
        }
    }

    private static bool TryHandle(ReadOnlySpan<byte> data, ref int at, out long offset, out int size)
    {
        offset = 0;
        size = 0;
        if (!TryVarint64(data, ref at, out ulong o) || !TryVarint64(data, ref at, out ulong s) || o > long.MaxValue || s > MaxBlockBytes)
        {
            return false;
        }

        offset = (long)o;
        size = (int)s;
        return true;
    }

    // The entries of a meta-index or properties block (keys rebuilt in a fresh array each: a handful per table).
    private List<(byte[] Key, byte[] Value)> Entries(ReadOnlySpan<byte> block, bool deltaValues)
    {
        var result = new List<(byte[], byte[])>();
        foreach (var (key, value, _) in IndexEntries(block, deltaValues))
        {
            result.Add((key.ToArray(), value.ToArray()));
        }

        return result;
    }

    private List<(byte[] Key, byte[] Value, int Shared)> IndexEntries(ReadOnlySpan<byte> block) => IndexEntries(block, _indexDeltaEncoded);

    // Entries of a non-data block. With delta-encoded values there is no value length: the value runs to the next
    // entry, which for an index is a block handle or a size delta read by the caller from the front.
    private List<(byte[] Key, byte[] Value, int Shared)> IndexEntries(ReadOnlySpan<byte> block, bool deltaValues)
    {
        int end = DataEnd(block);
        var result = new List<(byte[], byte[], int)>();
        byte[] key = [];
        int at = 0;
        while (at < end)
        {
            if (!TryVarint32(block, ref at, out uint shared) || !TryVarint32(block, ref at, out uint nonShared))
            {
                throw Corrupt("a block entry's header is unreadable");
            }

            uint valueLength = 0;
            if (!deltaValues && !TryVarint32(block, ref at, out valueLength))
            {
                throw Corrupt("a block entry's header is unreadable");
            }

            if (shared > key.Length || nonShared > (uint)(end - at))
            {
                throw Corrupt("a block entry overruns its block");
            }

            byte[] next = new byte[shared + nonShared];
            key.AsSpan(0, (int)shared).CopyTo(next);
            block.Slice(at, (int)nonShared).CopyTo(next.AsSpan((int)shared));
            key = next;
            at += (int)nonShared;
            int valueStart = at;
            if (deltaValues)
            {
                // A handle is two varints, a delta one: skip exactly what the entry holds.
                int probe = at;
                int varints = shared == 0 ? 2 : 1;
                for (int v = 0; v < varints; v++)
                {
                    if (!TryVarint64(block, ref probe, out _))
                    {
                        throw Corrupt("an index entry's value is unreadable");
                    }
                }

                at = probe;
            }
            else
            {
                if (valueLength > (uint)(end - at))
                {
                    throw Corrupt("a block entry overruns its block");
                }

                at += (int)valueLength;
            }

            if (at > end)
            {
                throw Corrupt("a block entry overruns its block");
            }

            result.Add((key, block[valueStart..at].ToArray(), (int)shared));
        }

        return result;
    }

    /// <summary>Where a block's entries end: before its restart array (and data-block hash index, if any).</summary>
    /// <exception cref="C1zCorruptionException">The block's footer does not fit it.</exception>
    public int DataEnd(ReadOnlySpan<byte> block)
    {
        if (block.Length < 4)
        {
            throw Corrupt("a block is shorter than its footer");
        }

        uint packed = BinaryPrimitives.ReadUInt32LittleEndian(block[^4..]);
        long end = block.Length - 4L - 4L * (packed & 0x0FFFFFFF);
        if ((packed & (1u << 28)) != 0 || (packed & (1u << 30)) != 0)
        {
            // Separated values or a reserved bit: not a layout this engine writes.
            throw Corrupt("a block uses a layout this reader does not know");
        }

        if ((packed & (1u << 31)) != 0)
        {
            // A data-block hash index sits between the restarts and the footer: buckets, then their count.
            if (block.Length < 6)
            {
                throw Corrupt("a block is shorter than its hash index");
            }

            end -= 2 + BinaryPrimitives.ReadUInt16LittleEndian(block[^6..]);
        }

        return end < 0 ? throw Corrupt("a block's restart array is longer than the block") : (int)end;
    }
}

/// <summary>A scan's read-ahead window over one table file and its decompression buffer.</summary>
internal sealed class TableBuffers(int windowBytes)
{
    private byte[] _window = new byte[windowBytes];
    private byte[] _contents = new byte[32 * 1024];
    private BlockTable? _table;
    private long _offset;
    private int _length;

    /// <summary><paramref name="count"/> bytes of <paramref name="table"/> at <paramref name="offset"/>, from the window (refilled as needed).</summary>
    public ArraySegment<byte> Read(BlockTable table, long offset, int count)
    {
        if (!ReferenceEquals(table, _table) || offset < _offset || offset + count > _offset + _length)
        {
            if (count > _window.Length)
            {
                _window = new byte[count];
            }

            int length = (int)Math.Min(_window.Length, table.Length - offset);
            if (length < count)
            {
                throw table.Corrupt($"a block at offset {offset} runs past the end of the file");
            }

            table.ReadExactly(offset, _window.AsSpan(0, length));
            _table = table;
            _offset = offset;
            _length = length;
        }

        return new ArraySegment<byte>(_window, (int)(offset - _offset), count);
    }

    /// <summary>A buffer of exactly <paramref name="length"/> bytes for a decompressed block (valid until the next call).</summary>
    public ArraySegment<byte> Contents(int length)
    {
        if (length > _contents.Length)
        {
            _contents = new byte[Math.Max(length, _contents.Length * 2)];
        }

        return new ArraySegment<byte>(_contents, 0, length);
    }
}
