using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotC1z.Cli.Output;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Cli.Commands;

/// <summary>
/// <c>c1z principals (-e ENTITLEMENT | -t TYPE -r RESOURCE)</c>: who holds an entitlement, or any entitlement
/// of a resource, one row per grant; and <c>c1z principals compare</c>.
/// </summary>
public static class PrincipalsCommand
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var o = new ListingOptions();
        var entitlement = new Option<string?>("--entitlement", "-e") { Description = "The entitlement id whose holders are listed." };
        var type = new Option<string?>("--resource-type", "-t") { Description = "With -r: the resource type id of the resource whose entitlements' holders are listed." };
        var resource = new Option<string?>("--resource", "-r") { Description = "With -t: the resource id." };
        entitlement.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "an entitlement id"));
        type.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a resource type id"));
        resource.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a resource id"));
        var command = new Command(
            "principals",
            "List the principals holding one entitlement (-e), or any entitlement of one resource (-t and -r): one row per grant, with the principal's display name. "
            + "JSON rows are {\"entitlementId\": …, \"principal\": the principal's resource record (canonical JSON; only its type and id when the sync has no such resource)}.\n\n"
            + "Example:\n  c1z principals snapshot.c1z -e group:eng:member\n  c1z principals snapshot.c1z -t app -r github --format csv\n  c1z principals compare snapshot.c1z -e app:github:admin --compare-entitlement group:eng:member");
        o.AddTo(command);
        command.Options.Add(entitlement);
        command.Options.Add(type);
        command.Options.Add(resource);
        command.Validators.Add(r =>
        {
            bool e = r.GetValue(entitlement) is not null, t = r.GetValue(type) is not null, res = r.GetValue(resource) is not null;
            if (e == (t || res))
            {
                r.AddError("give either -e ENTITLEMENT or both -t TYPE and -r RESOURCE");
            }
            else if (!e && t != res)
            {
                r.AddError("-t and -r go together: the resource type id and the resource id");
            }
        });
        command.Subcommands.Add(CompareCommand(ctx));
        command.SetAction(parse => ListingRunner.Execute(
            ctx,
            parse,
            o,
            (snapshot, sync) => View(snapshot, sync),
            (_, _) => parse.GetValue(entitlement) is { } e
                ? (RecordListing.GrantsByEntitlement(e), null)
                : (RecordListing.GrantsByResource(parse.GetValue(type)!, parse.GetValue(resource)!), null)));
        return command;
    }

    private static RecordView<GrantRecord> View(C1zSnapshot snapshot, SyncId sync)
    {
        ResourceRecord? Principal(GrantRecord g) =>
            g.Principal is { } p && snapshot.Store.TryGetResource(sync, p.ResourceTypeId, p.ResourceId, out var r) ? r : null;
        return new(
            "grant",
            g => g.ExternalId,
            ["principal type", "principal", "display name", "entitlement"],
            ["principal_type", "principal_id", "display_name", "entitlement_id"],
            g => [g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty, Principal(g)?.DisplayName ?? string.Empty, g.Entitlement?.EntitlementId ?? string.Empty],
            g =>
            {
                var resource = Principal(g) ?? new ResourceRecord { ResourceTypeId = g.Principal?.ResourceTypeId ?? string.Empty, ResourceId = g.Principal?.ResourceId ?? string.Empty };
                var row = new JsonObject
                {
                    ["entitlementId"] = g.Entitlement?.EntitlementId ?? string.Empty,
                    ["principal"] = JsonNode.Parse(RecordJson.Format(resource)),
                };
                return row.ToJsonString(Relaxed);
            });
    }

    /// <summary><c>c1z principals compare</c>: principals holding one entitlement and not another, both ways.</summary>
    private static Command CompareCommand(CliContext ctx)
    {
        var path = new Argument<string>("PATH") { Description = "A C1Z3 file (ours or baton's Pebble), a legacy v1 file or a store directory." };
        var entitlement = new Option<string>("--entitlement", "-e") { Description = "The first entitlement id (in PATH).", Required = true };
        var compare = new Option<string>("--compare-entitlement") { Description = "The second entitlement id (in --compare-file when given, else in PATH).", Required = true };
        var compareFile = new Option<string?>("--compare-file") { Description = "Read the second entitlement from this snapshot instead of PATH." };
        var sync = new Option<string?>("--sync-id", "--sync") { Description = "Sync of PATH (default: the latest finished sync, else the latest)." };
        var compareSync = new Option<string?>("--compare-sync-id") { Description = "Sync of the compared snapshot (default: its latest finished sync, else the latest)." };
        var format = new Option<string>("--format") { Description = "table (default), json (JSON Lines) or csv.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json", "csv");
        entitlement.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "an entitlement id"));
        compare.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "an entitlement id"));
        sync.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a sync id"));
        compareSync.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a sync id"));
        var command = new Command(
            "compare",
            "Principals holding one entitlement and not the other, both ways: rows marked `first` hold --entitlement but not --compare-entitlement, rows marked `second` the reverse. "
            + "Both grant listings are read in principal order and merged, so memory stays bounded. A principal counts as holding an entitlement when the sync has a grant of it to the principal "
            + "(in an unexpanded file that is direct grants only; run `c1z expand` first to compare effective access).\n\n"
            + "Example:\n  c1z principals compare snapshot.c1z -e app:github:admin --compare-entitlement group:eng:member\n  c1z principals compare before.c1z -e app:github:admin --compare-entitlement app:github:admin --compare-file after.c1z --format csv")
        {
            path, entitlement, compare, compareFile, sync, compareSync, format,
        };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(path)!;
            using var first = C1zSnapshot.Open(input);
            var firstSync = ListingOptions.ResolveSync(first, input, parse.GetValue(sync));
            string? other = parse.GetValue(compareFile);
            using var second = other is null ? null : C1zSnapshot.Open(other);
            var secondSync = second is null ? firstSync : ListingOptions.ResolveSync(second, other!, parse.GetValue(compareSync));
            string e1 = parse.GetValue(entitlement)!, e2 = parse.GetValue(compare)!;
            var output = new RowOutput(ctx, parse.GetValue(format)!, ["only in", "entitlement", "principal type", "principal"], ["only_in", "entitlement_id", "principal_type", "principal_id"]);
            foreach (var (side, principal) in Compare(Principals(first, firstSync, e1, input, ctx.Cancellation), Principals(second ?? first, secondSync, e2, other ?? input, ctx.Cancellation)))
            {
                string held = side == "first" ? e1 : e2;
                if (output.IsJson)
                {
                    var row = new JsonObject
                    {
                        ["onlyIn"] = side,
                        ["entitlementId"] = held,
                        ["principal"] = new JsonObject { ["resourceTypeId"] = principal.Type, ["resourceId"] = principal.Id },
                    };
                    output.Json(row.ToJsonString(Relaxed));
                }
                else
                {
                    output.Cells([side, held, principal.Type, principal.Id]);
                }
            }

            output.Finish();
            return 0;
        });
        return command;
    }

    /// <summary>The distinct principals holding an entitlement, in listing order (principal type, then id, UTF-8 ordinal).</summary>
    private static IEnumerable<(string Type, string Id)> Principals(C1zSnapshot snapshot, SyncId sync, string entitlementId, string input, CancellationToken ct)
    {
        (string Type, string Id)? last = null;
        foreach (var g in snapshot.List(RecordListing.GrantsByEntitlement(entitlementId), sync, ct))
        {
            var key = (g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty);
            if (last is { } l)
            {
                int c = ComparePrincipals(l, key);
                if (c == 0)
                {
                    continue;
                }

                if (c > 0)
                {
                    throw new CliException($"{input}: the grants of {entitlementId} are not in principal order; cannot compare");
                }
            }

            last = key;
            yield return key;
        }
    }

    /// <summary>A sorted merge of two sorted, distinct principal streams: what only one of them holds.</summary>
    internal static IEnumerable<(string Side, (string Type, string Id) Principal)> Compare(IEnumerable<(string Type, string Id)> a, IEnumerable<(string Type, string Id)> b)
    {
        using var x = a.GetEnumerator();
        using var y = b.GetEnumerator();
        bool hasX = x.MoveNext(), hasY = y.MoveNext();
        while (hasX || hasY)
        {
            int c = !hasX ? 1 : !hasY ? -1 : ComparePrincipals(x.Current, y.Current);
            if (c < 0)
            {
                yield return ("first", x.Current);
                hasX = x.MoveNext();
            }
            else if (c > 0)
            {
                yield return ("second", y.Current);
                hasY = y.MoveNext();
            }
            else
            {
                hasX = x.MoveNext();
                hasY = y.MoveNext();
            }
        }
    }

    private static int ComparePrincipals((string Type, string Id) a, (string Type, string Id) b)
    {
        int c = Utf8Ordinal.Instance.Compare(a.Type, b.Type);
        return c != 0 ? c : Utf8Ordinal.Instance.Compare(a.Id, b.Id);
    }
}
