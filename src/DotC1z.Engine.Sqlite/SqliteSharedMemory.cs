using Microsoft.Data.Sqlite;

namespace DotC1z.Engine.Sqlite;

/// <summary>
/// The memory every SQLite database of a process shares: SQLite's soft heap limit, 128 MiB by default — the same
/// budget the process's RocksDB stores share for their block cache. Past it, SQLite frees unpinned page-cache pages
/// of any connection before it grows, so each connection's <see cref="SqliteStoreOptions.CacheMiB"/> is a ceiling
/// for that connection, not a sum over the pool: before, a store's pooled read connections each kept up to 64 MiB
/// and an expansion between two SQLite stores peaked near 350 MiB.
/// </summary>
/// <remarks>
/// The limit belongs to the SQLite library, so it applies to every SQLite database the process opens, including
/// ones opened without <see cref="SqliteStore"/>. The default is set when the first store connects; setting
/// <see cref="HeapBytes"/> before or after that wins.
/// </remarks>
public static class SqliteSharedMemory
{
    /// <summary>The default budget: 128 MiB.</summary>
    public const long DefaultHeapBytes = 128L << 20;

    private static int _set;

    /// <summary>SQLite's soft heap limit in bytes (0: none).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public static long HeapBytes
    {
        get
        {
            InitializeProvider();
            return SQLitePCL.raw.sqlite3_soft_heap_limit64(-1);
        }

        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            InitializeProvider();
            Volatile.Write(ref _set, 1);
            _ = SQLitePCL.raw.sqlite3_soft_heap_limit64(value);
        }
    }

    /// <summary>Sets the default budget once, unless someone set one already (called when a store connects).</summary>
    internal static void ApplyDefault()
    {
        if (Interlocked.Exchange(ref _set, 1) == 0)
        {
            _ = SQLitePCL.raw.sqlite3_soft_heap_limit64(DefaultHeapBytes);
        }
    }

    // Microsoft.Data.Sqlite loads the native library and its SQLitePCL provider in SqliteConnection's static
    // constructor; raw calls before it would find no provider.
    private static void InitializeProvider() =>
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(SqliteConnection).TypeHandle);
}
