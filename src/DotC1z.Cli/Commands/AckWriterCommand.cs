using System.CommandLine;
using System.Globalization;
using DotC1z.Engine.Rocks;
using DotC1z.Records;

namespace DotC1z.Cli.Commands;

/// <summary>
/// Hidden <c>c1z _ack-writer</c>: writes batches of 10 grants forever and prints "ack N" after each
/// batch is acknowledged. The kill-9 durability test runs it as a child process, kills it at a random
/// moment and checks that every acknowledged batch survived whole.
/// </summary>
public static class AckWriterCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var dir = new Option<string>("--dir") { Required = true };
        var noSync = new Option<bool>("--no-sync");
        var command = new Command("_ack-writer", "Test helper: acknowledged batched writes until killed.") { dir, noSync };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            using var store = RocksStore.Open(parse.GetValue(dir)!, new RocksStoreOptions { Durability = parse.GetValue(noSync) ? RocksDurability.NoSync : RocksDurability.Sync });
            var sync = store.StartSync(SyncType.Full);
            ctx.Out.WriteLine("sync " + sync);
            ctx.Out.Flush();
            for (long batch = 0; !ctx.Cancellation.IsCancellationRequested; batch++)
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
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ack {batch}"));
                ctx.Out.Flush();
            }

            return 0;
        });
        return command;
    }
}
