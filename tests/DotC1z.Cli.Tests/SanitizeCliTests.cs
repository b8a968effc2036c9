using System.Text;
using System.Text.RegularExpressions;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using Google.Protobuf;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary><c>c1z sanitize</c> end to end: real fixtures in, a C1Z3 file out (issue 17 item 4; docs/SANITIZE.md).</summary>
public sealed partial class SanitizeCliTests : IDisposable
{
    private readonly TempDir _dir = new("sanitize-cli");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_output_file_holds_no_original_id_or_name_and_the_same_counts()
    {
        string input = TestPaths.RealFixture("small-unexpanded.c1z");
        string output = _dir.Combine("shared.c1z");
        var r = Run("sanitize", "--in", input, "--out", output, "--secret-file", Secret("k", 1), "--anchor", "2024-01-01T00:00:00Z");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("done: ", r.Out, StringComparison.Ordinal);

        using var source = StorePaths.Open(input);
        using var result = StorePaths.Open(output);
        var inSync = source.LatestSync()!.Value;
        var outSync = result.LatestSync()!.Value;
        Assert.Equal(source.Count(inSync), result.Count(outSync));

        var typeIds = source.ResourceTypes(inSync).Select(t => t.ExternalId).ToHashSet(StringComparer.Ordinal);
        var originals = source.Resources(inSync).SelectMany(x => new[] { x.ResourceId, x.DisplayName, x.Description })
            .Concat(source.Entitlements(inSync).SelectMany(e => new[] { e.ExternalId, e.Description }))
            .Concat(source.Grants(inSync).SelectMany(g => new[] { g.ExternalId, g.Principal.ResourceId }))
            .Concat([inSync.ToString()])
            // Eight characters and more: short display names ("admin") are also words of the profile keys this rule keeps
            // ("total_assignments"); the library test checks every string from three characters with that vocabulary.
            .Where(s => s.Length >= 8 && !typeIds.Contains(s)).ToHashSet(StringComparer.Ordinal);
        Assert.True(originals.Count > 1000);
        IEnumerable<IMessage> records = [.. result.ListSyncRuns(), .. result.ResourceTypes(outSync), .. result.Resources(outSync), .. result.Entitlements(outSync), .. result.Grants(outSync)];
        foreach (var record in records)
        {
            string text = Pseudonym().Replace(Encoding.UTF8.GetString(record.ToByteArray()), "#");
            string? leak = originals.FirstOrDefault(o => text.Contains(o, StringComparison.Ordinal));
            Assert.True(leak is null, $"\"{leak}\" survives in {record}");
        }
    }

    [Fact]
    public void A_baton_pebble_file_is_sanitised_into_a_store_directory_with_its_counts()
    {
        // One run only: the same-secret-same-bytes property is checked on the library (SnapshotSanitizerTests).
        string input = TestPaths.RealFixture("medium-unexpanded.pebble2.c1z");
        string output = _dir.Combine("dir-out");
        var r = Run("sanitize", "--in", input, "--out", output, "--secret-file", Secret("k", 2));
        Assert.True(r.Code == 0, r.Err);

        using var source = StorePaths.Open(input);
        using var result = StorePaths.Open(output);
        var inSync = source.LatestSync()!.Value;
        var outSync = result.LatestSync()!.Value;
        Assert.Equal(source.Count(inSync), result.Count(outSync));
        Assert.Equal(66_601, result.Count(outSync).Grants);
        var inIds = source.Grants(inSync).Take(1000).Select(g => g.ExternalId).ToHashSet(StringComparer.Ordinal);
        Assert.DoesNotContain(result.Grants(outSync), g => inIds.Contains(g.ExternalId));
    }

    [Fact]
    public void A_short_secret_a_bad_anchor_or_an_existing_output_is_refused()
    {
        string input = TestPaths.RealFixture("sync-in-progress.c1z");
        string output = _dir.Combine("out.c1z");
        var shortKey = Run("sanitize", "--in", input, "--out", output, "--secret-file", Secret("short", 1, 16));
        Assert.Equal(1, shortKey.Code);
        Assert.Contains("at least 32", shortKey.Err, StringComparison.Ordinal);
        var badAnchor = Run("sanitize", "--in", input, "--out", output, "--secret-file", Secret("k", 1), "--anchor", "2024-01-01 00:00");
        Assert.Equal(1, badAnchor.Code);
        Assert.Contains("RFC 3339", badAnchor.Err, StringComparison.Ordinal);
        Assert.False(Path.Exists(output));

        Assert.Equal(0, Run("sanitize", "--in", input, "--out", output, "--secret-file", Secret("k", 1)).Code);
        Assert.Equal(1, Run("sanitize", "--in", input, "--out", output, "--secret-file", Secret("k", 1)).Code);
        Assert.Contains("Example:", Run("sanitize", "--help").Out, StringComparison.Ordinal);
    }

    private string Secret(string name, byte seed, int length = 32)
    {
        string path = _dir.Combine(name + seed + "-" + length);
        File.WriteAllBytes(path, [.. Enumerable.Range(seed, length).Select(i => (byte)i)]);
        return path;
    }

    [GeneratedRegex("(?<![a-z0-9])[a-z2-7]{20}(?![a-z0-9])")]
    private static partial Regex Pseudonym();
}
