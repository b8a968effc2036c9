using DotC1z.Errors;
using DotC1z.Fuzz;
using SharpFuzz;

// Usage:
//   DotC1z.Fuzz v1|c1z3|pebble              AFL mode: SharpFuzz reads each input from stdin (run under afl-fuzz).
//   DotC1z.Fuzz v1|c1z3|pebble FILE...      Replay: run each file once in-process and print the outcome
//                                           (exit 1 if any input threw something other than a C1zException).
//   DotC1z.Fuzz seeds pebble OUTDIR         Write pebble seeds: one per small baseline file (selector byte + bytes).
//   DotC1z.Fuzz soak v1|c1z3|pebble SECONDS FILE_OR_DIR...
//                                           Run the inputs round-robin in this process for SECONDS, logging slow inputs
//                                           and process vitals every 10 s (IterationLog): process-age effects without AFL.
// With DOTC1Z_FUZZ_LOG=FILE the AFL target logs the same to FILE (IterationLog).
if (args.Length >= 1 && args[0] == "seeds")
{
    return Seeds.Write(args);
}

if (args.Length >= 4 && args[0] == "soak" && Harnesses.Names.Contains(args[1]))
{
    return Soak.Run(args[1], TimeSpan.FromSeconds(double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)), args.Skip(3));
}

if (args.Length < 1 || !Harnesses.Names.Contains(args[0]))
{
    await Console.Error.WriteLineAsync("usage: DotC1z.Fuzz v1|c1z3|pebble [FILE...] | seeds pebble OUTDIR").ConfigureAwait(false);
    return 2;
}

var harness = Harnesses.Get(args[0]);
if (args.Length == 1)
{
    // No DotC1z code may run before Fuzzer.OutOfProcess.Run: the instrumented assemblies write to AFL's
    // coverage map, which exists only once SharpFuzz has attached it (an earlier call dies with an access
    // violation). So the pebble baseline loads lazily, inside the first input.
    // Out of process: SharpFuzz runs the inputs in a child process it restarts after a crash, so an
    // unhandled exception (or a native crash in RocksDB/SQLite) is reported to AFL as a crash.
    IterationLog? log = null;
    bool logChecked = false;
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        if (!logChecked)
        {
            logChecked = true;
            log = IterationLog.FromEnvironment();
        }

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            harness(buffer.ToArray());
        }
        catch (C1zException)
        {
            // The expected, typed rejection of a hostile input.
        }
        finally
        {
            log?.Record(System.Diagnostics.Stopwatch.GetTimestamp() - started, $"{buffer.Length} bytes");
        }
    });
    return 0;
}

int failures = 0;
foreach (string file in args.Skip(1))
{
    try
    {
        var rejected = Harnesses.Classify(args[0], File.ReadAllBytes(file));
        Console.WriteLine(rejected is null ? $"{file}: loaded" : $"{file}: rejected: {rejected.GetType().Name}: {rejected.Message}");
    }
    catch (Exception ex) when (ex is not C1zException)
    {
        failures++;
        Console.WriteLine($"{file}: FINDING: {ex}");
    }
}

return failures == 0 ? 0 : 1;
