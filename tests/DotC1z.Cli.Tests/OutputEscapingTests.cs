using System.Text.Json;
using DotC1z.Cli.Output;
using DotC1z.Engine.Rocks;
using DotC1z.Records;
using DotC1z.Tests.Shared;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>
/// Terminal and CSV injection (issue 18 item 4; docs/RELIABILITY.md "Terminal and CSV injection"): ids from
/// a store holding terminal control sequences, line breaks, bidi overrides or spreadsheet formulas reach
/// table and CSV output and error lines only as visible escapes, CSV formulas are neutralised, and JSON
/// output stays exact.
/// </summary>
public sealed class OutputEscapingTests : IDisposable
{
    private const string Osc = "\u001b]0;pwned\u0007";
    private const string Clear = "\u001b[2J";

    /// <summary>Hostile grant ids, each also used as its principal id.</summary>
    private static readonly string[] HostileIds =
    [
        "title" + Osc + "grant",
        "clear" + Clear + "grant",
        "line1\nline2",
        "cr\roverwrite",
        "tab\there",
        "nul\0byte",
        "bidi\u202eevil\u2066x\u2069",
        "c1\u009bcsi\u0085nel",
        "del\u007fchar",
        "=cmd|' /C calc'!A0",
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\tleading-tab",
        "\rleading-cr",
        "quote\"and,comma",
    ];

    private readonly TempDir _dir = new("escape");

    public void Dispose() => _dir.Dispose();

    /// <summary>A store directory with one finished sync holding one grant per hostile id.</summary>
    private string HostileStore()
    {
        string dir = _dir.Combine("hostile");
        using var store = RocksStore.Open(dir, new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var sync = store.StartSync(SyncType.Full);
        store.PutResourceTypes(sync, [new ResourceTypeRecord { ExternalId = "user" }, new ResourceTypeRecord { ExternalId = "app" + Osc }]);
        store.PutGrants(sync, [.. HostileIds.Select(id => new GrantRecord
        {
            ExternalId = id,
            Entitlement = new EntitlementRef { EntitlementId = "ent" + Clear, ResourceTypeId = "app" + Osc, ResourceId = "res\nx" },
            Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = id },
        })]);
        store.EndSync(sync);
        return dir;
    }

    /// <summary>No control character other than the line breaks between lines, and no bidi control.</summary>
    private static void AssertNoRawControls(string text)
    {
        foreach (string line in text.Split('\n'))
        {
            string l = line.EndsWith('\r') ? line[..^1] : line;
            foreach (char c in l)
            {
                Assert.False(Printable.NeedsEscape(c), $"raw U+{(int)c:X4} in output line: {Printable.Escape(l)}");
            }
        }
    }

