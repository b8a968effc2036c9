using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DotC1z.Cli.Output;
using DotC1z.Format;
using DotC1z.Format.Manifest;
using DotC1z.Keys;
using DotC1z.Operations;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z compact</c>: fold N snapshots (oldest first) into one compacted sync.</summary>
public static class CompactCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var inputs = new Argument<string[]>("INPUT") { Description = "Inputs, oldest first: C1Z3 files (ours or baton's), legacy v1 files or store directories. Each contributes its finished syncs in sync order.", Arity = ArgumentArity.ZeroOrMore };
        var baseOpt = new Option<string>("--base") { Description = "Two-input spelling: the older snapshot (same as the first INPUT)." };
        var applied = new Option<string>("--applied") { Description = "Two-input spelling: the newer snapshot (same as the second INPUT)." };
        var output = new Option<string>("--out") { Description = "Output: a .c1z file or a store directory.", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace an existing output." };
        var command = new Command(
            "compact",
            "Fold snapshots, oldest first, into one compacted sync: a full sync resets what came before it, partial-upserts syncs overlay, partial-deletions syncs delete; where two inputs hold one record the one discovered last wins (by discovered_at when both carry it, else the later input).\n\n"
            + "Example:\n  c1z compact --out merged.c1z monday.c1z tuesday-partial.c1z wednesday-partial.c1z\n  c1z compact --base monday.c1z --applied tuesday.c1z --out merged.c1z")
        { inputs, baseOpt, applied, output, force };
        command.SetAction(parse =>
        {
            var paths = Inputs(parse.GetValue(inputs), parse.GetValue(baseOpt), parse.GetValue(applied), atLeast: 1);
            string outPath = parse.GetValue(output)!;
            StorePaths.PrepareOutput(outPath, parse.GetValue(force), paths);
            var sw = Stopwatch.StartNew();
            var stores = new List<IC1zStore>();
            try
            {
                var sources = new List<SyncSource>();
                foreach (string path in paths)
                {
                    var store = StorePaths.OpenStreamed(path);
                    stores.Add(store);
                    var syncs = SyncSource.AllOf(store);
                    if (syncs.Count == 0)
                    {
                        throw new CliException($"{path} holds no sync");
                    }

                    sources.AddRange(syncs);
                }

                using var target = StorePaths.CreateStreamedOutput(outPath, parse.GetValue(force));
                var result = SyncCompactor.Compact(sources, target.Store, ctx.Cancellation);
                target.Commit(ctx.Cancellation);
                var c = result.Counts;
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"compacted sync {result.Output} ({TypeName(result.Type)}): {c.ResourceTypes} resource types, {c.Resources} resources, {c.Entitlements} entitlements, {c.Grants} grants, {c.Assets} assets in {sw.ElapsedMilliseconds} ms"));
                string skipped = result.InputsSkipped > 0 ? string.Create(CultureInfo.InvariantCulture, $", {result.InputsSkipped} earlier syncs replaced by a later full sync") : string.Empty;
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"inputs: {result.InputsUsed} syncs merged from {paths.Length} inputs{skipped}"));
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"grants: {result.GrantsCopiedAsStored} copied as stored (byte-level), {c.Grants - result.GrantsCopiedAsStored} decoded and re-encoded"));
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"conflicts: {result.ByDiscoveredAt} decided by discovered_at ({result.ByDiscoveredAtOlderInput} kept an earlier input's record), {result.ByInputOrder} by input order (a record without discovered_at); {result.Deleted} records deleted by deletions syncs"));
                return 0;
            }
            finally
            {
                foreach (var store in stores)
                {
                    store.Dispose();
                }
            }
        });
        return command;
    }

    /// <summary>Positional inputs or the two-input spelling, not both.</summary>
    internal static string[] Inputs(string[]? positional, string? baseOpt, string? applied, int atLeast)
    {
        positional ??= [];
        if (baseOpt is not null || applied is not null)
        {
            if (positional.Length > 0)
            {
                throw new CliException("give the inputs either as arguments or as --base/--applied, not both");
            }

            if (baseOpt is null || applied is null)
            {
                throw new CliException("--base and --applied go together");
            }

            return [baseOpt, applied];
        }

        if (positional.Length < atLeast)
        {
            throw new CliException(atLeast == 1 ? "no input: give at least one snapshot" : $"give {atLeast} inputs (or --base and --applied)");
        }

        return positional;
    }

    internal static string TypeName(SyncType type) => type switch
    {
        SyncType.Full => "full",
        SyncType.PartialUpserts => "partial_upserts",
        SyncType.PartialDeletions => "partial_deletions",
        _ => type.ToString().ToLowerInvariant(),
    };
}

