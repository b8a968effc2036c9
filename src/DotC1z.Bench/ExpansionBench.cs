using System.Diagnostics;
using System.Globalization;
using DotC1z.Engine.Rocks;
using DotC1z.Engine.Sqlite;
using DotC1z.Operations;
using DotC1z.Storage;

namespace DotC1z.Bench;

/// <summary>
/// G14: grant expansion of baton's medium fixture (<c>medium-unexpanded.c1z</c>: 66,601 grants → 418,389)
/// on each engine — the sync is copied into a store of the engine (not timed), then expanded into a
/// fresh store of the same engine (<see cref="GrantExpander.ExpandInto"/>: read, reduce, bulk write),
/// median of three runs.
/// </summary>
public sealed partial class BenchRunner
{
    /// <summary>baton's unexpanded medium fixture (the v1 twin of the Pebble fixture), G14's input.</summary>
    public const string MediumFixtureName = "medium-unexpanded.c1z";

    private List<BenchResult> G14(IReadOnlyList<BenchEngine> engines)
    {
        var results = new List<BenchResult>();
        string? pebble = PebbleFixture ?? FindPebbleFixture();
        string? input = pebble is null ? null : Path.Combine(Path.GetDirectoryName(pebble)!, MediumFixtureName);
        if (input is null || !File.Exists(input))
        {
            _ctx.Err.WriteLine($"G14 not run: {MediumFixtureName} was not found (run from a clone, or pass --pebble PATH with it beside)");
            return results;
        }

        using var fixture = StoreOpener.Open(input, readOnly: true);
        var sync = fixture.LatestSync() ?? throw new Errors.C1zArgumentException($"{input} holds no sync");
        foreach (var engine in engines)
        {
            string dir = Path.Combine(engine.WorkDir, "g14");
            Directory.CreateDirectory(dir);
            using var source = ExpansionStore(engine, Path.Combine(dir, "source"));
            StoreCopy.CopySync(fixture, sync, source, sync, _ctx.Cancellation);
            var times = new List<double>();
            long peak = 0, rows = 0;
            ExpansionResult? last = null;
            for (int run = 0; run < 3; run++)
            {
                string path = Path.Combine(dir, $"expanded{run}");
                using (var target = ExpansionStore(engine, path))
                {
                    ResetPeakRss();
                    var sw = Stopwatch.StartNew();
                    last = GrantExpander.ExpandInto(source, sync, target, sync, new ExpansionOptions(), _ctx.Cancellation);
                    sw.Stop();
                    times.Add(sw.Elapsed.TotalMilliseconds);
                    peak = Math.Max(peak, PeakRss());
                    rows = target.Count(sync).Grants;
                }

                DeleteStore(path);
            }

            _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G14 [{engine.Name}] runs: {string.Join(", ", times.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))} ms (median reported); {last!.Edges} edges, {last.EntitlementsRecomputed} destinations, {last.GrantsCreated} created, {last.GrantsUpdated} updated"));
            times.Sort();
            var result = new BenchResult("G14", "ExpandMediumFixture", engine.Name, rows, times[times.Count / 2], rows, peak);
            results.Add(result);
            _ctx.Out.WriteLine(result.Line());
        }

        if (results.Count == 2)
        {
            double ratio = results[1].ElapsedMs / Math.Max(results[0].ElapsedMs, 1e-9);
            _ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"G14 ratio {results[0].Engine}/{results[1].Engine}: {ratio:F1}x"));
        }

        return results;
    }

    /// <summary>A store of the engine under test for expansion benchmarks (durable like the engine's main store).</summary>
    private static IC1zStore ExpansionStore(BenchEngine engine, string path) => engine.Name == "sqlite"
        ? SqliteStore.Open(path + ".sqlite")
        : RocksStore.Open(path, new RocksStoreOptions { Durability = RocksDurability.Sync });

    private static void DeleteStore(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }

        foreach (string f in Directory.EnumerateFiles(Path.GetDirectoryName(path)!, Path.GetFileName(path) + ".sqlite*"))
        {
            File.Delete(f);
        }
    }
}
