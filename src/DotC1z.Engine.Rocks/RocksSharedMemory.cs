using System.Runtime.InteropServices;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// The memory every <see cref="RocksStore"/> of a process shares: one block cache with a stated budget
/// (<see cref="CacheBytes"/>), and one write-buffer manager that charges every store's memtables to that
/// cache, so blocks and memtables of all open stores together stay within the budget instead of each store
/// holding its own 128 MiB cache and 64 MiB memtable.
/// </summary>
/// <remarks>
/// Stores opened with <see cref="RocksStoreOptions.BlockCacheBytes"/> set get a private cache of that size
/// instead (their memtables are still charged to the shared budget). The shared objects live as long as the
/// process: stores open and close at any time and each holds a reference through its options.
/// </remarks>
public static unsafe class RocksSharedMemory
{
    /// <summary>The shared block cache's default budget: 128 MiB.</summary>
    public const long DefaultCacheBytes = 128L << 20;

    /// <summary>
    /// Memtable bytes (all stores together) at which the write-buffer manager flushes the largest: 64 MiB, half of
    /// the default budget. The bulk path writes SST files directly, so memtables only hold ordinary writes.
    /// </summary>
    public const long WriteBufferBytes = 64L << 20;

    private static readonly Lazy<Shared> Instance = new(() => new Shared(DefaultCacheBytes));

    /// <summary>
    /// The shared block cache's budget in bytes; blocks and memtables of every store using it are charged to it.
    /// Setting it resizes the live cache (shrinking evicts).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 8 MiB.</exception>
    public static long CacheBytes
    {
        get => (long)RawRocks.CacheGetCapacity(Instance.Value.Cache);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, MinimumCacheBytes);
            lock (CapacityLock)
            {
                RawRocks.CacheSetCapacity(Instance.Value.Cache, (nuint)value);
            }
        }
    }

    /// <summary>
    /// Evicts every cached block no reader holds, keeping the budget: for a long-running process between jobs
    /// (the cache keeps blocks of stores already closed until newer blocks push them out). Memtables stay charged.
    /// </summary>
    public static void ReleaseCachedBlocks()
    {
        var cache = Instance.Value.Cache;
        lock (CapacityLock)
        {
            // RocksDB has no "erase unreferenced" in its C API: a zero capacity evicts them, then the budget returns.
            nuint capacity = RawRocks.CacheGetCapacity(cache);
            RawRocks.CacheSetCapacity(cache, 0);
            RawRocks.CacheSetCapacity(cache, capacity);
        }
    }

    private static readonly Lock CapacityLock = new();

    /// <summary>Bytes the shared cache holds now: cached blocks plus the memtables charged to it.</summary>
    public static long CacheUsageBytes => (long)RawRocks.CacheGetUsage(Instance.Value.Cache);

    /// <summary>Memtable bytes of all stores, as the write-buffer manager counts them.</summary>
    public static long MemtableBytes => (long)RawRocks.WriteBufferManagerMemoryUsage(Instance.Value.WriteBufferManager);

    /// <summary>The smallest cache a store gets (RocksDB shards a cache; a few MiB per shard keeps it useful).</summary>
    internal const long MinimumCacheBytes = 8L << 20;

    /// <summary>The shared <c>rocksdb_cache_t</c>.</summary>
    internal static IntPtr Cache => Instance.Value.Cache;

    /// <summary>The shared <c>rocksdb_write_buffer_manager_t</c>.</summary>
    internal static IntPtr WriteBufferManager => Instance.Value.WriteBufferManager;

    /// <summary>
    /// A logger that drops everything: a store given it writes no <c>LOG</c> file (a read-only open then creates no
    /// file at all, and no open spends time rotating and writing the options dump into one).
    /// </summary>
    internal static IntPtr NullLogger => Instance.Value.NullLogger;

    [UnmanagedCallersOnly]
    private static void Drop(IntPtr state, uint level, byte* message, nuint length)
    {
    }

    private sealed class Shared
    {
        // RocksDB's InfoLogLevel::HEADER_LEVEL: the logger is asked to format nothing below it.
        private const int HeaderLevel = 5;

        public Shared(long cacheBytes)
        {
            Cache = RawRocks.CacheCreateLru((nuint)cacheBytes);
            WriteBufferManager = RawRocks.WriteBufferManagerCreateWithCache((nuint)WriteBufferBytes, Cache, 0);
            NullLogger = RawRocks.LoggerCreateCallbackLogger(HeaderLevel, &Drop, IntPtr.Zero);
        }

        public IntPtr Cache { get; }

        public IntPtr WriteBufferManager { get; }

        public IntPtr NullLogger { get; }
    }
}
