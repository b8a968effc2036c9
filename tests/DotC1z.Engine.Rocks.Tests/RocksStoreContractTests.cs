using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Engine.Rocks.Tests;

public sealed class RocksStoreContractTests : StoreContractTests
{
    private readonly TempDir _dir = new("rocks-contract");
    private int _n;

    protected override IC1zStore CreateStore() =>
        RocksStore.Open(_dir.Combine($"store-{_n++}"), new RocksStoreOptions { Durability = RocksDurability.NoSync, BulkChunkRecords = 64 });

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _dir.Dispose();
        }
    }
}
