using System.Diagnostics;
using System.Globalization;

namespace DotC1z.Fuzz;

/// <summary>
/// Per-input timing and process vitals, for finding stalls of the long-running fuzz process (docs/RELIABILITY.md,
/// "Coverage-guided fuzzing", v1 hang). Off unless <c>DOTC1Z_FUZZ_LOG</c> names a file (under AFL: keep it on
/// tmpfs, e.g. /dev/shm/v1.log) or the soak mode is used. Logs every input slower than
/// <c>DOTC1Z_FUZZ_LOG_SLOW_MS</c> (default 250 ms) and a summary line every 10 s: process age, inputs, slowest
/// input of the interval, gen0/1/2 collection counts, managed heap, threads and open file descriptors.
/// </summary>
internal sealed class IterationLog
{
    private readonly TextWriter _out;
    private readonly long _slowTicks;
    private readonly Stopwatch _age = Stopwatch.StartNew();
    private long _count;
    private long _intervalMax;
    private long _intervalStart;
    private long _overallMax;

    public IterationLog(TextWriter output, long slowMs)
    {
        _out = output;
        _slowTicks = slowMs * Stopwatch.Frequency / 1000;
        Line("start");
    }

    /// <summary>The slowest input so far, in milliseconds.</summary>
    public double OverallMaxMs => _overallMax * 1000.0 / Stopwatch.Frequency;

    /// <summary>The log of the AFL target when <c>DOTC1Z_FUZZ_LOG</c> is set; null otherwise.</summary>
    /// <returns>The log, or null.</returns>
    public static IterationLog? FromEnvironment()
    {
        string? path = Environment.GetEnvironmentVariable("DOTC1Z_FUZZ_LOG");
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        var writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        return new IterationLog(writer, SlowMs());
    }

    /// <summary>The slow-input threshold from <c>DOTC1Z_FUZZ_LOG_SLOW_MS</c>.</summary>
    /// <returns>Milliseconds.</returns>
    public static long SlowMs() =>
        long.TryParse(Environment.GetEnvironmentVariable("DOTC1Z_FUZZ_LOG_SLOW_MS"), NumberStyles.None, CultureInfo.InvariantCulture, out long ms) ? ms : 250;

    /// <summary>Records one input that took <paramref name="elapsedTicks"/>.</summary>
    /// <param name="elapsedTicks">Stopwatch ticks.</param>
    /// <param name="what">Names the input in a slow-input line.</param>
    public void Record(long elapsedTicks, string what)
    {
        _count++;
        _intervalMax = Math.Max(_intervalMax, elapsedTicks);
        _overallMax = Math.Max(_overallMax, elapsedTicks);
        if (elapsedTicks >= _slowTicks)
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"SLOW {elapsedTicks * 1000.0 / Stopwatch.Frequency:F0} ms {what}"));
        }

        if (_age.ElapsedTicks - _intervalStart >= 10 * Stopwatch.Frequency)
        {
            Line(string.Create(CultureInfo.InvariantCulture, $"interval max {_intervalMax * 1000.0 / Stopwatch.Frequency:F1} ms"));
            _intervalMax = 0;
            _intervalStart = _age.ElapsedTicks;
        }
    }

    /// <summary>Writes one line with the process vitals.</summary>
    /// <param name="text">What happened.</param>
    public void Line(string text)
    {
        int fds = -1;
        try
        {
            fds = Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : -1;
        }
        catch (IOException)
        {
        }

        using var self = Process.GetCurrentProcess();
        _out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{_age.Elapsed.TotalSeconds,8:F1}s n={_count} gc={GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)} heap={GC.GetTotalMemory(false) >> 20}MiB rss={self.WorkingSet64 >> 20}MiB threads={self.Threads.Count} fds={fds} {text}"));
    }
}
