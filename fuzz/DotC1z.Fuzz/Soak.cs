using System.Diagnostics;
using DotC1z.Errors;

namespace DotC1z.Fuzz;

/// <summary>
/// Runs a set of inputs round-robin in one process for a fixed time, like the AFL target does over a campaign but
/// without AFL, logging slow inputs and process vitals (<see cref="IterationLog"/>) to stdout.
/// </summary>
internal static class Soak
{
    /// <summary>Runs the soak.</summary>
    /// <param name="loader">The harness.</param>
    /// <param name="duration">How long.</param>
    /// <param name="paths">Input files, or directories whose files are inputs.</param>
    /// <returns>0, or 1 when an input threw something other than a <see cref="C1zException"/>.</returns>
    public static int Run(string loader, TimeSpan duration, IEnumerable<string> paths)
    {
        var inputs = paths
            .SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p])
            .Select(f => (Name: Path.GetFileName(f), Data: File.ReadAllBytes(f)))
            .ToList();
        var harness = Harnesses.Get(loader);
        var log = new IterationLog(Console.Out, IterationLog.SlowMs());
        log.Line($"soak {loader}: {inputs.Count} inputs for {duration.TotalSeconds:F0} s");
        var clock = Stopwatch.StartNew();
        for (long i = 0; clock.Elapsed < duration; i++)
        {
            var (name, data) = inputs[(int)(i % inputs.Count)];
            long started = Stopwatch.GetTimestamp();
            try
            {
                harness(data);
            }
            catch (C1zException)
            {
            }
            catch (Exception ex)
            {
                Console.WriteLine($"{name}: FINDING: {ex}");
                return 1;
            }

            log.Record(Stopwatch.GetTimestamp() - started, name);
        }

        log.Line($"done: slowest input {log.OverallMaxMs:F1} ms");
        return 0;
    }
}
