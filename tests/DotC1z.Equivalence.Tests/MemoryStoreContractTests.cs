using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Equivalence.Tests;

public sealed class MemoryStoreContractTests : StoreContractTests
{
    protected override IC1zStore CreateStore() => new MemoryStore();
}
