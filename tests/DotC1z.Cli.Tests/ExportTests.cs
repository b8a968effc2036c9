using System.IO.Compression;
using System.Xml.Linq;
using DotC1z.Engine.Rocks;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary><c>c1z export --format csv|xlsx|c1z</c> on a real fixture and on hostile strings (issue 17 item 3).</summary>
public sealed class ExportTests : IDisposable
{
    private const string Fixture = "small-unexpanded.c1z";
    private const string Formula = "=cmd|' /C calc'!A0";
    private const string Hostile = "line1\nline2\u001b[2Jclear\u0007bell";

    private static readonly Dictionary<string, string> Headers = new(StringComparer.Ordinal)
    {
        ["resource-types"] = "id,display_name,description,traits,sourced_externally",
        ["resources"] = "resource_type_id,resource_id,display_name,description,parent_resource_type_id,parent_resource_id,status,created_at,discovered_at",
        ["entitlements"] = "id,resource_type_id,resource_id,display_name,description,purpose,slug,grantable_to",
        ["grants"] = "id,entitlement_id,entitlement_resource_type_id,entitlement_resource_id,principal_resource_type_id,principal_resource_id,sources,needs_expansion,discovered_at",
        ["assets"] = "id,content_type,size_bytes,discovered_at",
        ["syncs"] = "sync_id,type,started_at,ended_at,parent_sync_id",
    };

    private static readonly XNamespace Main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";

    private readonly TempDir _dir = new("export");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Csv_of_the_real_fixture_has_the_documented_headers_and_one_row_per_record()
    {
        string input = TestPaths.RealFixture(Fixture);
        string output = _dir.Combine("csv");
        var r = Run("export", "--in", input, "--format", "csv", "--out", output);
        Assert.True(r.Code == 0, r.Err);

        RecordCounts counts;
        using (var store = StorePaths.Open(input))
        {
            counts = store.Count(store.LatestSync()!.Value);
        }

        var expected = new Dictionary<string, long>
        {
            ["resource-types"] = counts.ResourceTypes, ["resources"] = counts.Resources, ["entitlements"] = counts.Entitlements,
            ["grants"] = counts.Grants, ["assets"] = counts.Assets, ["syncs"] = 1,
        };
        Assert.Equal(Headers.Keys.Select(k => k + ".csv").Order(StringComparer.Ordinal), Directory.GetFiles(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var (table, header) in Headers)
        {
            var lines = File.ReadAllLines(Path.Combine(output, table + ".csv"));
            Assert.Equal(header, lines[0]);
            Assert.Equal(expected[table], lines.Length - 1);
        }

        Assert.Contains("group:group-0000000:admin,group,group-0000000,admin,", File.ReadAllText(Path.Combine(output, "entitlements.csv")), StringComparison.Ordinal);
        Assert.Equal(2909, counts.Grants);
        string help = Run("export", "--help").Out;
        Assert.All(Headers.Values, header => Assert.Contains(header, help, StringComparison.Ordinal));
    }

    [Fact]
    public void Csv_neutralises_formulas_and_escapes_control_characters()
    {
        string output = _dir.Combine("hostile-csv");
        var r = Run("export", "--in", HostileStore(), "--format", "csv", "--out", output);
        Assert.True(r.Code == 0, r.Err);
        string resources = File.ReadAllText(Path.Combine(output, "resources.csv"));
        Assert.Equal(2, resources.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length); // header + one row: no raw newline
        Assert.DoesNotContain('\u001b', resources);
        Assert.DoesNotContain('\u0007', resources);
        Assert.Contains(",'" + Formula + ",", resources, StringComparison.Ordinal);
        Assert.Contains(@"line1\nline2\x1b[2Jclear\x07bell", resources, StringComparison.Ordinal);
    }

    [Fact]
    public void Xlsx_has_a_frozen_header_per_sheet_and_hostile_strings_as_plain_string_cells()
    {
        string output = _dir.Combine("hostile.xlsx");
        var r = Run("export", "--in", HostileStore(), "--format", "xlsx", "--out", output);
        Assert.True(r.Code == 0, r.Err);

        using var zip = ZipFile.OpenRead(output);
        var workbook = XDocument.Load(zip.GetEntry("xl/workbook.xml")!.Open());
        Assert.Equal(Headers.Keys.Select(k => k), workbook.Descendants(Main + "sheet").Select(s => (string)s.Attribute("name")!));
        var sheets = zip.Entries.Where(e => e.FullName.StartsWith("xl/worksheets/", StringComparison.Ordinal) && e.FullName.EndsWith(".xml", StringComparison.Ordinal)).OrderBy(e => e.FullName, StringComparer.Ordinal).ToList();
        Assert.Equal(Headers.Count, sheets.Count);
        var texts = new List<string>();
        foreach (var entry in sheets)
        {
            var doc = XDocument.Load(entry.Open()); // well-formed XML despite ESC and BEL in the data
            Assert.Empty(doc.Descendants(Main + "f"));
            var pane = Assert.Single(doc.Descendants(Main + "pane"));
            Assert.Equal("frozen", (string?)pane.Attribute("state"));
            Assert.Equal("1", (string?)pane.Attribute("ySplit"));
            Assert.All(doc.Descendants(Main + "c"), c => Assert.True((string?)c.Attribute("t") is "inlineStr" or null, $"cell type {(string?)c.Attribute("t")}"));
            texts.AddRange(doc.Descendants(Main + "t").Select(t => t.Value));
        }

        Assert.Contains(Headers["resources"].Split(',')[0], texts);
        Assert.Contains(Formula, texts); // a plain string, no leading quote needed: it is never a formula
        Assert.Contains("line1\nline2\\x1b[2Jclear\\x07bell", texts);
        Assert.DoesNotContain(texts, t => t.Contains('\u001b', StringComparison.Ordinal));
    }

    [Fact]
    public void C1z_format_writes_the_chosen_sync_alone()
    {
        string input = TestPaths.RealFixture(Fixture);
        string output = _dir.Combine("one.c1z");
        string sync;
        RecordCounts counts;
        using (var store = StorePaths.Open(input))
        {
            var id = store.LatestSync()!.Value;
            sync = id.ToString();
            counts = store.Count(id);
        }

        var r = Run("export", "--in", input, "--format", "c1z", "--sync-id", sync, "--out", output);
        Assert.True(r.Code == 0, r.Err);
        using var written = StorePaths.Open(output);
        var run = Assert.Single(written.ListSyncRuns());
        Assert.Equal(sync, run.SyncId);
        Assert.Equal(counts, written.Count(Keys.SyncId.Parse(sync)));
    }

    [Fact]
    public void Outputs_are_never_overwritten_without_force_and_a_failed_export_leaves_nothing()
    {
        string input = TestPaths.RealFixture(Fixture);
        string csv = _dir.Combine("out-csv");
        Assert.Equal(0, Run("export", "--in", input, "--format", "csv", "--out", csv).Code);
        var again = Run("export", "--in", input, "--format", "csv", "--out", csv);
        Assert.Equal(1, again.Code);
        Assert.Contains("--force", again.Err, StringComparison.Ordinal);
        Assert.Equal(0, Run("export", "--in", input, "--format", "csv", "--out", csv, "--force").Code);

        // A directory holding anything else is never replaced.
        string other = _dir.Combine("other");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "notes.txt"), "keep me");
        Assert.Equal(1, Run("export", "--in", input, "--format", "csv", "--out", other, "--force").Code);
        Assert.True(File.Exists(Path.Combine(other, "notes.txt")));

