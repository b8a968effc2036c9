using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace DotC1z.Pebble;

/// <summary>Column data types of a columnar block.</summary>
internal enum ColType : byte
{
    Bool = 1,
    Uint = 2,
    Bytes = 3,
    PrefixBytes = 4,
}

/// <summary>
/// The header of a columnar block: after a kind-specific custom header of H bytes comes
/// <c>u8 version ‖ u16 ncols ‖ u32 nrows</c> and one <c>u8 type ‖ u32 page offset</c> per column.
/// Offsets (and all alignment) are relative to the block start; column c spans [page(c), page(c+1)),
/// the last column ending one byte before the block end (a trailing zero pad).
/// </summary>
internal readonly struct ColumnarHeader
{
    public readonly byte[] Array;
    public readonly int Start;
    public readonly int Length;
    public readonly int Rows;
    public readonly int Columns;
    private readonly int _descStart;

    private ColumnarHeader(byte[] array, int start, int length, int rows, int columns, int descStart)
    {
        Array = array;
        Start = start;
        Length = length;
        Rows = rows;
        Columns = columns;
        _descStart = descStart;
    }

    public static ColumnarHeader Parse(byte[] array, int start, int length, int customHeader, ReadOnlySpan<ColType> expected, string file, string what)
    {
        if (length < customHeader + 8)
        {
            Fail.Corrupt(file, $"{what}: {length}-byte columnar block is too short for its header");
        }

        var b = array.AsSpan(start, length);
        if (b[customHeader] != 1)
        {
            Fail.Corrupt(file, $"{what}: columnar block version {b[customHeader]} (expected 1)");
        }

        int ncols = BinaryPrimitives.ReadUInt16LittleEndian(b[(customHeader + 1)..]);
        uint nrows = BinaryPrimitives.ReadUInt32LittleEndian(b[(customHeader + 3)..]);
        int descStart = customHeader + 7;
        int headerEnd = descStart + (ncols * 5);
        if (ncols != expected.Length)
        {
            Fail.Corrupt(file, $"{what}: {ncols} columns (expected {expected.Length})");
        }

        if (headerEnd > length - 1)
        {
            Fail.Corrupt(file, $"{what}: column descriptors overrun the block");
        }

        // Every valid block spends at least a byte per row (keys, offsets or trailers differ row to
        // row), so a larger count can only be an attempt to make us loop for nothing.
        if (nrows > (uint)length)
        {
            Fail.Corrupt(file, $"{what}: {nrows} rows in a {length}-byte block");
        }

        if (b[length - 1] != 0)
        {
            Fail.Corrupt(file, $"{what}: the block's final padding byte is not zero");
        }

        int prev = headerEnd;
        for (int c = 0; c < ncols; c++)
        {
            var d = b.Slice(descStart + (c * 5), 5);
            if (d[0] != (byte)expected[c])
            {
                Fail.Corrupt(file, $"{what}: column {c} has type {d[0]} (expected {(byte)expected[c]})");
            }

            uint page = BinaryPrimitives.ReadUInt32LittleEndian(d[1..]);
            if (page < (uint)prev || page > (uint)(length - 1))
            {
                Fail.Corrupt(file, $"{what}: column {c} starts at {page}, outside [{prev}, {length - 1}]");
            }

            prev = (int)page;
        }

        return new ColumnarHeader(array, start, length, (int)nrows, ncols, descStart);
    }

    /// <summary>Absolute start of column c in <see cref="Array"/>.</summary>
    public int ColumnStart(int c) => Start + (int)BinaryPrimitives.ReadUInt32LittleEndian(Array.AsSpan(Start + _descStart + (c * 5) + 1, 4));

    /// <summary>Absolute end (exclusive) of column c.</summary>
    public int ColumnEnd(int c) => c + 1 < Columns ? ColumnStart(c + 1) : Start + Length - 1;
}

/// <summary>
/// An unsigned integer column: <c>u8 encoding</c> (bits 0-6 width ∈ {0,1,2,4,8}, bit 7 delta),
/// an optional <c>u64</c> base, then (aligned to the width) rows × width little-endian values.
/// </summary>
internal struct UintColumn
{
    public int Rows;
    private int _data;
    private int _width;
    private ulong _base;

