using System.Runtime.InteropServices;

namespace DotC1z.Engine.Rocks;

/// <summary>A failure reported by a RocksDB C-API call (its <c>errptr</c> text); mapped to the C1z taxonomy by <see cref="RocksErrors"/>.</summary>
internal sealed class RocksNativeException : Exception
{
    public RocksNativeException(string message)
        : base(message)
    {
    }

    public RocksNativeException()
    {
    }

    public RocksNativeException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// An open RocksDB database: the one owner of the <c>rocksdb_t</c> handle, closed by
/// <see cref="Dispose"/>. Calls report failures as <see cref="RocksNativeException"/>.
/// </summary>
internal sealed unsafe class NativeDb : IDisposable
{
    private IntPtr _handle;

    // The default column family's wrapper, which the batched MultiGet needs; created once with the
    // database and destroyed before it (creating one per call would be a malloc per batch).
    private IntPtr _defaultFamily;

    private NativeDb(IntPtr handle)
    {
        _handle = handle;
        _defaultFamily = RawRocks.GetDefaultColumnFamilyHandle(handle);
    }

    public IntPtr Handle => _handle;

    /// <summary>Opens a database with <paramref name="options"/> (a <c>rocksdb_options_t</c> the caller keeps owning).</summary>
    public static NativeDb Open(IntPtr options, string path, bool readOnly)
    {
        IntPtr error = IntPtr.Zero;
        IntPtr db = readOnly
            ? RawRocks.OpenForReadOnly(options, path, 0, &error)
            : RawRocks.Open(options, path, &error);
        RawRocks.ThrowIfError(error);
        return new NativeDb(db);
    }

    /// <summary>A copy of the value under <paramref name="key"/>, or null when there is none.</summary>
    public byte[]? Get(ReadOnlySpan<byte> key, IntPtr readOptions)
    {
        IntPtr error = IntPtr.Zero;
        nuint length = 0;
        byte* value;
        fixed (byte* k = key)
        {
            value = RawRocks.Get(_handle, readOptions, k, (nuint)key.Length, &length, &error);
        }

        RawRocks.ThrowIfError(error);
        if (value is null)
        {
            return null;
        }

        try
        {
            return new ReadOnlySpan<byte>(value, checked((int)length)).ToArray();
        }
        finally
        {
            RawRocks.Free((IntPtr)value);
        }
    }

    /// <summary>
    /// Copies the value under <paramref name="key"/> into <paramref name="destination"/> when it fits.
    /// </summary>
    /// <returns>-1 when there is no value; otherwise the value's length, which is larger than the
    /// destination (nothing copied) when it does not fit.</returns>
    public int GetInto(ReadOnlySpan<byte> key, IntPtr readOptions, Span<byte> destination)
    {
        IntPtr error = IntPtr.Zero;
        nuint length = 0;
        byte found = 0;
        fixed (byte* k = key)
        fixed (byte* d = destination)
        {
            RawRocks.GetIntoBuffer(_handle, readOptions, k, (nuint)key.Length, d, (nuint)destination.Length, &length, &found, &error);
        }

        RawRocks.ThrowIfError(error);
        return found == 0 ? -1 : checked((int)length);
    }

    /// <summary>
    /// One batched MultiGet of <paramref name="count"/> keys, all read at one sequence number. The
    /// caller owns what comes back: each non-null <paramref name="values"/>[i] is destroyed with
    /// <see cref="RawRocks.PinnableSliceDestroy"/>, each non-null <paramref name="errors"/>[i] taken with
    /// <see cref="RawRocks.TakeError"/>.
    /// </summary>
    public void MultiGet(IntPtr readOptions, int count, byte** keys, nuint* keyLengths, IntPtr* values, IntPtr* errors) =>
        RawRocks.BatchedMultiGetCf(_handle, readOptions, _defaultFamily, (nuint)count, keys, keyLengths, values, errors, 0);

    /// <summary>Applies a batch atomically.</summary>
    public void Write(NativeWriteBatch batch, IntPtr writeOptions)
    {
        IntPtr error = IntPtr.Zero;
        RawRocks.Write(_handle, writeOptions, batch.Handle, &error);
        RawRocks.ThrowIfError(error);
    }

