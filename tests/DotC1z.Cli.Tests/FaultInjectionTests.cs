using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using DotC1z.Format;
using DotC1z.Tests.Shared;
using Xunit.Abstractions;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>
/// The fault tests change process-wide state (TMPDIR, the save fault hook), so they run alone, after the
/// parallel tests of this assembly.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultInjectionGroup
{
    /// <summary>The collection name.</summary>
    public const string Name = "fault injection (process-wide TMPDIR and save hook)";
}

/// <summary>Inputs shared by the fault tests: two small store directories, a C1Z3 file and the v1 fixture.</summary>
public sealed class FaultInputs : IDisposable
{
    private readonly TempDir _dir = new("fault-inputs");

    /// <summary>Generates the inputs.</summary>
    public FaultInputs()
    {
        StoreA = Gen("a", 1);
        StoreB = Gen("b", 2);
        FileA = Gen("a.c1z", 1);
        V1 = TestPaths.RealFixture("small-unexpanded.c1z");
    }

    /// <summary>A store directory, 2,000 grants, seed 1.</summary>
    public string StoreA { get; }

    /// <summary>A store directory, 2,000 grants, seed 2.</summary>
    public string StoreB { get; }

    /// <summary>A C1Z3 file, 2,000 grants, seed 1.</summary>
    public string FileA { get; }

    /// <summary>A legacy v1 file (real baton fixture).</summary>
    public string V1 { get; }

    /// <inheritdoc/>
    public void Dispose() => _dir.Dispose();

    private string Gen(string name, int seed)
    {
        string path = _dir.Combine(name);
        var stderr = new StringWriter();
        int code = CliApp.Run(["fixture-gen", "--out", path, "--grants", "2000", "--seed", seed.ToString(CultureInfo.InvariantCulture)], new StringWriter(), stderr);
        if (code != 0)
        {
            throw new InvalidOperationException("fixture-gen failed: " + stderr);
        }

        return path;
    }
}

/// <summary>
/// Issue 18, "Faults" (docs/RELIABILITY.md F10, F-d…F-g, T6, T7; section "Faults: ENOSPC and EIO"): disk full
/// (a real tmpfs, filled to a seeded sweep of free-space levels) and I/O errors (thrown from the save seam at
/// every step) during fixture-gen, import, export, compact and expand, to a C1Z3 file and to a store directory.
/// Every failure must be exit 1 with one typed <c>c1z: error:</c> line, leave a pre-existing output
/// byte-identical (with <c>--force</c>), and leave no scratch entry beside the output or in TMPDIR.
/// </summary>
[Collection(FaultInjectionGroup.Name)]
public sealed partial class FaultInjectionTests : IDisposable, IClassFixture<FaultInputs>
{
    private const string Ballast = "ballast";
    private const long KiB = 1024;

    private static readonly AsyncLocal<(string Step, int Errno)?> Armed = new();

    private readonly FaultInputs _in;
    private readonly ITestOutputHelper _log;
    private readonly TempDir _dir = new("faults");
    private readonly List<string> _mounts = [];

    public FaultInjectionTests(FaultInputs inputs, ITestOutputHelper log)
    {
        _in = inputs;
        _log = log;
    }

    /// <summary>An operation under test: its output name, whether it replaces an old output, its arguments.</summary>
    private sealed record Op(string Name, string Out, bool Force, Func<FaultInputs, string, string[]> Args);

