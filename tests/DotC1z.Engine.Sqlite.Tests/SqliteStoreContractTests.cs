using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Engine.Sqlite.Tests;

public sealed class SqliteStoreContractTests : StoreContractTests
{
    private readonly TempDir _dir = new("sqlite-contract");
    private int _n;

    protected override IC1zStore CreateStore() => SqliteStore.Open(_dir.Combine($"db-{_n++}.sqlite"));

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _dir.Dispose();
        }
    }
}
