namespace DotC1z.Engine.Rocks;

/// <summary>When an acknowledged write is durable.</summary>
public enum RocksDurability
{
    /// <summary>Every commit fsyncs the write-ahead log: acknowledged writes survive a power loss.</summary>
    Sync,

    /// <summary>
    /// Commits go to the write-ahead log without fsync: acknowledged writes survive a process kill
    /// but not a power loss. For fixture generation and tests.
    /// </summary>
    NoSync,
}

/// <summary>How a <see cref="RocksStore"/> is opened.</summary>
public sealed record RocksStoreOptions
{
    /// <summary>Open read-only: every write is rejected with <see cref="Errors.C1zReadOnlyException"/>.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Create the directory and an empty store when missing (ignored when <see cref="ReadOnly"/>).</summary>
    public bool CreateIfMissing { get; init; } = true;

    /// <summary>Durability of acknowledged writes.</summary>
    public RocksDurability Durability { get; init; } = RocksDurability.Sync;

    /// <summary>
    /// Strict integrity checks for untrusted stores: paranoid checks, and write-ahead-log recovery that
    /// fails on any corruption instead of truncating (a clean checkpoint has no torn tail).
    /// </summary>
    public bool ParanoidChecks { get; init; }

    /// <summary>
    /// A private block cache of this many bytes (at least 8 MiB) for this store; null (the default) shares the
    /// process's one cache, whose budget is <see cref="RocksSharedMemory.CacheBytes"/>. Memtables are charged to
    /// the shared budget either way.
    /// </summary>
    public long? BlockCacheBytes { get; init; }

    /// <summary>
    /// Records per chunk that the bulk loader sorts in memory before spilling to disk. The byte budget
    /// (<see cref="BulkChunkBytes"/>) usually decides first: a grant takes about 140 bytes in a chunk, so the
    /// default budget holds about 1.4M grants, and a load of that size is written without spilling.
    /// </summary>
    public int BulkChunkRecords { get; init; } = 4_000_000;

    /// <summary>
    /// Bytes of keys and values the bulk loader holds in memory before spilling to disk (bounds its memory). The default
    /// is chosen for load speed: at 64 MiB a 1M-grant load spilled twice and took about 0.5 s longer (G1 at 1M, 2026-11-30);
    /// commands that stream whole files pass a smaller budget (docs/PERFORMANCE.md).
    /// </summary>
    public long BulkChunkBytes { get; init; } = 192L << 20;

    /// <summary>
    /// The most grant entries a compaction into this store may have to drop while it merges its inputs' stored grant
    /// indexes (about 100 bytes of memory each; bounded before the merge by the later inputs' grant counts). Above it
    /// the indexes are rebuilt from the merged grants in the bulk loader's chunk; 0 always rebuilds them
    /// (docs/DESIGN.md §6, "Merging the stored indexes").
    /// </summary>
    public long IndexMergeMaxLosers { get; init; } = 512 * 1024;

    /// <summary>
    /// Whole-range scans of stored grants and grant indexes (compaction, diff, digests) read the table files directly
    /// when the range's files allow it — in key order, not overlapping, no deletions, nothing in the memtables — and
    /// through RocksDB otherwise (docs/DESIGN.md §6, "Reading table files directly"). False always reads through RocksDB.
    /// </summary>
    public bool DirectTableScans { get; init; } = true;
}