    private static readonly Op[] Ops =
    [
        new("fixture-gen-file", "x.c1z", false, (_, o) => ["fixture-gen", "--out", o, "--grants", "3000", "--seed", "11"]),
        new("fixture-gen-dir", "store", false, (_, o) => ["fixture-gen", "--out", o, "--grants", "3000", "--seed", "11"]),
        new("import-file", "x.c1z", true, (i, o) => ["import", "--in", i.V1, "--out", o, "--force"]),
        new("import-dir", "store", true, (i, o) => ["import", "--in", i.V1, "--out", o, "--force"]),
        // "export --format v1" is not in this sweep: re-exporting the same store is byte-identical, which defeats the
        // sweep's "the output changed" check. Its SQLite checkpoint's "disk is full" is mapped to C1zDiskFullException
        // in V1Export (it escaped as a raw SqliteException before).
        new("export-c1z3", "e.c1z", true, (i, o) => ["export", "--in", i.StoreA, "--out", o, "--format", "c1z3", "--force"]),
        new("compact-file", "c.c1z", true, (i, o) => ["compact", "--base", i.StoreA, "--applied", i.StoreB, "--out", o, "--force"]),
        new("compact-dir", "store", true, (i, o) => ["compact", "--base", i.StoreA, "--applied", i.StoreB, "--out", o, "--force"]),
        new("expand-file", "x.c1z", true, (i, o) => ["expand", "--in", i.StoreA, "--out", o, "--force"]),
        new("expand-dir", "store", true, (i, o) => ["expand", "--in", i.StoreA, "--out", o, "--force"]),
    ];

    /// <summary>Every operation, for the disk-full sweep.</summary>
    public static TheoryData<string> AllOps() => [.. Ops.Select(o => o.Name)];

    /// <summary>Every operation whose output is a C1Z3 file written by <see cref="C1zFile.Save"/>, with every save step.</summary>
    public static TheoryData<string, string> SaveOpsAndSteps()
    {
        var data = new TheoryData<string, string>();
        foreach (var op in Ops.Where(o => o.Out.EndsWith(".c1z", StringComparison.Ordinal)))
        {
            foreach (string step in SaveSteps)
            {
                data.Add(op.Name, step);
            }
        }

        return data;
    }

    private static readonly string[] SaveSteps = ["checkpoint", "payload", "write", "fsync", "rename", "dirsync"];

    public void Dispose()
    {
        foreach (string m in _mounts)
        {
            Unmount(m);
        }

        _dir.Dispose();
    }

    // ---------------------------------------------------------------- ENOSPC on a real tmpfs

    [Theory]
    [MemberData(nameof(AllOps))]
    public void Disk_full_at_every_point_of_an_output_gives_a_typed_error_keeps_the_old_output_and_leaves_nothing(string name)
    {
        var op = Ops.Single(o => o.Name == name);
        string? fs = MountOrExplain(32 * 1024 * KiB);
        if (fs is null)
        {
            return;
        }

        int seed = Seeds.Get(18_000 + Array.IndexOf(Ops, op));
        var rng = new Random(seed);
        string output = Path.Combine(fs, op.Out);
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;

        // The old output, written with plenty of space (operations with --force only).
        string? before = null;
        if (op.Force)
        {
            var first = Run(op.Args(_in, output));
            Assert.True(first.Code == 0, $"[seed {seed}] writing the old output failed: {first.Err}");
            before = Hash(output);
        }

        var tmpBefore = OurTempEntries();
        var phases = new List<string>();
        long free = (long)(64 * KiB * (1 + (0.25 * rng.NextDouble())));
        while (true)
        {
            Assert.True(free < 24 * 1024 * KiB, $"[seed {seed}] {op.Name} still fails with {free / KiB} KiB free: {string.Join("; ", phases)}");
            LeaveFree(fs, free);
            var r = Run([.. op.Args(_in, output), "--verbose"]);
            string at = $"[seed {seed}] {op.Name} with {free / KiB} KiB free";
            if (r.Code == 0)
            {
                Assert.True(before is null || Hash(output) != before, $"{at}: succeeded but the output did not change");
                AssertReadable(output, at);
                AssertOnlyExpected(fs, op.Out, at);
                phases.Add($"{free / KiB} KiB: ok");
                break;
            }

            string line = AssertOneTypedError(r, "DotC1z.Errors.C1zDiskFullException", at);
            Assert.Contains("disk full", line, StringComparison.Ordinal);
            if (before is null)
            {
                Assert.False(Path.Exists(output), $"{at}: a failed run left {output}");
            }
            else
            {
                Assert.True(before == Hash(output), $"{at}: the old output changed");
            }

            AssertOnlyExpected(fs, before is null ? null : op.Out, at);
            Assert.Equal(tmpBefore, OurTempEntries());
            phases.Add($"{free / KiB} KiB: {Phase(line)}");
            free = (long)(free * (1.3 + (0.3 * rng.NextDouble())));
        }

        _log.WriteLine($"{op.Name} (seed {seed}): {string.Join(" | ", phases)}; {clock.ElapsedMilliseconds} ms wall, {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds:F0} ms CPU");
        Assert.True(phases.Count >= 2, $"[seed {seed}] {op.Name}: no failing run, the sweep started too high");
    }

