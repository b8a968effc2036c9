using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;
using RocksDbSharp;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// The RocksDB engine: an <see cref="IC1zStore"/> over one RocksDB directory holding any number of
/// syncs. The key layout is documented on <see cref="Keyspace"/>.
/// </summary>
/// <remarks>
/// <para>Ownership: the store owns the native database, its options, cache and write options, and
/// releases them in <see cref="Dispose"/> (idempotent). Every public member throws
/// <see cref="ObjectDisposedException"/> after disposal.</para>
/// <para>Concurrency: writes are serialised by one lock, which makes the read-before-write index
/// maintenance exact; reads never take it. Every scan runs on its own RocksDB snapshot, so a long
/// scan sees one consistent state while other threads write.</para>
/// <para>Integrity: every scan checks the native iterator's error status when it ends, so a corrupt
/// block surfaces as <see cref="C1zCorruptionException"/> instead of a silently short result.</para>
/// </remarks>
public sealed partial class RocksStore : IC1zStore
{
    private readonly RocksDb _db;
    private readonly DbOptions _dbOptions;
    private readonly BlockBasedTableOptions _tableOptions;
    private readonly Cache _cache;
    private readonly WriteOptions _writeOptions;
    private readonly RocksStoreOptions _options;
    private readonly Lock _writeLock = new();
    private SyncId? _currentSync;
    private int _disposed;
    private int _bulkLoaderActive;
    private volatile bool _modified;

    private RocksStore(string directory, RocksDb db, DbOptions dbOptions, BlockBasedTableOptions tableOptions, Cache cache, RocksStoreOptions options)
    {
        Directory = directory;
        _db = db;
        _dbOptions = dbOptions;
        _tableOptions = tableOptions;
        _cache = cache;
        _options = options;
        _writeOptions = new WriteOptions().SetSync(options.Durability == RocksDurability.Sync);
    }

    /// <summary>The store directory.</summary>
    public string Directory { get; }

    /// <inheritdoc/>
    public string EngineName => "rocks";

    /// <inheritdoc/>
    public bool IsReadOnly => _options.ReadOnly;

    /// <summary>Whether any write happened since the store was opened.</summary>
    public bool IsModified => _modified;

    /// <summary>The options the store was opened with.</summary>
    public RocksStoreOptions Options => _options;

    /// <inheritdoc/>
    public SyncId? CurrentSync
    {
        get
        {
            lock (_writeLock)
            {
                return _currentSync;
            }
        }
    }

    /// <summary>Opens (and by default creates) a store directory.</summary>
    /// <param name="directory">The store directory.</param>
    /// <param name="options">Open options; defaults are writable, create-if-missing, fsync on commit.</param>
    /// <returns>The open store; the caller disposes it.</returns>
    /// <exception cref="C1zStoreInUseException">Another process or handle has the store open for writing.</exception>
    /// <exception cref="C1zCorruptionException">The directory holds a damaged or foreign database.</exception>
    /// <exception cref="C1zIOException">The directory cannot be read or created (a read-only open of a missing store included).</exception>
    public static RocksStore Open(string directory, RocksStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= new RocksStoreOptions();
        string full = Path.GetFullPath(directory);
        if (options.ReadOnly && !File.Exists(Path.Combine(full, "CURRENT")))
        {
            throw new C1zIOException($"no store at {full} (missing CURRENT file)", full);
        }

        var cache = Cache.CreateLru((ulong)Math.Max(8L << 20, options.BlockCacheBytes));
        var table = new BlockBasedTableOptions()
            .SetBlockCache(cache)
            .SetBlockSize(16 * 1024)
            // Index and filter blocks stay in the table readers, not in the block cache: in the cache
            // they were evicted by data blocks once a store outgrew it, and every read-before-write
            // point lookup then re-read them (measured: a 1M-grant expansion fell from ~90k to 5k grants/s).
            .SetCacheIndexAndFilterBlocks(false)
            .SetPinL0FilterAndIndexBlocksInCache(true)
            .SetFilterPolicy(BloomFilterPolicy.Create(10, false));
        var dbOptions = new DbOptions()
            .SetCreateIfMissing(options.CreateIfMissing && !options.ReadOnly)
            .SetParanoidChecks(options.ParanoidChecks)
            .SetMaxOpenFiles(512)
            .SetWriteBufferSize(64UL << 20)
            .SetCompression(Compression.Lz4)
            .IncreaseParallelism(2)
            .SetBlockBasedTableFactory(table);
        if (options.ParanoidChecks)
        {
            dbOptions.SetWalRecoveryMode(Recovery.AbsoluteConsistency);
        }

        try
        {
            if (!options.ReadOnly && options.CreateIfMissing)
            {
                System.IO.Directory.CreateDirectory(full);
            }

            var db = options.ReadOnly
                ? RocksDb.OpenReadOnly(dbOptions, full, errorIfLogFileExists: false)
                : RocksDb.Open(dbOptions, full);
            return new RocksStore(full, db, dbOptions, table, cache, options);
        }
        catch (RocksDbException ex)
        {
            ReleaseOptions(dbOptions, table, cache);
            throw RocksErrors.Map(ex, full);
        }
        catch (UnauthorizedAccessException ex)
        {
            ReleaseOptions(dbOptions, table, cache);
            throw new C1zIOException($"cannot open store {full}: {ex.Message}", full, ex);
        }
        catch (IOException ex)
        {
            ReleaseOptions(dbOptions, table, cache);
            throw new C1zIOException($"cannot open store {full}: {ex.Message}", full, ex);
        }
    }

