using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DotC1z.Keys;
using DotC1z.Operations;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Bench;

/// <summary>One benchmark result (one line of output, one JSON object).</summary>
/// <param name="Bench">G1..G10.</param>
/// <param name="Name">Readable name.</param>
/// <param name="Engine">rocks or sqlite.</param>
/// <param name="Ops">Operations completed.</param>
/// <param name="ElapsedMs">Wall time.</param>
/// <param name="Rows">Rows read or written.</param>
/// <param name="PeakRssBytes">Process peak resident set during the benchmark (Linux), else 0.</param>
public sealed record BenchResult(string Bench, string Name, string Engine, long Ops, double ElapsedMs, long Rows, long PeakRssBytes)
{
    /// <summary>Throughput.</summary>
    public double OpsPerSecond => Ops / Math.Max(ElapsedMs / 1000.0, 1e-9);

    /// <summary>Latency.</summary>
    public double NsPerOp => Ops == 0 ? 0 : ElapsedMs * 1e6 / Ops;

    /// <summary>The contract's output line.</summary>
    /// <returns>The line.</returns>
    public string Line()
    {
        string line = string.Create(CultureInfo.InvariantCulture, $"{Bench} {Name} [{Engine}]: {Ops} ops in {ElapsedMs:F0} ms  {OpsPerSecond:F0} ops/s  {NsPerOp:F0} ns/op  rows={Rows}");
        return PeakRssBytes > 0 ? line + string.Create(CultureInfo.InvariantCulture, $"  peak_rss={PeakRssBytes}") : line;
    }
}

/// <summary>Runs G1–G11 on one or two engines over the same fixture, in the same process.</summary>
public sealed partial class BenchRunner
{
    /// <summary>Every benchmark id, in order.</summary>
    public static readonly IReadOnlyList<string> All = ["G1", "G2", "G2b", "G3", "G4", "G5", "G6", "G7", "G8", "G9", "G10", "G11", "G12", "G13", "G14"];

    private const int G10Stores = 16;
    private readonly BenchOutput _ctx;
    private readonly FixtureSpec _spec;
    private readonly IC1zStore? _input;
    private readonly TimeSpan _duration;
    private readonly HashSet<string> _selected;

