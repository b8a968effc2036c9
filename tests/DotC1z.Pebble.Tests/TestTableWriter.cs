using System.Buffers.Binary;
using System.Text;

namespace DotC1z.Pebble.Tests;

/// <summary>
/// Writes small Pebble v7 columnar tables from scratch, to exercise paths the fixture does not have:
/// two-level indexes, zstd data blocks, value blocks, delta-encoded uints, and deliberately bad rows.
/// Keys are stored as whole suffixes under empty shared and bundle prefixes (a valid, if unoptimised,
/// PrefixBytes encoding).
/// </summary>
internal sealed class TestTableWriter
{
    public sealed record Row(byte[] Key, ulong Seq, byte Kind, byte[] Value, bool InValueBlock = false, byte? RawValuePrefix = null);

    public List<Row> Rows { get; } = [];

    public int RowsPerBlock { get; init; } = 3;

    /// <summary>0 = one-level index; otherwise the number of data blocks per second-level index block.</summary>
    public int TwoLevelFanout { get; init; }

    public byte DataCodec { get; init; }

    /// <summary>Store every block uncompressed (so tests can patch block bytes and fix the checksum).</summary>
    public bool AllUncompressed { get; init; }

    /// <summary>Every block Build wrote: offset and stored length (without the trailer).</summary>
    public List<(int Offset, int Length)> Blocks { get; } = [];

    /// <summary>Write a v6 table: 57-byte footer without attributes, properties as a classic row block.</summary>
    public bool Version6 { get; init; }

    public TestTableWriter Add(string key, ulong seq, byte kind, string value, bool inValueBlock = false)
    {
        Rows.Add(new Row(Encoding.UTF8.GetBytes(key), seq, kind, Encoding.UTF8.GetBytes(value), inValueBlock));
        return this;
    }

