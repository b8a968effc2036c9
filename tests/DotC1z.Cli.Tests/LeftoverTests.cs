using System.Diagnostics;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>
/// Scratch names carry the owner's process id; a later run sweeps dead owners' leftovers, `c1z gc` does it on
/// demand, and SIGTERM cleans up like Ctrl-C (docs/RELIABILITY.md, leftovers). They run alone: every c1z run of a
/// parallel test also sweeps TMPDIR for dead owners, and once removed the leftover planted for `c1z gc` first.
/// </summary>
[Collection(FaultInjectionGroup.Name)]
public sealed class LeftoverTests : IDisposable
{
    private readonly TempDir _dir = new("leftover");

    public void Dispose() => _dir.Dispose();

    /// <summary>The id of a process that has exited (and so is not running).</summary>
    private static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        int pid = p.Id;
        Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} is still running");
        return pid;
    }

    [Fact]
    public void Only_dead_owners_leftovers_are_swept()
    {
        int dead = DeadPid();
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            string deadDir = _dir.Combine($".c1z-out-{dead}-abc");
            string liveDir = _dir.Combine($".c1z-out-{sleeper.Id}-abc");
            string mine = _dir.Combine($".c1z-out-{Environment.ProcessId}-abc");
            string noPid = _dir.Combine(".c1z-out-0123abcd");
            string other = _dir.Combine($"keep-{dead}-abc");
            foreach (string d in new[] { deadDir, liveDir, mine, noPid, other })
            {
                Directory.CreateDirectory(d);
                File.WriteAllText(Path.Combine(d, "x"), "x");
            }

            var removed = PrivateDirectory.SweepDeadOwners(_dir.Path);

            Assert.Equal([deadDir], removed);
            Assert.False(Directory.Exists(deadDir));
            Assert.True(Directory.Exists(liveDir) && Directory.Exists(mine) && Directory.Exists(noPid) && Directory.Exists(other));
        }
        finally
        {
            sleeper.Kill();
        }
    }

    [Fact]
    public void The_next_run_sweeps_a_killed_runs_scratch_beside_its_output_and_gc_cleans_tmp()
    {
        int dead = DeadPid();
        string scratch = _dir.Combine($".c1z-out-{dead}-0123456789");
        string save = _dir.Combine($".x.c1z.save-{dead}-0123456789");
        Directory.CreateDirectory(Path.Combine(scratch, "db"));
        Directory.CreateDirectory(save);
        var r = Run("fixture-gen", "--out", _dir.Combine("x.c1z"), "--grants", "100");
        Assert.True(r.Code == 0, r.Err);
        Assert.False(Directory.Exists(scratch));
        Assert.False(Directory.Exists(save));

        string tmpLeftover = Path.Combine(Path.GetTempPath(), $"c1z-open-{dead}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmpLeftover);
        var gc = Run("gc");
        Assert.True(gc.Code == 0, gc.Err);
        Assert.Contains("removed " + tmpLeftover, gc.Out, StringComparison.Ordinal);
        Assert.False(Directory.Exists(tmpLeftover));
    }

    [Fact]
    public async Task Sigterm_cleans_up_like_ctrl_c()
    {
        string c1z = Path.Combine(AppContext.BaseDirectory, "c1z.dll");
        Assert.True(File.Exists(c1z), $"c1z.dll not found beside the tests at {c1z}");
        string output = _dir.Combine("big.c1z");
        var psi = new ProcessStartInfo("dotnet", [c1z, "fixture-gen", "--out", output, "--grants", "5000000"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var child = Process.Start(psi)!;
        var stderr = child.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var waited = Stopwatch.StartNew();
        while (!Directory.EnumerateDirectories(_dir.Path, ".c1z-out-*").Any())
        {
            if (child.HasExited)
            {
                Assert.Fail("the run ended before it created its scratch store: " + await stderr);
            }

            if (waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                child.Kill();
                Assert.Fail($"no scratch store after 60 s in {_dir.Path}: [{string.Join(", ", Directory.EnumerateFileSystemEntries(_dir.Path))}]; stdout: {await child.StandardOutput.ReadToEndAsync()}; stderr: {await stderr}");
            }

            await Task.Delay(20, timeout.Token);
        }

        Assert.StartsWith($".c1z-out-{child.Id}-", Path.GetFileName(Directory.EnumerateDirectories(_dir.Path, ".c1z-out-*").Single()), StringComparison.Ordinal);

        await Task.Delay(300, timeout.Token);
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", child.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync(timeout.Token);
        }

        await child.WaitForExitAsync(timeout.Token);
        Assert.Equal(1, child.ExitCode);
        Assert.Contains("cancelled", await stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path));
    }
}
