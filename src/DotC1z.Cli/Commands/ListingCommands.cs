using System.CommandLine;
using DotC1z.Cli.Output;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Cli.Commands;

/// <summary>The record views of the listing commands: table headers, CSV columns (stable, documented in docs/CLI.md) and JSON.</summary>
internal static class Views
{
    public static readonly RecordView<ResourceTypeRecord> ResourceType = new(
        "resource type",
        r => r.ExternalId,
        ["id", "display name", "traits", "description"],
        ["id", "display_name", "traits", "description"],
        r => [r.ExternalId, r.DisplayName, string.Join(' ', r.Traits), r.Description],
        RecordJson.Format);

    public static readonly RecordView<ResourceRecord> Resource = new(
        "resource",
        r => r.ResourceTypeId + "/" + r.ResourceId,
        ["type", "id", "display name", "parent type", "parent"],
        ["resource_type_id", "resource_id", "display_name", "parent_resource_type_id", "parent_resource_id"],
        r => [r.ResourceTypeId, r.ResourceId, r.DisplayName, r.Parent?.ResourceTypeId ?? string.Empty, r.Parent?.ResourceId ?? string.Empty],
        RecordJson.Format);

    public static readonly RecordView<EntitlementRecord> Entitlement = new(
        "entitlement",
        e => e.ExternalId,
        ["id", "display name", "resource type", "resource", "slug", "purpose"],
        ["id", "display_name", "resource_type_id", "resource_id", "slug", "purpose"],
        e => [e.ExternalId, e.DisplayName, e.Resource?.ResourceTypeId ?? string.Empty, e.Resource?.ResourceId ?? string.Empty, e.Slug, e.Purpose],
        RecordJson.Format);

    public static readonly RecordView<GrantRecord> Grant = new(
        "grant",
        g => g.ExternalId,
        ["grant", "entitlement", "resource type", "resource", "principal type", "principal"],
        ["external_id", "entitlement_id", "entitlement_resource_type", "entitlement_resource", "principal_type", "principal_id"],
        g =>
        [
            g.ExternalId, g.Entitlement?.EntitlementId ?? string.Empty, g.Entitlement?.ResourceTypeId ?? string.Empty, g.Entitlement?.ResourceId ?? string.Empty,
            g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty,
        ],
        GrantJson.Format);
}

/// <summary><c>c1z resource-types</c>.</summary>
public static class ResourceTypesCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var o = new ListingOptions();
        var command = new Command("resource-types", "List the resource types of one sync.\n\nExample:\n  c1z resource-types snapshot.c1z\n  c1z resource-types snapshot.c1z --format json --sync-id 2Yh0aWQAAAAAAAAAAAAAAAAAAAA");
        o.AddTo(command);
        command.SetAction(parse => ListingRunner.Execute(ctx, parse, o, (_, _) => Views.ResourceType, (_, _) => (RecordListing.ResourceTypes(), null)));
        return command;
    }
}

/// <summary><c>c1z resources [-t TYPE]</c>.</summary>
public static class ResourcesCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var o = new ListingOptions();
        var type = new Option<string?>("--resource-type", "-t") { Description = "Only resources of this resource type id." };
        type.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a resource type id"));
        var command = new Command("resources", "List the resources of one sync, optionally of one resource type.\n\nExample:\n  c1z resources snapshot.c1z -t user\n  c1z resources snapshot.c1z --format csv > resources.csv");
        o.AddTo(command);
        command.Options.Add(type);
        command.SetAction(parse => ListingRunner.Execute(ctx, parse, o, (_, _) => Views.Resource, (_, _) =>
        {
            string? t = parse.GetValue(type);
            return (t is null ? RecordListing.Resources() : RecordListing.ResourcesByType(t), null);
        }));
        return command;
    }
}

/// <summary><c>c1z entitlements [-t TYPE] [-r RESOURCE]</c>.</summary>
public static class EntitlementsCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var o = new ListingOptions();
        var type = new Option<string?>("--resource-type", "-t") { Description = "Only entitlements on resources of this resource type id." };
        var resource = new Option<string?>("--resource", "-r") { Description = "Only entitlements on this resource id (needs -t)." };
        type.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a resource type id"));
        resource.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a resource id"));
        var command = new Command("entitlements", "List the entitlements of one sync, optionally of one resource type or one resource.\n\nExample:\n  c1z entitlements snapshot.c1z -t group -r eng\n  c1z entitlements snapshot.c1z -t app --format json");
        o.AddTo(command);
        command.Options.Add(type);
        command.Options.Add(resource);
        command.Validators.Add(r =>
        {
            if (r.GetValue(resource) is not null && r.GetValue(type) is null)
            {
                r.AddError("-r/--resource needs -t/--resource-type (a resource id is scoped by its type)");
            }
        });
        command.SetAction(parse => ListingRunner.Execute(ctx, parse, o, (_, _) => Views.Entitlement, (_, _) =>
        {
            string? t = parse.GetValue(type);
            string? r = parse.GetValue(resource);
            return r is not null
                ? (RecordListing.EntitlementsByResource(t!, r), null)
                : (RecordListing.Entitlements(), t is null ? null : e => (e.Resource?.ResourceTypeId ?? string.Empty) == t);
        }));
        return command;
    }
}

