namespace DotC1z.Engine.Rocks;

/// <summary>
/// One SST file being written by the bulk path, with the native options it needs (LZ4, 16 KiB
/// blocks); every handle is owned here and destroyed on dispose. Not thread-safe: one writer thread
/// at a time.
/// </summary>
internal sealed unsafe class SstOutput : IDisposable
{
    private readonly IntPtr _env = RawRocks.EnvOptionsCreate();
    private readonly IntPtr _table = RawRocks.BlockBasedOptionsCreate();
    private readonly IntPtr _options = RawRocks.OptionsCreate();
    private readonly IntPtr _writer;
    private readonly string _storeDirectory;
    private bool _disposed;

    /// <summary>Creates <paramref name="path"/> for writing.</summary>
    /// <exception cref="Errors.C1zException">The file cannot be created.</exception>
    public SstOutput(string path, string storeDirectory)
    {
        _storeDirectory = storeDirectory;
        RawRocks.BlockBasedOptionsSetBlockSize(_table, RawRocks.BlockBytes);
        RawRocks.OptionsSetCompression(_options, RawRocks.Lz4Compression);
        RawRocks.OptionsSetBlockBasedTableFactory(_options, _table);
        _writer = RawRocks.SstFileWriterCreate(_env, _options);
        IntPtr error = IntPtr.Zero;
        RawRocks.SstFileWriterOpen(_writer, path, &error);
        if (RawRocks.TakeError(error) is { } message)
        {
            Dispose();
            throw RocksErrors.Map(message, storeDirectory, "bulk load");
        }

        Path = path;
    }

    public string Path { get; }

    /// <summary>Entries written so far.</summary>
    public long Count { get; private set; }

    /// <summary>Appends one entry; keys must arrive in strictly increasing order.</summary>
    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        IntPtr error = IntPtr.Zero;
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            RawRocks.SstFileWriterPut(_writer, k, (nuint)key.Length, v, (nuint)value.Length, &error);
        }

        RocksErrors.ThrowIfError(error, _storeDirectory, "bulk load");
        Count++;
    }

    /// <summary>Appends one deletion (a tombstone over older values once ingested); keys must arrive in strictly increasing order.</summary>
    public void Delete(ReadOnlySpan<byte> key)
    {
        IntPtr error = IntPtr.Zero;
        fixed (byte* k = key)
        {
            RawRocks.SstFileWriterDelete(_writer, k, (nuint)key.Length, &error);
        }

        RocksErrors.ThrowIfError(error, _storeDirectory, "bulk load");
        Count++;
    }

    /// <summary>Completes the file; returns its path, or null (and no finished file) when nothing was written.</summary>
    public string? Finish()
    {
        if (Count == 0)
        {
            return null;
        }

        IntPtr error = IntPtr.Zero;
        RawRocks.SstFileWriterFinish(_writer, &error);
        RocksErrors.ThrowIfError(error, _storeDirectory, "bulk load");
        return Path;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_writer != IntPtr.Zero)
        {
            RawRocks.SstFileWriterDestroy(_writer);
        }

        RawRocks.OptionsDestroy(_options);
        RawRocks.BlockBasedOptionsDestroy(_table);
        RawRocks.EnvOptionsDestroy(_env);
    }
}
