using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotC1z.Cli.Output;
using DotC1z.Records;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z access -t TYPE -r ID</c>: every entitlement a principal holds, directly or through grant expansion, with the path.</summary>
public static class AccessCommand
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var path = new Argument<string>("PATH") { Description = "A C1Z3 file (ours or baton's Pebble), a legacy v1 file or a store directory." };
        var type = new Option<string>("--resource-type", "-t") { Description = "The principal's resource type id (e.g. user).", Required = true };
        var resource = new Option<string>("--resource", "-r") { Description = "The principal's resource id.", Required = true };
        var sync = new Option<string?>("--sync-id", "--sync") { Description = "Sync id (default: the latest finished sync, else the latest)." };
        var format = new Option<string>("--format") { Description = "table (default), json (JSON Lines) or csv.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "json", "csv");
        type.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "the principal's resource type id"));
        resource.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "the principal's resource id"));
        sync.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a sync id"));
        var command = new Command(
            "access",
            "Every entitlement a principal holds, directly or through grant expansion, with one shortest path for each (`direct`, or `via group:eng member -> group:all member`). "
            + "An expanded file answers from its grants' sources; an unexpanded one is expanded for this principal only, in memory bounded by what it can reach (docs/CLI.md). "
            + "JSON rows: {\"entitlement\": {resourceTypeId, resourceId, entitlementId}, \"direct\", \"path\": [entitlement ids], \"via\", \"grant\": the stored grant when there is one}.\n\n"
            + "Example:\n  c1z access snapshot.c1z -t user -r alice\n  c1z access snapshot.c1z -t user -r alice --format json")
        {
            path, type, resource, sync, format,
        };
        command.SetAction(parse =>
        {
            string input = parse.GetValue(path)!;
            using var snapshot = C1zSnapshot.Open(input);
            var id = ListingOptions.ResolveSync(snapshot, input, parse.GetValue(sync));
            string principalType = parse.GetValue(type)!, principalId = parse.GetValue(resource)!;
            var result = EffectiveAccess.Resolve(snapshot, id, principalType, principalId, ctx.Cancellation);
            if (result.Entries.Count == 0 && !snapshot.Store.TryGetResource(id, principalType, principalId, out _))
            {
                CliApp.Warn(ctx, $"no resource {principalType}/{principalId} in sync {id} of {input}, and no grant to it");
            }

            var hops = new Dictionary<string, string>(StringComparer.Ordinal);
            string Hop(string entitlementId)
            {
                if (!hops.TryGetValue(entitlementId, out string? text))
                {
                    hops[entitlementId] = text = snapshot.Store.TryGetEntitlement(id, entitlementId, out var e) ? HopText(e) : entitlementId;
                }

                return text;
            }

            string Via(AccessEntry a) => a.Direct ? "direct" : "via " + string.Join(" -> ", a.Path.Select(Hop));
            var output = new RowOutput(ctx, parse.GetValue(format)!, ["entitlement", "resource type", "resource", "path"], ["entitlement_id", "resource_type_id", "resource_id", "path"]);
            foreach (var a in result.Entries)
            {
                if (output.IsJson)
                {
                    var row = new JsonObject
                    {
                        ["entitlement"] = new JsonObject { ["resourceTypeId"] = a.ResourceTypeId, ["resourceId"] = a.ResourceId, ["entitlementId"] = a.EntitlementId },
                        ["direct"] = a.Direct,
                        ["path"] = new JsonArray([.. a.Path.Select(p => (JsonNode?)JsonValue.Create(p))]),
                        ["via"] = Via(a),
                    };
                    if (a.Grant is { } g)
                    {
                        row["grant"] = JsonNode.Parse(RecordJson.Format(g));
                    }

                    output.Json(row.ToJsonString(Relaxed));
                }
                else
                {
                    output.Cells([a.EntitlementId, a.ResourceTypeId, a.ResourceId, Via(a)]);
                }
            }

            output.Finish();
            return 0;
        });
        return command;
    }

    /// <summary>One hop of a path: <c>TYPE:ID SLUG</c> (e.g. <c>group:eng member</c>), the slug taken from the record or from the id after its resource prefix.</summary>
    internal static string HopText(EntitlementRecord e)
    {
        string type = e.Resource?.ResourceTypeId ?? string.Empty, id = e.Resource?.ResourceId ?? string.Empty;
        string prefix = type + ":" + id + ":";
        string slug = e.Slug.Length > 0 ? e.Slug : e.ExternalId.StartsWith(prefix, StringComparison.Ordinal) ? e.ExternalId[prefix.Length..] : e.ExternalId;
        return type.Length == 0 && id.Length == 0 ? e.ExternalId : $"{type}:{id} {slug}";
    }
}