    /// <summary>Decodes the column at absolute <paramref name="pos"/>; returns the absolute end.</summary>
    public static int Decode(byte[] a, int blockStart, int pos, int end, int rows, string file, string what, out UintColumn col)
    {
        col = default;
        col.Rows = rows;
        if (rows == 0)
        {
            return pos;
        }

        if (pos >= end)
        {
            Fail.Corrupt(file, $"{what}: uint column is missing its encoding byte");
        }

        byte e = a[pos++];
        int width = e & 0x7F;
        if (width is not (0 or 1 or 2 or 4 or 8))
        {
            Fail.Corrupt(file, $"{what}: uint column encoding 0x{e:x2} has invalid width {width}");
        }

        if ((e & 0x80) != 0)
        {
            if (end - pos < 8)
            {
                Fail.Corrupt(file, $"{what}: uint column base overruns the column");
            }

            col._base = BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(pos, 8));
            pos += 8;
        }

        col._width = width;
        if (width == 0)
        {
            col._data = pos;
            return pos;
        }

        int rel = pos - blockStart;
        int aligned = (rel + width - 1) & ~(width - 1);
        long dataEnd = (long)blockStart + aligned + ((long)rows * width);
        if (dataEnd > end)
        {
            Fail.Corrupt(file, $"{what}: {rows} values of width {width} overrun the column");
        }

        col._data = blockStart + aligned;
        return (int)dataEnd;
    }

    /// <summary>Value i (the caller guarantees 0 ≤ i &lt; Rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly ulong Get(byte[] a, int i) => _width switch
    {
        0 => _base,
        1 => _base + a[_data + i],
        2 => _base + BinaryPrimitives.ReadUInt16LittleEndian(a.AsSpan(_data + (i * 2), 2)),
        4 => _base + BinaryPrimitives.ReadUInt32LittleEndian(a.AsSpan(_data + (i * 4), 4)),
        _ => _base + BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(_data + (i * 8), 8)),
    };
}

/// <summary>
/// A raw bytes column of n slices: a uint column of n+1 offsets, then the data; slice i is
/// <c>data[off[i], off[i+1])</c>.
/// </summary>
internal struct RawBytesColumn
{
    public int Rows;
    private UintColumn _offsets;
    private int _data;
    private int _dataLen;
    private string _file;

    public static int Decode(byte[] a, int blockStart, int pos, int end, int rows, string file, string what, out RawBytesColumn col)
    {
        col = default;
        col.Rows = rows;
        col._file = file;
        if (rows == 0)
        {
            return pos;
        }

        int p = UintColumn.Decode(a, blockStart, pos, end, rows + 1, file, what, out col._offsets);
        ulong total = col._offsets.Get(a, rows);
        if (total > (ulong)(end - p))
        {
            Fail.Corrupt(file, $"{what}: bytes column data of {total} bytes overruns the column");
        }

        col._data = p;
        col._dataLen = (int)total;
        return p + (int)total;
    }

    /// <summary>Absolute start and length of slice i, validated.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly (int Start, int Length) Slice(byte[] a, int i)
    {
        ulong s = _offsets.Get(a, i);
        ulong e = _offsets.Get(a, i + 1);
        if (s > e || e > (ulong)_dataLen)
        {
            Bad(i);
        }

        return (_data + (int)s, (int)(e - s));
    }

    public readonly ReadOnlySpan<byte> Get(byte[] a, int i)
    {
        var (s, l) = Slice(a, i);
        return a.AsSpan(s, l);
    }

    /// <summary>Total data bytes (to test "every slice empty" in O(1)).</summary>
    public readonly int DataLength => _dataLen;

    private readonly void Bad(int i) => Fail.Corrupt(_file, $"bytes column slice {i} has offsets outside its data");
}

/// <summary>
/// A boolean column: encoding 1 means all false; encoding 0 is followed (aligned to 8) by one bit per
/// row in u64 words and a summary of ⌈words/64⌉ words that is not needed for reading.
/// </summary>
internal struct BitmapColumn
{
    private int _words;
    private bool _allFalse;

    public static int Decode(byte[] a, int blockStart, int pos, int end, int rows, string file, string what, out BitmapColumn col)
    {
        col = default;
        if (rows == 0)
        {
            col._allFalse = true;
            return pos;
        }

        if (pos >= end)
        {
            Fail.Corrupt(file, $"{what}: bitmap is missing its encoding byte");
        }

        byte e = a[pos++];
        if (e == 1)
        {
            col._allFalse = true;
            return pos;
        }

        if (e != 0)
        {
            Fail.Corrupt(file, $"{what}: bitmap encoding {e}");
        }

        int rel = pos - blockStart;
        int aligned = (rel + 7) & ~7;
        long words = ((long)rows + 63) >> 6;
        long summary = (words + 63) >> 6;
        long colEnd = (long)blockStart + aligned + ((words + summary) * 8);
        if (colEnd > end)
        {
            Fail.Corrupt(file, $"{what}: bitmap of {rows} rows overruns the column");
        }

        col._words = blockStart + aligned;
        return (int)colEnd;
    }

