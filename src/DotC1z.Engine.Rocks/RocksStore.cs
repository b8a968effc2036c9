using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// The RocksDB engine: an <see cref="IC1zStore"/> over one RocksDB directory holding any number of
/// syncs. The key layout is documented on <see cref="Keyspace"/>.
/// </summary>
/// <remarks>
/// <para>Ownership: the store owns the native database, its options, cache and write options, and
/// releases them in <see cref="Dispose"/> (idempotent) — or, when a call or a scan is still running
/// on another thread or in a live enumerator, when the last of them ends (each holds a lease). Every
/// public member, and the next step of every open scan, throws <see cref="ObjectDisposedException"/>
/// after disposal.</para>
/// <para>Concurrency: writes are serialised by one lock, which makes the read-before-write index
/// maintenance exact; reads never take it. Every scan runs on its own RocksDB snapshot, so a long
/// scan sees one consistent state while other threads write.</para>
/// <para>Integrity: every scan checks the native iterator's error status when it ends, so a corrupt
/// block surfaces as <see cref="C1zCorruptionException"/> instead of a silently short result.</para>
/// </remarks>
public sealed partial class RocksStore : IC1zStore
{
    private readonly NativeDb _db;
    private readonly NativeOptions _nativeOptions;
    private readonly RocksStoreOptions _options;
    private readonly Lock _writeLock = new();
    private int _disposed;
    private int _bulkLoaderActive;
    private volatile bool _modified;

    private readonly SyncLifecycle _lifecycle;

    private RocksStore(string directory, NativeDb db, NativeOptions nativeOptions, RocksStoreOptions options)
    {
        Directory = directory;
        _db = db;
        _nativeOptions = nativeOptions;
        _options = options;
        _lifecycle = new SyncLifecycle(this, directory);
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
    public SyncId? CurrentSync => _lifecycle.Current;

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

        var native = NativeOptions.Create(options);
        try
        {
            if (!options.ReadOnly && options.CreateIfMissing)
            {
                System.IO.Directory.CreateDirectory(full);
            }

            var db = NativeDb.Open(native.Options, full, options.ReadOnly);
            if (!options.ReadOnly)
            {
                SweepScratch(full);
            }

            return new RocksStore(full, db, native, options);
        }
        catch (RocksNativeException ex)
        {
            native.Dispose();
            throw RocksErrors.Map(ex, full);
        }
        catch (UnauthorizedAccessException ex)
        {
            native.Dispose();
            throw new C1zIOException($"cannot open store {full}: {ex.Message}", full, ex);
        }
        catch (IOException ex)
        {
            native.Dispose();
            throw new C1zIOException($"cannot open store {full}: {ex.Message}", full, ex);
        }
    }

    /// <summary>The names of the scratch files and directories writes leave beside the database while they run.</summary>
    internal const string BulkScratchPrefix = ".bulk-", ChangeScratchPrefix = ".changes-";

    /// <summary>
    /// Removes what a bulk load (<see cref="BulkScratchPrefix"/> directories) or an ingested change set
    /// (<see cref="ChangeScratchPrefix"/> files) left behind when its process ended mid-way. Called once the database
    /// lock is held, so no other process is writing them; nothing in them was ever part of the store.
    /// </summary>
    private static void SweepScratch(string directory)
    {
        try
        {
            foreach (string dir in System.IO.Directory.EnumerateDirectories(directory, BulkScratchPrefix + "*"))
            {
                System.IO.Directory.Delete(dir, recursive: true);
            }

            foreach (string file in System.IO.Directory.EnumerateFiles(directory, ChangeScratchPrefix + "*"))
            {
                File.Delete(file);
            }
        }
        catch (IOException)
        {
            // Best effort, as when a write cleans up after itself: scratch takes space, never the store's integrity.
        }
        catch (UnauthorizedAccessException)
        {
            // The same.
        }
    }

    /// <summary>
    /// The native options of an open store: database, table, read and write options, one owner. The block cache is
    /// the process's shared one (<see cref="RocksSharedMemory"/>) unless the store asked for a private one, which it
    /// then owns too.
    /// </summary>
    private sealed class NativeOptions : IDisposable
    {
        private readonly bool _ownsCache;

