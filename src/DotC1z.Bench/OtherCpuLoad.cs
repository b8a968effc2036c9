using System.Diagnostics;
using System.Globalization;

namespace DotC1z.Bench;

/// <summary>
/// How much CPU other processes are using, from <c>/proc/stat</c> minus this process's own share
/// (Linux; elsewhere nothing is measured). G1 loads on both cores, so a neighbour burning one of two
/// cores halves it: <c>dotnet run</c>, the README's main command, keeps the SDK's background JIT busy
/// on one core for several seconds after it starts the tool, which is exactly when G1 runs.
/// </summary>
internal static class OtherCpuLoad
{
    /// <summary>Other processes' load must stay under this many cores for a sample to count as quiet.</summary>
    public const double QuietCores = 0.25;

    private static readonly TimeSpan Sample = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Waits until other processes use less than <see cref="QuietCores"/> or <paramref name="limit"/>
    /// has passed; returns how long it waited and the load seen last (0 where it cannot be measured).
    /// </summary>
    public static (TimeSpan Waited, double Cores) WaitForQuiet(TimeSpan limit, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        double cores = 0;
        while (TryMeasure(out cores) && cores >= QuietCores && clock.Elapsed < limit)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        return (clock.Elapsed, cores);
    }

    /// <summary>Cores used by other processes over one sample (blocks for the sample).</summary>
    private static bool TryMeasure(out double cores)
    {
        cores = 0;
        if (!OperatingSystem.IsLinux() || !TryRead(out long busy0, out long total0, out long self0))
        {
            return false;
        }

        Thread.Sleep(Sample);
        if (!TryRead(out long busy1, out long total1, out long self1) || total1 <= total0)
        {
            return false;
        }

        double others = Math.Max(0, (busy1 - busy0) - (self1 - self0));
        cores = others / (total1 - total0) * Environment.ProcessorCount;
        return true;
    }

    // Jiffies: all CPUs' busy and total time, and this process's user + system time.
    private static bool TryRead(out long busy, out long total, out long self)
    {
        busy = total = self = 0;
        try
        {
            string cpu = File.ReadLines("/proc/stat").First();
            var f = cpu.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal ...
            for (int i = 1; i < f.Length && i <= 8; i++)
            {
                long v = long.Parse(f[i], CultureInfo.InvariantCulture);
                total += v;
                if (i != 4 && i != 5)
                {
                    busy += v;
                }
            }

            string stat = File.ReadAllText("/proc/self/stat");
            // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            self = long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return false;
        }
    }
}