    public byte[] Build()
    {
        Blocks.Clear();
        var file = new List<byte>();
        var valueBlock = new List<byte>();
        var dataHandles = new List<(byte[] LastKey, int Offset, int Length)>();
        for (int start = 0; start < Rows.Count; start += RowsPerBlock)
        {
            var rows = Rows.Skip(start).Take(RowsPerBlock).ToList();
            var values = new List<byte[]>();
            var external = new List<bool>();
            foreach (var r in rows)
            {
                if (r.RawValuePrefix is { } p)
                {
                    values.Add([p, .. r.Value]);
                    external.Add(true);
                }
                else if (r.InValueBlock)
                {
                    var handle = new List<byte> { 0x80 };
                    Builders.PutUvarint(handle, (ulong)r.Value.Length);
                    Builders.PutUvarint(handle, 0);
                    Builders.PutUvarint(handle, (ulong)valueBlock.Count);
                    valueBlock.AddRange(r.Value);
                    values.Add(handle.ToArray());
                    external.Add(true);
                }
                else
                {
                    values.Add(r.Value);
                    external.Add(false);
                }
            }

            var header = BitConverter.GetBytes((uint)rows.Max(r => r.Key.Length));
            byte[] block = Columnar(header, rows.Count,
                (4, b => PrefixBytes(b, rows.Select(r => r.Key).ToList())),
                (3, b => Bytes(b, rows.Select(_ => Array.Empty<byte>()).ToList())),
                (2, b => Uints(b, rows.Select(r => (r.Seq << 8) | r.Kind).ToList())),
                (1, b => Bitmap(b, rows.Select(_ => true).ToList())),
                (3, b => Bytes(b, values)),
                (1, b => Bitmap(b, external)),
                (1, b => Bitmap(b, rows.Select(_ => false).ToList())));
            int at = Put(file, block, DataCodec);
            dataHandles.Add((rows[^1].Key, at, file.Count - 5 - at));
        }

        (int Offset, int Length) indexHandle;
        if (TwoLevelFanout == 0)
        {
            int at = Put(file, IndexBlock(dataHandles), 1);
            indexHandle = (at, file.Count - 5 - at);
        }
        else
        {
            var seconds = new List<(byte[] LastKey, int Offset, int Length)>();
            for (int i = 0; i < dataHandles.Count; i += TwoLevelFanout)
            {
                var part = dataHandles.Skip(i).Take(TwoLevelFanout).ToList();
                int at = Put(file, IndexBlock(part), 0);
                seconds.Add((part[^1].LastKey, at, file.Count - 5 - at));
            }

            int top = Put(file, IndexBlock(seconds), 0);
            indexHandle = (top, file.Count - 5 - top);
        }

        var meta = new List<(string, byte[])>();
        uint attributes = 0x80;
        if (valueBlock.Count > 0)
        {
            int vb = Put(file, valueBlock.ToArray(), 1);
            int vbLen = file.Count - 5 - vb;
            // One value-index row: block number (1 byte), offset (4 bytes), length (4 bytes).
            byte[] row = [0, .. BitConverter.GetBytes((uint)vb), .. BitConverter.GetBytes((uint)vbLen)];
            int vi = Put(file, row, 0);
            var handle = Handle(vi, file.Count - 5 - vi);
            meta.Add(("pebble.value_index", [.. handle, 1, 4, 4]));
            attributes |= 0x01;
        }

        var props = new List<(string, byte[])>
        {
            ("pebble.colblk.schema", Encoding.UTF8.GetBytes("DefaultKeySchema(leveldb.BytewiseComparator,16)")),
            ("rocksdb.block.based.table.index.type", BitConverter.GetBytes(TwoLevelFanout == 0 ? 0u : 2u)),
            ("rocksdb.comparator", Encoding.UTF8.GetBytes("leveldb.BytewiseComparator")),
        };
        int pAt = Put(file, Version6 ? RowBlock(props) : KeyValue(props), 1);
        meta.Add(("rocksdb.properties", Handle(pAt, file.Count - 5 - pAt)));
        meta.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
        int mAt = Put(file, KeyValue(meta), 0);
        if (TwoLevelFanout != 0)
        {
            attributes |= 0x20;
        }

        if (Version6)
        {
            var f6 = new byte[57];
            f6[0] = 1;
            byte[] h6 = [.. Handle(mAt, file.Count - 5 - mAt), .. Handle(indexHandle.Offset, indexHandle.Length)];
            h6.CopyTo(f6, 1);
            BinaryPrimitives.WriteUInt32LittleEndian(f6.AsSpan(45), 6);
            new byte[] { 0xF0, 0x9F, 0xAA, 0xB3, 0xF0, 0x9F, 0xAA, 0xB3 }.CopyTo(f6, 49);
            BinaryPrimitives.WriteUInt32LittleEndian(f6.AsSpan(41), Crc32C.Mask(Crc32C.Compute(f6.AsSpan(0, 41), f6.AsSpan(45))));
            file.AddRange(f6);
            return file.ToArray();
        }

        var footer = new byte[61];
        footer[0] = 1;
        byte[] handles = [.. Handle(mAt, file.Count - 5 - mAt), .. Handle(indexHandle.Offset, indexHandle.Length)];
        handles.CopyTo(footer, 1);
        BinaryPrimitives.WriteUInt32LittleEndian(footer.AsSpan(41), attributes);
        BinaryPrimitives.WriteUInt32LittleEndian(footer.AsSpan(49), 7);
        new byte[] { 0xF0, 0x9F, 0xAA, 0xB3, 0xF0, 0x9F, 0xAA, 0xB3 }.CopyTo(footer, 53);
        BinaryPrimitives.WriteUInt32LittleEndian(footer.AsSpan(45), Crc32C.Mask(Crc32C.Compute(footer.AsSpan(0, 45), footer.AsSpan(49))));
        file.AddRange(footer);
        return file.ToArray();
    }

    /// <summary>A LevelDB row block with one restart point and no key sharing.</summary>
    private static byte[] RowBlock(List<(string Key, byte[] Value)> kvs)
    {
        var b = new List<byte>();
        foreach (var (key, value) in kvs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            byte[] k = Encoding.UTF8.GetBytes(key);
            Builders.PutUvarint(b, 0);
            Builders.PutUvarint(b, (ulong)k.Length);
            Builders.PutUvarint(b, (ulong)value.Length);
            b.AddRange(k);
            b.AddRange(value);
        }

        b.AddRange(BitConverter.GetBytes(0u));
        b.AddRange(BitConverter.GetBytes(1u));
        return b.ToArray();
    }

    private static byte[] Handle(int offset, int length)
    {
        var h = new List<byte>();
        Builders.PutUvarint(h, (ulong)offset);
        Builders.PutUvarint(h, (ulong)length);
        return h.ToArray();
    }

    private static byte[] IndexBlock(List<(byte[] LastKey, int Offset, int Length)> entries) => Columnar([], entries.Count,
        (3, b => Bytes(b, entries.Select(e => e.LastKey).ToList())),
        (2, b => Uints(b, entries.Select(e => (ulong)e.Offset).ToList())),
        (2, b => Uints(b, entries.Select(e => (ulong)e.Length).ToList())),
        (3, b => Bytes(b, entries.Select(_ => Array.Empty<byte>()).ToList())));

    private static byte[] KeyValue(List<(string Key, byte[] Value)> kvs) => Columnar([], kvs.Count,
        (3, b => Bytes(b, kvs.Select(kv => Encoding.UTF8.GetBytes(kv.Key)).ToList())),
        (3, b => Bytes(b, kvs.Select(kv => kv.Value).ToList())));

