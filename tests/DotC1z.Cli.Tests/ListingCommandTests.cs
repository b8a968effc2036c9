using System.Text.Json;
using DotC1z.Cli.Output;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>
/// Issue 17 items 1, 2 and 5: the listing commands, access and principals compare, golden on the real
/// fixtures in every format (exact headers, row counts equal to the facade's listings, specific rows),
/// paging, hostile strings, help examples and the version line.
/// </summary>
public sealed class ListingCommandTests : IDisposable
{
    private static readonly string Unexpanded = TestPaths.RealFixture("small-unexpanded.c1z");
    private static readonly string Expanded = TestPaths.RealFixture("small-expanded.c1z");
    private readonly TempDir _dir = new("listing");

    public void Dispose() => _dir.Dispose();

    /// <summary>Every listing command with its arguments, its table and CSV headers and the facade listing it must equal.</summary>
    public static TheoryData<string, string> Cases() => new()
    {
        { "resource-types", "format" },
        { "resources", "format" },
        { "resources -t user", "format" },
        { "entitlements", "format" },
        { "entitlements -t group", "format" },
        { "entitlements -t group -r group-0000000", "format" },
        { "grants", "format" },
        { "grants -e group:group-0000001:member", "format" },
        { "grants -t project", "format" },
        { "grants -t project -r project-0000001", "format" },
        { "grants --principal user/user-0000020", "format" },
        { "grants --principal group/group-0000000 -t project", "format" },
        { "principals -e group:group-0000001:member", "format" },
        { "principals -t group -r group-0000001", "format" },
        { "syncs", "format" },
    };

