using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Format;
using DotC1z.Storage;
using Google.Protobuf;
using Google.Protobuf.Reflection;

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

/// <summary><c>c1z grants</c>: the grants of one sync, optionally filtered.</summary>
public static class GrantsCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var path = new Argument<string>("PATH") { Description = "A C1Z3 file, a legacy v1 file or a store directory." };
        var sync = new Option<string?>("--sync") { Description = "Sync id (default: latest finished sync, else the latest)." };
        var entitlement = new Option<string?>("--entitlement") { Description = "Only grants of this entitlement id." };
        var principal = new Option<string?>("--principal") { Description = "Only grants of this principal, as TYPE/ID." };
        var format = new Option<string>("--format") { Description = "table (default), json (JSON Lines) or csv.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json", "csv");
        var skipBad = new Option<bool>("--skip-bad") { Description = "Report a grant that cannot be shown (one escaped stderr line each) and go on instead of stopping with exit code 1." };
        sync.Validators.Add(r => RequireNonEmpty(r, "--sync", "a sync id"));
        entitlement.Validators.Add(r => RequireNonEmpty(r, "--entitlement", "an entitlement id"));
        principal.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string?>();
            int slash = value?.IndexOf('/', StringComparison.Ordinal) ?? -1;
            if (value is not null && (slash <= 0 || slash == value.Length - 1))
            {
                r.AddError($"--principal must be TYPE/ID with both parts non-empty, got \"{value}\"");
            }
        });
        var command = new Command("grants", "List the grants of one sync.\n\nExample:\n  c1z grants snapshot.c1z --entitlement group:eng:member --format json") { path, sync, entitlement, principal, format, skipBad };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(path)!;
            using var store = StorePaths.Open(input, readOnly: true);
            string? syncText = parse.GetValue(sync);
            SyncId id;
            if (syncText is not null)
            {
                id = SyncId.Parse(syncText);
                if (!store.TryGetSyncRun(id, out _))
                {
                    throw new CliException($"no sync {syncText} in {input}");
                }
            }
            else
            {
                id = store.LatestSync() ?? throw new CliException($"{input} holds no sync");
            }

            string? ent = parse.GetValue(entitlement);
            string? prin = parse.GetValue(principal);
            IEnumerable<GrantRecord> grants;
            if (prin is not null)
            {
                int slash = prin.IndexOf('/', StringComparison.Ordinal);
                grants = store.GrantsByPrincipal(id, prin[..slash], prin[(slash + 1)..]);
                if (ent is not null)
                {
                    grants = grants.Where(g => g.Entitlement?.EntitlementId == ent);
                }
            }
            else
            {
                grants = ent is not null ? store.GrantsByEntitlement(id, ent) : store.Grants(id);
            }

            var listing = new Listing(ctx, input, id, parse.GetValue(skipBad));
            grants = listing.Guard(grants);
            switch (parse.GetValue(format))
            {
                case "json":
                    foreach (var g in grants)
                    {
                        string? line = listing.Render(g, r => Output.Printable.Json(GrantJson.Format(r)));
                        if (line is not null)
                        {
                            ctx.Out.WriteLine(line);
                        }
                    }

                    break;
                case "csv":
                    ctx.Out.WriteLine("external_id,entitlement_id,entitlement_resource_type,entitlement_resource,principal_type,principal_id");
                    foreach (var g in grants)
                    {
                        string? line = listing.Render(g, r => string.Join(',', Cells(r).Select(TableWriter.Csv)));
                        if (line is not null)
                        {
                            ctx.Out.WriteLine(line);
                        }
                    }

                    break;
                default:
                    TableWriter.Write(ctx, ["grant", "entitlement", "resource type", "resource", "principal type", "principal"], grants.Select(g => listing.Render(g, Cells)).OfType<IReadOnlyList<string>>());
                    break;
            }

            listing.Finish();
            return 0;
        });
        return command;
    }

    private static void RequireNonEmpty(System.CommandLine.Parsing.OptionResult r, string name, string what)
    {
        if (r.Tokens.Count > 0 && string.IsNullOrEmpty(r.GetValueOrDefault<string?>()))
        {
            r.AddError($"{name} is empty: give {what}");
        }
    }

    private static IReadOnlyList<string> Cells(GrantRecord g) =>
    [
        g.ExternalId, g.Entitlement?.EntitlementId ?? string.Empty, g.Entitlement?.ResourceTypeId ?? string.Empty, g.Entitlement?.ResourceId ?? string.Empty,
        g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty,
    ];

    /// <summary>
    /// One listing's handling of bad records (docs/CLI.md §2): a grant that cannot be shown stops the listing
    /// with one error line naming it, or with <c>--skip-bad</c> gets one warning line and the listing goes on,
    /// ending with a count. A record the store cannot decode stops the listing either way (the scan cannot step
    /// over it); the error names the last grant listed before it.
    /// </summary>
    private sealed class Listing(CliContext ctx, string input, SyncId sync, bool skipBad)
    {
        private long _skipped;

        public IEnumerable<GrantRecord> Guard(IEnumerable<GrantRecord> source)
        {
            using var e = source.GetEnumerator();
            string? last = null;
            while (true)
            {
                GrantRecord g;
                try
                {
                    if (!e.MoveNext())
                    {
                        yield break;
                    }

                    g = e.Current;
                }
                catch (InvalidProtocolBufferException ex)
                {
                    string where = last is null ? "the first grant" : $"the grant after \"{last}\"";
                    throw new CliException($"{input}: {where} of sync {sync}: record does not decode ({ex.Message}); the listing stops here{(skipBad ? " (--skip-bad cannot step over a record the store cannot read)" : string.Empty)}");
                }

                last = g.ExternalId;
                yield return g;
            }
        }

        /// <summary>Renders one grant, or reports it: null when it was skipped.</summary>
        public T? Render<T>(GrantRecord g, Func<GrantRecord, T> render)
            where T : class
        {
            try
            {
                return render(g);
            }
            catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidOperationException or ArgumentException or FormatException or InvalidCastException)
            {
                string problem = $"grant \"{g.ExternalId}\" of sync {sync} in {input}: {Problem(g, ex)}";
                if (!skipBad)
                {
                    throw new CliException(problem + " (use --skip-bad to list the others)");
                }

                _skipped++;
                CliApp.Warn(ctx, "skipped " + problem);
                return null;
            }
        }

        public void Finish()
        {
            if (_skipped > 0)
            {
                CliApp.Warn(ctx, string.Create(CultureInfo.InvariantCulture, $"{_skipped} bad grant(s) skipped in {input}"));
            }
        }

        private static string Problem(GrantRecord g, Exception ex)
        {
            foreach (var a in g.Annotations)
            {
                var descriptor = GrantJson.Find(a.TypeUrl);
                if (descriptor is null)
                {
                    continue;
                }

                try
                {
                    _ = descriptor.Parser.ParseFrom(a.Value);
                }
                catch (InvalidProtocolBufferException)
                {
                    return $"annotation {a.TypeUrl} does not decode";
                }
            }

            return ex is InvalidProtocolBufferException ? "record does not decode: " + ex.Message : "record cannot be shown: " + ex.Message;
        }
    }
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

