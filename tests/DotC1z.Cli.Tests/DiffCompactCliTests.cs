using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DotC1z.Cli.Tests.Baton;
using DotC1z.Equivalence;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace DotC1z.Cli.Tests;

/// <summary>Issue 16 at the command line: diff reports, diff files that rebuild the newer snapshot, N-input compaction, count-only.</summary>
public sealed class DiffCompactCliTests : IDisposable
{
    private static readonly string[] Types = ["resources", "entitlements", "grants", "resourceTypes", "assets"];
    private static readonly string[] Lists = ["created", "deleted", "modified"];

    private readonly TempDir _dir = new("diff-cli");

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Golden: the report of small-unexpanded → small-expanded (baton's own expansion of the same sync). Each list is
    /// pinned by its length and a SHA-256 of its sorted ids (tests/fixtures/golden/diff-small-expanded.txt); the modified
    /// records' changed fields are pinned too.
    /// </summary>
    [Fact]
    public void Diff_json_of_two_fixture_files_matches_the_golden_lists()
    {
        var (code, stdout, err) = CliRunner.Run("diff", TestPaths.RealFixture("small-unexpanded.c1z"), TestPaths.RealFixture("small-expanded.c1z"), "--format", "json");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout);
        var lines = new List<string>();
        foreach (string type in Types)
        {
            foreach (string list in Lists)
            {
                var ids = doc.RootElement.GetProperty(type).GetProperty(list).EnumerateArray().Select(Id).Order(StringComparer.Ordinal).ToList();
                string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", ids))));
                lines.Add($"{type}.{list} {ids.Count} {hash}");
            }

            var fields = doc.RootElement.GetProperty("modifiedFields").GetProperty(type).EnumerateArray()
                .SelectMany(m => m.GetProperty("fields").EnumerateArray().Select(f => f.GetString()!)).GroupBy(f => f).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}={g.Count()}");
            lines.Add($"{type}.modifiedFields [{string.Join(",", fields)}]");
        }

