using System.Runtime.InteropServices;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Blittable bindings for the few C-API calls on the scan hot path. RocksDbSharp's iterator costs
/// ≈80–110 ns and 64 B of garbage per row (key and value copied into new arrays); these take ≈3 ns a
/// call and hand out spans over RocksDB's own buffers (perf-anchors.md H5–H9).
/// </summary>
/// <remarks>
/// The calls bind to the library instance RocksDbSharp loaded when it has loaded one (the package
/// ships several builds, and handles must not cross two copies of RocksDB), found through
/// <c>/proc/self/maps</c> on Linux. Otherwise the runtime's normal probing for <c>rocksdb</c> finds the
/// same file RocksDbSharp would load (<c>runtimes/&lt;rid&gt;/native/librocksdb.so</c>), and the loader
/// maps it once. The store verifier runs on these bindings alone, so it does not pay RocksDbSharp's
/// ≈0.3 s of start-up (perf-anchors.md H9).
/// </remarks>
internal static unsafe partial class RawRocks
{
    private const string Library = "rocksdb";

    static RawRocks()
    {
        NativeLibrary.SetDllImportResolver(typeof(RawRocks).Assembly, Resolve);
    }

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_next")]
    public static partial void IterNext(IntPtr iterator);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_valid")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvSuppressGCTransition)])]
    public static partial byte IterValid(IntPtr iterator);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_key")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvSuppressGCTransition)])]
    public static partial byte* IterKey(IntPtr iterator, nuint* length);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_value")]
    [UnmanagedCallConv(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvSuppressGCTransition)])]
    public static partial byte* IterValue(IntPtr iterator, nuint* length);

    [LibraryImport(Library, EntryPoint = "rocksdb_free")]
    public static partial void Free(IntPtr pointer);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_create")]
    public static partial IntPtr OptionsCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_options_destroy")]
    public static partial void OptionsDestroy(IntPtr options);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_paranoid_checks")]
    public static partial void OptionsSetParanoidChecks(IntPtr options, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_wal_recovery_mode")]
    public static partial void OptionsSetWalRecoveryMode(IntPtr options, int mode);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_allow_mmap_reads")]
    public static partial void OptionsSetAllowMmapReads(IntPtr options, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_max_open_files")]
    public static partial void OptionsSetMaxOpenFiles(IntPtr options, int value);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_block_based_table_factory")]
    public static partial void OptionsSetBlockBasedTableFactory(IntPtr options, IntPtr tableOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_create")]
    public static partial IntPtr BlockBasedOptionsCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_destroy")]
    public static partial void BlockBasedOptionsDestroy(IntPtr tableOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_no_block_cache")]
    public static partial void BlockBasedOptionsSetNoBlockCache(IntPtr tableOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_list_column_families", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr* ListColumnFamilies(IntPtr options, string name, nuint* count, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_list_column_families_destroy")]
    public static partial void ListColumnFamiliesDestroy(IntPtr* list, nuint count);

    [LibraryImport(Library, EntryPoint = "rocksdb_open_for_read_only", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr OpenForReadOnly(IntPtr options, string name, byte errorIfWalFileExists, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_close")]
    public static partial void Close(IntPtr db);

    [LibraryImport(Library, EntryPoint = "rocksdb_verify_checksum")]
    public static partial void VerifyChecksum(IntPtr db, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_create")]
    public static partial IntPtr ReadOptionsCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_destroy")]
    public static partial void ReadOptionsDestroy(IntPtr readOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_set_fill_cache")]
    public static partial void ReadOptionsSetFillCache(IntPtr readOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_set_verify_checksums")]
    public static partial void ReadOptionsSetVerifyChecksums(IntPtr readOptions, byte value);

    // The C API keeps a slice over the caller's bytes: they must outlive every iterator made from these options.
    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_set_iterate_lower_bound")]
    public static partial void ReadOptionsSetIterateLowerBound(IntPtr readOptions, byte* key, nuint length);

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_set_iterate_upper_bound")]
    public static partial void ReadOptionsSetIterateUpperBound(IntPtr readOptions, byte* key, nuint length);

    [LibraryImport(Library, EntryPoint = "rocksdb_create_iterator")]
    public static partial IntPtr CreateIterator(IntPtr db, IntPtr readOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_seek_to_first")]
    public static partial void IterSeekToFirst(IntPtr iterator);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_get_error")]
    public static partial void IterGetError(IntPtr iterator, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_destroy")]
    public static partial void IterDestroy(IntPtr iterator);

    [LibraryImport(Library, EntryPoint = "rocksdb_sstfilewriter_put")]
    public static partial void SstFileWriterPut(IntPtr writer, byte* key, nuint keyLength, byte* value, nuint valueLength, IntPtr* error);

    /// <summary>Takes ownership of a C-API error string: null when there was no error.</summary>
    public static string? TakeError(IntPtr error)
    {
        if (error == IntPtr.Zero)
        {
            return null;
        }

        string message = Marshal.PtrToStringUTF8(error) ?? "unknown error";
        Free(error);
        return message;
    }

    private static IntPtr Resolve(string name, System.Reflection.Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Library)
        {
            return IntPtr.Zero;
        }

        if (OperatingSystem.IsLinux())
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash < 0)
                {
                    continue;
                }

                string path = line[slash..];
                string file = Path.GetFileName(path);
                if (file.StartsWith("librocksdb", StringComparison.Ordinal) && file.Contains(".so", StringComparison.Ordinal)
                    && NativeLibrary.TryLoad(path, out var handle))
                {
                    return handle;
                }
            }
        }

        return IntPtr.Zero;
    }
}
