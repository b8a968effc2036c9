using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations.Sanitize;

/// <summary>
/// Moves every timestamp by one constant so the latest timestamp of the input lands on the anchor: order and
/// every difference between two timestamps are kept exactly (to the nanosecond); only the absolute dates go.
/// Results are clamped to the range a protobuf timestamp can hold (years 1–9999).
/// </summary>
public sealed class TimestampShift
{
    private const long MinSeconds = -62_135_596_800; // 0001-01-01T00:00:00Z
    private const long MaxSeconds = 253_402_300_799; // 9999-12-31T23:59:59Z
    private const int NanosPerSecond = 1_000_000_000;

    private readonly long _seconds;
    private readonly int _nanos;

    private TimestampShift(long seconds, int nanos)
    {
        _seconds = seconds;
        _nanos = nanos;
    }

    /// <summary>No shift (while the latest timestamp is being looked for, or when the input has none).</summary>
    public static TimestampShift None { get; } = new(0, 0);

    /// <summary>The shift as a time span (for moving the time inside sync ids).</summary>
    public TimeSpan Delta => TimeSpan.FromSeconds(_seconds) + TimeSpan.FromTicks(_nanos / 100);

    /// <summary>The shift that moves <paramref name="latest"/> onto <paramref name="anchor"/>.</summary>
    /// <param name="latest">The latest timestamp of the input, or null when it holds none (then nothing moves).</param>
    /// <param name="anchor">Where the latest timestamp goes.</param>
    /// <returns>The shift.</returns>
    public static TimestampShift Between(Timestamp? latest, DateTimeOffset anchor)
    {
        if (latest is null)
        {
            return None;
        }

        var a = Timestamp.FromDateTimeOffset(anchor);
        // Clamped first so that a hostile timestamp (seconds near long.MaxValue) cannot overflow the arithmetic.
        long seconds = a.Seconds - Math.Clamp(latest.Seconds, MinSeconds, MaxSeconds);
        long nanos = (long)a.Nanos - Math.Clamp(latest.Nanos, 0, NanosPerSecond - 1);
        seconds += Math.DivRem(nanos, NanosPerSecond, out long rem);
        if (rem < 0)
        {
            rem += NanosPerSecond;
            seconds--;
        }

        return new TimestampShift(seconds, (int)rem);
    }

    /// <summary>The shifted timestamp; null stays null.</summary>
    /// <param name="t">A timestamp.</param>
    /// <returns>A new, shifted timestamp.</returns>
    public Timestamp? Apply(Timestamp? t)
    {
        if (t is null)
        {
            return null;
        }

        // Both terms are within ±(range of a valid timestamp), so the sums cannot overflow.
        long seconds = Math.Clamp(t.Seconds, MinSeconds, MaxSeconds) + _seconds;
        long nanos = (long)Math.Clamp(t.Nanos, 0, NanosPerSecond - 1) + _nanos;
        if (nanos >= NanosPerSecond)
        {
            nanos -= NanosPerSecond;
            seconds++;
        }

        if (seconds > MaxSeconds)
        {
            return new Timestamp { Seconds = MaxSeconds, Nanos = NanosPerSecond - 1 };
        }

        return seconds < MinSeconds ? new Timestamp { Seconds = MinSeconds } : new Timestamp { Seconds = seconds, Nanos = (int)nanos };
    }

    /// <summary>Whether <paramref name="a"/> is later than <paramref name="b"/> (null is earliest).</summary>
    /// <param name="a">A timestamp.</param>
    /// <param name="b">Another.</param>
    /// <returns>True when <paramref name="a"/> is strictly later.</returns>
    public static bool Later(Timestamp? a, Timestamp? b) =>
        a is not null && (b is null || a.Seconds > b.Seconds || (a.Seconds == b.Seconds && a.Nanos > b.Nanos));
}