    private static (string[] Table, string Csv, int Count) Expect(string args)
    {
        using var s = C1zSnapshot.Open(Unexpanded);
        var a = args.Split(' ');
        string? Arg(string flag) => Array.IndexOf(a, flag) is int i and >= 0 ? a[i + 1] : null;
        string[] grantTable = ["grant", "entitlement", "resource type", "resource", "principal type", "principal"];
        const string grantCsv = "external_id,entitlement_id,entitlement_resource_type,entitlement_resource,principal_type,principal_id";
        string[] principalTable = ["principal type", "principal", "display name", "entitlement"];
        const string principalCsv = "principal_type,principal_id,display_name,entitlement_id";
        return a[0] switch
        {
            "resource-types" => (["id", "display name", "traits", "description"], "id,display_name,traits,description", s.List(RecordListing.ResourceTypes()).Count()),
            "resources" => (["type", "id", "display name", "parent type", "parent"], "resource_type_id,resource_id,display_name,parent_resource_type_id,parent_resource_id",
                Arg("-t") is { } t ? s.List(RecordListing.ResourcesByType(t)).Count() : s.List(RecordListing.Resources()).Count()),
            "entitlements" => (["id", "display name", "resource type", "resource", "slug", "purpose"], "id,display_name,resource_type_id,resource_id,slug,purpose",
                Arg("-r") is { } r ? s.List(RecordListing.EntitlementsByResource(Arg("-t")!, r)).Count()
                : Arg("-t") is { } et ? s.List(RecordListing.Entitlements()).Count(e => e.Resource.ResourceTypeId == et) : s.List(RecordListing.Entitlements()).Count()),
            "grants" => (grantTable, grantCsv,
                Arg("--principal") is { } p ? s.List(RecordListing.GrantsByPrincipal(p.Split('/')[0], p.Split('/')[1])).Count(g => Arg("-t") is not { } pt || g.Entitlement.ResourceTypeId == pt)
                : Arg("-e") is { } e ? s.List(RecordListing.GrantsByEntitlement(e)).Count()
                : Arg("-r") is { } gr ? s.List(RecordListing.GrantsByResource(Arg("-t")!, gr)).Count()
                : Arg("-t") is { } gt ? s.List(RecordListing.GrantsByResourceType(gt)).Count() : s.List(RecordListing.Grants()).Count()),
            "principals" => (principalTable, principalCsv,
                Arg("-e") is { } pe ? s.List(RecordListing.GrantsByEntitlement(pe)).Count() : s.List(RecordListing.GrantsByResource(Arg("-t")!, Arg("-r")!)).Count()),
            "syncs" => (["sync", "type", "started", "ended", "parent"], "sync_id,type,started_at,ended_at,parent_sync_id", s.SyncRuns().Count),
            _ => throw new ArgumentException(args),
        };
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static string[] Args(string args, params string[] more) => [.. args.Split(' ').Take(1), Unexpanded, .. args.Split(' ').Skip(1), .. more];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Table_has_the_exact_header_and_one_line_per_record(string args, string unused)
    {
        _ = unused;
        var (table, _, count) = Expect(args);
        var r = Run(Args(args));
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(string.Empty, r.Err); // no next page without --limit
        var lines = Lines(r.Out);
        Assert.Equal(table, lines[0].Split("  ", StringSplitOptions.RemoveEmptyEntries).Select(h => h.Trim()));
        Assert.Matches("^-+(  -+)*$", lines[1]);
        Assert.Equal(count, lines.Length - 2);
        Assert.True(count > 0, args);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Csv_has_the_exact_header_and_one_row_per_record(string args, string unused)
    {
        _ = unused;
        var (_, csv, count) = Expect(args);
        var r = Run(Args(args, "--format", "csv"));
        Assert.True(r.Code == 0, r.Err);
        var lines = Lines(r.Out);
        Assert.Equal(csv, lines[0]);
        Assert.Equal(count, lines.Length - 1);
        Assert.All(lines, l => Assert.Equal(csv.Count(c => c == ','), l.Count(c => c == ','))); // the fixture's ids hold no commas
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Json_is_one_canonical_json_object_per_record(string args, string unused)
    {
        _ = unused;
        var (_, _, count) = Expect(args);
        var r = Run(Args(args, "--format", "json"));
        Assert.True(r.Code == 0, r.Err);
        var lines = Lines(r.Out);
        Assert.Equal(count, lines.Length);
        foreach (string line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        }
    }

    [Fact]
    public void Specific_rows_are_shown_in_every_format()
    {
        Assert.Contains("group:group-0000000:member,member,group,group-0000000,member,ASSIGNMENT", Run("entitlements", Unexpanded, "--format", "csv").Out, StringComparison.Ordinal);
        Assert.Contains("user,user-0000020,User 0000020,,", Run("resources", Unexpanded, "-t", "user", "--format", "csv").Out, StringComparison.Ordinal);
        Assert.Contains("group,Group,GROUP,", Run("resource-types", Unexpanded, "--format", "csv").Out, StringComparison.Ordinal);
        Assert.Contains("36zfOAoWMxQdISbixanQCRBiX7E,full,2025-12-17T16:31:25", Run("syncs", Unexpanded, "--format", "csv").Out, StringComparison.Ordinal);
        Assert.Contains("user,user-0000020,User 0000020,group:group-0000001:member", Run("principals", Unexpanded, "-e", "group:group-0000001:member", "--format", "csv").Out, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^group:group-0000001:member:group:group-0000000\s+group:group-0000001:member\s+group\s+group-0000001\s+group\s+group-0000000$", Run("grants", Unexpanded, "-e", "group:group-0000001:member").Out);

        var json = Lines(Run("grants", Unexpanded, "-e", "group:group-0000001:member", "--format", "json").Out);
        using var first = JsonDocument.Parse(json[0]);
        Assert.Equal("group:group-0000001:member:group:group-0000000", first.RootElement.GetProperty("externalId").GetString());
        Assert.Equal("group:group-0000000:member", first.RootElement.GetProperty("expansion").GetProperty("entitlementIds")[0].GetString());

        var principal = Lines(Run("principals", Unexpanded, "-e", "group:group-0000001:member", "--format", "json").Out);
        using var p = JsonDocument.Parse(principal[1]);
        Assert.Equal("group:group-0000001:member", p.RootElement.GetProperty("entitlementId").GetString());
        Assert.Equal("User 0000000", p.RootElement.GetProperty("principal").GetProperty("displayName").GetString());

        var sync = Lines(Run("syncs", Unexpanded, "--format", "json").Out);
        using var sj = JsonDocument.Parse(sync[0]);
        Assert.Equal("36zfOAoWMxQdISbixanQCRBiX7E", sj.RootElement.GetProperty("syncId").GetString());
    }

    [Fact]
    public void Listings_read_baton_pebble_files_and_v1_files_alike()
    {
        string pebble = TestPaths.RealFixture("medium-unexpanded.pebble2.c1z");
        string v1 = TestPaths.RealFixture("medium-unexpanded.c1z");
        foreach (string[] args in new[] { new[] { "resource-types" }, ["entitlements", "-t", "group"], ["resources", "-t", "group", "--limit", "50"] })
        {
            var a = Run([args[0], pebble, .. args.Skip(1), "--format", "csv"]);
            var b = Run([args[0], v1, .. args.Skip(1), "--format", "csv"]);
            Assert.True(a.Code == 0, a.Err);
            Assert.Equal(b.Out, a.Out);
        }
    }

    /// <summary>Pages of <paramref name="limit"/> rows until no token is printed: the union equals the full listing, without duplicates.</summary>
    private static List<string> AllPages(string[] args, int limit, out int pages)
    {
        var rows = new List<string>();
        string? token = null;
        string? header = null;
        pages = 0;
        do
        {
            string[] page = token is null ? [.. args, "--limit", $"{limit}"] : [.. args, "--limit", $"{limit}", "--page-token", token];
            var r = Run(page);
            Assert.True(r.Code == 0, r.Err);
            var lines = Lines(r.Out);
            header ??= lines[0];
            Assert.Equal(header, lines[0]);
            rows.AddRange(lines.Skip(1));
            Assert.True(lines.Length - 1 <= limit);
            var err = Lines(r.Err);
            token = err.Length == 0 ? null : err.Single()["next page: ".Length..];
            if (token is not null)
            {
                Assert.StartsWith("next page: ", err[0], StringComparison.Ordinal);
                Assert.Equal(limit, lines.Length - 1);
            }

            pages++;
        }
        while (token is not null);
        return rows;
    }

    [Theory]
    [InlineData("grants --principal group/group-0000000")]
    [InlineData("principals -e group:group-0000000:member")]
    [InlineData("resources -t group")]
    [InlineData("entitlements -t group")]
    public void Limit_and_page_token_walk_the_whole_listing_without_duplicates(string command)
    {
        string[] args = [.. Args(command, "--format", "csv")];
        var full = Lines(Run(args).Out).Skip(1).ToList();
        var paged = AllPages(args, 7, out int pages);
        Assert.Equal(full, paged);
        Assert.Equal(paged.Count, paged.Distinct(StringComparer.Ordinal).Count());
        // A listing the command filters further (entitlements -t) may end with one empty page: its last full
        // page cannot know that none of the records left match.
        Assert.InRange(pages, (full.Count + 6) / 7, ((full.Count + 6) / 7) + (command.StartsWith("entitlements", StringComparison.Ordinal) ? 1 : 0));
    }

    [Fact]
    public void A_bad_or_foreign_page_token_is_one_error_line()
    {
        var bad = Run("grants", Unexpanded, "--page-token", "AAAA");
        Assert.Equal(1, bad.Code);
        Assert.Matches(@"^c1z: error: .*invalid page token: .*\n$", bad.Err);

        // A token of another listing is refused, not silently misapplied.
        var first = Run("resources", Unexpanded, "-t", "group", "--limit", "3");
        string token = Lines(first.Err).Single()["next page: ".Length..];
        var foreign = Run("grants", Unexpanded, "--page-token", token);
        Assert.Equal(1, foreign.Code);
        Assert.Contains("invalid page token", foreign.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Usage_errors_are_one_line_with_exit_2()
    {
        foreach (string[] args in new[]
        {
            new[] { "entitlements", Unexpanded, "-r", "x" },
            ["grants", Unexpanded, "-r", "x"],
            ["grants", Unexpanded, "-t", "group", "-r", "x", "-e", "y"],
            ["principals", Unexpanded],
            ["principals", Unexpanded, "-e", "x", "-t", "group", "-r", "y"],
            ["principals", Unexpanded, "-t", "group"],
            ["resources", Unexpanded, "--limit", "0"],
            ["resources", Unexpanded, "--page-token", ""],
            ["resources", Unexpanded, "--sync-id", ""],
            ["access", Unexpanded, "-t", "user"],
            ["principals", "compare", Unexpanded, "-e", "x"],
        })
        {
            var r = Run(args);
            Assert.Equal(2, r.Code);
            Assert.Single(Lines(r.Err));
            Assert.StartsWith("c1z: error: ", r.Err, StringComparison.Ordinal);
        }

        var noSync = Run("resources", Unexpanded, "--sync-id", "2Yh0aWQAAAAAAAAAAAAAAAAAAAA");
        Assert.NotEqual(0, noSync.Code);
        Assert.StartsWith("c1z: error: ", noSync.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void The_sync_alias_and_the_sync_id_flag_are_the_same_option()
    {
        var a = Run("grants", Unexpanded, "--sync", "36zfOAoWMxQdISbixanQCRBiX7E", "-e", "group:group-0000001:member", "--format", "csv");
        var b = Run("grants", Unexpanded, "--sync-id", "36zfOAoWMxQdISbixanQCRBiX7E", "--entitlement", "group:group-0000001:member", "--format", "csv");
        Assert.True(a.Code == 0, a.Err);
        Assert.Equal(a.Out, b.Out);
    }

    [Fact]
    public void Access_shows_a_grant_held_only_through_expansion_with_its_path()
    {
        // user-0000020 holds project-0000000:access only because it is a member of group-0000000: the expanded
        // file has that grant with sources {group:group-0000000:member}, the unexpanded one does not have it.
        using (var s = C1zSnapshot.Open(Unexpanded))
        {
            Assert.DoesNotContain(s.List(RecordListing.GrantsByPrincipal("user", "user-0000020")), g => g.Entitlement.EntitlementId == "project:project-0000000:access");
        }

        foreach (string file in new[] { Unexpanded, Expanded })
        {
            var r = Run("access", file, "-t", "user", "-r", "user-0000020");
            Assert.True(r.Code == 0, r.Err);
            var lines = Lines(r.Out);
            Assert.Equal(["entitlement", "resource type", "resource", "path"], lines[0].Split("  ", StringSplitOptions.RemoveEmptyEntries).Select(h => h.Trim()));
            Assert.Matches(@"(?m)^project:project-0000000:access\s+project\s+project-0000000\s+via group:group-0000000 member$", r.Out);
            Assert.Matches(@"(?m)^group:group-0000000:member\s+group\s+group-0000000\s+direct$", r.Out);

            var csv = Lines(Run("access", file, "-t", "user", "-r", "user-0000020", "--format", "csv").Out);
            Assert.Equal("entitlement_id,resource_type_id,resource_id,path", csv[0]);
            Assert.Contains("project:project-0000000:access,project,project-0000000,via group:group-0000000 member", csv);
            Assert.Equal(lines.Length - 2, csv.Length - 1);

            var json = Lines(Run("access", file, "-t", "user", "-r", "user-0000020", "--format", "json").Out);
            Assert.Equal(csv.Length - 1, json.Length);
            using var row = JsonDocument.Parse(json.Single(l => l.Contains("\"project:project-0000000:access\"", StringComparison.Ordinal)));
            Assert.False(row.RootElement.GetProperty("direct").GetBoolean());
            Assert.Equal(["group:group-0000000:member"], row.RootElement.GetProperty("path").EnumerateArray().Select(e => e.GetString()));
        }
    }

    [Fact]
    public void Access_of_an_unknown_principal_is_empty_with_one_warning()
    {
        var r = Run("access", Unexpanded, "-t", "user", "-r", "nobody\u001b[2J", "--format", "csv");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(["entitlement_id,resource_type_id,resource_id,path"], Lines(r.Out));
        Assert.StartsWith("c1z: warning: no resource user/nobody\\x1b[2J in sync", Lines(r.Err).Single(), StringComparison.Ordinal);
    }

    [Fact]
    public void Access_follows_a_chain_of_groups_to_its_shortest_path()
    {
        // group-0000000 is a member of group-0000001, which is a member of group-0000002, … : project-0000003:access
        // comes through group-0000003 (three hops) rather than through group-0000010.
        foreach (string file in new[] { Unexpanded, Expanded })
        {
            var r = Run("access", file, "-t", "group", "-r", "group-0000000", "--format", "csv");
            Assert.True(r.Code == 0, r.Err);
            var rows = Lines(r.Out);
            Assert.Contains("project:project-0000003:access,project,project-0000003,via group:group-0000001 member -> group:group-0000002 member -> group:group-0000003 member", rows);
            Assert.Contains("group:group-0000001:member,group,group-0000001,direct", rows);
            Assert.Contains(rows, l => l.StartsWith("group:group-0000019:member,group,group-0000019,via group:group-0000001 member -> ", StringComparison.Ordinal) && l.Split(" -> ").Length == 18);
        }
    }

    [Fact]
    public void Computed_access_on_the_unexpanded_file_equals_the_expanded_file_for_every_principal()
    {
        using var un = C1zSnapshot.Open(Unexpanded);
        using var ex = C1zSnapshot.Open(Expanded);
        var unSync = un.DefaultSync();
        var exSync = ex.DefaultSync();
        var principals = ex.List(RecordListing.Grants()).Select(g => (g.Principal.ResourceTypeId, g.Principal.ResourceId)).Distinct().ToList();
        Assert.True(principals.Count > 1000);
        foreach (var (type, id) in principals)
        {
            var computed = EffectiveAccess.Resolve(un, unSync, type, id);
            Assert.True(computed.Computed);
            var stored = EffectiveAccess.Resolve(ex, exSync, type, id);
            var expected = ex.List(RecordListing.GrantsByPrincipal(type, id)).Select(g => g.Entitlement.EntitlementId).Distinct().Order(StringComparer.Ordinal).ToList();
            Assert.Equal(expected, computed.Entries.Select(e => e.EntitlementId).Order(StringComparer.Ordinal));
            Assert.Equal(expected, stored.Entries.Select(e => e.EntitlementId).Order(StringComparer.Ordinal));

            // Same path lengths both ways (the shortest), and every hop of a path is held by the principal.
            Assert.Equal(computed.Entries.Select(e => (e.EntitlementId, e.Path.Count)), stored.Entries.Select(e => (e.EntitlementId, e.Path.Count)));
            var held = expected.ToHashSet(StringComparer.Ordinal);
            Assert.All(computed.Entries, e => Assert.All(e.Path, hop => Assert.Contains(hop, held)));
        }
    }

    [Fact]
    public void Principals_compare_lists_who_holds_one_and_not_the_other_both_ways()
    {
        // Across files: project-0000001:access in the unexpanded vs the expanded file: only "second" rows (expansion added them).
        var across = Run("principals", "compare", Unexpanded, "-e", "project:project-0000001:access", "--compare-entitlement", "project:project-0000001:access", "--compare-file", Expanded, "--format", "csv");
        Assert.True(across.Code == 0, across.Err);
        var rows = Lines(across.Out);
        Assert.Equal("only_in,entitlement_id,principal_type,principal_id", rows[0]);
        using var un = C1zSnapshot.Open(Unexpanded);
        using var ex = C1zSnapshot.Open(Expanded);
        var before = un.List(RecordListing.GrantsByEntitlement("project:project-0000001:access")).Select(g => g.Principal.ResourceTypeId + "," + g.Principal.ResourceId).ToHashSet(StringComparer.Ordinal);
        var after = ex.List(RecordListing.GrantsByEntitlement("project:project-0000001:access")).Select(g => g.Principal.ResourceTypeId + "," + g.Principal.ResourceId).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(after.Except(before).Order(StringComparer.Ordinal).Select(p => "second,project:project-0000001:access," + p), rows.Skip(1).Order(StringComparer.Ordinal));

        // Within one file, both directions.
        var within = Run("principals", "compare", Expanded, "-e", "group:group-0000001:member", "--compare-entitlement", "group:group-0000002:member", "--format", "json");
        Assert.True(within.Code == 0, within.Err);
        var a = ex.List(RecordListing.GrantsByEntitlement("group:group-0000001:member")).Select(g => g.Principal.ResourceTypeId + "/" + g.Principal.ResourceId).ToHashSet(StringComparer.Ordinal);
        var b = ex.List(RecordListing.GrantsByEntitlement("group:group-0000002:member")).Select(g => g.Principal.ResourceTypeId + "/" + g.Principal.ResourceId).ToHashSet(StringComparer.Ordinal);
        var shown = Lines(within.Out).Select(l =>
        {
            using var d = JsonDocument.Parse(l);
            var p = d.RootElement.GetProperty("principal");
            return d.RootElement.GetProperty("onlyIn").GetString() + " " + p.GetProperty("resourceTypeId").GetString() + "/" + p.GetProperty("resourceId").GetString();
        }).Order(StringComparer.Ordinal).ToList();
        var expected = a.Except(b).Select(p => "first " + p).Concat(b.Except(a).Select(p => "second " + p)).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, shown);
    }

    private const string Clear = "\u001b[2J";
    private const string Formula = "=cmd|' /C calc'!A0";

    /// <summary>A C1Z3 file whose ids and names hold a newline, ESC[2J and a spreadsheet formula.</summary>
    private string HostileFile()
    {
        string path = _dir.Combine("hostile.c1z");
        using var s = C1zSnapshot.Create();
        var store = s.Store;
        var sync = store.StartSync(SyncType.Full);
        store.PutResourceTypes(sync, [new ResourceTypeRecord { ExternalId = "user", DisplayName = "line1\nline2" }, new ResourceTypeRecord { ExternalId = "group" + Clear }]);
        store.PutResources(sync,
        [
            new ResourceRecord { ResourceTypeId = "user", ResourceId = Formula, DisplayName = "evil\nname" + Clear },
            new ResourceRecord { ResourceTypeId = "group" + Clear, ResourceId = "g\n1", DisplayName = Formula },
        ]);
        store.PutEntitlements(sync,
        [
            new EntitlementRecord { ExternalId = "ent\n" + Formula, DisplayName = Clear, Resource = new ResourceRef { ResourceTypeId = "group" + Clear, ResourceId = "g\n1" }, Slug = "member" },
            new EntitlementRecord { ExternalId = "app" + Clear, DisplayName = "+1+1", Resource = new ResourceRef { ResourceTypeId = "app", ResourceId = "-2" } },
        ]);
        var member = new GrantRecord
        {
            ExternalId = "grant\n" + Formula,
            Entitlement = new EntitlementRef { EntitlementId = "ent\n" + Formula, ResourceTypeId = "group" + Clear, ResourceId = "g\n1" },
            Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = Formula },
        };
        var expandable = new GrantRecord
        {
            ExternalId = "@app" + Clear,
            Entitlement = new EntitlementRef { EntitlementId = "app" + Clear, ResourceTypeId = "app", ResourceId = "-2" },
            Principal = new PrincipalRef { ResourceTypeId = "group" + Clear, ResourceId = "g\n1" },
            Expansion = new GrantExpandableRecord { EntitlementIds = { "ent\n" + Formula } },
            NeedsExpansion = true,
        };
        store.PutGrants(sync, [member, expandable]);
        store.EndSync(sync);
        s.SaveAs(path);
        return path;
    }

    private static void AssertNoRawControls(string text)
    {
        foreach (string line in text.Split('\n'))
        {
            foreach (char c in line)
            {
                Assert.False(Printable.NeedsEscape(c), $"raw U+{(int)c:X4} in output line: {Printable.Escape(line)}");
            }
        }
    }

    [Theory]
    [InlineData("resource-types", 2)]
    [InlineData("resources", 2)]
    [InlineData("entitlements", 2)]
    [InlineData("grants", 2)]
    [InlineData("principals -e ent\n=cmd|' /C calc'!A0", 1)]
    [InlineData("access -t user -r =cmd|' /C calc'!A0", 2)]
    [InlineData("syncs", 1)]
    public void Hostile_strings_print_safely_in_table_and_csv(string command, int rows)
    {
        string file = HostileFile();
        string[] args = command.Split(' ') is var p && p.Length > 1 ? [p[0], file, .. p.Skip(1)] : [command, file];
        if (command.StartsWith("principals", StringComparison.Ordinal))
        {
            args = ["principals", file, "-e", "ent\n" + Formula];
        }
        else if (command.StartsWith("access", StringComparison.Ordinal))
        {
            args = ["access", file, "-t", "user", "-r", Formula];
        }

        var table = Run(args);
        Assert.True(table.Code == 0, table.Err);
        AssertNoRawControls(table.Out);
        Assert.Equal(rows + 2, Lines(table.Out).Length); // header, rule, one line per row: no id splits a row
        Assert.DoesNotContain('\u001b', table.Out);

        var csv = Run([.. args, "--format", "csv"]);
        Assert.True(csv.Code == 0, csv.Err);
        AssertNoRawControls(csv.Out);
        var lines = Lines(csv.Out);
        Assert.Equal(rows + 1, lines.Length);
        foreach (string line in lines.Skip(1))
        {
            foreach (string cell in line.Split(','))
            {
                string c = cell.TrimStart('"');
                Assert.False(c.Length > 0 && c[0] is '=' or '+' or '-' or '@' or '\t' or '\r', $"live formula cell {cell} in {line}");
            }
        }

        var json = Run([.. args, "--format", "json"]);
        Assert.True(json.Code == 0, json.Err);
        AssertNoRawControls(json.Out);
        Assert.Equal(rows, Lines(json.Out).Length);
    }

    [Fact]
    public void Hostile_access_path_and_cells_are_escaped()
    {
        string file = HostileFile();
        var r = Run("access", file, "-t", "user", "-r", Formula, "--format", "csv");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("app\\x1b[2J,app,'-2,via group\\x1b[2J:g\\n1 member", r.Out, StringComparison.Ordinal);
        Assert.Contains("ent\\n=cmd|' /C calc'!A0,group\\x1b[2J,g\\n1,direct", r.Out, StringComparison.Ordinal);
        var table = Run("grants", file);
        Assert.Contains("grant\\n=cmd|' /C calc'!A0", table.Out, StringComparison.Ordinal);
        Assert.Contains("group\\x1b[2J", table.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Tables_are_truncated_to_the_terminal_width()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(["access", Unexpanded, "-t", "group", "-r", "group-0000000"], stdout, stderr, outputWidth: 60);
        Assert.True(code == 0, stderr.ToString());
        var lines = Lines(stdout.ToString());
        Assert.All(lines, l => Assert.True(l.Length <= 60, $"{l.Length}: {l}"));
        Assert.Contains(lines, l => l.EndsWith('…'));
        Assert.Equal(Lines(Run("access", Unexpanded, "-t", "group", "-r", "group-0000000").Out).Length, lines.Length);

        Assert.Equal("abc…", RowOutput.Truncate("abcdef", 4));
        Assert.Equal("a…", RowOutput.Truncate("a😀bc", 3)); // never half a surrogate pair
        Assert.Equal("ab", RowOutput.Truncate("ab", 4));
    }

    [Fact]
    public void Every_help_shows_an_example_and_version_names_the_commit()
    {
        foreach (string[] args in new[]
        {
            new[] { "--help" }, ["resource-types", "--help"], ["resources", "--help"], ["entitlements", "--help"], ["grants", "--help"],
            ["principals", "--help"], ["principals", "compare", "--help"], ["syncs", "--help"], ["access", "--help"], ["stats", "--help"],
            ["import", "--help"], ["export", "--help"], ["verify", "--help"], ["compact", "--help"], ["diff", "--help"], ["expand", "--help"],
            ["equiv", "--help"], ["bench", "--help"], ["fixture-gen", "--help"], ["gc", "--help"],
        })
        {
            var r = Run(args);
            Assert.True(r.Code == 0, string.Join(' ', args) + ": " + r.Err);
            Assert.Contains("Example:", r.Out, StringComparison.Ordinal);
        }

        var v = Run("--version");
        Assert.Equal(0, v.Code);
        Assert.Matches(@"^c1z \d+\.\d+\.\d+\S* \(commit [0-9a-f]{40}\)\n$", v.Out.Replace("\r", string.Empty, StringComparison.Ordinal));
    }
}
