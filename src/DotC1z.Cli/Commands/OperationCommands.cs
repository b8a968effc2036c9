using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DotC1z.Engine.Rocks;
using DotC1z.Engine.Sqlite;
using DotC1z.Equivalence;
using DotC1z.Operations;
using DotC1z.Storage;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z equiv</c>: a seeded random workload through each engine, compared.</summary>
public static class EquivCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var seed = new Option<int>("--seed") { Description = "Workload seed (default 1).", DefaultValueFactory = _ => 1 };
        var ops = new Option<int>("--ops") { Description = "Operations (default 2000).", DefaultValueFactory = _ => 2000 };
        var engines = new Option<string>("--engines") { Description = "Comma-separated: memory, rocks, sqlite (default all three).", DefaultValueFactory = _ => "memory,rocks,sqlite" };
        var command = new Command("equiv", "Run a seeded random workload through each engine and compare every reader.\n\nExample:\n  c1z equiv --seed 123456 --ops 20000") { seed, ops, engines };
        command.SetAction(parse =>
        {
            var names = parse.GetValue(engines)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Length < 2)
            {
                throw new CliException("--engines needs at least two engines");
            }

            string work = PrivateDirectory.CreateUnique(Path.GetTempPath(), "c1z-equiv-");
            try
            {
                int n = 0;
                var factories = names.Select(name => name switch
                {
                    "memory" => (name, (Func<IC1zStore>)(() => new MemoryStore())),
                    "rocks" => (name, () => RocksStore.Open(Path.Combine(work, $"rocks-{n++}"), new RocksStoreOptions { Durability = RocksDurability.NoSync })),
                    "sqlite" => (name, () => SqliteStore.Open(Path.Combine(work, $"sqlite-{n++}.db"), new SqliteStoreOptions { Durable = false })),
                    _ => throw new CliException($"unknown engine {name} (known: memory, rocks, sqlite)"),
                }).ToList();
                int s = parse.GetValue(seed);
                int count = parse.GetValue(ops);
                string? diff = EquivalenceRunner.CheckEngines(s, count, factories, replayDirectory: Directory.GetCurrentDirectory());
                if (diff is not null)
                {
                    throw new CliException("not equivalent: " + diff);
                }

                ctx.Out.WriteLine($"equivalent: seed={s} ops={count} engines={string.Join(',', names)}");
                return 0;
            }
            finally
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try
                {
                    Directory.Delete(work, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        });
        return command;
    }
}

/// <summary><c>c1z expand</c>: grant expansion into a new output.</summary>
public static class ExpandCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var input = new Option<string>("--in") { Description = "A C1Z3 file, a legacy v1 file or a store directory.", Required = true };
        var output = new Option<string>("--out") { Description = "Output: a .c1z file or a store directory.", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace an existing output." };
        var legacy = new Option<bool>("--legacy-is-direct") { Description = "Write every is_direct as false, like the SDK that wrote baton's expanded test fixtures." };
        var command = new Command("expand", "Grant expansion (docs/INTEROP-V1.md §5) of the latest sync: every holder of a source entitlement receives the entitlements it expands into.\n\nExample:\n  c1z expand --in unexpanded.c1z --out expanded.c1z") { input, output, force, legacy };
        command.SetAction(parse =>
        {
            string outPath = parse.GetValue(output)!;
            StorePaths.PrepareOutput(outPath, parse.GetValue(force), parse.GetValue(input)!);
            var sw = Stopwatch.StartNew();
            using var source = StorePaths.Open(parse.GetValue(input)!, readOnly: true);
            var latest = source.LatestSync() ?? throw new CliException("the input holds no sync");
            using var target = StorePaths.CreateOutput(outPath, parse.GetValue(force));
            foreach (var run in source.ListSyncRuns())
            {
                var s = Keys.SyncId.Parse(run.SyncId);
                StoreCopy.CopySync(source, s, target.Store, s, ctx.Cancellation);
            }

            var result = GrantExpander.Expand(target.Store, latest, new ExpansionOptions { LegacyIsDirectFalse = parse.GetValue(legacy) }, ctx.Cancellation);
            long grants = target.Store.Count(latest).Grants;
            target.Commit(ctx.Cancellation);
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"expanded sync {latest}: {result.Edges} edges, {result.Nodes} entitlements, {result.GrantsCreated} grants created, {result.GrantsUpdated} updated, {grants} grants in {sw.ElapsedMilliseconds} ms"));
            return 0;
        });
        return command;
    }
}