        private NativeOptions(IntPtr options, IntPtr table, IntPtr cache, bool ownsCache)
        {
            Options = options;
            Table = table;
            Cache = cache;
            _ownsCache = ownsCache;
            DefaultRead = RawRocks.ReadOptionsCreate();
            Write = RawRocks.WriteOptionsCreate();
        }

        public IntPtr Options { get; }

        public IntPtr Table { get; }

        public IntPtr Cache { get; }

        /// <summary>Read options for point reads of the latest state.</summary>
        public IntPtr DefaultRead { get; }

        /// <summary>Write options: fsync on commit or not, per <see cref="RocksStoreOptions.Durability"/>.</summary>
        public IntPtr Write { get; }

        public static NativeOptions Create(RocksStoreOptions options)
        {
            var native = options.BlockCacheBytes is long bytes
                ? new NativeOptions(RawRocks.OptionsCreate(), RawRocks.BlockBasedOptionsCreate(), RawRocks.CacheCreateLru((nuint)Math.Max(RocksSharedMemory.MinimumCacheBytes, bytes)), ownsCache: true)
                : new NativeOptions(RawRocks.OptionsCreate(), RawRocks.BlockBasedOptionsCreate(), RocksSharedMemory.Cache, ownsCache: false);
            IntPtr table = native.Table;
            RawRocks.BlockBasedOptionsSetBlockCache(table, native.Cache);
            RawRocks.BlockBasedOptionsSetBlockSize(table, RawRocks.BlockBytes);
            // A writable store keeps its index and filter blocks in the table readers, not in the block
            // cache: in the cache they were evicted by data blocks once a store outgrew it, and every
            // read-before-write point lookup then re-read them (measured: a 1M-grant expansion fell from
            // ~90k to 5k grants/s). A read-only store on the shared cache loads them lazily into it, at high
            // priority: an open then reads each table's footer only, not every filter and index block of the
            // file (at 1M grants ~5 MiB read and checksummed per open: 6.6 -> 0.65 ms, docs/PERFORMANCE.md),
            // and copies of one file (checkpoints share the table files) share one cached copy of them.
            bool lazyMetadata = options.ReadOnly && options.BlockCacheBytes is null;
            RawRocks.BlockBasedOptionsSetCacheIndexAndFilterBlocks(table, lazyMetadata ? (byte)1 : (byte)0);
            if (lazyMetadata)
            {
                RawRocks.BlockBasedOptionsSetCacheIndexAndFilterBlocksWithHighPriority(table, 1);
            }

            RawRocks.BlockBasedOptionsSetPinL0FilterAndIndexBlocksInCache(table, 1);
            RawRocks.BlockBasedOptionsSetFilterPolicy(table, RawRocks.FilterPolicyCreateBloomFull(10));

            IntPtr db = native.Options;
            RawRocks.OptionsSetCreateIfMissing(db, options.CreateIfMissing && !options.ReadOnly ? (byte)1 : (byte)0);
            RawRocks.OptionsSetParanoidChecks(db, options.ParanoidChecks ? (byte)1 : (byte)0);
            RawRocks.OptionsSetMaxOpenFiles(db, 512);
            RawRocks.OptionsSetWriteBufferSize(db, 64 << 20);
            // Every store's memtables count against the shared budget: many open writable stores no
            // longer hold 64 MiB each on top of their caches.
            RawRocks.OptionsSetWriteBufferManager(db, RocksSharedMemory.WriteBufferManager);
            RawRocks.OptionsSetCompression(db, RawRocks.Lz4Compression);
            RawRocks.OptionsIncreaseParallelism(db, 2);
            RawRocks.OptionsSetBlockBasedTableFactory(db, table);
            // Opens do the least: no LOG file (created, rotated and filled with the options dump on
            // every open), no table-property reads for compaction statistics, no stats threads, and
            // the table files opened on this thread (a store holds a handful of SSTs; the default 16
            // opener threads cost more to start than they save).
            RawRocks.OptionsSetInfoLog(db, RocksSharedMemory.NullLogger);
            RawRocks.OptionsSetSkipStatsUpdateOnDbOpen(db, 1);
            RawRocks.OptionsSetMaxFileOpeningThreads(db, 1);
            RawRocks.OptionsSetStatsDumpPeriodSec(db, 0);
            RawRocks.OptionsSetStatsPersistPeriodSec(db, 0);
            if (options.ParanoidChecks)
            {
                RawRocks.OptionsSetWalRecoveryMode(db, RawRocks.WalAbsoluteConsistency);
            }

            RawRocks.WriteOptionsSetSync(native.Write, options.Durability == RocksDurability.Sync ? (byte)1 : (byte)0);
            return native;
        }

