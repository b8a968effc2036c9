using System.Security.Cryptography;
using System.Text;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>End-to-end runs of the c1z commands, in process, asserting output lines and exit codes (docs/CLI.md).</summary>
public sealed class CliTests : IDisposable
{
    private readonly TempDir _dir = new("cli");

    public void Dispose() => _dir.Dispose();

    private static void AssertOneErrorLine(string err, string contains)
    {
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("c1z: error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(contains, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
    }

    [Fact]
    public void Fixture_gen_is_deterministic_and_refuses_an_existing_output()
    {
        string a = _dir.Combine("a"), b = _dir.Combine("b");
        var r1 = Run("fixture-gen", "--out", a, "--grants", "3000", "--seed", "9");
        Assert.Equal(0, r1.Code);
        Assert.Matches(@"^done: 3000 grants in \d+ ms \(\d+ r/s\)\s*$", r1.Out.Trim().Split('\n')[^1]);
        Assert.Contains("grants", r1.Err, StringComparison.Ordinal); // plain progress lines on stderr
        Assert.Equal(0, Run("fixture-gen", "--out", b, "--grants", "3000", "--seed", "9").Code);
        Assert.Equal(Hash(a), Hash(b));
        Assert.NotEqual(Hash(a), Hash(Gen("c", "10")));

        var again = Run("fixture-gen", "--out", a, "--grants", "10");
        Assert.Equal(1, again.Code);
        AssertOneErrorLine(again.Err, "already exists");
    }

    private string Gen(string name, string seed, int grants = 3000)
    {
        string path = _dir.Combine(name);
        Assert.Equal(0, Run("fixture-gen", "--out", path, "--grants", grants.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", seed).Code);
        return path;
    }

    /// <summary>The logical content: every grant of every sync, via the JSON output.</summary>
    private static string Hash(string path)
    {
        var r = Run("grants", path, "--format", "json");
        Assert.Equal(0, r.Code);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(r.Out)));
    }

    [Fact]
    public void Stats_grants_and_verify_work_on_c1z3_files_directories_and_real_v1_files()
    {
        string file = _dir.Combine("f.c1z");
        Assert.Equal(0, Run("fixture-gen", "--out", file, "--grants", "2000", "--entitlements", "10").Code);
        var stats = Run("stats", file, "--json");
        Assert.Equal(0, stats.Code);
        Assert.Contains("\"grants\":2000", stats.Out, StringComparison.Ordinal);
        var grants = Run("grants", file, "--entitlement", "ent-000003", "--format", "csv");
        Assert.Equal(0, grants.Code);
        var rows = grants.Out.Trim().Split('\n');
        Assert.StartsWith("external_id,", rows[0], StringComparison.Ordinal);
        Assert.All(rows.Skip(1), r => Assert.Contains(",ent-000003,", r, StringComparison.Ordinal));
        Assert.Equal("ok", Run("verify", file).Out.Trim());

        string real = TestPaths.RealFixture("small-expanded.c1z");
        var realStats = Run("stats", real, "--json");
        Assert.Equal(0, realStats.Code);
        Assert.Contains("\"grants\":14981", realStats.Out, StringComparison.Ordinal);
        var byPrincipal = Run("grants", real, "--principal", "group/group-0000010", "--format", "json");
        Assert.Equal(0, byPrincipal.Code);
        Assert.All(byPrincipal.Out.Trim().Split('\n'), l => Assert.Contains("group-0000010", l, StringComparison.Ordinal));
        Assert.Equal("ok", Run("verify", real).Out.Trim());
        Assert.Contains("14981", Run("stats", real).Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Import_export_compact_and_diff_end_to_end()
    {
        string real = TestPaths.RealFixture("small-unexpanded.c1z");
        string imported = _dir.Combine("imported.c1z");
        var import = Run("import", "--in", real, "--out", imported);
        Assert.Equal(0, import.Code);
        Assert.Contains("2909 grants", import.Out, StringComparison.Ordinal);
        string exported = _dir.Combine("exported-v1.c1z");
        Assert.Equal(0, Run("export", "--in", imported, "--out", exported).Code);
        Assert.Contains("\"grants\":2909", Run("stats", exported, "--json").Out, StringComparison.Ordinal);

        string a = Gen("base", "1");
        string b = Gen("applied", "2", 4000);
        string merged = _dir.Combine("merged.c1z");
        var compact = Run("compact", "--base", a, "--applied", b, "--out", merged);
        Assert.Equal(0, compact.Code);
        Assert.Contains("4000 grants", compact.Out, StringComparison.Ordinal);
        string diff = _dir.Combine("diff");
        var d = Run("diff", "--base", a, "--applied", b, "--out", diff);
        Assert.Equal(0, d.Code);
        Assert.Contains("additions sync", d.Out, StringComparison.Ordinal);
        Assert.Contains("partial_deletions", Run("stats", diff).Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Expand_reproduces_the_expanded_fixture_counts()
    {
        string output = _dir.Combine("expanded.c1z");
        var r = Run("expand", "--in", TestPaths.RealFixture("small-unexpanded.c1z"), "--out", output, "--legacy-is-direct");
        Assert.Equal(0, r.Code);
        Assert.Contains("14981 grants", r.Out, StringComparison.Ordinal);
        Assert.Contains("\"grants\":14981", Run("stats", output, "--json").Out, StringComparison.Ordinal);

        // Spill scratch goes beside the output and is gone afterwards: the output is all that is left there.
        Assert.Equal(["expanded.c1z"], Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(output)!).Select(Path.GetFileName));
    }

    [Fact]
    public void Expand_with_a_base_gives_what_a_full_expansion_gives()
    {
        string real = TestPaths.RealFixture("small-unexpanded.c1z");
        string old = _dir.Combine("old-expanded.c1z");
        Assert.Equal(0, Run("expand", "--in", real, "--out", old).Code);

        // The newer sync: every 40th membership revoked, and some members of one group added to another.
        string next = _dir.Combine("next");
        using (var source = StoreOpener.Open(real, readOnly: true))
        using (var store = Engine.Rocks.RocksStore.Open(next, new Engine.Rocks.RocksStoreOptions { Durability = Engine.Rocks.RocksDurability.NoSync }))
        {
            var sync = source.LatestSync()!.Value;
            StoreCopy.CopySync(source, sync, store, sync);
            var memberships = store.Grants(sync).Where(g => !g.NeedsExpansion).ToList();
            foreach (var g in memberships.Where((_, i) => i % 40 == 0))
            {
                store.DeleteGrant(sync, g.ExternalId);
            }

            var target = memberships[1].Entitlement;
            store.PutGrants(sync, memberships.Where((_, i) => i % 97 == 5).Select(g => new Records.GrantRecord
            {
                ExternalId = "added:" + g.ExternalId,
                Entitlement = target,
                Principal = g.Principal,
            }).ToList());
        }

        string full = _dir.Combine("full.c1z"), incremental = _dir.Combine("incremental.c1z");
        Assert.Equal(0, Run("expand", "--in", next, "--out", full).Code);
        var r = Run("expand", "--in", next, "--base", old, "--out", incremental);
        Assert.Equal(0, r.Code);
        Assert.Matches(@"entitlements recomputed", r.Out);

        static Dictionary<string, string> Grants(string path)
        {
            using var store = StoreOpener.Open(path, readOnly: true);
            return store.Grants(store.LatestSync()!.Value).ToDictionary(g => g.ExternalId, g =>
            {
                // Sources compared as a map; derived grants' discovered_at is the time of the run.
                string sources = string.Join(";", g.Sources.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}"));
                var c = g.Clone();
                c.SyncId = string.Empty;
                c.Sources.Clear();
                c.DiscoveredAt = g.Annotations.Count > 0 ? null : c.DiscoveredAt;
                return sources + "|" + c;
            });
        }

        // The same with the base's input at hand: the changes are found from the two inputs.
        string fromInputs = _dir.Combine("from-inputs.c1z");
        var ri = Run("expand", "--in", next, "--base", old, "--base-input", real, "--out", fromInputs);
        Assert.Equal(0, ri.Code);
        Assert.Equal(r.Out.Split(" grants changed")[0].Split(": ")[^1], ri.Out.Split(" grants changed")[0].Split(": ")[^1]);

        var want = Grants(full);
        foreach (string path in new[] { incremental, fromInputs })
        {
            var got = Grants(path);
            Assert.Equal(want.Count, got.Count);
            Assert.Empty(want.Where(p => !got.TryGetValue(p.Key, out var v) || v != p.Value).Take(3));
        }

        // An input that is not the base's (another sync id) is refused, and --base-input alone is a usage error.
        var wrong = Run("expand", "--in", next, "--base", old, "--base-input", TestPaths.RealFixture("medium-unexpanded.c1z"), "--out", _dir.Combine("wrong.c1z"));
        Assert.NotEqual(0, wrong.Code);
        Assert.Contains("--base-input's latest sync is", wrong.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Combine("wrong.c1z")));
        var alone = Run("expand", "--in", next, "--base-input", real, "--out", _dir.Combine("alone.c1z"));
        Assert.NotEqual(0, alone.Code);
        Assert.Contains("--base-input needs --base", alone.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Equiv_reports_equivalence()
    {
        var r = Run("equiv", "--seed", "123456", "--ops", "500");
        Assert.Equal(0, r.Code);
        Assert.Equal("equivalent: seed=123456 ops=500 engines=memory,rocks,sqlite", r.Out.Trim());
    }

    [Fact]
    public void Bench_prints_contract_lines_and_ratios()
    {
        string json = _dir.Combine("bench.json");
        var r = Run("bench", "--grants", "3000", "--duration", "0.05", "--bench", "G1,G3,G5,G9", "--json", json);
        Assert.Equal(0, r.Code);
        var lines = r.Out.Trim().Split('\n');
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^G3 ListByEntitlement \[rocks\]: \d+ ops in \d+ ms  \d+ ops/s  \d+ ns/op  rows=\d+"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^G3 ratio rocks/sqlite: \d+\.\dx$"));
        Assert.Equal(4, lines.Count(l => l.Contains("ratio", StringComparison.Ordinal)));
        Assert.Contains("\"peak_rss_bytes\"", File.ReadAllText(json), StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_are_one_line_with_the_contract_exit_codes()
    {
        var missing = Run("stats", _dir.Combine("nope.c1z"));
        Assert.Equal(1, missing.Code);
        AssertOneErrorLine(missing.Err, "nope.c1z");

        string junk = _dir.Combine("junk.c1z");
        File.WriteAllText(junk, "this is not a c1z file");
        var bad = Run("verify", junk);
        Assert.Equal(1, bad.Code);
        AssertOneErrorLine(bad.Err, "junk.c1z");

        var badSync = Run("grants", TestPaths.RealFixture("sync-in-progress.c1z"), "--sync", "not-a-ksuid");
        Assert.Equal(1, badSync.Code);
        AssertOneErrorLine(badSync.Err, "invalid sync id");

        var usage = Run("fixture-gen", "--grants", "x");
        Assert.Equal(2, usage.Code);
        AssertOneErrorLine(usage.Err, "--");
        Assert.Equal(2, Run("no-such-command").Code);
        Assert.Equal(2, Run("bench", "--engine", "oracle").Code);

        var verbose = Run("stats", _dir.Combine("nope.c1z"), "--verbose");
        Assert.Equal(1, verbose.Code);
        Assert.Contains("   at ", verbose.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_every_command_with_an_example()
    {
        var help = Run("--help");
        Assert.Equal(0, help.Code);
        foreach (string c in new[] { "fixture-gen", "bench", "import", "export", "stats", "grants", "compact", "diff", "verify", "equiv", "expand" })
        {
            Assert.Contains(c, help.Out, StringComparison.Ordinal);
            var sub = Run(c, "--help");
            Assert.Equal(0, sub.Code);
            Assert.Contains("Example:", sub.Out, StringComparison.Ordinal);
        }

        Assert.Equal(0, Run("--version").Code);
    }
}