/// <summary><c>c1z grants [-t TYPE] [-r RESOURCE | -e ENTITLEMENT] [--principal TYPE/ID]</c>.</summary>
public static class GrantsCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var o = new ListingOptions();
        var type = new Option<string?>("--resource-type", "-t") { Description = "Only grants of entitlements on resources of this resource type id." };
        var resource = new Option<string?>("--resource", "-r") { Description = "Only grants of entitlements on this resource id (needs -t)." };
        var entitlement = new Option<string?>("--entitlement", "-e") { Description = "Only grants of this entitlement id." };
        var principal = new Option<string?>("--principal") { Description = "Only grants of this principal, as TYPE/ID." };
        type.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a resource type id"));
        resource.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "a resource id"));
        entitlement.Validators.Add(r => ListingOptions.RequireNonEmpty(r, "an entitlement id"));
        principal.Validators.Add(ListingOptions.RequireTypeSlashId);
        var command = new Command("grants", "List the grants of one sync, optionally of one resource type, resource, entitlement or principal.\n\nExample:\n  c1z grants snapshot.c1z -e group:eng:member --format json\n  c1z grants snapshot.c1z --principal user/alice\n  c1z grants snapshot.c1z -t app -r github --limit 50");
        o.AddTo(command);
        command.Options.Add(type);
        command.Options.Add(resource);
        command.Options.Add(entitlement);
        command.Options.Add(principal);
        command.Validators.Add(r =>
        {
            if (r.GetValue(resource) is not null && r.GetValue(type) is null)
            {
                r.AddError("-r/--resource needs -t/--resource-type (a resource id is scoped by its type)");
            }

            if (r.GetValue(resource) is not null && r.GetValue(entitlement) is not null)
            {
                r.AddError("give -r/--resource or -e/--entitlement, not both");
            }
        });
        command.SetAction(parse => ListingRunner.Execute(ctx, parse, o, (_, _) => Views.Grant, (_, _) =>
        {
            string? t = parse.GetValue(type);
            string? r = parse.GetValue(resource);
            string? e = parse.GetValue(entitlement);
            string? p = parse.GetValue(principal);
            bool OnResource(GrantRecord g) => (t is null || (g.Entitlement?.ResourceTypeId ?? string.Empty) == t) && (r is null || (g.Entitlement?.ResourceId ?? string.Empty) == r);
            if (p is not null)
            {
                var (pt, pid) = ListingOptions.SplitTypeSlashId(p);
                return (RecordListing.GrantsByPrincipal(pt, pid), t is null && e is null ? null : g => OnResource(g) && (e is null || g.Entitlement?.EntitlementId == e));
            }

            if (e is not null)
            {
                return (RecordListing.GrantsByEntitlement(e), t is null ? null : OnResource);
            }

            return (t, r) switch
            {
                (null, _) => (RecordListing.Grants(), null),
                (_, null) => (RecordListing.GrantsByResourceType(t!), null),
                _ => (RecordListing.GrantsByResource(t!, r), null),
            };
        }));
        return command;
    }
}

/// <summary><c>c1z syncs</c>: the sync runs of a snapshot.</summary>
public static class SyncsCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var o = new ListingOptions(paging: false, skipBad: false);
        var command = new Command("syncs", "List the sync runs of a snapshot (id, type, start, end, parent), in the store's order. --sync-id shows only that sync; a file holds few syncs, so there is no --page-token.\n\nExample:\n  c1z syncs snapshot.c1z\n  c1z syncs snapshot.c1z --format json");
        o.AddTo(command);
        command.SetAction(parse =>
        {
            string input = parse.GetValue(o.Path)!;
            using var snapshot = C1zSnapshot.Open(input);
            IEnumerable<SyncRunRecord> runs = snapshot.SyncRuns();
            if (parse.GetValue(o.Sync) is { } only)
            {
                _ = ListingOptions.ResolveSync(snapshot, input, only);
                runs = runs.Where(r => r.SyncId == only);
            }

            if (parse.GetValue(o.Limit) is int limit)
            {
                runs = runs.Take(limit);
            }

            string format = parse.GetValue(o.Format)!;
            var output = new RowOutput(ctx, format, ["sync", "type", "started", "ended", "parent"], ["sync_id", "type", "started_at", "ended_at", "parent_sync_id"]);
            foreach (var run in runs)
            {
                if (output.IsJson)
                {
                    output.Json(RecordJson.Format(run));
                }
                else
                {
                    bool csv = format == "csv";
                    output.Cells([run.SyncId, StatsCommand.SyncTypeName(run.Type), csv ? ListingRunner.IsoTime(run.StartedAt) : ListingRunner.TableTime(run.StartedAt), csv ? ListingRunner.IsoTime(run.EndedAt) : ListingRunner.TableTime(run.EndedAt), run.ParentSyncId]);
                }
            }

            output.Finish();
            return 0;
        });
        return command;
    }
}
