using DotC1z.Errors;
using DotC1z.Tests.Shared;

namespace DotC1z.Fuzz.Tests;

/// <summary>
/// Every committed fuzz input, replayed in-process through its harness: it must load or be rejected with a
/// <see cref="C1zException"/>. Anything else (another exception type, or a run over the time limit) fails the
/// test with the input's name. Inputs: the seeds in <c>fuzz/corpus/LOADER/</c>, the minimised AFL queues in
/// <c>fuzz/corpus/LOADER-queue/</c>, and the crash and hang inputs in <c>tests/DotC1z.Fuzz.Tests/regressions/LOADER/</c>.
/// </summary>
public sealed class CorpusReplayTests
{
    /// <summary>Longest one input may take before it counts as a hang (AFL's limit in fuzz/run.sh is 5 s; CI machines are slower).</summary>
    private static readonly TimeSpan PerInputLimit = TimeSpan.FromSeconds(20);

    public static TheoryData<string> Loaders => ["v1", "c1z3", "pebble"];

    [Theory]
    [MemberData(nameof(Loaders))]
    public void Seeds_load_completely(string loader)
    {
        var seeds = Inputs(Path.Combine("fuzz", "corpus", loader));
        Assert.NotEmpty(seeds);
        var problems = new List<string>();
        foreach (string file in seeds)
        {
            var outcome = Replay(loader, file);
            if (outcome is not null)
            {
                problems.Add(outcome);
            }
            else if (Harnesses.Classify(loader, File.ReadAllBytes(file)) is { } rejected)
            {
                // A seed the loader refuses steers AFL nowhere: a format change broke the seed or the harness.
                problems.Add($"{Rel(file)}: seed rejected: {rejected.GetType().Name}: {rejected.Message}");
            }
        }

        Assert.True(problems.Count == 0, $"{loader} seeds:\n" + string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(Loaders))]
    public void Queue_inputs_load_or_fail_typed(string loader)
    {
        var queue = Inputs(Path.Combine("fuzz", "corpus", loader + "-queue"));
        Assert.NotEmpty(queue);
        AssertAllLoadOrFailTyped(loader, queue);
    }

    [Theory]
    [MemberData(nameof(Loaders))]
    public void Regression_inputs_load_or_fail_typed(string loader) =>
        AssertAllLoadOrFailTyped(loader, Inputs(Path.Combine("tests", "DotC1z.Fuzz.Tests", "regressions", loader)));

    [Fact]
    public void Real_fixtures_load_through_the_harnesses()
    {
        Assert.Null(Harnesses.Classify("v1", File.ReadAllBytes(TestPaths.RealFixture("sync-in-progress.c1z"))));
        Assert.Null(Harnesses.Classify("pebble", File.ReadAllBytes(TestPaths.RealFixture("medium-unexpanded.pebble2.c1z"))));
    }

    [Fact]
    public void Replay_reports_an_untyped_exception_with_the_input_name()
    {
        // Vacuity guard: an exception that is not a C1zException (here the harness lookup's ArgumentException) is reported, named.
        string seed = Inputs(Path.Combine("fuzz", "corpus", "v1"))[0];
        string? outcome = Replay("no-such-loader", seed);
        Assert.NotNull(outcome);
        Assert.Contains(Path.GetFileName(seed), outcome, StringComparison.Ordinal);
        Assert.Contains(nameof(ArgumentException), outcome, StringComparison.Ordinal);
    }

    [Fact]
    public void Log_crc_fixer_leaves_an_intact_manifest_unchanged()
    {
        var files = PebbleBaseline.ReadFiles(TestPaths.RealFixture("medium-unexpanded.pebble2.c1z"));
        var manifest = files.Single(f => f.Key.StartsWith("MANIFEST-", StringComparison.Ordinal)).Value;
        var copy = (byte[])manifest.Clone();
        Assert.True(LogCrc.Fix(copy) > 0);
        Assert.Equal(manifest, copy);
    }

    [Fact]
    public void Wrapped_payloads_and_databases_match_the_real_files()
    {
        // The wrap modes must produce files the loaders accept, or the fuzzer would only explore rejections.
        byte[] payload = File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "fuzz", "corpus", "c1z3", "payload-g3.tar"));
        Assert.Null(Harnesses.Classify("c1z3", Harnesses.WrapC1z3Payload(payload)));
        byte[] db = File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "fuzz", "corpus", "v1", "raw-g3-p512.sqlite"));
        Assert.Null(Harnesses.Classify("v1", Harnesses.WrapV1(db)));
    }

    private static void AssertAllLoadOrFailTyped(string loader, IReadOnlyList<string> inputs)
    {
        var problems = inputs.Select(f => Replay(loader, f)).OfType<string>().ToList();
        Assert.True(problems.Count == 0, $"{problems.Count} of {inputs.Count} {loader} input(s) neither loaded nor failed with a C1zException:\n" + string.Join("\n", problems));
    }

    /// <summary>Runs one input; returns null when it loaded or was rejected with a typed error, else a description.</summary>
    private static string? Replay(string loader, string file)
    {
        byte[] data = File.ReadAllBytes(file);
        var run = Task.Run(() => Harnesses.Classify(loader, data));
        try
        {
            if (!run.Wait(PerInputLimit))
            {
                return $"{Rel(file)}: HANG: still running after {PerInputLimit.TotalSeconds:0} s";
            }
        }
        catch (AggregateException ex)
        {
            var inner = ex.InnerException ?? ex;
            return $"{Rel(file)}: {inner.GetType().FullName}: {inner.Message}\n{inner.StackTrace}";
        }

        return null;
    }

    private static IReadOnlyList<string> Inputs(string relativeDir)
    {
        string dir = Path.Combine(TestPaths.RepoRoot, relativeDir);
        if (!Directory.Exists(dir))
        {
            return [];
        }

        return Directory.EnumerateFiles(dir)
            .Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".md", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static string Rel(string file) => Path.GetRelativePath(TestPaths.RepoRoot, file);
}
