using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Format;
using DotC1z.Storage;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z stats</c>: per-sync counts.</summary>
public static class StatsCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var path = new Argument<string>("PATH") { Description = "A C1Z3 file, a legacy v1 file or a store directory." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var deep = new Option<bool>("--deep") { Description = "Count by reading every record instead of answering from the C1Z3 manifest's sync summaries." };
        var command = new Command("stats", "Per sync: id, type, started/ended, parent and record counts. A C1Z3 file (ours or baton's) answers from its manifest without decoding the payload unless --deep is given.\n\nExample:\n  c1z stats snapshot.c1z --json\n  c1z stats baton-sync.c1z --deep") { path, json, deep };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(path)!;
            var rows = parse.GetValue(deep) ? null : FromManifest(input);
            if (rows is null)
            {
                using var store = StorePaths.Open(input, readOnly: true);
                rows = store.ListSyncRuns().Select(run => (Run: run, Counts: SyncId.TryParse(run.SyncId, out var id) ? store.Count(id) : default)).ToList();
            }

            if (parse.GetValue(json))
            {
                var doc = new
                {
                    syncs = rows.Select(r => new Dictionary<string, object?>
                    {
                        ["id"] = r.Run.SyncId,
                        ["type"] = SyncTypeName(r.Run.Type),
                        ["started_at"] = r.Run.StartedAt?.ToDateTimeOffset().ToString("o", CultureInfo.InvariantCulture),
                        ["ended_at"] = r.Run.EndedAt?.ToDateTimeOffset().ToString("o", CultureInfo.InvariantCulture),
                        ["parent_sync_id"] = r.Run.ParentSyncId,
                        ["counts"] = new Dictionary<string, long>
                        {
                            ["resource_types"] = r.Counts.ResourceTypes,
                            ["resources"] = r.Counts.Resources,
                            ["entitlements"] = r.Counts.Entitlements,
                            ["grants"] = r.Counts.Grants,
                            ["assets"] = r.Counts.Assets,
                        },
                    }),
                };
                ctx.Out.WriteLine(Output.Printable.Json(JsonSerializer.Serialize(doc, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })));
                return 0;
            }

            TableWriter.Write(ctx, ["sync", "type", "started", "ended", "parent", "resource types", "resources", "entitlements", "grants", "assets"], rows.Select(r => (IReadOnlyList<string>)
            [
                r.Run.SyncId, SyncTypeName(r.Run.Type), Time(r.Run.StartedAt), Time(r.Run.EndedAt), r.Run.ParentSyncId,
                N(r.Counts.ResourceTypes), N(r.Counts.Resources), N(r.Counts.Entitlements), N(r.Counts.Grants), N(r.Counts.Assets),
            ]));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// The sync summaries of a C1Z3 manifest (ours carry counts, baton's carry its stats sidecar), or null when
    /// the path is not a C1Z3 file or its manifest has no summaries.
    /// </summary>
    private static List<(SyncRunRecord Run, RecordCounts Counts)>? FromManifest(string path)
    {
        if (!File.Exists(path) || !StoreOpener.IsC1z3File(path))
        {
            return null;
        }

        var manifest = C1zContainer.ReadManifest(path);
        if (manifest.SyncRuns.Count == 0)
        {
            return null;
        }

        return manifest.SyncRuns.Select(s => (
            new SyncRunRecord { SyncId = s.SyncId, Type = (SyncType)s.Type, StartedAt = s.StartedAt, EndedAt = s.EndedAt, ParentSyncId = s.ParentSyncId },
            s.Stats is { } st
                ? new RecordCounts(st.ResourceTypes, st.Resources, st.Entitlements, st.Grants, st.Assets)
                : new RecordCounts(s.ResourceTypes, s.Resources, s.Entitlements, s.Grants, s.Assets))).ToList();
    }

    internal static string SyncTypeName(SyncType t) => t switch
    {
        SyncType.Full => "full",
        SyncType.Partial => "partial",
        SyncType.ResourcesOnly => "resources_only",
        SyncType.PartialUpserts => "partial_upserts",
        SyncType.PartialDeletions => "partial_deletions",
        _ => "unspecified",
    };

    private static string Time(Google.Protobuf.WellKnownTypes.Timestamp? t) => t is null ? "-" : t.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);
}

/// <summary><c>c1z verify</c>: envelope, checksums and the index↔primary walk.</summary>
public static class VerifyCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var path = new Argument<string>("PATH") { Description = "A C1Z3 file, a legacy v1 file or a store directory." };
        var command = new Command("verify", "Full integrity check: envelope, checksums, every index entry against its primary record and back. Prints ok or fails with exit 1.\n\nExample:\n  c1z verify snapshot.c1z") { path };
        command.SetAction(parse =>
        {
            var report = C1zVerifier.Verify(parse.GetValue(path)!, ctx.Cancellation);
            if (!report.IsConsistent)
            {
                foreach (string problem in report.Problems)
                {
                    ctx.Err.WriteLine("  " + Output.Printable.Escape(problem));
                }

                throw new CliException($"{parse.GetValue(path)} is inconsistent: {report.Problems.Count} problem(s), first: {report.Problems[0]}");
            }

            ctx.Out.WriteLine("ok");
            return 0;
        });
        return command;
    }
}