    /// <summary>Appends a block and its trailer; returns the block's offset.</summary>
    private int Put(List<byte> file, byte[] block, byte codec)
    {
        int at = WriteBlock(file, block, AllUncompressed ? (byte)0 : codec);
        Blocks.Add((at, file.Count - 5 - at));
        return at;
    }

    public static int WriteBlock(List<byte> file, byte[] block, byte codec)
    {
        byte[] stored = codec switch
        {
            0 => block,
            1 => Snappier.Snappy.CompressToArray(block),
            7 => Zstd(block),
            _ => throw new ArgumentOutOfRangeException(nameof(codec)),
        };
        int at = file.Count;
        file.AddRange(stored);
        file.Add(codec);
        file.AddRange(BitConverter.GetBytes(Crc32C.Masked([.. stored, codec])));
        return at;
    }

    private static byte[] Zstd(byte[] block)
    {
        var o = new List<byte>();
        Builders.PutUvarint(o, (ulong)block.Length);
        using var z = new ZstdSharp.Compressor();
        o.AddRange(z.Wrap(block).ToArray());
        return o.ToArray();
    }

    /// <summary>Builds a columnar block: custom header, block header, columns, trailing zero pad.</summary>
    public static byte[] Columnar(byte[] customHeader, int rows, params (byte Type, Action<List<byte>> Write)[] cols)
    {
        var b = new List<byte>(customHeader) { 1 };
        b.AddRange(BitConverter.GetBytes((ushort)cols.Length));
        b.AddRange(BitConverter.GetBytes((uint)rows));
        int desc = b.Count;
        b.AddRange(new byte[cols.Length * 5]);
        for (int c = 0; c < cols.Length; c++)
        {
            b[desc + (c * 5)] = cols[c].Type;
            var page = BitConverter.GetBytes((uint)b.Count);
            for (int i = 0; i < 4; i++)
            {
                b[desc + (c * 5) + 1 + i] = page[i];
            }

            cols[c].Write(b);
        }

        b.Add(0);
        return b.ToArray();
    }

    /// <summary>A uint column; non-zero values use a delta base and width 4 (the encoding baton data never shows).</summary>
    public static void Uints(List<byte> b, List<ulong> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        ulong min = values.Min();
        ulong max = values.Max();
        if (max == 0)
        {
            b.Add(0x00);
            return;
        }

        if (max - min > uint.MaxValue)
        {
            b.Add(0x08);
            Pad(b, 8);
            foreach (ulong v in values)
            {
                b.AddRange(BitConverter.GetBytes(v));
            }

            return;
        }

        b.Add(0x84);
        b.AddRange(BitConverter.GetBytes(min));
        Pad(b, 4);
        foreach (ulong v in values)
        {
            b.AddRange(BitConverter.GetBytes((uint)(v - min)));
        }
    }

    private static void Pad(List<byte> b, int to)
    {
        while (b.Count % to != 0)
        {
            b.Add(0);
        }
    }

    public static void Bytes(List<byte> b, List<byte[]> slices)
    {
        if (slices.Count == 0)
        {
            return;
        }

        var offsets = new List<ulong> { 0 };
        foreach (var s in slices)
        {
            offsets.Add(offsets[^1] + (ulong)s.Length);
        }

        Uints(b, offsets);
        foreach (var s in slices)
        {
            b.AddRange(s);
        }
    }

    public static void PrefixBytes(List<byte> b, List<byte[]> keys)
    {
        const int shift = 4;
        b.Add(shift);
        var slices = new List<byte[]>();
        for (int r = 0; r < keys.Count; r++)
        {
            if (r % (1 << shift) == 0)
            {
                slices.Add([]);
            }

            slices.Add(keys[r]);
        }

        // off[0] ends the (empty) shared prefix; the slices follow.
        var offsets = new List<ulong> { 0 };
        foreach (var s in slices)
        {
            offsets.Add(offsets[^1] + (ulong)s.Length);
        }

        Uints(b, offsets);
        foreach (var s in slices)
        {
            b.AddRange(s);
        }
    }

    public static void Bitmap(List<byte> b, List<bool> bits)
    {
        if (bits.Count == 0)
        {
            return;
        }

        if (!bits.Contains(true))
        {
            b.Add(1);
            return;
        }

        b.Add(0);
        Pad(b, 8);
        int words = (bits.Count + 63) / 64;
        for (int w = 0; w < words; w++)
        {
            ulong word = 0;
            for (int i = 0; i < 64 && (w * 64) + i < bits.Count; i++)
            {
                if (bits[(w * 64) + i])
                {
                    word |= 1UL << i;
                }
            }

            b.AddRange(BitConverter.GetBytes(word));
        }

        b.AddRange(new byte[((words + 63) / 64) * 8]);
    }
}
