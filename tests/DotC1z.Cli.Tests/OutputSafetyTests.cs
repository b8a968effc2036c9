using System.Diagnostics;
using System.Security.Cryptography;
using DotC1z.Tests.Shared;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>
/// Outputs are built beside the target and swapped in only after success (docs/RELIABILITY.md, "--force
/// and concurrent writers"): a failing forced run leaves the old output intact, a live store is never
/// replaced, an output may be one of the (file) inputs, readers never see the output missing, and of two
/// writers racing to one new path exactly one wins.
/// </summary>
public sealed class OutputSafetyTests : IDisposable
{
    private readonly TempDir _dir = new("outsafe");

    public void Dispose() => _dir.Dispose();

    private string Gen(string name, int seed, int grants = 500)
    {
        string path = _dir.Combine(name);
        var r = Run("fixture-gen", "--out", path, "--grants", grants.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(r.Code == 0, r.Err);
        return path;
    }

    private static string FileHash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static string GrantsHash(string path)
    {
        var r = Run("grants", path, "--format", "json");
        Assert.True(r.Code == 0, r.Err);
        return Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(r.Out)));
    }

    private static long GrantCount(string path)
    {
        var r = Run("stats", path, "--json");
        Assert.True(r.Code == 0, r.Err);
        var m = System.Text.RegularExpressions.Regex.Match(r.Out, "\"grants\":(\\d+)");
        Assert.True(m.Success, r.Out);
        return long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Forced_expand_with_a_missing_input_leaves_the_current_directory_alone()
    {
        string dir = _dir.Combine("work");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "precious.txt"), "keep me");

        var r = Run("expand", "--in", _dir.Combine("nope.c1z"), "--out", dir, "--force");

        Assert.Equal(1, r.Code);
        Assert.StartsWith("c1z: error: ", r.Err, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(dir, "precious.txt")));
    }

    [Fact]
    public void Forced_export_of_a_bad_input_keeps_the_old_output()
    {
        string good = Gen("good.c1z", 1);
        string old = _dir.Combine("v.c1z");
        Assert.Equal(0, Run("export", "--in", good, "--out", old).Code);
        string before = FileHash(old);
        string bad = _dir.Combine("bad.c1z");
        File.WriteAllBytes(bad, [.. "C1Z3\0"u8, 0, 0, 0, 9, 1, 2, 3]);

        var r = Run("export", "--in", bad, "--out", old, "--force");

        Assert.Equal(1, r.Code);
        Assert.Equal(before, FileHash(old));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, ".c1z-*"));
    }

    [Fact]
    public void Forced_compact_into_its_own_base_file_replaces_it_only_on_success()
    {
        string a = Gen("a.c1z", 1);
        string b = Gen("b.c1z", 2);
        string expected = _dir.Combine("expected.c1z");
        Assert.Equal(0, Run("compact", "--base", a, "--applied", b, "--out", expected).Code);
        string before = FileHash(a);

        // A failing run (the applied input is damaged) must not touch the base it would replace.
        string bad = _dir.Combine("bad.c1z");
        File.WriteAllBytes(bad, File.ReadAllBytes(b).AsSpan(0, 200).ToArray());
        var failed = Run("compact", "--base", a, "--applied", bad, "--out", a, "--force");
        Assert.Equal(1, failed.Code);
        Assert.Equal(before, FileHash(a));

        var ok = Run("compact", "--base", a, "--applied", b, "--out", a, "--force");
        Assert.True(ok.Code == 0, ok.Err);
        Assert.NotEqual(before, FileHash(a));
        Assert.Equal(GrantCount(expected), GrantCount(a));
    }

    [Fact]
    public void An_output_directory_that_is_an_input_is_refused()
    {
        string store = Gen("store", 3);
        string before = GrantsHash(store);
        var r = Run("expand", "--in", store, "--out", store, "--force");
        Assert.Equal(1, r.Code);
        Assert.Contains("also an input", r.Err, StringComparison.Ordinal);
        Assert.Equal(before, GrantsHash(store));
    }

    [Fact]
    public void A_directory_that_is_not_a_store_is_never_replaced()
    {
        string a = Gen("a.c1z", 4);
        string dir = _dir.Combine("docs");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "x.txt"), "x");
        var r = Run("expand", "--in", a, "--out", dir, "--force");
        Assert.Equal(1, r.Code);
        Assert.Contains("not a c1z store", r.Err, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir, "x.txt")));
    }

    [Fact]
    public void Forced_replacement_of_a_store_directory_swaps_it_whole()
    {
        string a = Gen("a.c1z", 5);
        string store = Gen("store", 6, grants: 300);
        var r = Run("expand", "--in", a, "--out", store, "--force");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("\"grants\":500", Run("stats", store, "--json").Out, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, ".c1z-out-*"));
    }

    [Fact]
    public async Task A_store_open_in_another_process_is_not_replaced()
    {
        string writer = Path.Combine(AppContext.BaseDirectory, "dotc1z-ack-writer.dll");
        Assert.True(File.Exists(writer), $"dotc1z-ack-writer.dll not found beside the tests at {writer}");
        string a = Gen("a.c1z", 7);
        string live = _dir.Combine("live");
        var psi = new ProcessStartInfo("dotnet", [writer, "--dir", live])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var child = Process.Start(psi)!;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            string? line;
            do
            {
                line = await child.StandardOutput.ReadLineAsync(timeout.Token);
                Assert.NotNull(line);
            }
            while (!line!.StartsWith("ack 3", StringComparison.Ordinal));

            var r = Run("compact", "--base", a, "--applied", a, "--out", live, "--force");
            Assert.Equal(1, r.Code);
            Assert.Contains("open in another process", r.Err, StringComparison.Ordinal);

            // The writer is still alive and still acknowledging batches into the untouched store.
            string? next = await child.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.StartsWith("ack ", next, StringComparison.Ordinal);
            Assert.False(child.HasExited);
            Assert.True(File.Exists(Path.Combine(live, "CURRENT")));
        }
        finally
        {
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Readers_never_see_a_forced_output_missing()
    {
        string a = Gen("a.c1z", 8, grants: 3000);
        string target = _dir.Combine("t.c1z");
        Assert.Equal(0, Run("expand", "--in", a, "--out", target).Code);
        int missing = 0;
        using var done = new ManualResetEventSlim();
        var watcher = Task.Run(() =>
        {
            while (!done.IsSet)
            {
                if (!File.Exists(target))
                {
                    Interlocked.Increment(ref missing);
                }
            }
        });
        for (int i = 0; i < 3; i++)
        {
            var r = Run("expand", "--in", a, "--out", target, "--force");
            Assert.True(r.Code == 0, r.Err);
        }

        done.Set();
        await watcher;
        Assert.Equal(0, missing);
    }

    [Theory]
    [InlineData("y.c1z")]
    [InlineData("ydir")]
    public async Task Of_two_writers_of_one_new_output_exactly_one_wins(string name)
    {
        string a = Gen("a.c1z", 9, grants: 2000);
        string target = _dir.Combine(name);
        using var start = new Barrier(2);
        var runs = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            return Run("expand", "--in", a, "--out", target);
        })).ToArray();
        var results = await Task.WhenAll(runs);
        var codes = results.Select(r => r.Code).Order().ToArray();
        Assert.True(codes.SequenceEqual([0, 1]), $"exit codes {string.Join(",", codes)}; stderr: {string.Join(" | ", results.Select(r => r.Err))}");
        Assert.Contains("already exists", results.Single(r => r.Code == 1).Err, StringComparison.Ordinal);
        Assert.Contains("\"grants\":2000", Run("stats", target, "--json").Out, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, ".c1z-out-*"));
    }
}
