using System.Diagnostics;
using System.Globalization;
using DotC1z.Tests.Shared;
using Xunit.Abstractions;

namespace DotC1z.Cli.Tests;

/// <summary>A 1M-grant fixture shared by the peak-memory tests (generated once by a child c1z process).</summary>
public sealed class MillionGrantFixture : IDisposable
{
    /// <summary>Grants in the fixture: 1,000,000 unless DOTC1Z_EXPORT_RSS_GRANTS says otherwise (local runs only; CI uses the default).</summary>
    public static readonly int Grants = int.TryParse(Environment.GetEnvironmentVariable("DOTC1Z_EXPORT_RSS_GRANTS"), CultureInfo.InvariantCulture, out int n) && n > 0 ? n : 1_000_000;

    private readonly TempDir _dir = new("export-rss");

    public MillionGrantFixture()
    {
        File = _dir.Combine("grants.c1z");
        var (code, _, err, _) = ExportMemoryTests.RunChild("fixture-gen", "--out", File, "--grants", Grants.ToString(CultureInfo.InvariantCulture), "--seed", "17");
        Assert.True(code == 0, "fixture-gen failed: " + err);
    }

    /// <summary>The fixture file.</summary>
    public string File { get; }

    /// <summary>A fresh path in the fixture's directory.</summary>
    /// <param name="name">A file name.</param>
    /// <returns>The path.</returns>
    public string Combine(string name) => _dir.Combine(name);

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// Exports stream (issue 17 "Done when"): <c>c1z export --format xlsx|csv</c> of a 1M-grant file, run as a child
/// process, peaks under 300 MiB resident. The peak is the child's VmHWM from /proc, polled until it exits.
/// </summary>
public sealed class ExportMemoryTests(MillionGrantFixture fixture, ITestOutputHelper output) : IClassFixture<MillionGrantFixture>
{
    private const long LimitBytes = 300L << 20;

    [Theory]
    [InlineData("xlsx")]
    [InlineData("csv")]
    public void Export_of_a_million_grants_peaks_under_300_MiB(string format)
    {
        Assert.True(OperatingSystem.IsLinux(), "this test reads /proc: it runs on Linux only");
        string target = fixture.Combine("out-" + format + (format == "xlsx" ? ".xlsx" : string.Empty));
        var (code, stdout, err, peak) = RunChild("export", "--in", fixture.File, "--format", format, "--out", target);
        Assert.True(code == 0, err);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"grants: {MillionGrantFixture.Grants} rows"), stdout, StringComparison.Ordinal);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"export --format {format} of {MillionGrantFixture.Grants:N0} grants: peak RSS {peak / (1 << 20)} MiB (limit {LimitBytes >> 20} MiB)"));
        Assert.True(peak > 0, "no peak RSS was read from /proc");
        Assert.True(peak < LimitBytes, string.Create(CultureInfo.InvariantCulture, $"peak RSS {peak / (1 << 20)} MiB, limit {LimitBytes >> 20} MiB"));
    }

    /// <summary>Runs c1z (the build beside the tests) as a child process and polls its peak resident set size.</summary>
    internal static (int Code, string Out, string Err, long PeakBytes) RunChild(params string[] args)
    {
        string c1z = Path.Combine(AppContext.BaseDirectory, "c1z.dll");
        Assert.True(System.IO.File.Exists(c1z), $"c1z.dll not found beside the tests at {c1z}");
        var psi = new ProcessStartInfo("dotnet", [c1z, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var child = Process.Start(psi)!;
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        long peak = 0;
        string status = $"/proc/{child.Id}/status";
        var deadline = Stopwatch.StartNew();
        while (!child.WaitForExit(20))
        {
            peak = Math.Max(peak, ReadHwm(status));
            if (deadline.Elapsed > TimeSpan.FromMinutes(10))
            {
                child.Kill(entireProcessTree: true);
                Assert.Fail($"c1z {string.Join(' ', args)} did not finish in 10 minutes");
            }
        }

        return (child.ExitCode, stdout.Result, stderr.Result, peak);
    }

    /// <summary>VmHWM (peak resident set) in bytes, or 0 when the process is gone.</summary>
    private static long ReadHwm(string statusFile)
    {
        try
        {
            foreach (string line in System.IO.File.ReadLines(statusFile))
            {
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The child exited between the poll and the read.
        }

        return 0;
    }
}