    /// <summary>Flushes the memtables and waits for the flush.</summary>
    public void Flush()
    {
        IntPtr options = RawRocks.FlushOptionsCreate();
        try
        {
            RawRocks.FlushOptionsSetWait(options, 1);
            IntPtr error = IntPtr.Zero;
            RawRocks.Flush(_handle, options, &error);
            RawRocks.ThrowIfError(error);
        }
        finally
        {
            RawRocks.FlushOptionsDestroy(options);
        }
    }

    /// <summary>Writes a checkpoint (hard links where possible) into a directory that must not exist.</summary>
    public void Checkpoint(string directory)
    {
        IntPtr error = IntPtr.Zero;
        IntPtr checkpoint = RawRocks.CheckpointObjectCreate(_handle, &error);
        RawRocks.ThrowIfError(error);
        try
        {
            RawRocks.CheckpointCreate(checkpoint, directory, 0, &error);
            RawRocks.ThrowIfError(error);
        }
        finally
        {
            RawRocks.CheckpointObjectDestroy(checkpoint);
        }
    }

    /// <summary>Ingests SST files in one call (moved, not copied), so all of them appear at once.</summary>
    public void IngestExternalFiles(IReadOnlyList<string> files)
    {
        IntPtr options = RawRocks.IngestExternalFileOptionsCreate();
        var names = new IntPtr[files.Count];
        try
        {
            RawRocks.IngestExternalFileOptionsSetMoveFiles(options, 1);
            for (int i = 0; i < names.Length; i++)
            {
                names[i] = System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8(files[i]);
            }

            IntPtr error = IntPtr.Zero;
            fixed (IntPtr* list = names)
            {
                RawRocks.IngestExternalFile(_handle, list, (nuint)names.Length, options, &error);
            }

            RawRocks.ThrowIfError(error);
        }
        finally
        {
            foreach (var name in names)
            {
                System.Runtime.InteropServices.Marshal.ZeroFreeCoTaskMemUTF8(name);
            }

            RawRocks.IngestExternalFileOptionsDestroy(options);
        }
    }

    /// <summary>Verifies the block checksums of every SST file.</summary>
    public void VerifyChecksum()
    {
        IntPtr error = IntPtr.Zero;
        RawRocks.VerifyChecksum(_handle, &error);
        RawRocks.ThrowIfError(error);
    }

    public void Dispose()
    {
        if (_handle != IntPtr.Zero)
        {
            RawRocks.ColumnFamilyHandleDestroy(_defaultFamily);
            _defaultFamily = IntPtr.Zero;
            RawRocks.Close(_handle);
            _handle = IntPtr.Zero;
        }
    }
}

/// <summary>A write batch: the one owner of its <c>rocksdb_writebatch_t</c>, destroyed by <see cref="Dispose"/>.</summary>
internal sealed unsafe class NativeWriteBatch : IDisposable
{
    private IntPtr _handle;

    public NativeWriteBatch() => _handle = RawRocks.WriteBatchCreate();

    /// <summary>
    /// A batch whose buffer is allocated once at <paramref name="reservedBytes"/>: a batch of thousands of grants grows
    /// to megabytes, and growing it by doubling copied it and faulted in fresh pages at every step.
    /// </summary>
    public NativeWriteBatch(long reservedBytes) => _handle = RawRocks.WriteBatchCreateWithParams((nuint)Math.Max(0, reservedBytes), 0, 0, 0);

    public IntPtr Handle => _handle;

    /// <summary>Operations in the batch.</summary>
    public int Count => RawRocks.WriteBatchCount(_handle);

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            RawRocks.WriteBatchPut(_handle, k, (nuint)key.Length, v, (nuint)value.Length);
        }
    }

    public void Delete(ReadOnlySpan<byte> key)
    {
        fixed (byte* k = key)
        {
            RawRocks.WriteBatchDelete(_handle, k, (nuint)key.Length);
        }
    }

    /// <summary>Deletes every key in [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public void DeleteRange(ReadOnlySpan<byte> start, ReadOnlySpan<byte> end)
    {
        fixed (byte* s = start)
        fixed (byte* e = end)
        {
            RawRocks.WriteBatchDeleteRange(_handle, s, (nuint)start.Length, e, (nuint)end.Length);
        }
    }

    public void Dispose()
    {
        if (_handle != IntPtr.Zero)
        {
            RawRocks.WriteBatchDestroy(_handle);
            _handle = IntPtr.Zero;
        }
    }
}

