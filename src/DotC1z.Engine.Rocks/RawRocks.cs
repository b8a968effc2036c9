using System.Runtime.InteropServices;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Blittable bindings for every C-API call the engine makes. The engine does not go through
/// RocksDbSharp's wrapper: its binding layer costs ≈0.3–0.5 s of start-up in every process that
/// touches it (docs/PERF-ANCHORS.md H9; every c1z command paid it), and its iterator ≈80–110 ns and 64 B of
/// garbage per row, where these take ≈3 ns a call and hand out spans over RocksDB's own buffers
/// (docs/PERF-ANCHORS.md H5–H9). The RocksDB package still supplies the native library.
/// </summary>
/// <remarks>
/// The calls bind to a RocksDB library already mapped into the process when there is one (a host
/// that also uses RocksDbSharp must not get a second copy: handles cannot cross two copies), found
/// through <c>/proc/self/maps</c> on Linux; on musl the package's musl build; otherwise the runtime's
/// normal probing for <c>rocksdb</c> finds the package's <c>runtimes/&lt;rid&gt;/native/librocksdb.so</c>.
/// </remarks>
internal static unsafe partial class RawRocks
{
    private const string Library = "rocksdb";

    /// <summary>RocksDB's <c>rocksdb_lz4_compression</c>.</summary>
    public const int Lz4Compression = 4;

    /// <summary><c>WALRecoveryMode::kAbsoluteConsistency</c>: any corruption in a log fails the open.</summary>
    public const int WalAbsoluteConsistency = 1;

    /// <summary>Block size of every table the engine writes (memtable flushes and bulk-load SSTs alike).</summary>
    public const int BlockBytes = 16 * 1024;

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

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles")]
    public static partial IntPtr LiveFiles(IntPtr db);

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles_count")]
    public static partial int LiveFilesCount(IntPtr files);

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles_name")]
    public static partial IntPtr LiveFilesName(IntPtr files, int index);

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles_smallestkey")]
    public static partial byte* LiveFilesSmallestKey(IntPtr files, int index, nuint* length);

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles_largestkey")]
    public static partial byte* LiveFilesLargestKey(IntPtr files, int index, nuint* length);

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles_entries")]
    public static partial ulong LiveFilesEntries(IntPtr files, int index);

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles_deletions")]
    public static partial ulong LiveFilesDeletions(IntPtr files, int index);

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles_directory")]
    public static partial IntPtr LiveFilesDirectory(IntPtr files, int index);

