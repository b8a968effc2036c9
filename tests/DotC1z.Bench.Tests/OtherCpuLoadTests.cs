using System.Diagnostics;

namespace DotC1z.Bench.Tests;

public sealed class OtherCpuLoadTests
{
    [Fact]
    public void A_busy_neighbour_process_reads_as_load_and_the_wait_gives_up_at_its_limit()
    {
        // Other processes (parallel test runs) can only add load, so the lower bound is safe to assert.
        var start = new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", "while :; do :; done" } };
        using var busy = Process.Start(start)!;
        try
        {
            Thread.Sleep(300);
            var clock = Stopwatch.StartNew();
            var (_, cores) = OtherCpuLoad.WaitForQuiet(TimeSpan.FromMilliseconds(600), CancellationToken.None);
            Assert.True(cores >= 0.5, $"a busy shell loop should read as at least half a core; read {cores:F2}");
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5));
        }
        finally
        {
            busy.Kill();
            busy.WaitForExit();
        }
    }
}