        foreach (string format in new[] { "csv", "xlsx", "c1z" })
        {
            string target = _dir.Combine("failed-" + format + (format == "c1z" ? ".c1z" : string.Empty));
            var bad = Run("export", "--in", input, "--format", format, "--sync-id", "2jXzq3TmbyLhGkpZvVTaVhsQPQu", "--out", target);
            Assert.Equal(1, bad.Code);
            Assert.Contains("no sync", bad.Err, StringComparison.Ordinal);
            Assert.False(Path.Exists(target), $"{format}: a failed export left {target}");
        }

        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path, ".c1z-*"));
        Assert.Equal(1, Run("export", "--in", input, "--format", "v1", "--sync-id", "2jXzq3TmbyLhGkpZvVTaVhsQPQu", "--out", _dir.Combine("v1.c1z")).Code);
    }

    /// <summary>A store directory whose one sync holds a resource with a formula as id and control characters in its name.</summary>
    private string HostileStore()
    {
        string dir = _dir.Combine("hostile-store");
        if (Directory.Exists(dir))
        {
            return dir;
        }

        using var store = RocksStore.Open(dir, new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var sync = store.StartSync(SyncType.Full);
        store.PutResourceTypes(sync, [new ResourceTypeRecord { ExternalId = "user", DisplayName = "User" }]);
        store.PutResources(sync, [new ResourceRecord { ResourceTypeId = "user", ResourceId = Formula, DisplayName = Hostile }]);
        store.PutGrants(sync, [new GrantRecord
        {
            ExternalId = Formula,
            Entitlement = new EntitlementRef { EntitlementId = "@SUM(A1:A2)", ResourceTypeId = "user", ResourceId = Formula },
            Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = Hostile },
        }]);
        store.EndSync(sync);
        return dir;
    }
}