        public void Dispose()
        {
            RawRocks.OptionsDestroy(Options);
            RawRocks.BlockBasedOptionsDestroy(Table);
            if (_ownsCache)
            {
                RawRocks.CacheDestroy(Cache);
            }

            RawRocks.ReadOptionsDestroy(DefaultRead);
            RawRocks.WriteOptionsDestroy(Write);
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

        Guard(_db.Flush);
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
        Guard(() => _db.Checkpoint(dest));
    }

    /// <summary>Verifies the block checksums of every SST file.</summary>
    /// <exception cref="C1zCorruptionException">A checksum does not match.</exception>
    public void VerifyChecksums()
    {
        ThrowIfDisposed();
        Guard(_db.VerifyChecksum);
    }

    /// <summary>
    /// Closes the store. Calls and scans that are still running keep the native database alive until
    /// they end (each holds a lease); from now on every call, and the next step of any open scan,
    /// throws <see cref="ObjectDisposedException"/> instead of touching freed native memory.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _leases) == 0)
        {
            CloseNative();
        }
    }

    // Leases: the native handles are freed only once the store is disposed and no lease is held.
    // Dekker-style: TryLease raises the count, then reads the flag; Dispose raises the flag, then
    // reads the count (both through full fences), so one of them always sees the other.
    private int _leases;
    private int _closed;

    /// <summary>Keeps the native database open until <see cref="ReleaseLease"/>; false once the store is disposed.</summary>
    internal bool TryLease()
    {
        Interlocked.Increment(ref _leases);
        if (Volatile.Read(ref _disposed) == 0)
        {
            return true;
        }

        ReleaseLease();
        return false;
    }

    internal void ReleaseLease()
    {
        if (Interlocked.Decrement(ref _leases) == 0 && Volatile.Read(ref _disposed) != 0)
        {
            CloseNative();
        }
    }

    private void CloseNative()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _db.Dispose();
        _nativeOptions.Dispose();
        ReleaseTables();
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private void ThrowIfNotWritable()
    {
        ThrowIfDisposed();
        if (IsReadOnly)
        {
            throw new C1zReadOnlyException(Directory);
        }
    }

    // Every native call on the database goes through Guard: under a lease (so a concurrent Dispose
    // cannot free the handle mid-call), with native failures mapped to the C1z exceptions.
    private void Guard(Action action, [System.Runtime.CompilerServices.CallerMemberName] string operation = "") =>
        Guard<object?>(() =>
        {
            action();
            return null;
        }, operation);

    private T Guard<T>(Func<T> action, [System.Runtime.CompilerServices.CallerMemberName] string operation = "") =>
        Guard(action, static (_, a) => a(), operation);

    /// <summary>
    /// Runs a native call under the store's lease, mapping RocksDB's errors to typed ones. The state form lets hot
    /// paths pass a static lambda: no closure is allocated per call (point reads).
    /// </summary>
    private T Guard<TState, T>(TState state, Func<RocksStore, TState, T> action, string operation)
    {
        ObjectDisposedException.ThrowIf(!TryLease(), this);
        try
        {
            return action(this, state);
        }
        catch (RocksNativeException ex)
        {
            throw RocksErrors.Map(ex, Directory, operation);
        }
        finally
        {
            ReleaseLease();
        }
    }

    /// <param name="batch">The batch.</param>
    /// <param name="keepGrantDigests">
    /// True for writes that leave every sync's grants as they are (sync runs, other record kinds, a sync's deletion that
    /// forgot its own digests), so the known grant digests stay true; any other write forgets them all.
    /// </param>
    private void Commit(NativeWriteBatch batch, bool keepGrantDigests = false)
    {
        if (!keepGrantDigests)
        {
            ForgetGrantDigests();
        }

        Guard(() => _db.Write(batch, _nativeOptions.Write), "write");
        _modified = true;
    }

    /// <summary>Point read of the latest committed value.</summary>
    private byte[]? Get(byte[] key, [System.Runtime.CompilerServices.CallerMemberName] string operation = "") =>
        Guard(key, static (store, k) => store._db.Get(k, store._nativeOptions.DefaultRead), operation);

    internal void MarkModified() => _modified = true;

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
