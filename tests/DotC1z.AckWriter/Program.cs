using System.Globalization;
using DotC1z.Engine.Rocks;
using DotC1z.Records;

// dotc1z-ack-writer --dir DIR [--no-sync]: writes batches of 10 grants into a new sync of the store at DIR forever and
// prints "ack N" after each batch is acknowledged, so a test can kill it at any moment and check that every
// acknowledged batch survived (with durable writes) and that nothing half-written is visible.
int dirAt = Array.IndexOf(args, "--dir");
if (dirAt < 0 || dirAt + 1 >= args.Length)
{
    Console.Error.WriteLine("usage: dotc1z-ack-writer --dir DIR [--no-sync]");
    return 2;
}

bool noSync = args.Contains("--no-sync");
using var store = RocksStore.Open(args[dirAt + 1], new RocksStoreOptions { Durability = noSync ? RocksDurability.NoSync : RocksDurability.Sync });
var sync = store.StartSync(SyncType.Full);
Console.WriteLine("sync " + sync);
for (long batch = 0; ; batch++)
{
    var grants = new List<GrantRecord>(10);
    for (int i = 0; i < 10; i++)
    {
        grants.Add(new GrantRecord
        {
            ExternalId = string.Create(CultureInfo.InvariantCulture, $"b{batch:D8}-{i}"),
            Entitlement = new EntitlementRef { EntitlementId = "ent-" + (batch % 7).ToString(CultureInfo.InvariantCulture) },
            Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = "u" + i.ToString(CultureInfo.InvariantCulture) },
        });
    }

    store.PutGrants(sync, grants);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ack {batch}"));
}
