using System.Diagnostics;
using System.Globalization;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Cli.Export;

/// <summary>The one-sync formats of <c>c1z export</c>: <c>csv</c> (a directory), <c>xlsx</c> (a workbook) and <c>c1z</c> (a new C1Z3 file).</summary>
internal static class OneSyncExport
{
    /// <summary>The formats handled here.</summary>
    public static readonly string[] Formats = ["csv", "xlsx", "c1z"];

    /// <summary>The <c>--help</c> text of these formats, columns included.</summary>
    public static string HelpText =>
        "--format csv --out DIR writes one CSV file per record type (UTF-8, header line, RFC 4180 quoting, control characters shown as escapes, cells starting with = + - @ tab or CR prefixed with '); "
        + "--format xlsx --out FILE.xlsx writes one sheet per record type with the header row frozen (cells are plain strings, never formulas; a table over 1,048,575 rows continues on a sheet \"NAME (2)\"); "
        + "--format c1z --out FILE.c1z writes the sync alone into a new C1Z3 file. These export one sync: --sync-id, default the latest finished sync.\n"
        + "Columns (multi-valued cells joined with ';', times UTC RFC 3339, empty when unset):\n"
        + ExportTables.Describe();

    /// <summary>Runs one export.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <param name="inPath">The input.</param>
    /// <param name="outPath">The output.</param>
    /// <param name="format">csv, xlsx or c1z.</param>
    /// <param name="syncText">The --sync-id value, or null for the latest finished sync.</param>
    /// <param name="force">Whether an existing output is replaced.</param>
    /// <returns>The exit code.</returns>
    public static int Run(CliContext ctx, string inPath, string outPath, string format, string? syncText, bool force)
    {
        bool directory = format == "csv";
        if (format == "c1z")
        {
            if (!StorePaths.IsFileOutput(outPath))
            {
                throw new CliException("--format c1z needs an output ending in .c1z");
            }

            StorePaths.PrepareOutput(outPath, force, inPath);
        }
        else
        {
            ExportTarget.Prepare(outPath, force, directory, inPath);
        }

        var sw = Stopwatch.StartNew();
        using var source = StorePaths.Open(inPath, readOnly: true);
        var sync = Select(source, inPath, syncText);
        long records;
        if (format == "c1z")
        {
            using var target = StorePaths.CreateOutput(outPath, force);
            records = StoreCopy.CopySync(source, sync, target.Store, sync, ctx.Cancellation).Total;
            target.Commit(ctx.Cancellation);
        }
        else
        {
            using var target = ExportTarget.Create(outPath, force, directory);
            var counts = directory
                ? SpreadsheetExport.WriteCsv(source, sync, target.WorkPath, ctx.Cancellation)
                : SpreadsheetExport.WriteXlsxAsync(source, sync, target.WorkPath, ctx.Cancellation).GetAwaiter().GetResult();
            target.Commit();
            foreach (var (table, rows) in counts)
            {
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{table}: {rows} rows"));
            }

            records = counts.Where(c => c.Table != "syncs").Sum(c => c.Rows);
        }

        ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done: sync {sync}, {records} records in {sw.ElapsedMilliseconds} ms"));
        return 0;
    }

    private static SyncId Select(IC1zStore store, string input, string? text)
    {
        if (text is null)
        {
            return store.LatestSync() ?? throw new CliException($"{input} holds no sync");
        }

        if (!SyncId.TryParse(text, out var id) || !store.TryGetSyncRun(id, out _))
        {
            throw new CliException($"no sync {text} in {input}");
        }

        return id;
    }
}