/// <summary>
/// A forward iterator over <c>[lower, upper)</c> (no upper bound when null): the one owner of its
/// read options, its iterator and the native copy of its bounds, which the C API keeps pointers to
/// for the iterator's whole life. Key and value are spans over RocksDB's buffers, valid until the
/// next move. The iterator also stops on an error, so callers check <see cref="ThrowIfFailed"/> at
/// the end: a corrupt block must raise, not end the scan (docs/RELIABILITY.md F5).
/// </summary>
internal sealed unsafe class BoundedIterator : IDisposable
{
    private readonly IntPtr _iterator;
    private readonly byte* _bounds;
    private bool _disposed;

    /// <param name="db">The open database.</param>
    /// <param name="lower">Inclusive lower bound.</param>
    /// <param name="upper">Exclusive upper bound, or null for none.</param>
    /// <param name="snapshot">A snapshot to read, or zero for the latest state.</param>
    /// <param name="verifyChecksums">Verify every block read (the untrusted-store check).</param>
    /// <param name="fillCache">Keep the blocks read in the block cache.</param>
    /// <param name="readaheadBytes">Bytes read ahead from the first block on (0: RocksDB's automatic readahead, which starts only after two sequential block reads).</param>
    public BoundedIterator(IntPtr db, byte[] lower, byte[]? upper, IntPtr snapshot = default, bool verifyChecksums = false, bool fillCache = true, int readaheadBytes = 0)
    {
        ReadOptions = RawRocks.ReadOptionsCreate();
        if (readaheadBytes > 0)
        {
            RawRocks.ReadOptionsSetReadaheadSize(ReadOptions, (nuint)readaheadBytes);
        }

        _bounds = (byte*)NativeMemory.Alloc((nuint)(lower.Length + (upper?.Length ?? 0) + 1));
        lower.CopyTo(new Span<byte>(_bounds, lower.Length));
        RawRocks.ReadOptionsSetIterateLowerBound(ReadOptions, _bounds, (nuint)lower.Length);
        if (upper is not null)
        {
            upper.CopyTo(new Span<byte>(_bounds + lower.Length, upper.Length));
            RawRocks.ReadOptionsSetIterateUpperBound(ReadOptions, _bounds + lower.Length, (nuint)upper.Length);
        }

        if (snapshot != IntPtr.Zero)
        {
            RawRocks.ReadOptionsSetSnapshot(ReadOptions, snapshot);
        }

        if (verifyChecksums)
        {
            RawRocks.ReadOptionsSetVerifyChecksums(ReadOptions, 1);
        }

        if (!fillCache)
        {
            RawRocks.ReadOptionsSetFillCache(ReadOptions, 0);
        }

        _iterator = RawRocks.CreateIterator(db, ReadOptions);
    }

    /// <summary>The read options (bounds, snapshot): point reads with them see what the iterator sees.</summary>
    public IntPtr ReadOptions { get; }

    public bool Valid => RawRocks.IterValid(_iterator) != 0;

    public ReadOnlySpan<byte> Key
    {
        get
        {
            nuint length;
            byte* p = RawRocks.IterKey(_iterator, &length);
            return new ReadOnlySpan<byte>(p, checked((int)length));
        }
    }

    public ReadOnlySpan<byte> Value
    {
        get
        {
            nuint length;
            byte* p = RawRocks.IterValue(_iterator, &length);
            return new ReadOnlySpan<byte>(p, checked((int)length));
        }
    }

    public void SeekToFirst() => RawRocks.IterSeekToFirst(_iterator);

    /// <summary>Moves to the last key below the upper bound.</summary>
    public void SeekToLast() => RawRocks.IterSeekToLast(_iterator);

    public void Seek(ReadOnlySpan<byte> key)
    {
        fixed (byte* k = key)
        {
            RawRocks.IterSeek(_iterator, k, (nuint)key.Length);
        }
    }

    public void Next() => RawRocks.IterNext(_iterator);

    /// <summary>Raises the mapped error when the iterator stopped because of one.</summary>
    public void ThrowIfFailed(string path, string operation)
    {
        IntPtr error = IntPtr.Zero;
        RawRocks.IterGetError(_iterator, &error);
        RocksErrors.ThrowIfError(error, path, operation);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        RawRocks.IterDestroy(_iterator);
        RawRocks.ReadOptionsDestroy(ReadOptions);
        NativeMemory.Free(_bounds);
    }
}