    public readonly bool AllFalse => _allFalse;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly bool Get(byte[] a, int i)
    {
        if (_allFalse)
        {
            return false;
        }

        ulong w = BinaryPrimitives.ReadUInt64LittleEndian(a.AsSpan(_words + ((i >> 6) * 8), 8));
        return ((w >> (i & 63)) & 1) != 0;
    }
}

/// <summary>
/// A prefix-compressed bytes column. Keys are grouped into bundles of 2^s rows; the section holds
/// n + B slices (B bundles) after a block-wide shared prefix. off[0] ends the shared prefix, bundle b's
/// prefix is slice b·(2^s+1), row r's suffix is slice 1 + (r>>s) + r, and an empty suffix repeats the
/// previous row's key within the bundle.
/// </summary>
internal struct PrefixBytesColumn
{
    public int Rows;
    public int BundleShift;
    private UintColumn _offsets;
    private int _data;
    private int _dataLen;
    private int _slices;
    private string _file;

    public static int Decode(byte[] a, int blockStart, int pos, int end, int rows, string file, string what, out PrefixBytesColumn col)
    {
        col = default;
        col.Rows = rows;
        col._file = file;
        if (rows == 0)
        {
            return pos;
        }

        if (pos >= end)
        {
            Fail.Corrupt(file, $"{what}: prefix bytes column is missing its bundle size");
        }

        int shift = a[pos++];
        if (shift > 16)
        {
            Fail.Corrupt(file, $"{what}: prefix bytes bundle shift {shift}");
        }

        int bundles = 1 + ((rows - 1) >> shift);
        int slices = rows + bundles;
        int p = UintColumn.Decode(a, blockStart, pos, end, slices + 1, file, what, out col._offsets);
        ulong total = col._offsets.Get(a, slices);
        if (total > (ulong)(end - p) || col._offsets.Get(a, 0) > total)
        {
            Fail.Corrupt(file, $"{what}: prefix bytes data of {total} bytes overruns the column");
        }

        col.BundleShift = shift;
        col._data = p;
        col._dataLen = (int)total;
        col._slices = slices;
        return p + (int)total;
    }

    /// <summary>Absolute start and length of the block-wide shared prefix.</summary>
    public readonly (int Start, int Length) Shared(byte[] a) => (_data, (int)_offsets.Get(a, 0));

    /// <summary>Absolute start and length of bundle b's prefix.</summary>
    public readonly (int Start, int Length) BundlePrefix(byte[] a, int bundle) => SliceAt(a, bundle * ((1 << BundleShift) + 1));

    /// <summary>Absolute start and length of row r's suffix (empty = same key as the previous row of the bundle).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly (int Start, int Length) Suffix(byte[] a, int row) => SliceAt(a, 1 + (row >> BundleShift) + row);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly (int Start, int Length) SliceAt(byte[] a, int i)
    {
        if ((uint)i >= (uint)_slices)
        {
            Bad(i);
        }

        ulong s = _offsets.Get(a, i);
        ulong e = _offsets.Get(a, i + 1);
        if (s > e || e > (ulong)_dataLen)
        {
            Bad(i);
        }

        return (_data + (int)s, (int)(e - s));
    }

    /// <summary>Writes row r's full key into <paramref name="dest"/> (random access: walks back over empty suffixes).</summary>
    public readonly int CopyKey(byte[] a, int row, Span<byte> dest)
    {
        var (ss, sl) = Shared(a);
        var (bs, bl) = BundlePrefix(a, row >> BundleShift);
        int bundleStart = row & ~((1 << BundleShift) - 1);
        int r = row;
        var (xs, xl) = Suffix(a, r);
        while (xl == 0 && r > bundleStart)
        {
            r--;
            (xs, xl) = Suffix(a, r);
        }

        int n = sl + bl + xl;
        if (n > dest.Length)
        {
            return -1;
        }

        a.AsSpan(ss, sl).CopyTo(dest);
        a.AsSpan(bs, bl).CopyTo(dest[sl..]);
        a.AsSpan(xs, xl).CopyTo(dest[(sl + bl)..]);
        return n;
    }

    private readonly void Bad(int i) => Fail.Corrupt(_file, $"prefix bytes slice {i} has offsets outside its data");
}