    /// <summary>Creates a runner.</summary>
    /// <param name="ctx">Where results (Out) and progress notes (Err) go, and the cancellation of the run.</param>
    /// <param name="spec">The fixture (used when <paramref name="input"/> is null).</param>
    /// <param name="input">An existing store whose latest sync's grants are the fixture, or null.</param>
    /// <param name="duration">Time budget of each timed loop.</param>
    /// <param name="selected">Benchmarks to report.</param>
    public BenchRunner(BenchOutput ctx, FixtureSpec spec, IC1zStore? input, TimeSpan duration, IEnumerable<string> selected)
    {
        _ctx = ctx;
        _spec = spec;
        _input = input;
        _duration = duration;
        _selected = new HashSet<string>(selected, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Runs the selected benchmarks on each engine; prints lines (and ratio lines for two engines).</summary>
    /// <param name="engines">The engines, in print order (rocks first).</param>
    /// <returns>All results.</returns>
    public IReadOnlyList<BenchResult> Run(IReadOnlyList<BenchEngine> engines)
    {
        ArgumentNullException.ThrowIfNull(engines);
        var results = new List<BenchResult>();
        var syncs = new Dictionary<BenchEngine, SyncId>();
        var entitlements = new List<string>();
        var principals = new List<(string, string)>();
        var ids = new List<string>();

        foreach (string bench in All)
        {
            var round = new List<BenchResult>();
            foreach (var engine in engines)
            {
                _ctx.Cancellation.ThrowIfCancellationRequested();
                foreach (var other in engines)
                {
                    if (other != engine)
                    {
                        other.Suspend();
                    }
                }

                engine.Resume();

                // Untimed setups (derived syncs, saved files) should not stand on the previous benchmark's garbage.
                ReleaseMemory();
                var result = bench switch
                {
                    "G1" => G1(engine, syncs),
                    "G2" when _selected.Contains(bench) => Timed("G2", "Get-by-PK", engine, (rng, i) => engine.Store.TryGetGrant(syncs[engine], ids[rng.Next(ids.Count)], out _) ? 1 : 0, seed: 1),
                    "G2b" when _selected.Contains(bench) => G2b(engine, syncs[engine], ids),
                    "G3" when _selected.Contains(bench) => Timed("G3", "ListByEntitlement", engine, (rng, _) => engine.Store.GrantsByEntitlement(syncs[engine], entitlements[rng.Next(entitlements.Count)]).LongCount(), seed: 2),
                    "G4" when _selected.Contains(bench) => Timed("G4", "ListByPrincipal", engine, (rng, _) =>
                    {
                        var (t, id) = principals[rng.Next(principals.Count)];
                        return engine.Store.GrantsByPrincipal(syncs[engine], t, id).LongCount();
                    }, seed: 3),
                    "G5" when _selected.Contains(bench) => G5(engine, syncs[engine]),
                    "G6" when _selected.Contains(bench) => Timed("G6", "ColdOpenCheckpoint", engine, (_, i) =>
                    {
                        engine.ReopenAndCheckpoint(i);
                        return 1;
                    }, seed: 5),
                    "G7" when _selected.Contains(bench) => G7(engine, syncs[engine]),
                    "G12" when _selected.Contains(bench) => G12(engine, syncs[engine]),
                    "G13" when _selected.Contains(bench) => G13(engine, syncs[engine], entitlements),
                    "G8" when _selected.Contains(bench) => G8(engine),
                    "G9" when _selected.Contains(bench) => Once("G9", "SaveOpenRead", engine, () => engine.SaveOpenRead(syncs[engine])),
                    "G10" when _selected.Contains(bench) => G10(engine, syncs[engine], ids),
                    _ => null,
                };

                if (bench == "G1" && entitlements.Count == 0)
                {
                    // Query keys come from the fixture itself so both engines ask the same questions.
                    CollectKeys(engine.Store, syncs[engine], entitlements, principals, ids);
                }

                if (result is not null && _selected.Contains(bench))
                {
                    round.Add(result);
                    results.Add(result);
                    _ctx.Out.WriteLine(result.Line());
                }
            }

            if (bench == "G1")
            {
                // The in-memory input is G1's alone; later benchmarks should not carry its memory.
                _fixture = null;
                GC.Collect();
            }

            if (round.Count == 2)
            {
                double ratio = round[0].OpsPerSecond / Math.Max(round[1].OpsPerSecond, 1e-9);
                _ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{bench} ratio {round[0].Engine}/{round[1].Engine}: {ratio:F1}x"));
            }
        }

        // G11 and G14 bring their own stores: no main store stays open beside them.
        foreach (var engine in engines)
        {
            engine.Suspend();
        }

        if (_selected.Contains("G11"))
        {
            results.AddRange(G11(engines));
        }

        if (_selected.Contains("G14"))
        {
            results.AddRange(G14(engines));
        }

        if (OptIn.Any(_selected.Contains))
        {
            results.AddRange(SyntheticExpansion(engines));
        }

        return results;
    }

    private static void CollectKeys(IC1zStore store, SyncId sync, List<string> entitlements, List<(string, string)> principals, List<string> ids)
    {
        var ents = new HashSet<string>(StringComparer.Ordinal);
        var prins = new HashSet<(string, string)>();
        foreach (var g in store.Grants(sync))
        {
            ids.Add(g.ExternalId);
            ents.Add(g.Entitlement?.EntitlementId ?? string.Empty);
            prins.Add((g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty));
        }

        entitlements.AddRange(ents.Order(StringComparer.Ordinal));
        principals.AddRange(prins.OrderBy(p => p.Item1, StringComparer.Ordinal).ThenBy(p => p.Item2, StringComparer.Ordinal));
        if (ids.Count == 0)
        {
            throw new Errors.C1zArgumentException("the benchmark fixture holds no grants");
        }
    }

    // Grants of the untimed warm-up before G1 (enough for the JIT to reach its optimised tier).
    private const int WarmUpGrants = 50_000;

    // G1's input, built once (untimed) and shared by the engines; dropped after G1.
    private List<GrantRecord>? _fixture;

    /// <summary>
    /// G1's input in memory. G1 times a store's write path from records in memory to durable
    /// (docs/PERF-ANCHORS.md §6); producing the records (generating them, or reading --input) is reported
    /// on stderr, not timed, and both engines get the same list.
    /// </summary>
    private List<GrantRecord> Fixture()
    {
        if (_fixture is not null)
        {
            return _fixture;
        }

        var sw = Stopwatch.StartNew();
        if (_input is null)
        {
            _fixture = [.. FixtureGenerator.Grants(_spec)];
        }
        else
        {
            var from = _input.LatestSync() ?? throw new Errors.C1zArgumentException("the --input store holds no sync");
            _fixture = [.. _input.Grants(from)];
        }

        _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G1 input of {_fixture.Count} grants prepared in {sw.Elapsed.TotalMilliseconds:F0} ms (not timed)"));
        return _fixture;
    }

    // G1 is one load of the whole fixture, so one run carries all of this VM's noise (±20 %,
    // docs/PERF-ANCHORS.md §6): it is repeated on fresh stores and the median run is reported.
    private const int G1Repetitions = 3;

    private BenchResult G1(BenchEngine engine, Dictionary<BenchEngine, SyncId> syncs)
    {
        var grants = Fixture();
        engine.WarmUp(grants.Take(WarmUpGrants));
        if (grants.Count >= QuietWaitMinGrants)
        {
            WaitForQuietCpu($"G1 [{engine.Name}]");
        }

        var times = new List<double>();
        long peak = 0;
        for (int rep = 0; rep < G1Repetitions; rep++)
        {
            if (rep > 0)
            {
                engine.DropMain();
            }

            engine.CreateMain();
            var store = engine.Store;
            var sync = store.StartSync(SyncType.Full);
            syncs[engine] = sync;
            // As BenchmarkDotNet does before each iteration: no collection of the fixture (or of the
            // previous run's garbage) may still be running, on the other core, during the timed load.
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            ResetPeakRss();
            var sw = Stopwatch.StartNew();
            BulkLoad(store, sync, grants, _ctx.Cancellation);
            sw.Stop();
            store.EndSync(sync);
            times.Add(sw.Elapsed.TotalMilliseconds);
            peak = Math.Max(peak, PeakRss());
        }

        _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G1 [{engine.Name}] runs: {Runs(times)} ms (median reported)"));
        return new BenchResult("G1", "BulkWrite", engine.Name, grants.Count, Median(times), grants.Count, peak);
    }

    /// <summary>The median of repeated runs (of an even count, the mean of the middle two).</summary>
    private static double Median(List<double> times)
    {
        var sorted = times.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>Repeated runs' times as the bench prints them (milliseconds, no decimals).</summary>
    private static string Runs(List<double> times) => string.Join(", ", times.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)));

    // Longest wait for other processes to leave the CPU before G1; smoke runs (tests, tiny
    // fixtures) measure nothing worth waiting for.
    private static readonly TimeSpan QuietLimit = TimeSpan.FromSeconds(20);
    private const int QuietWaitMinGrants = 50_000;

    private void WaitForQuietCpu(string what)
    {
        var (waited, cores) = OtherCpuLoad.WaitForQuiet(QuietLimit, _ctx.Cancellation);
        if (cores >= OtherCpuLoad.QuietCores)
        {
            _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: other processes still use {cores:F1} cores after {waited.TotalSeconds:F0} s; {what} runs anyway and will read low"));
        }
        else if (waited > TimeSpan.FromSeconds(1))
        {
            _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: waited {waited.TotalSeconds:F1} s for other processes to leave the CPU before {what}"));
        }
    }

    /// <summary>Writes <paramref name="grants"/> into <paramref name="sync"/> through the store's bulk path.</summary>
    /// <param name="store">The store.</param>
    /// <param name="sync">A sync with no records yet.</param>
    /// <param name="grants">The records.</param>
    /// <param name="cancellationToken">Stops the load; the store is then unchanged.</param>
    internal static void BulkLoad(IC1zStore store, SyncId sync, IEnumerable<GrantRecord> grants, CancellationToken cancellationToken = default)
    {
        using var loader = store.BeginBulkLoad(sync);
        foreach (var g in grants)
        {
            loader.Add(g);
        }

        loader.Complete(cancellationToken);
    }

    private BenchResult Timed(string bench, string name, BenchEngine engine, Func<Random, int, long> op, int seed)
    {
        var rng = new Random(seed);
        long ops = 0, rows = 0;
        ResetPeakRss();
        WarmUp(warm => op(warm, -1), seed);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < _duration || ops == 0)
        {
            rows += op(rng, (int)ops);
            ops++;
            if ((ops & 0x3F) == 0)
            {
                _ctx.Cancellation.ThrowIfCancellationRequested();
            }
        }

        sw.Stop();
        return new BenchResult(bench, name, engine.Name, ops, sw.Elapsed.TotalMilliseconds, rows, PeakRss());
    }