/// <summary>Google.Protobuf canonical JSON for grants, with the c1.connector.v2 annotation types registered.</summary>
internal static class GrantJson
{
    private static readonly TypeRegistry Registry = TypeRegistry.FromFiles(Connector.V2.ConnectorReflection.Descriptor, Google.Protobuf.WellKnownTypes.StructReflection.Descriptor, Google.Protobuf.WellKnownTypes.WrappersReflection.Descriptor);
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(Registry));

    public static MessageDescriptor? Find(string typeUrl) => Registry.Find(Google.Protobuf.WellKnownTypes.Any.GetTypeName(typeUrl));

    public static string Format(GrantRecord grant)
    {
        if (grant.Annotations.All(a => Registry.Find(Google.Protobuf.WellKnownTypes.Any.GetTypeName(a.TypeUrl)) is not null))
        {
            return Formatter.Format(grant);
        }

        // An annotation of a type this build does not know cannot be rendered as JSON; show its type
        // URL and payload (base64) as a string value instead of failing the listing.
        var copy = grant.Clone();
        for (int i = 0; i < copy.Annotations.Count; i++)
        {
            var a = copy.Annotations[i];
            if (Registry.Find(Google.Protobuf.WellKnownTypes.Any.GetTypeName(a.TypeUrl)) is null)
            {
                copy.Annotations[i] = Google.Protobuf.WellKnownTypes.Any.Pack(new Google.Protobuf.WellKnownTypes.StringValue { Value = a.TypeUrl + ";base64," + a.Value.ToBase64() });
            }
        }

        return Formatter.Format(copy);
    }
}
