namespace DotC1z.Pebble;

/// <summary>
/// Budgets that bound the work and memory a <see cref="PebbleDatabase"/> spends on one database, so a
/// hostile directory fails with a typed error instead of exhausting the process. Every length read
/// from the input is checked against these (and against its containing buffer) before anything is
/// allocated for it.
/// </summary>
public sealed class PebbleReadOptions
{
    /// <summary>The shared default budgets.</summary>
    public static PebbleReadOptions Default { get; } = new();

    /// <summary>Largest file (table, MANIFEST, WAL) that is read into memory. Default 1 GiB.</summary>
    public long MaxFileBytes { get; init; } = 1L << 30;

    /// <summary>
    /// Most bytes one operation (an <see cref="PebbleDatabase.Open"/>, a <see cref="PebbleDatabase.TryGet"/>
    /// or one cursor) may read from files, decompress from blocks and materialize as keys (each data block
    /// counts rows × its maximum key length). Default 64 GiB.
    /// </summary>
    public long MaxTotalDecodedBytes { get; init; } = 64L << 30;

    /// <summary>Largest block, stored or decompressed. Default 128 MiB.</summary>
    public int MaxBlockBytes { get; init; } = 128 << 20;

    /// <summary>Longest user key. Default 1 MiB.</summary>
    public int MaxKeyBytes { get; init; } = 1 << 20;

    /// <summary>Longest value. Default 128 MiB.</summary>
    public int MaxValueBytes { get; init; } = 128 << 20;

    /// <summary>Most live tables in the final version. Default 100,000.</summary>
    public int MaxTables { get; init; } = 100_000;

    /// <summary>Largest MANIFEST file. Default 128 MiB.</summary>
    public int MaxManifestBytes { get; init; } = 128 << 20;

    /// <summary>Most bytes of write-ahead logs replayed into memory, summed over every log. Default 256 MiB.</summary>
    public long MaxWalBytes { get; init; } = 256L << 20;

    /// <summary>
    /// Most bytes of table files <see cref="PebbleDatabase.TryGet"/> keeps loaded between calls
    /// (scans never keep tables after passing them). Default 256 MiB; 0 disables the cache.
    /// </summary>
    public long TableCacheBytes { get; init; } = 256L << 20;

    /// <summary>
    /// Most bytes of decoded blocks <see cref="PebbleDatabase.TryGet"/> keeps between calls, so repeated
    /// lookups do not decompress the same block again. Default 32 MiB; 0 disables the cache.
    /// </summary>
    public long BlockCacheBytes { get; init; } = 32L << 20;
}