    /// <summary>
    /// Untimed operations for one timed budget, after the memory release and before the clock starts, on both
    /// engines alike: the release empties RocksDB's block cache and the store was reopened (SQLite's page cache is
    /// empty too), and at 1M grants random reads take most of a second to warm either, so a cold start would be
    /// most of the figure. Its own PRNG keeps the timed sequence the same.
    /// </summary>
    private void WarmUp(Func<Random, long> op, int seed)
    {
        var warm = new Random(~seed);
        var sw = Stopwatch.StartNew();
        do
        {
            _ = op(warm);
            _ctx.Cancellation.ThrowIfCancellationRequested();
        }
        while (sw.Elapsed < _duration);
    }

    private static BenchResult Once(string bench, string name, BenchEngine engine, Func<long> op)
    {
        ResetPeakRss();
        var sw = Stopwatch.StartNew();
        long rows = op();
        sw.Stop();
        return new BenchResult(bench, name, engine.Name, 1, sw.Elapsed.TotalMilliseconds, rows, PeakRss());
    }

    /// <summary>CPU time of the whole process (user + system, all threads): on this shared machine it varies far less than wall time.</summary>
    internal static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    /// <summary>
    /// G7: a partial-upserts sync of 20% of the fixture's size (half of it changes existing grants, half adds new ones; not
    /// timed), then the timed N-input compaction of base + partial into a new sync; the extra syncs are dropped after.
    /// </summary>
    private BenchResult G7(BenchEngine engine, SyncId main)
    {
        var store = engine.Store;
        long n = store.Count(main).Grants;
        long changed = n / 10;
        var partial = DerivedSync(store, main, SyncType.PartialUpserts, (i, g) => i < changed ? Moved(g) : null, added: changed);
        ResetPeakRss();
        var cpu0 = ProcessCpu();
        var sw = Stopwatch.StartNew();
        var result = SyncCompactor.Compact([new SyncSource(store, main), new SyncSource(store, partial)], store, _ctx.Cancellation);
        sw.Stop();
        double cpuMs = (ProcessCpu() - cpu0).TotalMilliseconds;
        _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G7 [{engine.Name}] process CPU (user+sys) {cpuMs:F0} ms; grant indexes {(result.GrantIndexesMerged ? "merged from the inputs' stored indexes" : "rebuilt from the grants")}, digests {(result.GrantDigestsFromInputs ? "from the inputs'" : "hashed per grant")}"));
        long rows = result.Counts.Grants;
        long peak = PeakRss();
        store.DeleteSync(result.Output);
        store.DeleteSync(partial);
        return new BenchResult("G7", "Compaction", engine.Name, rows, sw.Elapsed.TotalMilliseconds, rows, peak);
    }

