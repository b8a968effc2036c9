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

    private NativeDb(IntPtr handle) => _handle = handle;

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
            RawRocks.Close(_handle);
            _handle = IntPtr.Zero;
        }
    }
}

/// <summary>A write batch: the one owner of its <c>rocksdb_writebatch_t</c>, destroyed by <see cref="Dispose"/>.</summary>
internal sealed unsafe class NativeWriteBatch : IDisposable
{
    private IntPtr _handle = RawRocks.WriteBatchCreate();

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
