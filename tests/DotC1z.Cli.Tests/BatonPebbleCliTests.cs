using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using DotC1z.Tests.Shared;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>The commands a user runs on a C1Z3 file written by baton's Pebble engine (issue: read baton's Pebble files).</summary>
public sealed class BatonPebbleCliTests : IDisposable
{
    private const string Pebble = "medium-unexpanded.pebble2.c1z";
    private readonly TempDir _dir = new("pebblecli");

    public void Dispose() => _dir.Dispose();

    private static string Ok(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.Code == 0, $"c1z {string.Join(' ', args)} exited {r.Code}: {r.Err}");
        return r.Out;
    }

    [Fact]
    public void Stats_answers_from_the_manifest_and_deep_counts_the_same()
    {
        string file = TestPaths.RealFixture(Pebble);
        string header = Ok("stats", file, "--json");
        Assert.Contains("\"id\":\"36zGvJw3uxU1QMJKU2yPVQ1hBOC\"", header, StringComparison.Ordinal);
        Assert.Contains("\"grants\":66601", header, StringComparison.Ordinal);
        Assert.Contains("\"resources\":35217", header, StringComparison.Ordinal);
        Assert.Equal(header, Ok("stats", file, "--json", "--deep"));
    }

    [Fact]
    public void Grants_verify_import_and_export_work_on_a_baton_pebble_file()
    {
        string file = TestPaths.RealFixture(Pebble);
        Assert.Equal("ok", Ok("verify", file).Trim());

        string json = Ok("grants", file, "--format", "json");
        var lines = json.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(66_601, lines.Length);
        Assert.All(lines.Take(50), l => Assert.StartsWith("{", l, StringComparison.Ordinal));

        // The v1 twin lists the same grants (same order: both by sync and id).
        string twin = Ok("grants", TestPaths.RealFixture("medium-unexpanded.c1z"), "--format", "json");
        Assert.Equal(GrantIds(twin), GrantIds(json));

        string imported = _dir.Combine("imported.c1z");
        string importOut = Ok("import", "--in", file, "--out", imported);
        Assert.Contains("66601 grants", importOut, StringComparison.Ordinal);
        Assert.Equal(Hash(json), Hash(Ok("grants", imported, "--format", "json")));

        string v1 = _dir.Combine("baton-v1.c1z");
        Ok("export", "--in", file, "--out", v1, "--format", "v1");
        string reimported = _dir.Combine("reimported.c1z");
        Ok("import", "--in", v1, "--out", reimported);
        Assert.Equal(Hash(json), Hash(Ok("grants", reimported, "--format", "json")));
    }

    [Theory]
    [InlineData(100, "grants")] // inside the manifest: every command sees it (the frame index records the manifest's XXH64)
    [InlineData(100, "stats")]
    [InlineData(100, "import")]
    [InlineData(-1, "verify")] // the middle of the payload, in a table no listing reads: verify still checks every frame
    public void A_damaged_pebble_file_fails_with_one_line(int offset, string command)
    {
        byte[] bytes = File.ReadAllBytes(TestPaths.RealFixture(Pebble));
        bytes[offset < 0 ? bytes.Length / 2 : offset] ^= 0x40;
        string bad = _dir.Combine("bad.c1z");
        File.WriteAllBytes(bad, bytes);
        string[] args = command switch
        {
            "stats" => ["stats", bad, "--deep"],
            "import" => ["import", "--in", bad, "--out", _dir.Combine("x.c1z")],
            _ => [command, bad],
        };
        {
            var r = Run(args);
            Assert.Equal(1, r.Code);
            var errLines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(errLines);
            Assert.StartsWith("c1z: error: ", errLines[0], StringComparison.Ordinal);
            Assert.DoesNotContain("unexpected", errLines[0], StringComparison.Ordinal);
        }
    }

    private static string[] GrantIds(string jsonLines) =>
        [.. Regex.Matches(jsonLines, "\"externalId\": \"([^\"]*)\"").Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal)];

    private static string Hash(string s) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(s)));
}