    [Fact]
    public void Escaper_shows_controls_bidi_and_lone_surrogates_visibly()
    {
        Assert.Equal("a\\x1b]0;t\\x07b", Printable.Escape("a\u001b]0;t\u0007b"));
        Assert.Equal("\\x1b[2J\\n\\r\\t\\x00\\x7f\\x9b", Printable.Escape("\u001b[2J\n\r\t\0\u007f\u009b"));
        Assert.Equal("\\u202e\\u202a\\u2066\\u2069\\u2028", Printable.Escape("\u202e\u202a\u2066\u2069\u2028"));
        Assert.Equal("\\ud800x", Printable.Escape("\ud800x"));
        string plain = "DOMAIN\\user é 😀 [x]";
        Assert.Same(plain, Printable.Escape(plain));
        Assert.Equal(string.Empty, Printable.Escape(null));

        string json = "{\"id\":\"a\\\\\u202eb\u2066\u0085\"}";
        string safe = Printable.Json(json);
        Assert.Equal("{\"id\":\"a\\\\\\u202eb\\u2066\\u0085\"}", safe);
        Assert.Equal(JsonDocument.Parse(json).RootElement.GetProperty("id").GetString(), JsonDocument.Parse(safe).RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public void Csv_fields_are_quoted_escaped_and_formula_neutralised()
    {
        Assert.Equal("'=cmd|' /C calc'!A0", Printable.Csv("=cmd|' /C calc'!A0"));
        Assert.Equal("'+1", Printable.Csv("+1"));
        Assert.Equal("'-1", Printable.Csv("-1"));
        Assert.Equal("'@x", Printable.Csv("@x"));
        Assert.Equal("'\\tx", Printable.Csv("\tx"));
        Assert.Equal("'\\rx", Printable.Csv("\rx"));
        Assert.Equal("\"a,b\"", Printable.Csv("a,b"));
        Assert.Equal("\"say \"\"hi\"\"\"", Printable.Csv("say \"hi\""));
        Assert.Equal("a\\nb", Printable.Csv("a\nb"));
        Assert.Equal("plain", Printable.Csv("plain"));
        Assert.Equal("a=b", Printable.Csv("a=b"));
    }

    [Fact]
    public void Table_output_of_hostile_ids_holds_no_raw_control_and_one_line_per_grant()
    {
        string store = HostileStore();
        var r = Run("grants", store);
        Assert.True(r.Code == 0, r.Err);
        AssertNoRawControls(r.Out);
        Assert.Contains("title\\x1b]0;pwned\\x07grant", r.Out, StringComparison.Ordinal);
        Assert.Contains("clear\\x1b[2Jgrant", r.Out, StringComparison.Ordinal);
        Assert.Contains("line1\\nline2", r.Out, StringComparison.Ordinal);
        Assert.Contains("bidi\\u202eevil\\u2066x\\u2069", r.Out, StringComparison.Ordinal);
        Assert.Contains("nul\\x00byte", r.Out, StringComparison.Ordinal);

        // A newline in an id does not split its row: each grant is on exactly one line.
        var lines = r.Out.Split('\n');
        Assert.Single(lines, l => l.Contains("line1", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("line2", StringComparison.Ordinal));
    }

    [Fact]
    public void Csv_output_of_hostile_ids_is_escaped_and_formulas_are_neutralised()
    {
        string store = HostileStore();
        var r = Run("grants", store, "--format", "csv");
        Assert.True(r.Code == 0, r.Err);
        AssertNoRawControls(r.Out);
        var rows = r.Out.TrimEnd('\n').Split('\n');
        Assert.Equal(HostileIds.Length + 1, rows.Length); // header + one row per grant: no id splits a row

        // No cell starts a live formula.
        foreach (string row in rows.Skip(1))
        {
            foreach (string cell in SplitCsv(row))
            {
                Assert.False(cell.Length > 0 && cell[0] is '=' or '+' or '-' or '@' or '\t' or '\r', $"live formula cell {cell} in {row}");
            }
        }

        Assert.Contains("'=cmd|' /C calc'!A0", r.Out, StringComparison.Ordinal);
        Assert.Contains("'+1+1", r.Out, StringComparison.Ordinal);
        Assert.Contains("'-2+3", r.Out, StringComparison.Ordinal);
        Assert.Contains("'@SUM(A1:A2)", r.Out, StringComparison.Ordinal);
        Assert.Contains("'\\tleading-tab", r.Out, StringComparison.Ordinal);
        Assert.Contains("'\\rleading-cr", r.Out, StringComparison.Ordinal);
        Assert.Contains("\"quote\"\"and,comma\"", r.Out, StringComparison.Ordinal);
        Assert.Contains("ent\\x1b[2J", r.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_output_round_trips_every_hostile_id_exactly()
    {
        string store = HostileStore();
        var r = Run("grants", store, "--format", "json");
        Assert.True(r.Code == 0, r.Err);
        AssertNoRawControls(r.Out); // JSON escapes controls itself; c1z adds bidi controls (an exact rewrite)
        var ids = new List<string>();
        foreach (string line in r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var doc = JsonDocument.Parse(line);
            ids.Add(doc.RootElement.GetProperty("externalId").GetString()!);
            Assert.Equal(doc.RootElement.GetProperty("externalId").GetString(), doc.RootElement.GetProperty("principal").GetProperty("resourceId").GetString());
            Assert.Equal("ent" + Clear, doc.RootElement.GetProperty("entitlement").GetProperty("entitlementId").GetString());
        }

        Assert.Equal(HostileIds.Order(StringComparer.Ordinal), ids.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Stats_table_and_json_of_a_store_with_hostile_ids_hold_no_raw_control()
    {
        string store = HostileStore();
        var table = Run("stats", store);
        Assert.True(table.Code == 0, table.Err);
        AssertNoRawControls(table.Out);
        var json = Run("stats", store, "--json");
        Assert.True(json.Code == 0, json.Err);
        AssertNoRawControls(json.Out);
        Assert.Contains($"\"grants\":{HostileIds.Length}", json.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Error_lines_echoing_hostile_input_are_escaped()
    {
        string store = HostileStore();
        string path = _dir.Combine("no" + Osc + "such\nfile" + Clear);
        var missing = Run("grants", path);
        Assert.Equal(1, missing.Code);
        AssertOneEscapedErrorLine(missing.Err);
        Assert.Contains("no\\x1b]0;pwned\\x07such\\nfile\\x1b[2J", missing.Err, StringComparison.Ordinal);

        var noSync = Run("grants", store, "--sync", "bad" + Osc + "\r\nc1z: error: forged");
        Assert.Equal(1, noSync.Code);
        AssertOneEscapedErrorLine(noSync.Err);

        var badPrincipal = Run("grants", store, "--principal", "no-slash" + Clear + "\n");
        Assert.Equal(2, badPrincipal.Code);
        AssertOneEscapedErrorLine(badPrincipal.Err);

        var badFormat = Run("grants", store, "--format", "x" + Osc + "\ny");
        Assert.Equal(2, badFormat.Code);
        AssertOneEscapedErrorLine(badFormat.Err);
    }

    [Fact]
    public void The_manifest_engine_echoed_in_an_error_is_escaped()
    {
        string good = _dir.Combine("good.c1z");
        Assert.Equal(0, Run("fixture-gen", "--out", good, "--grants", "10").Code);
        byte[] bytes = File.ReadAllBytes(good);
        int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(5, 4));
        var manifest = DotC1z.Format.Manifest.C1ZManifest.Parser.ParseFrom(bytes.AsSpan(9, length));
        manifest.Engine = "evil" + Osc + Clear + "\r\nc1z: ok\u202e";
        byte[] newManifest = Google.Protobuf.MessageExtensions.ToByteArray(manifest);
        byte[] lengthBytes = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(lengthBytes, newManifest.Length);
        string bad = _dir.Combine("engine.c1z");
        File.WriteAllBytes(bad, [.. bytes.AsSpan(0, 5), .. lengthBytes, .. newManifest, .. bytes.AsSpan(9 + length)]);

        foreach (string[] args in new[] { new[] { "grants", bad }, ["stats", bad, "--deep"], ["verify", bad] })
        {
            var r = Run(args);
            Assert.Equal(1, r.Code);
            AssertOneEscapedErrorLine(r.Err);
            Assert.Contains("evil\\x1b]0;pwned\\x07\\x1b[2J\\r\\nc1z: ok\\u202e", r.Err, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Verbose_exception_text_is_escaped_too()
    {
        var r = Run("grants", _dir.Combine("x" + Osc), "--verbose");
        Assert.Equal(1, r.Code);
        AssertNoRawControls(r.Err);
    }

    private static void AssertOneEscapedErrorLine(string err)
    {
        AssertNoRawControls(err);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("c1z: error: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotMatch(@"unexpected [A-Z]", lines[0]);
    }

    /// <summary>Splits one RFC 4180 row (no embedded line breaks: the writer escapes them).</summary>
    private static List<string> SplitCsv(string row)
    {
        var cells = new List<string>();
        var cell = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < row.Length; i++)
        {
            char c = row[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < row.Length && row[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                cells.Add(cell.ToString());
                cell.Clear();
            }
            else
            {
                cell.Append(c);
            }
        }

        cells.Add(cell.ToString());
        return cells;
    }
}