    /// <summary>
    /// G12: diff of the fixture's sync and a full sync differing from it in 5% of its grants (2% removed, 2% changed,
    /// 1% added; built untimed), written as additions and deletions syncs; rows are the grants of both inputs read.
    /// </summary>
    private BenchResult G12(BenchEngine engine, SyncId main)
    {
        var store = engine.Store;
        long n = store.Count(main).Grants;
        long removed = n / 50;
        long changed = n / 50;
        var applied = DerivedSync(store, main, SyncType.Full, (i, g) => i < removed ? null : i < removed + changed ? Moved(g) : g, added: n / 100);
        long inputs = n + store.Count(applied).Grants;
        ResetPeakRss();
        var sw = Stopwatch.StartNew();
        var diff = SyncDiff.Diff(new SyncSource(store, main), new SyncSource(store, applied), store, _ctx.Cancellation);
        sw.Stop();
        long peak = PeakRss();
        if (diff.DeletedCounts.Grants != removed || diff.AddedCounts.Grants != changed + (n / 100))
        {
            throw new InvalidOperationException($"G12: the diff found {diff.AddedCounts.Grants} additions and {diff.DeletedCounts.Grants} deletions, expected {changed + (n / 100)} and {removed}");
        }

        store.DeleteSync(diff.Additions);
        store.DeleteSync(diff.Deletions);
        store.DeleteSync(applied);
        return new BenchResult("G12", "Diff5Percent", engine.Name, inputs, sw.Elapsed.TotalMilliseconds, inputs, peak);
    }

