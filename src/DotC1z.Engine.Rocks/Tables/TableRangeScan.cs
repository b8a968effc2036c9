namespace DotC1z.Engine.Rocks.Tables;

/// <summary>A forward scan of user keys and values, with spans valid until the next move.</summary>
internal interface IKvScan : IDisposable
{
    /// <summary>The current user key.</summary>
    ReadOnlySpan<byte> Key { get; }

    /// <summary>The current value.</summary>
    ReadOnlySpan<byte> Value { get; }

    /// <summary>Moves to the next entry; false at the end.</summary>
    bool MoveNext();
}

/// <summary>
/// A scan of <c>[lower, upper)</c> straight from a store's table files (docs/DESIGN.md §6, "Reading table files directly"): the files hold every
/// live entry of the range, their key ranges do not overlap, and none holds a deletion, so reading them one after the
/// other in key order, each block once, gives what RocksDB's iterator would — without its merging iterator, block
/// cache and per-entry bookkeeping, which were a third of a compaction's CPU. An older version of a key that a
/// snapshot kept in the same file follows the newest one and is passed over.
/// </summary>
internal sealed class TableRangeScan : IKvScan
{
    // Internal keys end in 8 bytes: sequence number << 8 | value type, little-endian.
    private const int TrailerBytes = 8;
    private const byte TypeValue = 1;
    private const int WindowBytes = 256 * 1024;

    private readonly RocksStore _store;
    private readonly BlockTable[] _tables;
    private readonly byte[] _lower;
    private readonly byte[]? _upper;
    private readonly TableBuffers _buffers = new(WindowBytes);
    private int _table;
    private int _block;
    private ArraySegment<byte> _data;
    private int _at;
    private int _end;
    private byte[] _key = new byte[256];
    private int _keyLength;
    private int _valueStart;
    private int _valueLength;
    private bool _done;
    private bool _disposed;

    // The bounds are compared only where they can matter: the lower one until the first entry at or after it, the
    // upper one in a block whose separator reaches it.
    private bool _checkLower = true;
    private bool _checkUpper;

    /// <summary>Scans <paramref name="tables"/> (in key order, not overlapping; the scan holds one hold on each, and a lease on the store).</summary>
    public TableRangeScan(RocksStore store, BlockTable[] tables, byte[] lower, byte[]? upper)
    {
        _store = store;
        _tables = tables;
        _lower = lower;
        _upper = upper;
        _block = -1;
    }

    /// <inheritdoc/>
    public ReadOnlySpan<byte> Key => _key.AsSpan(0, _keyLength - TrailerBytes);

    /// <inheritdoc/>
    public ReadOnlySpan<byte> Value => _data.AsSpan(_valueStart, _valueLength);

    /// <inheritdoc/>
    public bool MoveNext()
    {
        _store.ThrowIfDisposed();
        while (!_done)
        {
            if (_at >= _end)
            {
                if (!NextBlock())
                {
                    _done = true;
                    return false;
                }

                continue;
            }

            if (!NextEntry(out bool sameUserKey))
            {
                continue;
            }

            if (_checkUpper && Key.SequenceCompareTo(_upper) >= 0)
            {
                _done = true;
                return false;
            }

            if (sameUserKey)
            {
                continue;
            }

            if (_checkLower)
            {
                if (Key.SequenceCompareTo(_lower) < 0)
                {
                    continue;
                }

                _checkLower = false;
            }

            return true;
        }

        return false;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var table in _tables)
        {
            table.Dispose();
        }

        _store.ReleaseLease();
    }

    // Decodes the entry at _at; sameUserKey tells an older version of the previous entry's user key.
    private bool NextEntry(out bool sameUserKey)
    {
        var block = _data.AsSpan();
        int at = _at;
        uint shared, nonShared, valueLength;
        if (at + 3 <= _end && (block[at] | block[at + 1] | block[at + 2]) < 0x80)
        {
            // The common case: three one-byte lengths.
            shared = block[at];
            nonShared = block[at + 1];
            valueLength = block[at + 2];
            at += 3;
        }
        else if (!BlockTable.TryVarint32(block[.._end], ref at, out shared) || !BlockTable.TryVarint32(block[.._end], ref at, out nonShared)
            || !BlockTable.TryVarint32(block[.._end], ref at, out valueLength))
        {
            throw _tables[_table].Corrupt("a data block entry's header is unreadable");
        }

        if (shared > (uint)_keyLength || (ulong)nonShared + valueLength > (ulong)(_end - at))
        {
            throw _tables[_table].Corrupt("a data block entry overruns its block");
        }

        int keyLength = (int)(shared + nonShared);
        if (keyLength < TrailerBytes)
        {
            throw _tables[_table].Corrupt("a data block key is shorter than its trailer");
        }

        // Before the new key overwrites the old one: is it the same user key (an older version kept for a snapshot)?
        int userLength = keyLength - TrailerBytes;
        sameUserKey = _keyLength - TrailerBytes == userLength
            && (shared >= userLength || block.Slice(at, userLength - (int)shared).SequenceEqual(_key.AsSpan((int)shared, userLength - (int)shared)));

        if (keyLength > _key.Length)
        {
            Array.Resize(ref _key, Math.Max(keyLength, _key.Length * 2));
        }

        block.Slice(at, (int)nonShared).CopyTo(_key.AsSpan((int)shared));
        _keyLength = keyLength;
        at += (int)nonShared;
        _valueStart = at;
        _valueLength = (int)valueLength;
        _at = at + (int)valueLength;

        if (_key[userLength] != TypeValue)
        {
            // The tables were checked to hold no deletions or merges; anything but a value is damage.
            throw _tables[_table].Corrupt($"a data block holds an entry of type {_key[userLength]}");
        }

        return true;
    }

    private bool NextBlock()
    {
        while (_table < _tables.Length)
        {
            var table = _tables[_table];
            _block = _block < 0 ? FirstBlock(table) : _block + 1;
            if (_block < table.Blocks.Count)
            {
                var handle = table.Blocks[_block];
                _checkUpper = _upper is not null && handle.Separator.AsSpan().SequenceCompareTo(_upper) >= 0;
                _data = table.ReadBlockSegment(handle.Offset, handle.Size, _buffers);
                _end = table.DataEnd(_data);
                _at = 0;
                return true;
            }

            _table++;
            _block = -1;
        }

        return false;
    }

    // The first block that can hold a key at or after the lower bound: its separator is at or after it.
    private int FirstBlock(BlockTable table)
    {
        var blocks = table.Blocks;
        int lo = 0, hi = blocks.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (blocks[mid].Separator.AsSpan().SequenceCompareTo(_lower) < 0)
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
