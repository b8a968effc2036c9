using RocksDbSharp;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// One SST file being written by the bulk path, with the native options it needs (LZ4, 16 KiB
/// blocks); every handle is owned here and destroyed on dispose. Not thread-safe: one writer thread.
/// </summary>
internal sealed class SstOutput : IDisposable
{
    private readonly EnvOptions _env = new();
    private readonly BlockBasedTableOptions _table = new BlockBasedTableOptions().SetBlockSize(16 * 1024);
    private readonly ColumnFamilyOptions _cfOptions = new();
    private readonly SstFileWriter _writer;
    private readonly string _storeDirectory;

    /// <summary>Creates <paramref name="path"/> (which must not exist) for writing.</summary>
    public SstOutput(string path, string storeDirectory)
    {
        _storeDirectory = storeDirectory;
        _cfOptions.SetCompression(Compression.Lz4);
        _cfOptions.SetBlockBasedTableFactory(_table);
        _writer = new SstFileWriter(_env, _cfOptions);
        try
        {
            _writer.Open(path);
        }
        catch (RocksDbException ex)
        {
            Dispose();
            throw RocksErrors.Map(ex, storeDirectory, "bulk load");
        }

        Path = path;
    }

    public string Path { get; }

    /// <summary>Entries written so far.</summary>
    public long Count { get; private set; }

    /// <summary>Appends one entry; keys must arrive in strictly increasing order.</summary>
    public unsafe void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        IntPtr error = IntPtr.Zero;
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            RawRocks.SstFileWriterPut(_writer.Handle, k, (nuint)key.Length, v, (nuint)value.Length, &error);
        }

        if (RawRocks.TakeError(error) is { } message)
        {
            throw RocksErrors.Map(message, _storeDirectory, "bulk load");
        }

        Count++;
    }

    /// <summary>Completes the file; returns its path, or null (and no file) when nothing was written.</summary>
    public string? Finish()
    {
        if (Count == 0)
        {
            return null;
        }

        try
        {
            _writer.Finish();
        }
        catch (RocksDbException ex)
        {
            throw RocksErrors.Map(ex, _storeDirectory, "bulk load");
        }

        return Path;
    }

    public void Dispose()
    {
        _writer?.Dispose();
        NativeLifetime.Destroy(_env);
        NativeLifetime.Destroy(_cfOptions);
        NativeLifetime.Destroy(_table);
    }
}
