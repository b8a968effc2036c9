using RocksDbSharp;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Deterministic release of RocksDbSharp option objects. Those wrappers only free their native
/// handle in a finalizer; the engine owns every one it creates and destroys it explicitly here,
/// suppressing the finalizer so nothing is freed twice.
/// </summary>
internal static class NativeLifetime
{
    public static void Destroy(ReadOptions options)
    {
        // Bounds are always set through the pointer overloads with memory the caller owns, so the
        // wrapper holds no unmanaged bound copies that its finalizer would have freed.
        Native.Instance.rocksdb_readoptions_destroy(options.Handle);
        GC.SuppressFinalize(options);
    }

    public static void Destroy(WriteOptions options)
    {
        Native.Instance.rocksdb_writeoptions_destroy(options.Handle);
        GC.SuppressFinalize(options);
    }

    public static void Destroy(FlushOptions options)
    {
        Native.Instance.rocksdb_flushoptions_destroy(options.Handle);
        GC.SuppressFinalize(options);
    }

    public static void Destroy(IngestExternalFileOptions options)
    {
        Native.Instance.rocksdb_ingestexternalfileoptions_destroy(options.Handle);
        GC.SuppressFinalize(options);
    }

    public static void Destroy(EnvOptions options)
    {
        Native.Instance.rocksdb_envoptions_destroy(options.Handle);
        GC.SuppressFinalize(options);
    }

    public static void Destroy(OptionsHandle options)
    {
        Native.Instance.rocksdb_options_destroy(options.Handle);
        GC.SuppressFinalize(options);
    }

    public static void Destroy(BlockBasedTableOptions options)
    {
        Native.Instance.rocksdb_block_based_options_destroy(options.Handle);
        GC.SuppressFinalize(options);
    }

    public static void Destroy(Cache cache)
    {
        Native.Instance.rocksdb_cache_destroy(cache.Handle);
        GC.SuppressFinalize(cache);
    }
}
