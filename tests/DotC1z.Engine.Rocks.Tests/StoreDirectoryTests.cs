using DotC1z.Tests.Shared;

namespace DotC1z.Engine.Rocks.Tests;

/// <summary>Test classes that open RocksDB stores in one temporary directory, removed after the class's tests.</summary>
/// <param name="name">The directory's name prefix.</param>
public abstract class StoreDirectoryTests(string name) : IDisposable
{
    /// <summary>The directory the stores live in.</summary>
    protected TempDir Dir { get; } = new(name);

    /// <inheritdoc/>
    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Opens (creating) store <paramref name="store"/> without fsync, with a bulk chunk of <paramref name="chunk"/> records.</summary>
    protected RocksStore Open(string store, bool readOnly = false, int chunk = 1_000_000) =>
        RocksStore.Open(Dir.Combine(store), new RocksStoreOptions { ReadOnly = readOnly, Durability = RocksDurability.NoSync, BulkChunkRecords = chunk });
}