/// <summary><c>c1z diff</c>: what applied adds, changes and removes relative to base.</summary>
public static class DiffCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var inputs = new Argument<string[]>("BASE APPLIED") { Description = "The older and the newer snapshot (their latest syncs): C1Z3 files (ours or baton's), legacy v1 files or store directories.", Arity = new ArgumentArity(0, 2) };
        var baseOpt = new Option<string>("--base") { Description = "The older snapshot (instead of the first argument)." };
        var applied = new Option<string>("--applied") { Description = "The newer snapshot (instead of the second argument)." };
        var output = new Option<string>("--out") { Description = "Write the changes as a .c1z file or store directory with two syncs: additions (partial_upserts) and deletions (partial_deletions)." };
        var format = new Option<string>("--format") { Description = "Print a report: json (baton's C1ZDiffOutput shape, plus resource types, assets and changed fields) or summary (a line per record type). Default: summary when --out is not given." };
        format.AcceptOnlyFromAmong("json", "summary");
        var countOnly = new Option<bool>("--count-only") { Description = "Compare record counts (and grant digests where both files carry them) without reading records or writing anything." };
        var force = new Option<bool>("--force") { Description = "Replace an existing --out." };
        var command = new Command(
            "diff",
            "What APPLIED adds, changes and removes relative to BASE: a report (--format) and/or the changes as two syncs (--out). Both inputs are streamed side by side; they may carry the same sync id.\n\n"
            + "Example:\n  c1z diff monday.c1z tuesday.c1z --format json > changes.json\n  c1z diff --base monday.c1z --applied tuesday.c1z --out changes.c1z\n  c1z diff monday.c1z tuesday.c1z --count-only")
        { inputs, baseOpt, applied, output, format, countOnly, force };
        command.SetAction(parse =>
        {
            var paths = CompactCommand.Inputs(parse.GetValue(inputs), parse.GetValue(baseOpt), parse.GetValue(applied), atLeast: 2);
            if (paths.Length != 2)
            {
                throw new CliException("diff takes exactly two inputs");
            }

            string? outPath = parse.GetValue(output);
            string? fmt = parse.GetValue(format);
            if (parse.GetValue(countOnly))
            {
                if (outPath is not null || fmt is not null)
                {
                    throw new CliException("--count-only reads no records and writes nothing: it does not combine with --out or --format");
                }

                CountOnly(ctx, paths[0], paths[1]);
                return 0;
            }

            fmt ??= outPath is null ? "summary" : null;
            if (outPath is not null)
            {
                StorePaths.PrepareOutput(outPath, parse.GetValue(force), paths);
            }

            using var b = StorePaths.OpenStreamed(paths[0]);
            using var a = StorePaths.OpenStreamed(paths[1]);
            var bs = new SyncSource(b, b.LatestSync() ?? throw new CliException("the base holds no sync"));
            var asy = new SyncSource(a, a.LatestSync() ?? throw new CliException("the applied input holds no sync"));
            if (outPath is not null)
            {
                using var target = StorePaths.CreateStreamedOutput(outPath, parse.GetValue(force));
                var result = SyncDiff.Diff(bs, asy, target.Store, ctx.Cancellation);
                target.Commit(ctx.Cancellation);
                var log = fmt is null ? ctx.Out : ctx.Err;
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"additions sync {result.Additions}: {result.AddedCounts.Total} records ({result.AddedCounts.Grants} grants)"));
                log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"deletions sync {result.Deletions}: {result.DeletedCounts.Total} records ({result.DeletedCounts.Grants} grants)"));
            }

            if (fmt == "json")
            {
                using var report = new DiffJsonReport();
                SyncDiff.Compare(bs, asy, report, ctx.Cancellation);
                report.WriteTo(ctx.Out);
            }
            else if (fmt == "summary")
            {
                DiffSummary.Write(ctx.Out, SyncDiff.Compare(bs, asy, null, ctx.Cancellation));
            }

            return 0;
        });
        return command;
    }

    /// <summary>Counts (and grant digests) from the files' manifests where they carry them, else counted from the store.</summary>
    private static void CountOnly(CliContext ctx, string basePath, string appliedPath)
    {
        var b = SnapshotCounts.Read(basePath);
        var a = SnapshotCounts.Read(appliedPath);
        ctx.Out.WriteLine($"base: sync {b.Sync} ({b.Source}); applied: sync {a.Sync} ({a.Source})");
        for (int i = 0; i < RecordKinds.All.Count; i++)
        {
            var kind = RecordKinds.All[i];
            long x = kind.CountIn(b.Counts);
            long y = kind.CountIn(a.Counts);
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind.Name}: {x} -> {y} ({y - x:+0;-0;+0})"));
        }

        string verdict = b.Digest is { } bd && a.Digest is { } ad
            ? bd == ad ? "equal: the same grants (identity and sources)" : "differ: the grants changed" + EntitlementsChanged(b, a)
            : "not carried by both files: compare with --format summary";
        ctx.Out.WriteLine("grant digests: " + verdict);
    }

    /// <summary>Where both manifests carry per-entitlement digests: in how many entitlements the grants differ.</summary>
    private static string EntitlementsChanged(SnapshotCounts b, SnapshotCounts a)
    {
        if (b.Entitlements is not { Count: > 0 } x || a.Entitlements is not { Count: > 0 } y)
        {
            return string.Empty;
        }

        int changed = x.Keys.Union(y.Keys, StringComparer.Ordinal).Count(e => !x.TryGetValue(e, out var p) || !y.TryGetValue(e, out var q) || p != q);
        return string.Create(CultureInfo.InvariantCulture, $" in {changed} of {x.Keys.Union(y.Keys, StringComparer.Ordinal).Count()} entitlements");
    }
}