        string golden = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "golden", "diff-small-expanded.txt")).ReplaceLineEndings("\n").TrimEnd();
        Assert.Equal(golden, string.Join("\n", lines));

        // An existing consumer of baton's C1ZDiffOutput reads the same lists (our extra keys ignored).
        var baton = new JsonParser(JsonParser.Settings.Default.WithIgnoreUnknownFields(true).WithTypeRegistry(TypeRegistry.FromFiles(Connector.V2.ConnectorReflection.Descriptor))).Parse<C1ZDiffOutput>(stdout);
        Assert.Equal(doc.RootElement.GetProperty("grants").GetProperty("created").GetArrayLength(), baton.Grants.Created.Count);
        Assert.Equal(doc.RootElement.GetProperty("grants").GetProperty("modified").GetArrayLength(), baton.Grants.Modified.Count);
        Assert.All(baton.Grants.Modified, g => Assert.NotEmpty(g.Sources.Sources));
    }

    private static string Id(JsonElement record) =>
        record.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()!
        : record.TryGetProperty("id", out var rid) && rid.ValueKind == JsonValueKind.Object ? rid.GetProperty("resourceType").GetString() + "/" + rid.GetProperty("resource").GetString()
        : record.GetProperty("externalId").GetString()!;

    [Fact]
    public void A_diff_file_compacted_onto_its_base_rebuilds_the_applied_snapshot()
    {
        string a = TestPaths.RealFixture("small-unexpanded.c1z");
        string b = TestPaths.RealFixture("small-expanded.c1z");
        string changes = _dir.Combine("changes.c1z");
        string rebuilt = _dir.Combine("rebuilt.c1z");
        var (code, stdout, err) = CliRunner.Run("diff", "--base", a, "--applied", b, "--out", changes);
        Assert.True(code == 0, err);
        Assert.Contains("additions sync", stdout, StringComparison.Ordinal);
        (code, stdout, err) = CliRunner.Run("compact", "--out", rebuilt, a, changes);
        Assert.True(code == 0, err);
        Assert.Contains("(full)", stdout, StringComparison.Ordinal);
        Assert.Contains("conflicts:", stdout, StringComparison.Ordinal);

        // A v1 input is read through SQLite, so its grants are decoded.
        Assert.Matches(@"grants: 0 copied as stored \(byte-level\), [1-9]\d* decoded and re-encoded", stdout);

        // The diff file alone (its additions, then its deletions) is all RocksDB: every grant goes byte-level.
        (code, stdout, err) = CliRunner.Run("compact", "--out", _dir.Combine("changes-folded.c1z"), changes);
        Assert.True(code == 0, err);
        var grants = System.Text.RegularExpressions.Regex.Match(stdout, @" (\d+) grants, ");
        var copied = System.Text.RegularExpressions.Regex.Match(stdout, @"grants: (\d+) copied as stored \(byte-level\), 0 decoded");
        Assert.True(grants.Success && copied.Success, stdout);
        Assert.Equal(grants.Groups[1].Value, copied.Groups[1].Value);

        using var expected = StoreOpener.Open(b, readOnly: true);
        using var actual = StoreOpener.Open(rebuilt, readOnly: true);
        var es = expected.LatestSync()!.Value;
        var acs = actual.LatestSync()!.Value;
        foreach (var kind in RecordKinds.All)
        {
            var visitor = new Canonicals(expected, es, actual, acs);
            kind.Accept(visitor);
            Assert.True(visitor.Expected.SequenceEqual(visitor.Actual), $"{kind.Name}: the rebuilt snapshot differs from the applied one");
        }

        // Verify checks the digests the compaction's save wrote.
        (code, stdout, err) = CliRunner.Run("verify", rebuilt);
        Assert.True(code == 0, stdout + err);
    }

    private sealed class Canonicals(IC1zReader expected, Keys.SyncId es, IC1zReader actual, Keys.SyncId acs) : IRecordKindVisitor
    {
        public List<string> Expected { get; } = [];

        public List<string> Actual { get; } = [];

        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, IMessage<T>, new()
        {
            Expected.AddRange(kind.Scan(expected, es).Select(r => EquivalenceRunner.Canonical(r)));
            Actual.AddRange(kind.Scan(actual, acs).Select(r => EquivalenceRunner.Canonical(r)));
        }
    }

    [Fact]
    public void Compact_takes_n_inputs_and_says_which_rule_decided()
    {
        string a = TestPaths.RealFixture("small-unexpanded.c1z");
        string b = TestPaths.RealFixture("small-expanded.c1z");
        string changes = _dir.Combine("changes.c1z");
        Assert.Equal(0, CliRunner.Run("diff", a, b, "--out", changes).Code);
        string output = _dir.Combine("n.c1z");
        var (code, stdout, err) = CliRunner.Run("compact", "--out", output, a, b, changes);
        Assert.True(code == 0, err);

        // The second input is a full sync: the first is replaced, then the diff's two partial syncs apply.
        Assert.Contains("inputs: 3 syncs merged from 3 inputs, 1 earlier syncs replaced by a later full sync", stdout, StringComparison.Ordinal);
        Assert.Matches(@"conflicts: \d+ decided by discovered_at \(\d+ kept an earlier input's record\), \d+ by input order", stdout);

        // Mixing the two spellings is refused on one line.
        (code, _, err) = CliRunner.Run("compact", "--out", _dir.Combine("x.c1z"), "--base", a, "--applied", b, changes);
        Assert.NotEqual(0, code);
        Assert.Equal("c1z: error: give the inputs either as arguments or as --base/--applied, not both", err.Trim());
    }

    [Fact]
    public void Count_only_answers_from_the_manifests_and_their_grant_digests()
    {
        string a = _dir.Combine("a.c1z");
        string b = _dir.Combine("b.c1z");
        Assert.Equal(0, CliRunner.Run("import", "--in", TestPaths.RealFixture("small-unexpanded.c1z"), "--out", a).Code);
        Assert.Equal(0, CliRunner.Run("import", "--in", TestPaths.RealFixture("small-expanded.c1z"), "--out", b).Code);

        var (code, stdout, err) = CliRunner.Run("diff", a, b, "--count-only");
        Assert.True(code == 0, err);
        Assert.Contains("(manifest); applied: sync", stdout, StringComparison.Ordinal);
        Assert.Contains("grants: 2909 -> 14981 (+12072)", stdout, StringComparison.Ordinal);
        // 219 entitlements gained derived grants or sources (counted from the golden diff report's grants).
        Assert.Matches(@"grant digests: differ: the grants changed in 219 of \d+ entitlements", stdout);

        (code, stdout, err) = CliRunner.Run("diff", a, a, "--count-only");
        Assert.True(code == 0, err);
        Assert.Contains("grant digests: equal", stdout, StringComparison.Ordinal);

        // A legacy v1 file carries no digest: counted, and said so.
        (code, stdout, err) = CliRunner.Run("diff", TestPaths.RealFixture("small-unexpanded.c1z"), a, "--count-only");
        Assert.True(code == 0, err);
        Assert.Contains("(counted)", stdout, StringComparison.Ordinal);
        Assert.Contains("grant digests: not carried by both files", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.Combine("changes.c1z")));
    }

    [Fact]
    public void Diff_summary_is_the_default_and_same_sync_ids_are_compared()
    {
        // Both fixtures carry the same sync id (the expanded file is the same sync after expansion).
        var (code, stdout, err) = CliRunner.Run("diff", TestPaths.RealFixture("small-unexpanded.c1z"), TestPaths.RealFixture("small-expanded.c1z"));
        Assert.True(code == 0, err);
        Assert.Contains("grants: 12072 created, 0 deleted, 1199 modified (changed fields: sources 1199)", stdout, StringComparison.Ordinal);
        Assert.Contains("resources: 0 created, 0 deleted, 0 modified", stdout, StringComparison.Ordinal);
    }
}
