using System.Diagnostics;
using DotC1z.Errors;
using DotC1z.Tests.Shared;
using Xunit.Abstractions;

namespace DotC1z.Pebble.Tests;

/// <summary>
/// Seeded damage to the real fixture: bit flips, byte overwrites and truncations inside the MANIFEST, the
/// table footers, the index blocks and the data blocks. Every mutant must either fail with a typed error or
/// read back exactly the original key/value set; anything else (another exception, a hang, different
/// records) fails the test with the seed and the mutant.
/// </summary>
public sealed class MutationTests(ITestOutputHelper output)
{
    private enum RegionKind
    {
        Manifest,
        Footer,
        Index,
        Data,
    }

    private sealed record Region(RegionKind Kind, string File, int Start, int Length);

    private static List<Region> Regions(FixtureFiles files)
    {
        var regions = new List<Region>();
        byte[] manifest = files.Files["MANIFEST-000021"];
        regions.Add(new Region(RegionKind.Manifest, "MANIFEST-000021", 0, manifest.Length));
        var options = PebbleReadOptions.Default;
        foreach (string name in files.FileNames.Where(n => n.EndsWith(".sst", StringComparison.Ordinal)))
        {
            byte[] data = files.Files[name];
            var t = TableFile.Load(name, data, options, new DecodeBudget(options));
            regions.Add(new Region(RegionKind.Footer, name, data.Length - 61, 61));
            regions.Add(new Region(RegionKind.Index, name, t.IndexHandle.Offset, t.IndexHandle.Length + 5));
            for (int i = 0; i < t.TopIndex.Rows; i++)
            {
                var h = t.TopIndex.Handle(t, i, "index");
                regions.Add(new Region(RegionKind.Data, name, h.Offset, h.Length + 5));
            }
        }

        return regions;
    }

    [Fact]
    public void Mutants_fail_with_typed_errors_or_read_identically()
    {
        int seed = Seeds.Get(20_261_129);
        const int mutants = 2_000;
        var files = FixtureFiles.Medium.Shared();
        (ulong Hash, long Count) baseline;
        using (var db = PebbleDatabase.Open(files))
        {
            baseline = Builders.HashAll(db);
        }

        var regions = Regions(files);
        var byKind = regions.GroupBy(r => r.Kind).ToDictionary(g => g.Key, g => g.ToArray());
        int typed = 0, identical = 0;
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var sw = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        Parallel.For(0, mutants, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var rng = new Random(HashCode.Combine(seed, i));
            var kind = (RegionKind)(i % 4);
            var pool = byKind[kind];
            var region = pool[rng.Next(pool.Length)];
            byte[] original = files.Files[region.File];
            byte[] mutated;
            string what;
            int at = region.Start + rng.Next(region.Length);
            switch (rng.Next(4))
            {
                case 0:
                    mutated = original.AsSpan(0, at).ToArray();
                    what = $"truncate {region.File} to {at}";
                    break;
                case 1:
                    mutated = (byte[])original.Clone();
                    mutated[at] = (byte)rng.Next(256);
                    what = $"set {region.File}[{at}] = 0x{mutated[at]:x2} (was 0x{original[at]:x2})";
                    break;
                default:
                    mutated = (byte[])original.Clone();
                    int bit = rng.Next(8);
                    mutated[at] ^= (byte)(1 << bit);
                    what = $"flip bit {bit} of {region.File}[{at}]";
                    break;
            }

            string label = $"seed {seed} mutant {i} ({kind}): {what}";
            using var timeout = new CancellationTokenSource(ChecksumValidGarbageTests.Hang);
            try
            {
                using var db = PebbleDatabase.Open(files.With(region.File, mutated), cancellationToken: timeout.Token);
                var got = Builders.HashAll(db, timeout.Token);
                if (got == baseline)
                {
                    Interlocked.Increment(ref identical);
                }
                else
                {
                    failures.Add($"{label}: read {got.Count} records with hash {got.Hash:x16} instead of {baseline.Count} / {baseline.Hash:x16}");
                }
            }
            catch (Exception e) when (e is C1zCorruptionException or C1zFormatException)
            {
                // A runtime exception converted at the public boundary is a missed check, not a pass.
                if (e.InnerException is { } inner && inner is not C1zException)
                {
                    failures.Add($"{label}: unchecked {inner.GetType().Name} surfaced as {e.Message}");
                }
                else
                {
                    Interlocked.Increment(ref typed);
                }
            }
            catch (OperationCanceledException)
            {
                failures.Add($"{label}: did not finish within {ChecksumValidGarbageTests.Hang.TotalSeconds} s");
            }
            catch (Exception e)
            {
                failures.Add($"{label}: {e.GetType().Name}: {e.Message}");
            }
        });

        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        output.WriteLine($"seed {seed}: {mutants} mutants in {sw.Elapsed.TotalSeconds:F1} s ({cpu.TotalSeconds:F1} s CPU, whole process): {typed} typed errors, {identical} identical reads, {failures.Count} failures");
        Assert.True(failures.IsEmpty, $"seed {seed} (set DOTC1Z_TEST_SEED to replay):\n" + string.Join("\n", failures.Take(20)));
        Assert.True(typed + identical == mutants);
    }
}
