using System.Diagnostics;
using System.Globalization;
using DotC1z.Tests.Shared;

namespace DotC1z.Cli.Tests;

/// <summary>
/// Issue 17 "done when": <c>c1z grants --format csv</c> over a 1M-grant file streams in bounded memory
/// (peak RSS of the child process under 300 MiB, read from /proc on Linux) and prints its first rows long
/// before it ends.
/// </summary>
public sealed class LargeListingTests : IDisposable
{
    private const long PeakRssLimit = 300L << 20;
    private readonly TempDir _dir = new("large-listing");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Grants_csv_of_a_million_grants_streams_in_bounded_memory()
    {
        string file = _dir.Combine("1m.c1z");
        string c1z = Path.Combine(AppContext.BaseDirectory, "c1z.dll");
        Assert.True(File.Exists(c1z), $"c1z.dll not found beside the tests at {c1z}");

        // The fixture is written by a child process too: a million-grant bulk load inside the test host would
        // leave RocksDB's process-wide background threads and caches to the tests that run after this one.
        using (var gen = Process.Start(new ProcessStartInfo("dotnet", [c1z, "fixture-gen", "--out", file, "--grants", "1000000"]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!)
        {
            var genErr = gen.StandardError.ReadToEndAsync();
            _ = await gen.StandardOutput.ReadToEndAsync();
            await gen.WaitForExitAsync();
            Assert.True(gen.ExitCode == 0, await genErr);
        }
        // Opening the file (unpacking a million grants) takes seconds before any row can appear: a one-row
        // listing measures it, so "streams" below means "the first row comes in the first half of the time
        // after the open", however fast the rows themselves have become.
        var openClock = Stopwatch.StartNew();
        using (var one = Process.Start(new ProcessStartInfo("dotnet", [c1z, "grants", file, "--format", "csv", "--limit", "1"]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!)
        {
            var oneErr = one.StandardError.ReadToEndAsync();
            _ = await one.StandardOutput.ReadToEndAsync();
            await one.WaitForExitAsync();
            Assert.True(one.ExitCode == 0, await oneErr);
        }

        var open = openClock.Elapsed;
        var psi = new ProcessStartInfo("dotnet", [c1z, "grants", file, "--format", "csv"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var clock = Stopwatch.StartNew();
        using var child = Process.Start(psi)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var stderr = child.StandardError.ReadToEndAsync(timeout.Token);

        // The high-water mark only grows: the last value read before the process exits is its peak, near enough.
        long peak = 0;
        string status = $"/proc/{child.Id}/status";
        var poll = Task.Run(
            async () =>
            {
                while (!child.HasExited)
                {
                    try
                    {
                        foreach (string line in await File.ReadAllLinesAsync(status, timeout.Token))
                        {
                            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                            {
                                peak = Math.Max(peak, long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024);
                            }
                        }
                    }
                    catch (IOException)
                    {
                        // gone between the check and the read
                    }

                    await Task.Delay(50, timeout.Token);
                }
            },
            timeout.Token);

        long rows = 0;
        TimeSpan first = TimeSpan.Zero;
        while (await child.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (rows++ == 1)
            {
                first = clock.Elapsed;
                Assert.Equal("grant-0000000000", line.Split(',')[0]);
            }
        }

        await child.WaitForExitAsync(timeout.Token);
        var total = clock.Elapsed;
        await poll;
        Assert.True(child.ExitCode == 0, await stderr);
        Assert.Equal(1_000_001, rows); // header + one row per grant
        Assert.True(first < open + ((total - open) / 2), $"first row after {first}, end after {total}, a one-row listing took {open}: the output does not stream");
        if (OperatingSystem.IsLinux())
        {
            Assert.True(peak > 0, "no VmHWM read from /proc");
            Assert.True(peak < PeakRssLimit, $"peak RSS {peak >> 20} MiB, limit {PeakRssLimit >> 20} MiB");
        }
    }
}