    private static GrantRecord Moved(GrantRecord g)
    {
        var changed = g.Clone();
        changed.Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = "moved-" + g.Principal.ResourceId };
        return changed;
    }

    /// <summary>
    /// A new sync derived from <paramref name="main"/>'s grants: <paramref name="map"/> gets each grant with its position
    /// and returns what to write (null: leave it out); then <paramref name="added"/> new grants.
    /// </summary>
    private SyncId DerivedSync(IC1zStore store, SyncId main, SyncType type, Func<long, GrantRecord, GrantRecord?> map, long added)
    {
        var sync = store.StartSync(type);
        using (var loader = store.BeginBulkLoad(sync))
        {
            long i = 0;
            foreach (var g in store.Grants(main))
            {
                if (map(i++, g) is { } kept)
                {
                    loader.Add(kept);
                }
            }

            for (long k = 0; k < added; k++)
            {
                loader.Add(new GrantRecord { ExternalId = "new-" + k.ToString("D10", CultureInfo.InvariantCulture), Entitlement = new EntitlementRef { EntitlementId = "ent-new", ResourceTypeId = "app", ResourceId = "app-0" }, Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = "user-new" } });
            }

            loader.Complete(_ctx.Cancellation);
        }

        store.EndSync(sync);
        return sync;
    }

    /// <summary>G8: peak memory while a burst of grants (half the fixture) is bulk-written into a fresh sync.</summary>
    private BenchResult G8(BenchEngine engine)
    {
        var store = engine.Store;
        var burst = store.StartSync(SyncType.Full);
        var spec = _spec with { Grants = Math.Max(1, _spec.Grants / 2), Seed = _spec.Seed + 1000 };
        ResetPeakRss();
        var sw = Stopwatch.StartNew();
        FixtureGenerator.Load(store, burst, spec, cancellationToken: _ctx.Cancellation);
        sw.Stop();
        long peak = PeakRss();
        store.DeleteSync(burst);
        return new BenchResult("G8", "BurstPeakMemory", engine.Name, spec.Grants, sw.Elapsed.TotalMilliseconds, spec.Grants, peak);
    }

    /// <summary>G10: open many stores at once and read one grant from each.</summary>
    // G10 reports its first round, the cold one: a process opening 16 stores once. The later rounds (printed on
    // stderr) reopen the same copies in the same process, with their files and blocks already cached.
    private const int G10Rounds = 5;

    private BenchResult G10(BenchEngine engine, SyncId sync, List<string> ids)
    {
        var copies = engine.MakeCopies(G10Stores);
        var open = new List<IC1zStore>();
        var times = new List<double>();
        long rows = 0;
        ResetPeakRss();
        try
        {
            // Each round opens every copy and reads one grant from each (timed), then closes them (not timed).
            for (int round = 0; round < G10Rounds; round++)
            {
                var sw = Stopwatch.StartNew();
                foreach (string path in copies)
                {
                    var s = engine.OpenCopy(path);
                    open.Add(s);
                    rows += s.TryGetGrant(sync, ids[open.Count % ids.Count], out _) ? 1 : 0;
                }

                sw.Stop();
                times.Add(sw.Elapsed.TotalMilliseconds);
                CloseAll(open);
            }

            _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G10 [{engine.Name}] rounds: {string.Join(", ", times.Select(t => t.ToString("F1", CultureInfo.InvariantCulture)))} ms (the first, cold, is reported; the others reopen the same copies)"));
            return new BenchResult("G10", "ManyStoresOpen", engine.Name, copies.Count, times[0], rows / G10Rounds, PeakRss());
        }
        finally
        {
            CloseAll(open);
            foreach (string path in copies)
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }
                else
                {
                    File.Delete(path);
                }
            }
        }
    }

    private static void CloseAll(List<IC1zStore> stores)
    {
        foreach (var s in stores)
        {
            s.Dispose();
        }

        stores.Clear();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    // Linux: writing 5 to clear_refs resets VmHWM, so each benchmark reports its own peak.
    private static void ResetPeakRss()
    {
        ReleaseMemory();
        try
        {
            if (OperatingSystem.IsLinux())
            {
                File.WriteAllText("/proc/self/clear_refs", "5");
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static long PeakRss()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Environment.WorkingSet;
        }

        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    /// <summary>Writes results as the contract's JSON array.</summary>
    /// <param name="path">The file.</param>
    /// <param name="results">The results.</param>
    public static void WriteJson(string path, IEnumerable<BenchResult> results)
    {
        var rows = results.Select(r => new Dictionary<string, object>
        {
            ["bench"] = r.Bench,
            ["engine"] = r.Engine,
            ["ops"] = r.Ops,
            ["elapsed_ms"] = Math.Round(r.ElapsedMs, 3),
            ["ops_per_s"] = Math.Round(r.OpsPerSecond, 1),
            ["ns_per_op"] = Math.Round(r.NsPerOp, 1),
            ["rows"] = r.Rows,
            ["peak_rss_bytes"] = r.PeakRssBytes,
        });
        File.WriteAllText(path, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
    }
}