    [LibraryImport(Library, EntryPoint = "rocksdb_property_int", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int PropertyInt(IntPtr db, string name, ulong* value);

    [LibraryImport(Library, EntryPoint = "rocksdb_livefiles_destroy")]
    public static partial void LiveFilesDestroy(IntPtr files);

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_create")]
    public static partial IntPtr ReadOptionsCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_destroy")]
    public static partial void ReadOptionsDestroy(IntPtr readOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_set_fill_cache")]
    public static partial void ReadOptionsSetFillCache(IntPtr readOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_set_readahead_size")]
    public static partial void ReadOptionsSetReadaheadSize(IntPtr readOptions, nuint bytes);

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

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_seek_to_last")]
    public static partial void IterSeekToLast(IntPtr iterator);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_get_error")]
    public static partial void IterGetError(IntPtr iterator, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_destroy")]
    public static partial void IterDestroy(IntPtr iterator);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_create_if_missing")]
    public static partial void OptionsSetCreateIfMissing(IntPtr options, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_write_buffer_size")]
    public static partial void OptionsSetWriteBufferSize(IntPtr options, nuint value);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_compression")]
    public static partial void OptionsSetCompression(IntPtr options, int compression);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_increase_parallelism")]
    public static partial void OptionsIncreaseParallelism(IntPtr options, int totalThreads);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_block_size")]
    public static partial void BlockBasedOptionsSetBlockSize(IntPtr tableOptions, nuint blockSize);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_block_cache")]
    public static partial void BlockBasedOptionsSetBlockCache(IntPtr tableOptions, IntPtr cache);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_cache_index_and_filter_blocks")]
    public static partial void BlockBasedOptionsSetCacheIndexAndFilterBlocks(IntPtr tableOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_cache_index_and_filter_blocks_with_high_priority")]
    public static partial void BlockBasedOptionsSetCacheIndexAndFilterBlocksWithHighPriority(IntPtr tableOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache")]
    public static partial void BlockBasedOptionsSetPinL0FilterAndIndexBlocksInCache(IntPtr tableOptions, byte value);

    // The table options take ownership of the policy (it must not be destroyed separately).
    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_filter_policy")]
    public static partial void BlockBasedOptionsSetFilterPolicy(IntPtr tableOptions, IntPtr policy);

    [LibraryImport(Library, EntryPoint = "rocksdb_filterpolicy_create_bloom_full")]
    public static partial IntPtr FilterPolicyCreateBloomFull(double bitsPerKey);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_data_block_index_type")]
    public static partial void BlockBasedOptionsSetDataBlockIndexType(IntPtr tableOptions, int type);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_data_block_hash_ratio")]
    public static partial void BlockBasedOptionsSetDataBlockHashRatio(IntPtr tableOptions, double ratio);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_optimize_filters_for_memory")]
    public static partial void BlockBasedOptionsSetOptimizeFiltersForMemory(IntPtr tableOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_block_based_options_set_whole_key_filtering")]
    public static partial void BlockBasedOptionsSetWholeKeyFiltering(IntPtr tableOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_cache_create_hyper_clock")]
    public static partial IntPtr CacheCreateHyperClock(nuint capacity, nuint estimatedEntryCharge);

    [LibraryImport(Library, EntryPoint = "rocksdb_cache_create_lru")]
    public static partial IntPtr CacheCreateLru(nuint capacity);

    [LibraryImport(Library, EntryPoint = "rocksdb_cache_destroy")]
    public static partial void CacheDestroy(IntPtr cache);

    [LibraryImport(Library, EntryPoint = "rocksdb_cache_set_capacity")]
    public static partial void CacheSetCapacity(IntPtr cache, nuint capacity);

    [LibraryImport(Library, EntryPoint = "rocksdb_cache_get_capacity")]
    public static partial nuint CacheGetCapacity(IntPtr cache);

    [LibraryImport(Library, EntryPoint = "rocksdb_cache_get_usage")]
    public static partial nuint CacheGetUsage(IntPtr cache);

    // Memtable memory of every store that uses the manager, charged to the cache as dummy entries
    // (allowStall is a C bool: one byte). The options keep a shared_ptr: the manager may be destroyed
    // once set on every options object that needs it.
    [LibraryImport(Library, EntryPoint = "rocksdb_write_buffer_manager_create_with_cache")]
    public static partial IntPtr WriteBufferManagerCreateWithCache(nuint bufferSize, IntPtr cache, byte allowStall);

    [LibraryImport(Library, EntryPoint = "rocksdb_write_buffer_manager_memory_usage")]
    public static partial nuint WriteBufferManagerMemoryUsage(IntPtr manager);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_write_buffer_manager")]
    public static partial void OptionsSetWriteBufferManager(IntPtr options, IntPtr manager);

    // A logger calling back into us; the options keep a shared_ptr to it.
    [LibraryImport(Library, EntryPoint = "rocksdb_logger_create_callback_logger")]
    public static partial IntPtr LoggerCreateCallbackLogger(int logLevel, delegate* unmanaged<IntPtr, uint, byte*, nuint, void> callback, IntPtr state);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_info_log")]
    public static partial void OptionsSetInfoLog(IntPtr options, IntPtr logger);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_skip_stats_update_on_db_open")]
    public static partial void OptionsSetSkipStatsUpdateOnDbOpen(IntPtr options, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_max_file_opening_threads")]
    public static partial void OptionsSetMaxFileOpeningThreads(IntPtr options, int value);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_stats_dump_period_sec")]
    public static partial void OptionsSetStatsDumpPeriodSec(IntPtr options, uint value);

    [LibraryImport(Library, EntryPoint = "rocksdb_options_set_stats_persist_period_sec")]
    public static partial void OptionsSetStatsPersistPeriodSec(IntPtr options, uint value);

    // Bytes the SST files hold in each [start, limit) range (index-block estimates, memtables not counted).
    [LibraryImport(Library, EntryPoint = "rocksdb_approximate_sizes")]
    public static partial void ApproximateSizes(IntPtr db, int count, byte** starts, nuint* startLengths, byte** limits, nuint* limitLengths, ulong* sizes, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr Open(IntPtr options, string name, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_writeoptions_create")]
    public static partial IntPtr WriteOptionsCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_writeoptions_set_sync")]
    public static partial void WriteOptionsSetSync(IntPtr writeOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_writeoptions_destroy")]
    public static partial void WriteOptionsDestroy(IntPtr writeOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_write")]
    public static partial void Write(IntPtr db, IntPtr writeOptions, IntPtr batch, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_writebatch_create")]
    public static partial IntPtr WriteBatchCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_writebatch_create_with_params")]
    public static partial IntPtr WriteBatchCreateWithParams(nuint reservedBytes, nuint maxBytes, nuint protectionBytesPerKey, nuint defaultColumnFamilyTimestampSize);

    [LibraryImport(Library, EntryPoint = "rocksdb_writebatch_destroy")]
    public static partial void WriteBatchDestroy(IntPtr batch);

    [LibraryImport(Library, EntryPoint = "rocksdb_writebatch_put")]
    public static partial void WriteBatchPut(IntPtr batch, byte* key, nuint keyLength, byte* value, nuint valueLength);

    [LibraryImport(Library, EntryPoint = "rocksdb_writebatch_delete")]
    public static partial void WriteBatchDelete(IntPtr batch, byte* key, nuint keyLength);

    [LibraryImport(Library, EntryPoint = "rocksdb_writebatch_delete_range")]
    public static partial void WriteBatchDeleteRange(IntPtr batch, byte* startKey, nuint startKeyLength, byte* endKey, nuint endKeyLength);

    [LibraryImport(Library, EntryPoint = "rocksdb_writebatch_count")]
    public static partial int WriteBatchCount(IntPtr batch);

    // Returns a malloc'd copy of the value (released with rocksdb_free), or null when the key is absent.
    [LibraryImport(Library, EntryPoint = "rocksdb_get")]
    public static partial byte* Get(IntPtr db, IntPtr readOptions, byte* key, nuint keyLength, nuint* valueLength, IntPtr* error);

    // One Get copied into the caller's buffer inside the library (a stack PinnableSlice there): no
    // malloc'd value, no rocksdb_free. Returns 1 only when the value was copied; *found and *valueLength
    // report the value even when the buffer was too small (the caller retries with a larger one).
    [LibraryImport(Library, EntryPoint = "rocksdb_get_into_buffer")]
    public static partial byte GetIntoBuffer(IntPtr db, IntPtr readOptions, byte* key, nuint keyLength, byte* buffer, nuint bufferSize, nuint* valueLength, byte* found, IntPtr* error);

    // MultiGet over one column family: every key read at one sequence number, block and filter
    // lookups batched across the keys. values[i] is a rocksdb_pinnableslice_t the caller destroys (null
    // when absent), errors[i] a string the caller frees. sortedInput is a C bool (one byte).
    [LibraryImport(Library, EntryPoint = "rocksdb_batched_multi_get_cf")]
    public static partial void BatchedMultiGetCf(IntPtr db, IntPtr readOptions, IntPtr columnFamily, nuint count, byte** keys, nuint* keyLengths, IntPtr* values, IntPtr* errors, byte sortedInput);

    [LibraryImport(Library, EntryPoint = "rocksdb_pinnableslice_value")]
    public static partial byte* PinnableSliceValue(IntPtr slice, nuint* length);

    [LibraryImport(Library, EntryPoint = "rocksdb_pinnableslice_destroy")]
    public static partial void PinnableSliceDestroy(IntPtr slice);

    // A wrapper object around the database's default column family (the wrapper is ours to destroy; the family is not).
    [LibraryImport(Library, EntryPoint = "rocksdb_get_default_column_family_handle")]
    public static partial IntPtr GetDefaultColumnFamilyHandle(IntPtr db);

    [LibraryImport(Library, EntryPoint = "rocksdb_column_family_handle_destroy")]
    public static partial void ColumnFamilyHandleDestroy(IntPtr handle);

    [LibraryImport(Library, EntryPoint = "rocksdb_create_snapshot")]
    public static partial IntPtr CreateSnapshot(IntPtr db);

    [LibraryImport(Library, EntryPoint = "rocksdb_release_snapshot")]
    public static partial void ReleaseSnapshot(IntPtr db, IntPtr snapshot);

    [LibraryImport(Library, EntryPoint = "rocksdb_readoptions_set_snapshot")]
    public static partial void ReadOptionsSetSnapshot(IntPtr readOptions, IntPtr snapshot);

    [LibraryImport(Library, EntryPoint = "rocksdb_iter_seek")]
    public static partial void IterSeek(IntPtr iterator, byte* key, nuint keyLength);

    [LibraryImport(Library, EntryPoint = "rocksdb_flushoptions_create")]
    public static partial IntPtr FlushOptionsCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_flushoptions_set_wait")]
    public static partial void FlushOptionsSetWait(IntPtr flushOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_flushoptions_destroy")]
    public static partial void FlushOptionsDestroy(IntPtr flushOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_flush")]
    public static partial void Flush(IntPtr db, IntPtr flushOptions, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_checkpoint_object_create")]
    public static partial IntPtr CheckpointObjectCreate(IntPtr db, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_checkpoint_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void CheckpointCreate(IntPtr checkpoint, string directory, ulong logSizeForFlush, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_checkpoint_object_destroy")]
    public static partial void CheckpointObjectDestroy(IntPtr checkpoint);

    [LibraryImport(Library, EntryPoint = "rocksdb_ingestexternalfileoptions_create")]
    public static partial IntPtr IngestExternalFileOptionsCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_ingestexternalfileoptions_set_move_files")]
    public static partial void IngestExternalFileOptionsSetMoveFiles(IntPtr ingestOptions, byte value);

    [LibraryImport(Library, EntryPoint = "rocksdb_ingestexternalfileoptions_destroy")]
    public static partial void IngestExternalFileOptionsDestroy(IntPtr ingestOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_ingest_external_file")]
    public static partial void IngestExternalFile(IntPtr db, IntPtr* files, nuint count, IntPtr ingestOptions, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_envoptions_create")]
    public static partial IntPtr EnvOptionsCreate();

    [LibraryImport(Library, EntryPoint = "rocksdb_envoptions_destroy")]
    public static partial void EnvOptionsDestroy(IntPtr envOptions);

    [LibraryImport(Library, EntryPoint = "rocksdb_sstfilewriter_create")]
    public static partial IntPtr SstFileWriterCreate(IntPtr envOptions, IntPtr options);

    [LibraryImport(Library, EntryPoint = "rocksdb_sstfilewriter_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void SstFileWriterOpen(IntPtr writer, string name, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_sstfilewriter_finish")]
    public static partial void SstFileWriterFinish(IntPtr writer, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_sstfilewriter_destroy")]
    public static partial void SstFileWriterDestroy(IntPtr writer);

    /// <summary>Throws <see cref="RocksNativeException"/> (taking ownership of the string) when a call reported an error.</summary>
    public static void ThrowIfError(IntPtr error)
    {
        if (TakeError(error) is { } message)
        {
            throw new RocksNativeException(message);
        }
    }

    [LibraryImport(Library, EntryPoint = "rocksdb_sstfilewriter_put")]
    public static partial void SstFileWriterPut(IntPtr writer, byte* key, nuint keyLength, byte* value, nuint valueLength, IntPtr* error);

    [LibraryImport(Library, EntryPoint = "rocksdb_sstfilewriter_delete")]
    public static partial void SstFileWriterDelete(IntPtr writer, byte* key, nuint keyLength, IntPtr* error);

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

        if (System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier.StartsWith("linux-musl", StringComparison.Ordinal)
            && NativeLibrary.TryLoad("librocksdb-musl.so", assembly, searchPath, out var musl))
        {
            return musl;
        }

        return IntPtr.Zero;
    }
}
