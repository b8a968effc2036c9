using System.Diagnostics;
using System.Globalization;
using DotC1z.Engine.Rocks;
using DotC1z.Engine.Sqlite;
using DotC1z.Operations;
using DotC1z.Storage;

namespace DotC1z.Bench;

/// <summary>
/// Expansion benchmarks.
/// G14: grant expansion of baton's medium fixture (<c>medium-unexpanded.c1z</c>: 66,601 grants → 418,389)
/// on each engine — the sync is copied into a store of the engine (not timed), then expanded into a
/// fresh store of the same engine (<see cref="GrantExpander.ExpandInto"/>: read, reduce, bulk write),
/// median of three runs.
/// G15 (opt-in): a synthetic dense graph (<see cref="ExpansionGraph"/>: fan-in through nested groups,
/// fan-out to 500 applications, a cycle) expanded on RocksDB, ≈5M derived grants: derived grants per
/// second and peak RSS. G15F (opt-in): the fan-out graph — 10,000 users on one entitlement inherited
/// by 1,000 others (10M derived grants), with progress lines. G16 (opt-in): G15's input with 1 % of
/// its memberships changed (half revoked, half added): incremental expansion of G15's result against
/// a full re-expansion. The incremental figure times what <c>c1z expand --base</c> does to the two
/// syncs — find the changed grants (<see cref="GrantExpander.ChangedGrants"/>, one scan of each) and
/// update the expansion — applied in place; the command also copies the base into its new output
/// first, which G16 does not time. A second figure (IncrementalExpand1pctFromInputs) is the same update
/// with the changes found from the two unexpanded inputs (<see cref="GrantExpander.ChangedInputGrants"/>,
/// <c>c1z expand --base-input</c>) instead of from the expanded sync. Both are timed warm, like the full
/// re-expansion they are compared with (its code ran in G15 first): every step runs once on a small graph
/// before. G16 compares medians: of three full re-expansions and of seven updates (the first in place, after the find
/// step, the others with the same changes on checkpoints of G15's expansion taken before it), every run reported.
/// The synthetic ones run on RocksDB only: on SQLite one run takes minutes.
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

        foreach (var engine in engines)
        {
            // The previous engine's expansions left garbage the copy below would otherwise stand on.
            ReleaseMemory();
            string dir = Path.Combine(engine.WorkDir, "g14");
            Directory.CreateDirectory(dir);
            using var source = ExpansionStore(engine, Path.Combine(dir, "source"));
            // The fixture is closed before the expansions run: a v1 file is a SQLite database, and its page
            // cache is no part of what an expansion needs.
            Keys.SyncId sync;
            using (var fixture = StoreOpener.Open(input, readOnly: true))
            {
                sync = fixture.LatestSync() ?? throw new Errors.C1zArgumentException($"{input} holds no sync");
                StoreCopy.CopySync(fixture, sync, source, sync, _ctx.Cancellation);
            }

            var times = new List<double>();
            var cpu = new List<double>();
            long peak = 0, rows = 0;
            ExpansionResult? last = null;
            for (int run = 0; run < 3; run++)
            {
                string path = Path.Combine(dir, $"expanded{run}");
                using (var target = ExpansionStore(engine, path, C1zOutput.StreamedChunkBytes))
                {
                    ResetPeakRss();
                    var cpu0 = BenchRunner.ProcessCpu();
                    var sw = Stopwatch.StartNew();
                    last = GrantExpander.ExpandInto(source, sync, target, sync, new ExpansionOptions(), _ctx.Cancellation);
                    sw.Stop();
                    times.Add(sw.Elapsed.TotalMilliseconds);
                    cpu.Add((BenchRunner.ProcessCpu() - cpu0).TotalMilliseconds);
                    peak = Math.Max(peak, PeakRss());
                    rows = target.Count(sync).Grants;
                }

                DeleteStore(path);
            }

            _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G14 [{engine.Name}] runs: {Runs(times)} ms (median reported), process CPU (user+sys, both threads) {Runs(cpu)} ms; {last!.Edges} edges, {last.EntitlementsRecomputed} destinations, {last.GrantsCreated} created, {last.GrantsUpdated} updated"));
            var result = new BenchResult("G14", "ExpandMediumFixture", engine.Name, rows, Median(times), rows, peak);
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


    /// <summary>
    /// A store of the engine under test for expansion benchmarks (durable like the engine's main store). G14 writes
    /// its expanded output with the bulk chunk `c1z expand` gives its output (<see cref="C1zOutput.StreamedChunkBytes"/>).
    /// </summary>
    private static IC1zStore ExpansionStore(BenchEngine engine, string path, long? bulkChunkBytes = null) => engine.Name == "sqlite"
        ? SqliteStore.Open(path + ".sqlite")
        : RocksStore.Open(path, new RocksStoreOptions { Durability = RocksDurability.Sync, BulkChunkBytes = bulkChunkBytes ?? new RocksStoreOptions().BulkChunkBytes });

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

    /// <summary>Benchmarks that run only when asked for by name (they take tens of seconds).</summary>
    public static readonly IReadOnlyList<string> OptIn = ["G15", "G15F", "G16"];

    private List<BenchResult> SyntheticExpansion(IReadOnlyList<BenchEngine> engines)
    {
        var results = new List<BenchResult>();
        var engine = engines.FirstOrDefault(e => e.Name == "rocks");
        if (engine is null)
        {
            _ctx.Err.WriteLine("G15/G16 not run: they need the rocks engine");
            return results;
        }

        string dir = Path.Combine(engine.WorkDir, "g15");
        Directory.CreateDirectory(dir);
        if (_selected.Contains("G15F"))
        {
            using var input = ExpansionStore(engine, Path.Combine(dir, "fanout-input"));
            var sync = input.StartSync(Records.SyncType.Full);
            ExpansionGraph.FanOut(input, sync, users: 10_000, targets: 1_000);
            results.Add(FullExpansion("G15F", "ExpandFanOut10M", engine, input, sync, Path.Combine(dir, "fanout-expanded"), keep: false).Result);
        }

        if (!_selected.Contains("G15") && !_selected.Contains("G16"))
        {
            return results;
        }

        using var baseInput = ExpansionStore(engine, Path.Combine(dir, "input"));
        var baseSync = baseInput.StartSync(Records.SyncType.Full);
        var graph = ExpansionGraph.Dense(baseInput, baseSync, users: 10_000, teams: 100, departments: 10, applications: 500);
        var (full, expanded) = FullExpansion("G15", "ExpandDenseGraph", engine, baseInput, baseSync, Path.Combine(dir, "expanded"), keep: _selected.Contains("G16"));
        if (_selected.Contains("G15"))
        {
            results.Add(full);
        }

        if (expanded is null)
        {
            return results;
        }

        // The incremental update is applied in place with NoSync durability, as `c1z expand` writes its
        // output store (made durable when the output is committed).
        expanded.Dispose();
        using (var inPlace = RocksStore.Open(Path.Combine(dir, "expanded"), new RocksStoreOptions { Durability = RocksDurability.NoSync }))
        {
            // The newer sync: 1 % of the memberships changed, half revoked and half added (not timed).
            using var nextInput = ExpansionStore(engine, Path.Combine(dir, "next"));
            var nextSync = nextInput.StartSync(Records.SyncType.Full);
            var changed = graph.CopyWithChanges(baseInput, baseSync, nextInput, nextSync, fraction: 0.01, seed: 16);

            // Full re-expansion of the newer sync, G16FullRuns times (each into a fresh store); the median is compared.
            var fullTimes = new List<double>();
            long fullGrants = 0;
            for (int run = 0; run < G16FullRuns; run++)
            {
                string fullPath = Path.Combine(dir, "reexpanded");
                using (var target = SyntheticTarget(fullPath))
                {
                    Settle();
                    var sw = Stopwatch.StartNew();
                    GrantExpander.ExpandInto(nextInput, nextSync, target, nextSync, new ExpansionOptions(), _ctx.Cancellation);
                    fullTimes.Add(sw.Elapsed.TotalMilliseconds);
                    fullGrants = target.Count(nextSync).Grants;
                }

                DeleteStore(fullPath);
            }

            // The full re-expansion above ran code G15 had already compiled; the incremental road's code is
            // compiled here, on a small copy of the same kind of graph, so both are timed warm (docs/PERFORMANCE.md).
            WarmIncremental(engine, Path.Combine(dir, "warm"));

            // With the input G15's expansion was made from at hand, the changes come from the two inputs alone
            // (ChangedInputGrants): timed on its own, it then adds to the same update as the road below.
            var fsw = Stopwatch.StartNew();
            var fromInputs = GrantExpander.ChangedInputGrants(baseInput, baseSync, nextInput, nextSync, _ctx.Cancellation);
            double inputFindMs = fsw.Elapsed.TotalMilliseconds;
            if (!fromInputs.ToHashSet(StringComparer.Ordinal).SetEquals(changed))
            {
                throw new InvalidOperationException($"G16: ChangedInputGrants found {fromInputs.Count} changed grants, the generator changed {changed.Count}");
            }

            // The later updates run on checkpoints of G15's expansion taken now (hard links: the same files, not copied).
            var copies = new List<string>();
            for (int run = 1; run < G16UpdateRuns; run++)
            {
                string copy = Path.Combine(dir, $"update{run}");
                inPlace.Checkpoint(copy);
                copies.Add(copy);
            }

            // Incremental: G15's expansion brought up to the newer sync in place. Like `c1z expand --base`,
            // it is not told what changed: finding the changed grants is timed with the update.
            Settle();
            ResetPeakRss();
            var icpu0 = BenchRunner.ProcessCpu();
            var isw = Stopwatch.StartNew();
            var found = GrantExpander.ChangedGrants(inPlace, baseSync, nextInput, nextSync, cancellationToken: _ctx.Cancellation);
            double findMs = isw.Elapsed.TotalMilliseconds;
            var inc = GrantExpander.ExpandIncremental(inPlace, baseSync, nextInput, nextSync, found, new ExpansionOptions(), _ctx.Cancellation);
            isw.Stop();
            double incCpuMs = (BenchRunner.ProcessCpu() - icpu0).TotalMilliseconds;
            long peak = PeakRss();
            var updateTimes = new List<double> { isw.Elapsed.TotalMilliseconds - findMs };
            if (!found.ToHashSet(StringComparer.Ordinal).SetEquals(changed))
            {
                throw new InvalidOperationException($"G16: ChangedGrants found {found.Count} changed grants, the generator changed {changed.Count}");
            }

            long incGrants = inPlace.Count(baseSync).Grants;
            if (incGrants != fullGrants)
            {
                throw new InvalidOperationException($"G16: incremental expansion left {incGrants} grants, full re-expansion {fullGrants}");
            }

            var dsw = Stopwatch.StartNew();
            int detected = GrantExpander.ChangedGrants(inPlace, baseSync, nextInput, nextSync, cancellationToken: _ctx.Cancellation).Count;
            dsw.Stop();
            if (detected != 0)
            {
                throw new InvalidOperationException($"G16: after the incremental expansion {detected} grants still differ from the newer sync");
            }

            // The same update (the changes as found above) on each checkpoint: one update is a few hundred milliseconds,
            // and on this VM two runs of the same build differed by a third (docs/PERFORMANCE.md, G16).
            foreach (string copy in copies)
            {
                using (var store = RocksStore.Open(copy, new RocksStoreOptions { Durability = RocksDurability.NoSync }))
                {
                    Settle();
                    var usw = Stopwatch.StartNew();
                    var again = GrantExpander.ExpandIncremental(store, baseSync, nextInput, nextSync, found, new ExpansionOptions(), _ctx.Cancellation);
                    updateTimes.Add(usw.Elapsed.TotalMilliseconds);
                    if (again.GrantsCreated != inc.GrantsCreated || again.GrantsUpdated != inc.GrantsUpdated || again.GrantsDeleted != inc.GrantsDeleted || again.EntitlementsRecomputed != inc.EntitlementsRecomputed)
                    {
                        throw new InvalidOperationException($"G16: the update of a checkpoint wrote {again.GrantsCreated}/{again.GrantsUpdated}/{again.GrantsDeleted}, the first {inc.GrantsCreated}/{inc.GrantsUpdated}/{inc.GrantsDeleted}");
                    }
                }

                DeleteStore(copy);
            }

            double fullMs = Median(fullTimes), updateMs = Median(updateTimes);
            double incMs = findMs + updateMs;
            var result = new BenchResult("G16", "IncrementalExpand1pct", engine.Name, changed.Count, incMs, inc.EntitlementsRecomputed, peak);
            results.Add(result);
            _ctx.Out.WriteLine(result.Line());
            _ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"G16 full re-expansion [{engine.Name}]: {fullMs:F0} ms (median of {fullTimes.Count}); incremental {incMs:F0} ms = finding the {found.Count} changed grants {findMs:F0} ms + update {updateMs:F0} ms (median of {updateTimes.Count}; {inc.EntitlementsRecomputed} entitlements recomputed, {inc.GrantsCreated} created, {inc.GrantsUpdated} updated, {inc.GrantsDeleted} deleted): {fullMs / Math.Max(incMs, 1e-9):F1}x faster (the update alone {fullMs / Math.Max(updateMs, 1e-9):F1}x); process CPU of the first incremental {incCpuMs:F0} ms (user+sys)"));
            double fromInputsMs = inputFindMs + updateMs;
            var fromInputsResult = new BenchResult("G16", "IncrementalExpand1pctFromInputs", engine.Name, changed.Count, fromInputsMs, inc.EntitlementsRecomputed, peak);
            results.Add(fromInputsResult);
            _ctx.Out.WriteLine(fromInputsResult.Line());
            _ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"G16 with the earlier input at hand [{engine.Name}]: finding the {fromInputs.Count} changed grants from the two inputs {inputFindMs:F0} ms + the same update {updateMs:F0} ms = {fromInputsMs:F0} ms: {fullMs / Math.Max(fromInputsMs, 1e-9):F1}x faster than the full re-expansion"));
            _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G16 runs: full re-expansion {Runs(fullTimes)} ms; update {Runs(updateTimes)} ms (the first in place, the others on checkpoints)"));
            _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G16 check: ChangedGrants between the updated expansion and the newer sync finds {detected} changed grants (0 expected), scanning both in {dsw.Elapsed.TotalMilliseconds:F0} ms"));
        }

        return results;
    }

    /// <summary>
    /// Runs every step G16 times on a small dense graph (not timed), twice, then waits for the runtime's background
    /// compiler to go quiet, so that the timed run is not also the JIT's: after one warm-up run, the tier-1 compiles of
    /// the update's hot methods were still running during the timed update, on one of this machine's two cores
    /// (docs/PERFORMANCE.md, G16).
    /// </summary>
    private void WarmIncremental(BenchEngine engine, string dir)
    {
        for (int run = 0; run < 2; run++)
        {
            WarmIncrementalOnce(engine, Path.Combine(dir, run.ToString(CultureInfo.InvariantCulture)));
        }

        WaitForTieredCompilation();
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>
    /// Returns once no method has been compiled for <see cref="QuietJitMs"/> (or after <see cref="MaxJitWaitMs"/>):
    /// the runtime promotes hot methods to optimized code in the background some time after their calls.
    /// </summary>
    private static void WaitForTieredCompilation()
    {
        var clock = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        while (clock.ElapsedMilliseconds < MaxJitWaitMs && quiet.ElapsedMilliseconds < QuietJitMs)
        {
            Thread.Sleep(25);
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != compiled)
            {
                compiled = now;
                quiet.Restart();
            }
        }
    }

    private const int QuietJitMs = 300, MaxJitWaitMs = 5000;

    /// <summary>G16's full re-expansions and updates per run of the bench: their medians are compared.</summary>
    private const int G16FullRuns = 3, G16UpdateRuns = 7;

    /// <summary>
    /// Before each timed G16 run: the previous run's garbage collected, so that no run pays for another's. The block
    /// cache is kept, as the single run timed before kept it.
    /// </summary>
    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private void WarmIncrementalOnce(BenchEngine engine, string dir)
    {
        using (var input = ExpansionStore(engine, Path.Combine(dir, "input")))
        using (var expanded = ExpansionStore(engine, Path.Combine(dir, "expanded")))
        using (var next = ExpansionStore(engine, Path.Combine(dir, "next")))
        {
            var sync = input.StartSync(Records.SyncType.Full);
            // A quarter of the memberships changed, so that the update's change set (≈ 10k grants) takes the store's ingest
            // road, as G16's does; the graph stays small (24k derived grants), as a larger one (100k) filled the block cache
            // the stores share with blocks the timed update then lacked (its update took 20 % longer).
            var graph = ExpansionGraph.Dense(input, sync, users: 400, teams: 8, departments: 2, applications: 60);
            GrantExpander.ExpandInto(input, sync, expanded, sync, new ExpansionOptions(), _ctx.Cancellation);
            var nextSync = next.StartSync(Records.SyncType.Full);
            graph.CopyWithChanges(input, sync, next, nextSync, fraction: 0.25, seed: 17);
            GrantExpander.ChangedInputGrants(input, sync, next, nextSync, _ctx.Cancellation);
            var found = GrantExpander.ChangedGrants(expanded, sync, next, nextSync, cancellationToken: _ctx.Cancellation);
            GrantExpander.ExpandIncremental(expanded, sync, next, nextSync, found, new ExpansionOptions(), _ctx.Cancellation);
        }
    }

    /// <summary>
    /// The store a synthetic expansion (5M–10M grants) is written to: loaded in chunks of 250,000 grants /
    /// 64 MiB, spilled as sorted runs — the bulk loader's default chunk (1M grants / 192 MiB) alone would
    /// take most of G15's 500 MiB peak-RSS budget.
    /// </summary>
    private static RocksStore SyntheticTarget(string path) =>
        RocksStore.Open(path, new RocksStoreOptions { Durability = RocksDurability.Sync, BulkChunkRecords = 250_000, BulkChunkBytes = 64L << 20 });

    /// <summary>Expands a synthetic input into a fresh store, timed, with progress lines every 10 % of destinations.</summary>
    private (BenchResult Result, IC1zStore? Expanded) FullExpansion(string bench, string name, BenchEngine engine, IC1zStore input, Keys.SyncId sync, string path, bool keep)
    {
        long inputGrants = input.Count(sync).Grants;
        int lastDecile = -1, lastWritten = -1;
        var clock = Stopwatch.StartNew();
        var progress = new ExpansionProgressLines(p =>
        {
            if (p.SortedEntriesTotal > 0)
            {
                int written = (int)(p.SortedEntriesWritten * 10 / p.SortedEntriesTotal);
                if (written != lastWritten)
                {
                    lastWritten = written;
                    _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: {bench} {p.SortedEntriesWritten}/{p.SortedEntriesTotal} derived grant entries written, {clock.ElapsedMilliseconds} ms"));
                }

                return;
            }

            int decile = p.DestinationsDone * 10 / Math.Max(1, p.DestinationsTotal);
            if (decile != lastDecile)
            {
                lastDecile = decile;
                _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: {bench} {p.DestinationsDone}/{p.DestinationsTotal} destination entitlements, {p.GrantsWritten} grants written, {clock.ElapsedMilliseconds} ms"));
            }
        });
        var target = SyntheticTarget(path);
        BenchResult result;
        try
        {
            ResetPeakRss();
            var cpu0 = BenchRunner.ProcessCpu();
            clock.Restart();
            var r = GrantExpander.ExpandInto(input, sync, target, sync, new ExpansionOptions { Progress = progress }, _ctx.Cancellation);
            clock.Stop();
            double cpuMs = (BenchRunner.ProcessCpu() - cpu0).TotalMilliseconds;
            long peak = PeakRss();
            long rows = target.Count(sync).Grants;
            long derived = rows - inputGrants;
            result = new BenchResult(bench, name, engine.Name, derived, clock.Elapsed.TotalMilliseconds, rows, peak);
            _ctx.Out.WriteLine(result.Line());
            _ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{bench} derived grants [{engine.Name}]: {derived} from {inputGrants} ({r.Edges} edges, {r.EntitlementsRecomputed} destinations) in {clock.Elapsed.TotalMilliseconds:F0} ms: {derived / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):F0} derived grants/s, process CPU {cpuMs:F0} ms (user+sys), peak RSS {peak / (1024 * 1024)} MiB"));
            if (keep)
            {
                return (result, target);
            }
        }
        catch
        {
            target.Dispose();
            throw;
        }

        target.Dispose();
        DeleteStore(path);
        return (result, null);
    }
}

/// <summary>Progress handler run on the reporting thread.</summary>
/// <param name="handler">The handler.</param>
internal sealed class ExpansionProgressLines(Action<ExpansionProgress> handler) : IProgress<ExpansionProgress>
{
    /// <inheritdoc/>
    public void Report(ExpansionProgress value) => handler(value);
}
