using System.Diagnostics;
using System.Globalization;

namespace DotC1z.Cli;

/// <summary>
/// Progress on stderr: a redrawn single line on a terminal, plain periodic lines (every 5%) otherwise,
/// so logs stay readable and scripts can parse them.
/// </summary>
public sealed class ProgressReporter : IDisposable
{
    private readonly CliContext _ctx;
    private readonly string _unit;
    private readonly long _total;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _lastBucket = -1;

    /// <summary>Starts reporting.</summary>
    /// <param name="ctx">CLI context.</param>
    /// <param name="unit">What is counted.</param>
    /// <param name="total">The total.</param>
    public ProgressReporter(CliContext ctx, string unit, long total)
    {
        _ctx = ctx;
        _unit = Output.Printable.Escape(unit);
        _total = total;
    }

    /// <summary>Reports the current count.</summary>
    /// <param name="done">Done so far.</param>
    public void Report(long done)
    {
        double pct = _total == 0 ? 100 : 100.0 * done / _total;
        double rate = done / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9);
        string line = string.Create(CultureInfo.InvariantCulture, $"[{pct,5:F1}%] {done}/{_total} {_unit}  {rate:F0} r/s  elapsed={_clock.ElapsedMilliseconds}ms");
        if (_ctx.Interactive)
        {
            _ctx.Err.Write("\r" + line);
            return;
        }

        int bucket = (int)(pct / 5);
        if (bucket != _lastBucket)
        {
            _lastBucket = bucket;
            _ctx.Err.WriteLine(line);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ctx.Interactive)
        {
            _ctx.Err.WriteLine();
        }
    }
}
