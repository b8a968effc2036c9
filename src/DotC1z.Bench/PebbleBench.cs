using System.Diagnostics;
using System.Globalization;
using DotC1z.Interop.Pebble;
using DotC1z.Engine.Rocks;
using DotC1z.Interop.V1;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Bench;

/// <summary>
/// G11: baton's files as users receive them. The rocks side reads baton's Pebble C1Z3 fixture through our
/// Pebble reader; the sqlite side reads its v1 twin (the same sync as a SQLite file) through the v1 path.
/// Three figures: open + full read of every record, import into our C1Z3 file, and (Pebble only) the raw
/// key/value decode rate of the table reader.
/// </summary>
public sealed partial class BenchRunner
{
    /// <summary>The Pebble fixture's file name in <c>tests/fixtures/</c>.</summary>
    public const string PebbleFixtureName = "medium-unexpanded.pebble2.c1z";

    /// <summary>The v1 twin's file name, looked for beside the Pebble fixture.</summary>
    public const string V1TwinName = "medium-unexpanded.c1z";

    /// <summary>baton's Pebble fixture for G11 (default: <c>tests/fixtures/</c> of the repository the tool runs from).</summary>
    public string? PebbleFixture { get; init; }

    /// <summary>Finds <c>tests/fixtures/</c> above the working directory or the tool's own directory.</summary>
    /// <returns>The Pebble fixture's path, or null.</returns>
    public static string? FindPebbleFixture()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "fixtures", PebbleFixtureName);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private List<BenchResult> G11(IReadOnlyList<BenchEngine> engines)
    {
        var results = new List<BenchResult>();
        string? pebble = PebbleFixture ?? FindPebbleFixture();
        if (pebble is null || !File.Exists(pebble))
        {
            _ctx.Err.WriteLine($"G11 not run: baton's Pebble fixture {PebbleFixtureName} was not found (run from a clone, or pass --pebble PATH)");
            return results;
        }

        string twin = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(pebble))!, V1TwinName);
        foreach (var (step, name) in new[] { ("read", "BatonOpenFullRead"), ("import", "BatonImport") })
        {
            var round = new List<BenchResult>();
            foreach (var engine in engines)
            {
                bool viaPebble = engine.Name == "rocks";
                string input = viaPebble ? pebble : twin;
                if (!File.Exists(input))
                {
                    _ctx.Err.WriteLine($"G11 {name} [{engine.Name}] not run: {input} not found");
                    continue;
                }

                Func<long> op = step == "read"
                    ? () => viaPebble ? ReadPebble(input) : ReadV1(input)
                    : () => Import(input, viaPebble, engine.WorkDir);
                _ = op(); // untimed: JIT and page cache, as every other benchmark
                var result = Once("G11", name, engine, op);
                round.Add(result);
                results.Add(result);
                _ctx.Out.WriteLine(result.Line());
            }

            if (round.Count == 2)
            {
                double ratio = round[1].ElapsedMs / Math.Max(round[0].ElapsedMs, 1e-9);
                _ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"G11 {name} ratio {round[0].Engine}/{round[1].Engine}: {ratio:F1}x"));
            }
        }

        if (engines.Any(e => e.Name == "rocks"))
        {
            results.Add(PebbleScan(pebble, engines.First(e => e.Name == "rocks")));
        }

        return results;
    }

    /// <summary>Raw decode rate: every live key/value of the Pebble database, repeated for the benchmark's duration.</summary>
    private BenchResult PebbleScan(string pebble, BenchEngine engine)
    {
        using var file = BatonPebbleFile.Open(pebble);
        long Scan(out long bytes)
        {
            long n = 0;
            bytes = 0;
            using var cursor = file.Database.Scan();
            while (cursor.MoveNext())
            {
                n++;
                bytes += cursor.Key.Length + cursor.Value.Length;
            }

            return n;
        }

        _ = Scan(out _);
        ResetPeakRss();
        long rows = 0, total = 0, ops = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < _duration || ops == 0)
        {
            rows += Scan(out long bytes);
            total += bytes;
            ops++;
        }

        sw.Stop();
        var result = new BenchResult("G11", "PebbleKvDecode", engine.Name, rows, sw.Elapsed.TotalMilliseconds, rows, PeakRss());
        _ctx.Out.WriteLine(result.Line() + string.Create(CultureInfo.InvariantCulture, $"  {total / 1e6 / Math.Max(sw.Elapsed.TotalSeconds, 1e-9):F0} MB/s (one thread)"));
        return result;
    }

    private static long ReadPebble(string path)
    {
        using var file = BatonPebbleFile.Open(path);
        return file.Snapshot.CountByReading().Total;
    }

    private static long ReadV1(string path)
    {
        using var store = V1File.OpenReadOnly(path);
        long n = 0;
        foreach (var run in store.ListSyncRuns())
        {
            var s = SyncId.Parse(run.SyncId);
            n += store.ResourceTypes(s).LongCount() + store.Resources(s).LongCount() + store.Entitlements(s).LongCount() + store.Grants(s).LongCount() + store.Assets(s).LongCount();
        }

        return n;
    }

    /// <summary>What <c>c1z import</c> does: the input into a fresh store, saved as a C1Z3 file.</summary>
    private static long Import(string input, bool viaPebble, string workDir)
    {
        string dir = PrivateDirectory.CreateUnique(workDir, "g11-");
        try
        {
            long records;
            using (var store = RocksStore.Open(Path.Combine(dir, "db"), new RocksStoreOptions { Durability = RocksDurability.NoSync }))
            {
                if (viaPebble)
                {
                    using var file = BatonPebbleFile.Open(input);
                    records = file.Snapshot.CopyTo(store).Total;
                }
                else
                {
                    records = V1Import.Import(input, store).TotalRecords;
                }

                C1zFile.Save(store, Path.Combine(dir, "out.c1z"));
            }

            return records;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
