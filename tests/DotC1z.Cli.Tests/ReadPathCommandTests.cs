using System.Globalization;
using System.Text.RegularExpressions;
using DotC1z.Engine.Rocks;
using DotC1z.Records;
using DotC1z.Tests.Shared;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>Issue 19 at the command line: G5's two-core line and G13's child-process RSS in c1z bench, export through partitioned scans.</summary>
public sealed class ReadPathCommandTests : IDisposable
{
    private readonly TempDir _dir = new("read-path-cli");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Bench_reports_G5_on_every_core_and_G13_from_a_child_process_on_both_engines()
    {
        var r = Run("bench", "--grants", "3000", "--duration", "0.05", "--bench", "G5,G13");
        Assert.True(r.Code == 0, r.Err);
        var lines = r.Out.Trim().Split('\n');
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^G5 FullSyncScan-\dcores \[rocks\]: \d+ ops in \d+ ms .* rows=\d+"));
        var g13 = lines.Select(l => Regex.Match(l, @"^G13 ColdFileListByEntitlementRss \[(\w+)\]: .* rows=(\d+)  peak_rss=(\d+)$")).Where(m => m.Success).ToList();
        Assert.True(g13.Count == 2, "G13 lines:\n" + r.Out);
        foreach (var m in g13)
        {
            long rows = long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            long peak = long.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture);
            Assert.True(rows > 0, $"{m.Groups[1].Value}: the child listed no grant");
            // A .NET process that opened a store holds tens of MiB; a figure below that was not read from the child.
            Assert.True(peak > 20L << 20, $"{m.Groups[1].Value}: peak RSS {peak} B");
        }

        // Both engines listed the same entitlement of the same fixture.
        Assert.Equal(g13[0].Groups[2].Value, g13[1].Groups[2].Value);
    }

    [Fact]
    public void Export_of_grants_read_in_parallel_parts_keeps_the_serial_order_and_rows()
    {
        int seed = Seeds.Get(1917);
        var rng = new Random(seed);
        string dir = _dir.Combine("store");
        List<string> serial;
        using (var store = RocksStore.Open(dir, new RocksStoreOptions { Durability = RocksDurability.NoSync, BulkChunkRecords = 700 }))
        {
            var sync = store.StartSync(SyncType.Full);
            using (var loader = store.BeginBulkLoad(sync))
            {
                foreach (int i in Enumerable.Range(0, 6000).OrderBy(_ => rng.Next()))
                {
                    loader.Add(StoreContractTests.Grant($"g{rng.Next(1000)}-{i}", "e" + rng.Next(30), "user", "u" + rng.Next(90)));
                }

                loader.Complete();
            }

            store.EndSync(sync);
            serial = [.. store.Grants(sync).Select(g => $"{g.ExternalId},{g.Entitlement.EntitlementId},{g.Entitlement.ResourceTypeId},{g.Entitlement.ResourceId},{g.Principal.ResourceTypeId},{g.Principal.ResourceId}")];
            using var parts = store.PartitionGrants(sync, 2);
            Assert.True(parts.Parts.Count == 2, $"seed={seed}: the store was not split, so export would not read in parts");
        }

        string outDir = _dir.Combine("csv");
        var r = Run("export", "--in", dir, "--format", "csv", "--out", outDir);
        Assert.True(r.Code == 0, r.Err);
        var exported = File.ReadAllLines(Path.Combine(outDir, "grants.csv")).Skip(1)
            .Select(l => string.Join(',', l.Split(',').Take(6))).ToList();
        Assert.True(serial.SequenceEqual(exported), $"seed={seed}: exported {exported.Count} grant rows, the serial scan has {serial.Count}; first difference at {serial.Zip(exported).TakeWhile(p => p.First == p.Second).Count()}");
    }
}
