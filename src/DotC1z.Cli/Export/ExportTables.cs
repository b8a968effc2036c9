using System.Globalization;
using System.Text;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Cli.Export;

/// <summary>One exported record type: its file/sheet name, its columns and how a record becomes a row.</summary>
/// <param name="Name">File stem (<c>NAME.csv</c>) and sheet name.</param>
/// <param name="Columns">The header row; the contract of docs/CLI.md (columns are only ever added at the end).</param>
/// <param name="Rows">The rows of one sync, streamed from the store (never a materialised list).</param>
/// <param name="NumericColumns">Columns written as numbers in XLSX (strings in CSV either way).</param>
internal sealed record ExportTable(string Name, string[] Columns, Func<IC1zStore, SyncId, IEnumerable<string[]>> Rows, int[] NumericColumns);

/// <summary>
/// The tables <c>c1z export --format csv|xlsx</c> writes, in order, with stable documented columns. Multi-valued
/// cells (traits, grantable-to types, grant sources) hold their values joined by <c>;</c>; timestamps are UTC
/// RFC 3339 (<c>2025-01-02T03:04:05.123456Z</c>), empty when unset.
/// </summary>
internal static class ExportTables
{
    /// <summary>Every table, in the order written.</summary>
    public static IReadOnlyList<ExportTable> All { get; } =
    [
        new("resource-types", ["id", "display_name", "description", "traits", "sourced_externally"], (s, id) => s.ResourceTypes(id).Select(ResourceType), []),
        new("resources", ["resource_type_id", "resource_id", "display_name", "description", "parent_resource_type_id", "parent_resource_id", "status", "created_at", "discovered_at"], (s, id) => s.Resources(id).Select(Resource), []),
        new("entitlements", ["id", "resource_type_id", "resource_id", "display_name", "description", "purpose", "slug", "grantable_to"], (s, id) => s.Entitlements(id).Select(Entitlement), []),
        new("grants", ["id", "entitlement_id", "entitlement_resource_type_id", "entitlement_resource_id", "principal_resource_type_id", "principal_resource_id", "sources", "needs_expansion", "discovered_at"], GrantRows, []),
        new("assets", ["id", "content_type", "size_bytes", "discovered_at"], (s, id) => s.Assets(id).Select(Asset), [2]),
        new("syncs", ["sync_id", "type", "started_at", "ended_at", "parent_sync_id"], SyncRows, []),
    ];

    /// <summary>The file names a CSV export writes (a directory holding only these may be replaced with --force).</summary>
    public static IReadOnlySet<string> CsvFileNames { get; } = All.Select(t => t.Name + ".csv").ToHashSet(StringComparer.Ordinal);

    /// <summary>The column list for <c>--help</c>: one line per table.</summary>
    public static string Describe()
    {
        var sb = new StringBuilder();
        foreach (var t in All)
        {
            sb.Append("  ").Append(t.Name).Append(": ").AppendJoin(',', t.Columns).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>Cores a grants table is read and formatted on (the machine's, at most this many parts).</summary>
    private const int MaxScanParts = 4;

    /// <summary>
    /// The grants table: the sync's grants split by key range, each range read, decoded and formatted on a worker
    /// thread while the writer consumes the previous one; rows come out in key order, exactly as the serial scan
    /// gives them.
    /// </summary>
    private static IEnumerable<string[]> GrantRows(IC1zStore store, SyncId sync)
    {
        int parts = store.SupportsConcurrentScans ? Math.Clamp(Environment.ProcessorCount, 1, MaxScanParts) : 1;
        using var partitions = store.PartitionGrants(sync, parts);
        foreach (var row in partitions.InOrder(Grant))
        {
            yield return row;
        }
    }

    private static string[] ResourceType(ResourceTypeRecord r) =>
        [r.ExternalId, r.DisplayName, r.Description, string.Join(';', r.Traits), Bool(r.SourcedExternally)];

    private static string[] Resource(ResourceRecord r) =>
    [
        r.ResourceTypeId, r.ResourceId, r.DisplayName, r.Description, r.Parent?.ResourceTypeId ?? string.Empty, r.Parent?.ResourceId ?? string.Empty,
        Status(r.Status), Time(r.CreatedAt), Time(r.DiscoveredAt),
    ];

    private static string[] Entitlement(EntitlementRecord r) =>
    [
        r.ExternalId, r.Resource?.ResourceTypeId ?? string.Empty, r.Resource?.ResourceId ?? string.Empty, r.DisplayName, r.Description, r.Purpose, r.Slug,
        string.Join(';', r.GrantableToResourceTypeIds),
    ];

    private static string[] Grant(GrantRecord r) =>
    [
        r.ExternalId, r.Entitlement?.EntitlementId ?? string.Empty, r.Entitlement?.ResourceTypeId ?? string.Empty, r.Entitlement?.ResourceId ?? string.Empty,
        r.Principal?.ResourceTypeId ?? string.Empty, r.Principal?.ResourceId ?? string.Empty,
        string.Join(';', r.Sources.Keys.Order(StringComparer.Ordinal)), Bool(r.NeedsExpansion), Time(r.DiscoveredAt),
    ];

    private static string[] Asset(AssetRecord r) =>
        [r.ExternalId, r.ContentType, r.Data.Length.ToString(CultureInfo.InvariantCulture), Time(r.DiscoveredAt)];

    /// <summary>The exported sync's own run (one row), so the export says which sync it is.</summary>
    private static IEnumerable<string[]> SyncRows(IC1zStore store, SyncId sync)
    {
        if (store.TryGetSyncRun(sync, out var run))
        {
            yield return [run.SyncId, Commands.StatsCommand.SyncTypeName(run.Type), Time(run.StartedAt), Time(run.EndedAt), run.ParentSyncId];
        }
    }

    private static string Bool(bool b) => b ? "true" : "false";

    private static string Status(StatusRecord? s) => s?.Status switch
    {
        null or 0 => string.Empty,
        1 => "enabled",
        2 => "disabled",
        3 => "deleted",
        int other => other.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>UTC RFC 3339; a timestamp outside the valid range (hostile files) is shown as raw seconds.nanos rather than failing the export.</summary>
    private static string Time(Timestamp? t)
    {
        if (t is null)
        {
            return string.Empty;
        }

        const long MinSeconds = -62_135_596_800, MaxSeconds = 253_402_300_799;
        if (t.Seconds is < MinSeconds or > MaxSeconds || t.Nanos is < 0 or > 999_999_999)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{t.Seconds}.{t.Nanos:D9}");
        }

        return t.ToDateTime().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
    }
}
