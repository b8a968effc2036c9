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
        var baseOpt = new Option<string?>("--base") { Description = "An earlier expansion (its latest sync, expanded with the same options): recompute only what changed since, with the same result as a full expansion." };
        var baseInput = new Option<string?>("--base-input") { Description = "With --base: the unexpanded snapshot the base was expanded from (same latest sync id). The changes are then found by comparing the two inputs instead of scanning the whole base expansion." };
        var command = new Command("expand", "Grant expansion (docs/INTEROP-V1.md §5) of the latest sync: every holder of a source entitlement receives the entitlements it expands into.\n\nExample:\n  c1z expand --in unexpanded.c1z --out expanded.c1z\n  c1z expand --in tuesday.c1z --base monday-expanded.c1z --out tuesday-expanded.c1z\n  c1z expand --in tuesday.c1z --base monday-expanded.c1z --base-input monday.c1z --out tuesday-expanded.c1z") { input, output, force, legacy, baseOpt, baseInput };
        command.SetAction(parse =>
        {
            string outPath = parse.GetValue(output)!;
            string? basePath = parse.GetValue(baseOpt);
            string? baseInputPath = parse.GetValue(baseInput);
            if (baseInputPath is not null && basePath is null)
            {
                throw new CliException("--base-input needs --base (the expansion made from it)");
            }

            string?[] inputs = [parse.GetValue(input)!, basePath, baseInputPath];
            StorePaths.PrepareOutput(outPath, parse.GetValue(force), [.. inputs.OfType<string>()]);
            var sw = Stopwatch.StartNew();
            using var source = StorePaths.Open(parse.GetValue(input)!, readOnly: true);
            var latest = source.LatestSync() ?? throw new CliException("the input holds no sync");

            // Holder sets beyond the expansion's memory budget spill beside the output (the disk the user chose
            // for it), in a private scratch directory removed at the end (and by `c1z gc` after a crash).
            string spill = Path.GetDirectoryName(Path.GetFullPath(outPath))!;
            if (basePath is not null)
            {
                return Incremental(ctx, source, latest, basePath, baseInputPath, outPath, parse.GetValue(force), new ExpansionOptions { LegacyIsDirectFalse = parse.GetValue(legacy), SpillDirectory = spill }, sw);
            }

            // A whole-file operation: the output's bulk chunk is bounded like compact's and diff's.
            using var target = StorePaths.CreateStreamedOutput(outPath, parse.GetValue(force));
            foreach (var run in source.ListSyncRuns())
            {
                var s = Keys.SyncId.Parse(run.SyncId);
                if (s != latest)
                {
                    StoreCopy.CopySync(source, s, target.Store, s, ctx.Cancellation);
                }
            }

            // The latest sync is written once, expanded, through the output's bulk loader.
            ProgressReporter? reporter = null, writing = null;
            var progress = new InlineProgress<ExpansionProgress>(p =>
            {
                if (p.SortedEntriesTotal == 0)
                {
                    (reporter ??= new ProgressReporter(ctx, "destination entitlements", p.DestinationsTotal)).Report(p.DestinationsDone);
                    return;
                }

                // Then the derived grants' sorted outputs are written (the grant and its three index entries each).
                if (writing is null)
                {
                    reporter?.Dispose();
                    reporter = null;
                    writing = new ProgressReporter(ctx, "derived grant entries written", p.SortedEntriesTotal);
                }

                writing.Report(p.SortedEntriesWritten);
            });
            var options = new ExpansionOptions { LegacyIsDirectFalse = parse.GetValue(legacy), Progress = progress, SpillDirectory = spill };
            var result = GrantExpander.ExpandInto(source, latest, target.Store, latest, options, ctx.Cancellation);
            reporter?.Dispose();
            writing?.Dispose();
            long grants = target.Store.Count(latest).Grants;
            target.Commit(ctx.Cancellation);
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"expanded sync {latest}: {result.Edges} edges, {result.Nodes} entitlements, {result.GrantsCreated} grants created, {result.GrantsUpdated} updated, {grants} grants in {sw.ElapsedMilliseconds} ms"));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// <c>--base</c>: the output's latest sync starts as the input's records with the earlier
    /// expansion's grants, and <see cref="GrantExpander.ExpandIncremental"/> fixes what changed.
    /// </summary>
    private static int Incremental(CliContext ctx, IC1zStore source, Keys.SyncId latest, string basePath, string? baseInputPath, string outPath, bool force, ExpansionOptions options, Stopwatch sw)
    {
        using var earlier = StorePaths.Open(basePath, readOnly: true);
        var baseSync = earlier.LatestSync() ?? throw new CliException("the base holds no sync");
        IReadOnlyCollection<string> changed;
        if (baseInputPath is null)
        {
            changed = GrantExpander.ChangedGrants(earlier, baseSync, source, latest, options, ctx.Cancellation);
        }
        else
        {
            // `c1z expand` writes an expansion under its input's sync id, so the base's input carries the base's
            // latest sync: anything else is another snapshot, and the changes found from it would be wrong.
            using var earlierInput = StorePaths.Open(baseInputPath, readOnly: true);
            var inputSync = earlierInput.LatestSync() ?? throw new CliException("the base input holds no sync");
            if (inputSync != baseSync)
            {
                throw new CliException($"--base-input's latest sync is {inputSync}, but the base was expanded from sync {baseSync}");
            }

            changed = GrantExpander.ChangedInputGrants(earlierInput, inputSync, source, latest, ctx.Cancellation);
        }

        using var target = StorePaths.CreateOutput(outPath, force);
        foreach (var run in source.ListSyncRuns())
        {
            var s = Keys.SyncId.Parse(run.SyncId);
            if (s != latest)
            {
                StoreCopy.CopySync(source, s, target.Store, s, ctx.Cancellation);
            }
        }

        using (var loader = target.Store.BeginBulkLoad(latest))
        {
            StoreCopy.AddAllButGrants(source, latest, loader, ctx.Cancellation);

            foreach (var g in earlier.Grants(baseSync))
            {
                loader.Add(g);
            }

            loader.Complete(ctx.Cancellation);
        }

        if (!source.TryGetSyncRun(latest, out var latestRun))
        {
            throw new CliException($"the input lost sync {latest}");
        }

        target.Store.PutSyncRun(latestRun);
        var result = GrantExpander.ExpandIncremental(target.Store, latest, source, latest, changed, options, ctx.Cancellation);
        long grants = target.Store.Count(latest).Grants;
        target.Commit(ctx.Cancellation);
        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"expanded sync {latest} from the expansion of {baseSync}: {changed.Count} grants changed, {result.EntitlementsRecomputed} entitlements recomputed, {result.GrantsCreated} grants created, {result.GrantsUpdated} updated, {result.GrantsDeleted} deleted, {grants} grants in {sw.ElapsedMilliseconds} ms"));
        return 0;
    }
}

/// <summary>An <see cref="IProgress{T}"/> that runs its handler on the reporting thread (no synchronization context hop).</summary>
/// <typeparam name="T">The progress value.</typeparam>
/// <param name="handler">The handler.</param>
internal sealed class InlineProgress<T>(Action<T> handler) : IProgress<T>
{
    /// <inheritdoc/>
    public void Report(T value) => handler(value);
}