/// <summary>A snapshot's latest sync, its counts and its grant digest, read without loading records where the file allows.</summary>
internal sealed record SnapshotCounts(string Sync, RecordCounts Counts, GrantDigest? Digest, string Source)
{
    /// <summary>Per-entitlement digests from our manifest, when it carries them.</summary>
    public IReadOnlyDictionary<string, GrantDigest>? Entitlements { get; init; }

    public static SnapshotCounts Read(string path)
    {
        if (File.Exists(path) && StoreOpener.IsC1z3File(path))
        {
            var manifest = C1zContainer.ReadManifest(path);
            var summary = Latest(manifest.SyncRuns);
            if (summary is not null)
            {
                bool ours = manifest.Engine == C1zEnvelope.EngineName;
                if (ours && summary.GrantDigest is not null)
                {
                    return new SnapshotCounts(summary.SyncId, new RecordCounts(summary.ResourceTypes, summary.Resources, summary.Entitlements, summary.Grants, summary.Assets), ToDigest(summary.GrantDigest), "manifest")
                    {
                        Entitlements = summary.EntitlementGrantDigests.Count == 0 ? null : summary.EntitlementGrantDigests.ToDictionary(
                            e => e.EntitlementId,
                            e => ManifestDigests.TryRead(e, out var d) ? d : default,
                            StringComparer.Ordinal),
                    };
                }

                if (!ours && summary.Stats is { } stats)
                {
                    var root = manifest.SyncRuns.Count == 1 ? manifest.GrantDigestRoot : null;
                    return new SnapshotCounts(summary.SyncId, new RecordCounts(stats.ResourceTypes, stats.Resources, stats.Entitlements, stats.Grants, stats.Assets), root is null ? null : ToDigest(root), "manifest");
                }
            }
        }

        using var store = StorePaths.OpenStreamed(path);
        var sync = store.LatestSync() ?? throw new CliException($"{path} holds no sync");
        return new SnapshotCounts(sync.ToString(), store.Count(sync), null, "counted");
    }

    private static GrantDigest? ToDigest(GrantDigestRoot root) => ManifestDigests.TryRead(root, out var digest) ? digest : null;

    /// <summary>The summary of the sync read commands use by default: the latest finished (by end time, then id), else the latest id.</summary>
    private static SyncRunSummary? Latest(IEnumerable<SyncRunSummary> summaries)
    {
        SyncRunSummary? finished = null;
        SyncRunSummary? any = null;
        foreach (var s in summaries.Where(s => SyncId.TryParse(s.SyncId, out _)))
        {
            if (any is null || string.CompareOrdinal(s.SyncId, any.SyncId) > 0)
            {
                any = s;
            }

            if (s.EndedAt is not null && (finished is null || s.EndedAt.CompareTo(finished.EndedAt) > 0 || (s.EndedAt.Equals(finished.EndedAt) && string.CompareOrdinal(s.SyncId, finished.SyncId) > 0)))
            {
                finished = s;
            }
        }

        return finished ?? any;
    }
}