    [Fact]
    public void A_full_TMPDIR_fails_opening_a_C1Z3_or_v1_input_with_one_error_line_keeps_the_old_output_and_leaves_nothing()
    {
        // Opening a C1Z3 file wants the payload's decoded size plus 64 MiB of headroom free in TMPDIR, so the
        // file system must be larger than that for the sweep to end in a success.
        const long MostFree = 88 * 1024 * KiB;
        string? fs = MountOrExplain(96 * 1024 * KiB);
        if (fs is null)
        {
            return;
        }

        int seed = Seeds.Get(18_100);
        var rng = new Random(seed);
        string oldV1 = _dir.Combine("old-v1.c1z");
        string oldC1z = _dir.Combine("old.c1z");
        File.Copy(_in.V1, oldV1);
        File.Copy(_in.FileA, oldC1z);
        string v1Hash = Hash(oldV1);
        string c1zHash = Hash(oldC1z);
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        string? saved = Environment.GetEnvironmentVariable("TMPDIR");
        var log = new List<string>();
        try
        {
            Environment.SetEnvironmentVariable("TMPDIR", fs);
            Assert.Equal(Path.TrimEndingDirectorySeparator(fs), Path.TrimEndingDirectorySeparator(Path.GetTempPath()));

            // Typed in every case: the C1Z3 extraction (a free-space check before the first byte) and the v1
            // decompression into TMPDIR (ENOSPC mapped to C1zDiskFullException).
            (string What, string[] Args, string Out, string Hash, bool Typed)[] cases =
            [
                ("open C1Z3 (verify)", ["verify", _in.FileA], "", "", true),
                ("export C1Z3 → v1", ["export", "--in", _in.FileA, "--out", oldV1, "--force"], oldV1, v1Hash, true),
                ("import v1 → C1Z3", ["import", "--in", _in.V1, "--out", oldC1z, "--force"], oldC1z, c1zHash, true),
            ];
            foreach (var c in cases)
            {
                var seen = new List<string>();
                long free = (long)(16 * KiB * (1 + (0.25 * rng.NextDouble())));
                while (true)
                {
                    Assert.True(free <= MostFree, $"[seed {seed}] {c.What} still fails with {MostFree / KiB} KiB free in TMPDIR: {string.Join("; ", seen)}");
                    LeaveFree(fs, free);
                    var r = Run([.. c.Args, "--verbose"]);
                    string at = $"[seed {seed}] {c.What} with {free / KiB} KiB free in TMPDIR";
                    Assert.Equal([Ballast], Entries(fs));
                    if (r.Code == 0)
                    {
                        seen.Add($"{free / KiB} KiB: ok");
                        break;
                    }

                    string line = AssertOneTypedError(r, c.Typed ? "DotC1z.Errors.C1zDiskFullException" : null, at);
                    Assert.True(SaysNoSpace(line), $"{at}: {r.Err}");
                    if (c.Out.Length > 0)
                    {
                        Assert.True(c.Hash == Hash(c.Out), $"{at}: the old output changed");
                    }

                    seen.Add($"{free / KiB} KiB: {Phase(line)}");
                    free = free == MostFree ? MostFree + 1 : Math.Min(MostFree, (long)(free * (1.6 + (0.4 * rng.NextDouble()))));
                }

                Assert.True(seen.Count >= 2, $"[seed {seed}] {c.What}: no failing run");
                log.Add($"{c.What}: {string.Join(" | ", seen)}");
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", saved);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, ".*"));
        foreach (string l in log)
        {
            _log.WriteLine(l);
        }

        _log.WriteLine($"TMPDIR sweep (seed {seed}): {clock.ElapsedMilliseconds} ms wall, {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds:F0} ms CPU");
    }

    // ---------------------------------------------------------------- EIO (and ENOSPC) through the save seam

    [Theory]
    [MemberData(nameof(SaveOpsAndSteps))]
    public void An_IO_error_at_any_save_step_gives_a_typed_error_and_never_a_torn_or_lost_output(string name, string step)
    {
        var op = Ops.Single(o => o.Name == name);
        foreach (int errno in new[] { 5, 28 })
        {
            string dir = _dir.Combine($"{step}-{errno}");
            Directory.CreateDirectory(dir);
            string output = Path.Combine(dir, op.Out);
            string? before = null;
            if (op.Force)
            {
                File.Copy(_in.FileA, output);
                before = Hash(output);
            }

            var tmpBefore = OurTempEntries();
            var r = WithSaveFault(step, errno, () => Run([.. op.Args(_in, output), "--verbose"]));
            string at = $"{op.Name}, errno {errno} at save step \"{step}\"";
            string line = AssertOneTypedError(r, errno == 28 ? "DotC1z.Errors.C1zDiskFullException" : "DotC1z.Errors.C1zIOException", at);
            Assert.Contains(errno == 28 ? "disk full" : "Input/output error", line, StringComparison.Ordinal);
            Assert.Contains(output, line, StringComparison.Ordinal);
            Assert.Equal(tmpBefore, OurTempEntries());
            if (step == "dirsync")
            {
                // The rename has happened: the new file is in place and complete; only its durability is unknown.
                AssertOnlyExpected(dir, op.Out, at);
                Assert.True(before is null || Hash(output) != before, $"{at}: expected the new output");
                AssertReadable(output, at);
            }
            else
            {
                AssertOnlyExpected(dir, before is null ? null : op.Out, at);
                Assert.True(before is null ? !Path.Exists(output) : Hash(output) == before, $"{at}: the old output changed or a new one appeared");
            }
        }
    }

    [Fact]
    public void The_save_seam_is_reached_by_every_file_output_and_faults_are_confined_to_the_armed_run()
    {
        // Vacuity guard for the EIO theory: armed runs hit the hook at every step; a run without the armed
        // flag on this flow (another thread) is not affected.
        var seen = new List<string>();
        string output = _dir.Combine("seam.c1z");
        var r = WithHook(s => seen.Add(s), () => Run("compact", "--base", _in.StoreA, "--applied", _in.StoreB, "--out", output));
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(SaveSteps, seen);

        string other = _dir.Combine("other.c1z");
        var fromOtherThread = WithSaveFault("write", 5, () => Task.Run(() =>
        {
            Armed.Value = null;
            return Run("compact", "--base", _in.StoreA, "--applied", _in.StoreB, "--out", other);
        }).GetAwaiter().GetResult());
        Assert.True(fromOtherThread.Code == 0, fromOtherThread.Err);
    }

    // ---------------------------------------------------------------- helpers

    private static PropertyInfo FaultHookProperty { get; } =
        typeof(C1zContainer).GetProperty("FaultHook", BindingFlags.NonPublic | BindingFlags.Static)
        ?? throw new InvalidOperationException("C1zContainer.FaultHook (the save test seam) not found");

    private static T WithHook<T>(Action<string> hook, Func<T> body)
    {
        Assert.Null(FaultHookProperty.GetValue(null));
        FaultHookProperty.SetValue(null, hook);
        try
        {
            return body();
        }
        finally
        {
            FaultHookProperty.SetValue(null, null);
        }
    }

    /// <summary>Runs <paramref name="body"/> with the save seam throwing an IOException with HResult = errno at <paramref name="step"/>.</summary>
    private static T WithSaveFault<T>(string step, int errno, Func<T> body)
    {
        int hits = 0;
        Armed.Value = (step, errno);
        try
        {
            var result = WithHook(
                s =>
                {
                    if (Armed.Value is { } a && a.Step == s)
                    {
                        hits++;
                        throw new IOException(a.Errno == 28 ? "No space left on device" : "Input/output error", a.Errno);
                    }
                },
                body);
            Assert.True(hits <= 1, $"the fault at {step} fired {hits} times");
            return result;
        }
        finally
        {
            Armed.Value = null;
        }
    }

    /// <summary>
    /// Checks the failure contract and returns the error line: exit 1, exactly one <c>c1z: </c> line (an error),
    /// never "unexpected" or "failed:", and (from the <c>--verbose</c> text after it) the exception type (when <paramref name="type"/> is given).
    /// </summary>
    private static string AssertOneTypedError((int Code, string Out, string Err) r, string? type, string at)
    {
        Assert.True(r.Code == 1, $"{at}: exit {r.Code}, stderr: {r.Err}");
        string[] lines = r.Err.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var ours = lines.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("c1z: ", StringComparison.Ordinal)).ToList();
        Assert.True(ours.Count == 1, $"{at}: expected one c1z: line, got: {r.Err}");
        var (line, index) = ours[0];
        Assert.StartsWith("c1z: error: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected", line, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("failed:", line, StringComparison.Ordinal);
        string thrown = index + 1 < lines.Length ? lines[index + 1] : "";
        if (type is null)
        {
            return line;
        }

        if (thrown.StartsWith("System.AggregateException: ", StringComparison.Ordinal))
        {
            // Parallel lanes of the bulk loader (RocksBulkLoader.Complete) report their errors together; the CLI
            // unwraps them (docs/RELIABILITY.md E-cli1). Each must be of the expected type, and there must be one.
            var inner = lines.Skip(index + 2).Select(l => InnerException().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
            Assert.True(inner.Count > 0 && inner.All(t => t == type), $"{at}: expected only {type} inside the AggregateException, got: {r.Err}");
        }
        else
        {
            Assert.True(thrown.StartsWith(type + ": ", StringComparison.Ordinal), $"{at}: expected a {type}, got: {string.Join(" / ", lines.Skip(index).Take(2))}");
        }

        return line;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*---> (?:\(Inner Exception #\d+\) )?([\w.]+): ")]
    private static partial System.Text.RegularExpressions.Regex InnerException();

    private static bool SaysNoSpace(string line) =>
        line.Contains("disk full", StringComparison.Ordinal)
        || line.Contains("No space left on device", StringComparison.Ordinal)
        || line.Contains("not enough free space", StringComparison.Ordinal);

    /// <summary>Where in the pipeline a disk-full error struck, from the path it names.</summary>
    private static string Phase(string line)
    {
        if (line.Contains(".save-", StringComparison.Ordinal))
        {
            int q = line.LastIndexOf('/');
            return "save/" + line[(q + 1)..].TrimEnd('\'');
        }

        return line.Contains(".c1z-out-", StringComparison.Ordinal) ? "scratch store"
            : line.Contains(".c1z-export-", StringComparison.Ordinal) ? "v1 export scratch"
            : line.Contains("not enough free space", StringComparison.Ordinal) ? "C1Z3 free-space check"
            : line.Contains("c1z-open-", StringComparison.Ordinal) ? "C1Z3 extraction"
            : line.Contains("c1z-v1-", StringComparison.Ordinal) ? "v1 decompression"
            : line.Length > 90 ? line[12..90] : line[12..];
    }

    private static void AssertReadable(string output, string at)
    {
        var r = Run("stats", output);
        Assert.True(r.Code == 0, $"{at}: the output does not read back: {r.Err}");
    }

    /// <summary>The directory holds the ballast (if any) and at most the expected output: no scratch entry of any kind.</summary>
    private static void AssertOnlyExpected(string dir, string? output, string at)
    {
        var expected = new[] { Ballast, output }.Where(n => n is not null && Path.Exists(Path.Combine(dir, n))).Order(StringComparer.Ordinal).ToArray();
        var actual = Entries(dir);
        Assert.True(expected.SequenceEqual(actual), $"{at}: leftovers in {dir}: {string.Join(", ", actual.Except(expected!))}");
        if (output is not null)
        {
            Assert.True(Path.Exists(Path.Combine(dir, output)), $"{at}: the output {output} is gone");
        }
    }

    private static string[] Entries(string dir) =>
        [.. Directory.EnumerateFileSystemEntries(dir).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal)];

    /// <summary>Scratch entries of this process in TMPDIR (names carry the owner's pid).</summary>
    private static string[] OurTempEntries()
    {
        string pid = string.Create(CultureInfo.InvariantCulture, $"-{Environment.ProcessId}-");
        return [.. Entries(Path.GetTempPath()).Where(n => n.StartsWith("c1z-", StringComparison.Ordinal) && n.Contains(pid, StringComparison.Ordinal))];
    }

    /// <summary>SHA-256 of a file, or of every file (relative name and content) under a directory.</summary>
    private static string Hash(string path)
    {
        if (File.Exists(path))
        {
            return Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
        }

        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (string f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            h.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetRelativePath(path, f) + "\0"));
            h.AppendData(File.ReadAllBytes(f));
        }

        return "dir:" + Convert.ToHexString(h.GetHashAndReset());
    }

    /// <summary>Fills the file system with a preallocated ballast file so that about <paramref name="bytes"/> stay free.</summary>
    private static void LeaveFree(string fs, long bytes)
    {
        string ballast = Path.Combine(fs, Ballast);
        File.Delete(ballast);
        long fill = Available(fs) - bytes;
        fill -= fill % (4 * KiB);
        if (fill > 0)
        {
            using var f = new FileStream(ballast, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, PreallocationSize = fill });
        }
        else
        {
            File.WriteAllBytes(ballast, []);
        }

        long left = Available(fs);
        Assert.True(Math.Abs(left - bytes) <= 8 * KiB || fill <= 0, $"ballast did not fill {fs}: {left} bytes free, wanted {bytes}");
    }

    private static long Available(string fs) => new DriveInfo(fs).AvailableFreeSpace;

    /// <summary>
    /// Mounts a fresh tmpfs of <paramref name="size"/> bytes, or explains why it cannot: without root the test
    /// fails when CI is set and otherwise writes the reason to the test output and does nothing more.
    /// </summary>
    private string? MountOrExplain(long size)
    {
        string dir = _dir.Combine("fs" + _mounts.Count.ToString(CultureInfo.InvariantCulture));
        string reason;
        if (Environment.UserName != "root")
        {
            reason = $"needs root to mount tmpfs (running as {Environment.UserName})";
        }
        else
        {
            Directory.CreateDirectory(dir);
            var (code, text) = Exec("mount", "-t", "tmpfs", "-o", string.Create(CultureInfo.InvariantCulture, $"size={size / KiB}k,mode=0700"), "tmpfs", dir);
            if (code == 0)
            {
                _mounts.Add(dir);
                return dir;
            }

            reason = $"mount -t tmpfs failed (exit {code}): {text.Trim()}";
        }

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Assert.Fail(reason);
        }

        _log.WriteLine($"NOT RUN: {reason}. This test checked nothing.");
        return null;
    }

    private static void Unmount(string dir)
    {
        if (Exec("umount", dir).Code != 0)
        {
            Exec("umount", "-l", dir);
        }
    }

    private static (int Code, string Text) Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        string text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, text);
    }
}
