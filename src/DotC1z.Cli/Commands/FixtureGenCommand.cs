using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DotC1z.Bench;
using DotC1z.Keys;
using DotC1z.Records;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z fixture-gen</c>: a deterministic synthetic sync.</summary>
public static class FixtureGenCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var output = new Option<string>("--out") { Description = "Output: a .c1z file (C1Z3) or a store directory. Must not exist.", Required = true };
        var grants = new Option<long>("--grants") { Description = "Number of grants.", Required = true };
        var entitlements = new Option<int>("--entitlements") { Description = "Distinct entitlements (default 100).", DefaultValueFactory = _ => 100 };
        var principals = new Option<int>("--principals") { Description = "Distinct principals (default 1000).", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "PRNG seed (default 1).", DefaultValueFactory = _ => 1 };
        var syncId = new Option<string?>("--sync-id") { Description = "Sync id (27-char KSUID); default derived from the seed." };
        var format = new Option<string?>("--format") { Description = "c1z or dir; default from the extension of --out." };
        format.AcceptOnlyFromAmong("c1z", "dir");
        var command = new Command("fixture-gen", "Generate a deterministic synthetic sync.\n\nExample:\n  c1z fixture-gen --out fixture.c1z --grants 1000000 --seed 7")
        {
            output, grants, entitlements, principals, seed, syncId, format,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(output)!;
            var spec = new FixtureSpec(parse.GetValue(grants), parse.GetValue(entitlements), parse.GetValue(principals), parse.GetValue(seed));
            if (spec.Grants < 0 || spec.Entitlements <= 0 || spec.Principals <= 0)
            {
                throw new CliException("--grants must be ≥ 0, --entitlements and --principals > 0");
            }

            string? syncText = parse.GetValue(syncId);
            var sync = syncText is null ? spec.DefaultSyncId() : SyncId.Parse(syncText);
            string? fmt = parse.GetValue(format);
            bool asFile = fmt is null ? StorePaths.IsFileOutput(path) : fmt == "c1z";
            if (fmt is not null && asFile != StorePaths.IsFileOutput(path))
            {
                throw new CliException(asFile ? "--format c1z needs an output path ending in .c1z" : "--format dir needs an output path not ending in .c1z");
            }

            StorePaths.PrepareOutput(path, force: false);
            var sw = Stopwatch.StartNew();
            using var target = StorePaths.CreateOutput(path);
            var store = target.Store;
            store.PutSyncRun(new SyncRunRecord { SyncId = sync.ToString(), Type = SyncType.Full, StartedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)) });
            using var reporter = new ProgressReporter(ctx, "grants", spec.Grants);
            FixtureGenerator.Load(store, sync, spec, reporter.Report, ctx.Cancellation);
            var run = store.TryGetSyncRun(sync, out var r) ? r : throw new InvalidOperationException("sync run vanished");
            run.EndedAt = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 1, TimeSpan.Zero));
            store.PutSyncRun(run);
            store.Flush();
            target.Commit(ctx.Cancellation);
            sw.Stop();
            double rate = spec.Grants / Math.Max(sw.Elapsed.TotalSeconds, 1e-9);
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done: {spec.Grants} grants in {sw.ElapsedMilliseconds} ms ({rate:F0} r/s)"));
            return 0;
        });
        return command;
    }
}