    /// <summary>Flushes memtables to SST files (so a checkpoint needs no log replay).</summary>
    /// <exception cref="C1zIOException">The flush failed.</exception>
    public void Flush()
    {
        ThrowIfDisposed();
        if (IsReadOnly)
        {
            return;
        }

        Guard(() =>
        {
            var flush = new FlushOptions().SetWaitForFlush(true);
            try
            {
                _db.Flush(flush);
            }
            finally
            {
                NativeLifetime.Destroy(flush);
            }
        });
    }

    /// <summary>
    /// Flushes and writes a RocksDB checkpoint (hard-linked SSTs where possible) into
    /// <paramref name="destinationDirectory"/>, which must not exist yet. The store stays writable.
    /// </summary>
    /// <param name="destinationDirectory">Target directory (created by the checkpoint).</param>
    /// <exception cref="C1zArgumentException">The destination exists.</exception>
    /// <exception cref="C1zIOException">The checkpoint failed.</exception>
    public void Checkpoint(string destinationDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(destinationDirectory);
        ThrowIfDisposed();
        string dest = Path.GetFullPath(destinationDirectory);
        if (System.IO.Directory.Exists(dest) || File.Exists(dest))
        {
            throw new C1zArgumentException($"checkpoint destination already exists: {dest}", dest);
        }

        Flush();
        Guard(() =>
        {
            using var checkpoint = _db.Checkpoint();
            checkpoint.Save(dest, 0);
        });
    }

    /// <summary>Verifies the block checksums of every SST file.</summary>
    /// <exception cref="C1zCorruptionException">A checksum does not match.</exception>
    public void VerifyChecksums()
    {
        ThrowIfDisposed();
        Guard(() => Native.Instance.rocksdb_verify_checksum(_db.Handle));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _db.Dispose();
        NativeLifetime.Destroy(_writeOptions);
        ReleaseOptions(_dbOptions, _tableOptions, _cache);
    }

    private static void ReleaseOptions(DbOptions dbOptions, BlockBasedTableOptions table, Cache cache)
    {
        NativeLifetime.Destroy(dbOptions);
        NativeLifetime.Destroy(table);
        NativeLifetime.Destroy(cache);
    }

    internal RocksDb Db => _db;

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private void ThrowIfNotWritable()
    {
        ThrowIfDisposed();
        if (IsReadOnly)
        {
            throw new C1zReadOnlyException(Directory);
        }
    }

    private void Guard(Action action, [System.Runtime.CompilerServices.CallerMemberName] string operation = "")
    {
        try
        {
            action();
        }
        catch (RocksDbException ex)
        {
            throw RocksErrors.Map(ex, Directory, operation);
        }
    }

    private T Guard<T>(Func<T> action, [System.Runtime.CompilerServices.CallerMemberName] string operation = "")
    {
        try
        {
            return action();
        }
        catch (RocksDbException ex)
        {
            throw RocksErrors.Map(ex, Directory, operation);
        }
    }

    private void Commit(WriteBatch batch)
    {
        Guard(() => _db.Write(batch, _writeOptions), "write");
        _modified = true;
    }

    internal void MarkModified() => _modified = true;

    internal WriteOptions WriteOptions => _writeOptions;

    internal Lock WriteLock => _writeLock;

    internal bool TryEnterBulkLoad() => Interlocked.CompareExchange(ref _bulkLoaderActive, 1, 0) == 0;

    internal void ExitBulkLoad() => Volatile.Write(ref _bulkLoaderActive, 0);

    private static string RequireId(string? id, string what)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new C1zArgumentException($"{what} must not be empty");
        }

        return id;
    }
}
