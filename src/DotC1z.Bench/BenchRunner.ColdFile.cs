using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using DotC1z.Keys;

namespace DotC1z.Bench;

/// <summary>
/// G13 (issue 19): the memory a user's process needs to open a saved file and list one entitlement's grants. The
/// fixture's sync is saved as the engine's file (C1Z3 for rocks, a v1 file for SQLite; not timed), then a fresh
/// child <c>c1z grants FILE -e ENTITLEMENT --format json</c> opens it and lists; its peak resident set (VmHWM,
/// polled from /proc while it runs) is the figure. The file has the run's <c>--grants</c> grants, so the issue's
/// 1M-grant target is <c>c1z bench --grants 1000000 --bench G13</c>.
/// </summary>
public sealed partial class BenchRunner
{
    /// <summary>
    /// How to start c1z for G13's child: the program and its leading arguments (the c1z arguments follow). Null: the
    /// c1z this process runs (the bench runs inside <c>c1z bench</c>), or a <c>c1z.dll</c> beside this application.
    /// </summary>
    public (string FileName, IReadOnlyList<string> Arguments)? ChildCommand { get; init; }

    // How often the child's VmHWM is read; a high-water mark, so a poll misses at most the last interval's growth.
    private static readonly TimeSpan RssPollInterval = TimeSpan.FromMilliseconds(5);

    private static readonly TimeSpan ChildLimit = TimeSpan.FromMinutes(10);

    private BenchResult? G13(BenchEngine engine, SyncId sync, List<string> entitlements)
    {
        var command = ChildCommand ?? OwnCommand();
        if (command is null)
        {
            _ctx.Err.WriteLine("G13 not run: this process is not c1z and no c1z.dll is beside it (set BenchRunner.ChildCommand)");
            return null;
        }

        string file = Path.Combine(engine.WorkDir, "g13" + (engine.Name == "rocks" ? ".c1z" : "-v1.c1z"));
        var save = Stopwatch.StartNew();
        engine.SaveFile(file);
        _ctx.Err.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: G13 [{engine.Name}] file of the fixture's sync saved in {save.Elapsed.TotalMilliseconds:F0} ms ({new FileInfo(file).Length / 1024} KiB, not timed)"));
        try
        {
            string entitlement = entitlements[new Random(13).Next(entitlements.Count)];
            var (code, rows, peak, wall, err) = RunChild(command.Value, ["grants", file, "--sync-id", sync.ToString(), "-e", entitlement, "--format", "json"], _ctx.Cancellation);
            if (code != 0)
            {
                throw new InvalidOperationException($"G13 [{engine.Name}]: the child c1z grants exited with {code}: {err.Trim()}");
            }

            return new BenchResult("G13", "ColdFileListByEntitlementRss", engine.Name, rows, wall, rows, peak);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>This process's own c1z: the apphost itself, or <c>dotnet c1z.dll</c>.</summary>
    private static (string, IReadOnlyList<string>)? OwnCommand()
    {
        string? process = Environment.ProcessPath;
        var entry = Assembly.GetEntryAssembly();
        if (process is not null && entry?.GetName().Name == "c1z")
        {
            string host = Path.GetFileNameWithoutExtension(process);
            return host == "dotnet" ? (process, [entry.Location]) : (process, []);
        }

        string beside = Path.Combine(AppContext.BaseDirectory, "c1z.dll");
        return File.Exists(beside) ? ("dotnet", [beside]) : null;
    }

    /// <summary>Runs a child to the end: exit code, stdout lines (counted, not kept), peak RSS, wall time, stderr.</summary>
    private static (int Code, long Lines, long PeakBytes, double WallMs, string Err) RunChild((string FileName, IReadOnlyList<string> Arguments) command, IEnumerable<string> args, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(command.FileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in command.Arguments.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        var wall = Stopwatch.StartNew();
        using var child = Process.Start(psi) ?? throw new InvalidOperationException($"{command.FileName} did not start");
        var lines = Task.Run(() => CountLines(child.StandardOutput.BaseStream), CancellationToken.None);
        var err = child.StandardError.ReadToEndAsync(CancellationToken.None);
        string status = string.Create(CultureInfo.InvariantCulture, $"/proc/{child.Id}/status");
        long peak = 0;
        while (!child.WaitForExit(RssPollInterval))
        {
            peak = Math.Max(peak, ReadHwm(status));
            if (cancellationToken.IsCancellationRequested || wall.Elapsed > ChildLimit)
            {
                child.Kill(entireProcessTree: true);
                child.WaitForExit();
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException($"{command.FileName} {string.Join(' ', args)} did not finish in {ChildLimit.TotalMinutes:F0} minutes");
            }
        }

        wall.Stop();
        return (child.ExitCode, lines.GetAwaiter().GetResult(), peak, wall.Elapsed.TotalMilliseconds, err.GetAwaiter().GetResult());
    }

    private static long CountLines(Stream stream)
    {
        var buffer = new byte[64 * 1024];
        long lines = 0;
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            lines += buffer.AsSpan(0, n).Count((byte)'\n');
        }

        return lines;
    }

    /// <summary>A process's VmHWM in bytes, or 0 once it is gone (or off Linux).</summary>
    private static long ReadHwm(string statusFile)
    {
        try
        {
            foreach (string line in File.ReadLines(statusFile))
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
