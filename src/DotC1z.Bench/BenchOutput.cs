namespace DotC1z.Bench;

/// <summary>Where a benchmark run writes: result lines, progress notes, and its cancellation.</summary>
/// <param name="Out">Result lines (one per benchmark and engine, then ratio lines).</param>
/// <param name="Err">Progress and warnings (e.g. other processes using the CPU).</param>
/// <param name="Cancellation">Stops the run.</param>
public sealed record BenchOutput(TextWriter Out, TextWriter Err, CancellationToken Cancellation);
