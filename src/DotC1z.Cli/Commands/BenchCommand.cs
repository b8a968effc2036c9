using System.CommandLine;
using DotC1z.Bench;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z bench</c>: G1–G14 on RocksDB and SQLite, side by side.</summary>
public static class BenchCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var input = new Option<string?>("--input") { Description = "Benchmark on the latest sync of this store or file instead of a generated fixture." };
        var bench = new Option<string>("--bench") { Description = "Comma-separated list (G1..G14, G2b; opt-in: G15, G15F, G16) or all (all but the opt-in ones).", DefaultValueFactory = _ => "all" };
        var duration = new Option<double>("--duration") { Description = "Seconds per timed benchmark (default 1).", DefaultValueFactory = _ => 1.0 };
        var engine = new Option<string>("--engine") { Description = "rocks, sqlite or both (default).", DefaultValueFactory = _ => "both" };
        engine.AcceptOnlyFromAmong("rocks", "sqlite", "both");
        var grants = new Option<long>("--grants") { Description = "Grants in the generated fixture (default 200000).", DefaultValueFactory = _ => 200_000 };
        var json = new Option<string?>("--json") { Description = "Also write the results as a JSON array to this file." };
        var pebble = new Option<string?>("--pebble") { Description = "G11's input: baton's Pebble C1Z3 fixture, with its v1 twin medium-unexpanded.c1z beside it (default: tests/fixtures of the clone the tool runs from)." };
        var command = new Command("bench", "Run benchmarks G1–G14: G1 bulk write (the whole fixture from records in memory to durable; median of 3 runs, each on a fresh store, after waiting up to 20 s for other processes to leave the CPU), G2 get by key, G2b batched get of 1,000 random keys (TryGetGrants), G3 list by entitlement, G4 list by principal, G5 full scan, G6 cold open + checkpoint, G7 compaction (base + a 20% partial sync), G8 peak memory under a burst, G9 save → open → read, G10 many stores open, G11 baton's files: open + full read and import of baton's Pebble fixture (rocks side) against its v1 twin through SQLite (sqlite side), and the Pebble table reader's raw key/value decode rate, G12 diff of the fixture against a 5%-different sync, G13 peak RSS of a fresh child c1z that opens the fixture saved as a file (--grants grants) and lists one entitlement, G14 grant expansion of the medium fixture (opt-in: G15 dense graph, G15F 10M fan-out, G16 incremental expansion).\n\nExample:\n  c1z bench --engine both --grants 1000000 --json results.json")
        {
            input, bench, duration, engine, grants, json, pebble,
        };
        command.SetAction(parse =>
        {
            string list = parse.GetValue(bench)!;
            var selected = list.Equals("all", StringComparison.OrdinalIgnoreCase) ? BenchRunner.All : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (string b in selected)
            {
                if (!BenchRunner.All.Concat(BenchRunner.OptIn).Contains(b, StringComparer.OrdinalIgnoreCase))
                {
                    throw new CliException($"unknown benchmark {b} (known: {string.Join(',', BenchRunner.All.Concat(BenchRunner.OptIn))})");
                }
            }

            double seconds = parse.GetValue(duration);
            long n = parse.GetValue(grants);
            if (seconds <= 0 || n <= 0)
            {
                throw new CliException("--duration and --grants must be positive");
            }

            string work = Storage.PrivateDirectory.CreateUnique(Path.GetTempPath(), "c1z-bench-");
            var engines = new List<BenchEngine>();
            try
            {
                string which = parse.GetValue(engine)!;
                if (which is "rocks" or "both")
                {
                    engines.Add(new RocksBenchEngine(Path.Combine(work, "rocks")));
                }

                if (which is "sqlite" or "both")
                {
                    engines.Add(new SqliteBenchEngine(Path.Combine(work, "sqlite")));
                }

                string? inputPath = parse.GetValue(input);
                using var inputStore = inputPath is null ? null : StorePaths.Open(inputPath, readOnly: true);
                ctx.Err.WriteLine(inputPath is null
                    ? $"bench: generated fixture of {n} grants (100 entitlements, 1000 principals), {seconds:0.###} s per timed benchmark"
                    : $"bench: latest sync of {inputPath}, {seconds:0.###} s per timed benchmark");
                var runner = new BenchRunner(new BenchOutput(ctx.Out, ctx.Err, ctx.Cancellation), new FixtureSpec(n), inputStore, TimeSpan.FromSeconds(seconds), selected) { PebbleFixture = parse.GetValue(pebble) };
                var results = runner.Run(engines);
                string? jsonPath = parse.GetValue(json);
                if (jsonPath is not null)
                {
                    BenchRunner.WriteJson(jsonPath, results);
                }

                return 0;
            }
            finally
            {
                foreach (var e in engines)
                {
                    e.Dispose();
                }

                try
                {
                    Directory.Delete(work, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        });
        return command;
    }
}
