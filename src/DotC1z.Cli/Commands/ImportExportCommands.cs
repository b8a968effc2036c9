using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DotC1z.Interop.Pebble;
using DotC1z.Format;
using DotC1z.Interop.V1;
using DotC1z.Storage;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z import</c>: a legacy v1 file into our store.</summary>
public static class ImportCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var input = new Option<string>("--in") { Description = "A legacy v1 c1z file (magic C1ZF) or a C1Z3 file written by baton's Pebble engine.", Required = true };
        var output = new Option<string>("--out") { Description = "Output: a .c1z file (C1Z3) or a store directory.", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace an existing output." };
        var command = new Command("import", "Import a c1z file baton wrote (a legacy v1 file with all its syncs, or a Pebble C1Z3 file) into our C1Z3 format.\n\nExample:\n  c1z import --in baton.c1z --out snapshot.c1z") { input, output, force };
        command.SetAction(parse =>
        {
            string inPath = parse.GetValue(input)!;
            string outPath = parse.GetValue(output)!;
            if (!File.Exists(inPath))
            {
                throw new CliException($"no such file: {inPath}");
            }

            bool v1 = V1File.IsV1File(inPath);
            if (!v1 && !(StoreOpener.IsC1z3File(inPath) && BatonPebbleFile.IsPebbleEngine(C1zContainer.ReadManifest(inPath).Engine)))
            {
                throw new CliException($"{inPath} is neither a legacy v1 c1z file (magic C1ZF) nor a C1Z3 file from baton's Pebble engine");
            }

            StorePaths.PrepareOutput(outPath, parse.GetValue(force), inPath);
            var sw = Stopwatch.StartNew();
            using var target = StorePaths.CreateOutput(outPath, parse.GetValue(force));
            V1ImportSummary summary;
            if (v1)
            {
                summary = V1Import.Import(inPath, target.Store, cancellationToken: ctx.Cancellation);
            }
            else
            {
                using var pebble = BatonPebbleFile.Open(inPath);
                var counts = pebble.Snapshot.CopyTo(target.Store, ctx.Cancellation);
                summary = new V1ImportSummary(pebble.Snapshot.Sync is { } s ? [(s, counts)] : []);
            }

            target.Commit(ctx.Cancellation);
            foreach (var (sync, counts) in summary.Syncs)
            {
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sync {sync}: {counts.ResourceTypes} resource types, {counts.Resources} resources, {counts.Entitlements} entitlements, {counts.Grants} grants, {counts.Assets} assets"));
            }

            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done: {summary.TotalRecords} records in {sw.ElapsedMilliseconds} ms"));
            return 0;
        });
        return command;
    }
}

/// <summary><c>c1z export</c>: our store to a v1 file (or to C1Z3).</summary>
public static class ExportCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var input = new Option<string>("--in") { Description = "A C1Z3 file, a v1 file or a store directory.", Required = true };
        var output = new Option<string>("--out") { Description = "The file to write (a directory for csv).", Required = true };
        var format = new Option<string>("--format") { Description = "v1 (baton's SQLite format, default) or c1z3: every sync; csv, xlsx or c1z: one sync.", DefaultValueFactory = _ => "v1" };
        format.AcceptOnlyFromAmong(["v1", "c1z3", .. Export.OneSyncExport.Formats]);
        var syncId = new Option<string?>("--sync-id") { Description = "The sync to export with csv, xlsx or c1z (default: the latest finished sync, else the latest)." };
        var force = new Option<bool>("--force") { Description = "Replace an existing output." };
        var command = new Command("export", "Export every sync to a legacy v1 file that baton reads, or to C1Z3; or one sync to CSV files, an XLSX workbook or a new C1Z3 file.\n" + Export.OneSyncExport.HelpText + "\nExample:\n  c1z export --in snapshot.c1z --out baton.c1z --format v1\n  c1z export --in snapshot.c1z --format csv --out snapshot-csv\n  c1z export --in snapshot.c1z --format xlsx --out snapshot.xlsx --sync-id 2jXzq3TmbyLhGkpZvVTaVhsQPQu") { input, output, format, syncId, force };
        command.SetAction(parse =>
        {
            string outPath = parse.GetValue(output)!;
            bool replace = parse.GetValue(force);
            if (Export.OneSyncExport.Formats.Contains(parse.GetValue(format)))
            {
                return Export.OneSyncExport.Run(ctx, parse.GetValue(input)!, outPath, parse.GetValue(format)!, parse.GetValue(syncId), replace);
            }

            if (parse.GetValue(syncId) is not null)
            {
                throw new CliException("--sync-id applies to --format csv, xlsx and c1z; v1 and c1z3 export every sync");
            }

            StorePaths.PrepareOutput(outPath, replace, parse.GetValue(input)!);
            var sw = Stopwatch.StartNew();
            using var source = StorePaths.Open(parse.GetValue(input)!, readOnly: true);
            long records = 0;
            if (parse.GetValue(format) == "v1")
            {
                records = V1Export.Export(source, outPath, new V1ExportOptions { Overwrite = replace }, ctx.Cancellation).Sum(s => s.Counts.Total);
            }
            else
            {
                using var target = StorePaths.CreateOutput(outPath.EndsWith(".c1z", StringComparison.OrdinalIgnoreCase) ? outPath : throw new CliException("--format c1z3 needs an output ending in .c1z"), replace);
                foreach (var run in source.ListSyncRuns())
                {
                    var sync = Keys.SyncId.Parse(run.SyncId);
                    records += StoreCopy.CopySync(source, sync, target.Store, sync, ctx.Cancellation).Total;
                }

                target.Commit(ctx.Cancellation);
            }

            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done: {records} records in {sw.ElapsedMilliseconds} ms"));
            return 0;
        });
        return command;
    }
}
