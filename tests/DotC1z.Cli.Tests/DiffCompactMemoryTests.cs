using System.Globalization;
using DotC1z.Tests.Shared;
using Xunit.Abstractions;

namespace DotC1z.Cli.Tests;

/// <summary>Two 1M-grant files whose every grant differs (same ids, other entitlements and principals), written by child c1z processes.</summary>
public sealed class TwoMillionGrantFiles : IDisposable
{
    private readonly TempDir _dir = new("diff-rss");

    public TwoMillionGrantFiles()
    {
        string grants = MillionGrantFixture.Grants.ToString(CultureInfo.InvariantCulture);
        Base = _dir.Combine("base.c1z");
        Applied = _dir.Combine("applied.c1z");
        foreach (var (file, seed) in new[] { (Base, "17"), (Applied, "18") })
        {
            var (code, _, err, _) = ExportMemoryTests.RunChild("fixture-gen", "--out", file, "--grants", grants, "--seed", seed);
            Assert.True(code == 0, "fixture-gen failed: " + err);
        }
    }

    public string Base { get; }

    public string Applied { get; }

    public string Combine(string name) => _dir.Combine(name);

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// Issue 16 "Done when": diff and compaction of two 1M-grant files stream (nothing copied, one record per input in
/// memory): each, run as a child process, peaks under 300 MiB resident (VmHWM polled from /proc).
/// </summary>
public sealed class DiffCompactMemoryTests(TwoMillionGrantFiles files, ITestOutputHelper output) : IClassFixture<TwoMillionGrantFiles>
{
    private const long LimitBytes = 300L << 20;

    [Theory]
    [InlineData("diff")]
    [InlineData("diff-summary")]
    [InlineData("compact")]
    public void Runs_on_two_million_grant_files_under_300_MiB(string operation)
    {
        Assert.True(OperatingSystem.IsLinux(), "this test reads /proc: it runs on Linux only");
        string target = files.Combine(operation + ".c1z");
        string[] args = operation switch
        {
            "diff" => ["diff", files.Base, files.Applied, "--out", target],
            "diff-summary" => ["diff", files.Base, files.Applied, "--format", "summary"],
            _ => ["compact", "--out", target, files.Base, files.Applied],
        };
        var (code, stdout, err, peak) = ExportMemoryTests.RunChild(args);
        Assert.True(code == 0, err);
        // Same ids, other contents: (nearly) every grant is a modification.
        Assert.Matches(operation switch
        {
            "diff" => @"additions sync \S+: [1-9]\d{5,} records",
            "diff-summary" => @"grants: 0 created, 0 deleted, [1-9]\d{5,} modified",
            _ => @"[1-9]\d{5,} grants",
        }, stdout);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{operation} of two {MillionGrantFixture.Grants:N0}-grant files: peak RSS {peak / (1 << 20)} MiB (limit {LimitBytes >> 20} MiB)"));
        Assert.True(peak > 0, "no peak RSS was read from /proc");
        Assert.True(peak < LimitBytes, string.Create(CultureInfo.InvariantCulture, $"peak RSS {peak / (1 << 20)} MiB, limit {LimitBytes >> 20} MiB"));
    }
}
