using System.Diagnostics;
using DotC1z.Engine.Rocks;
using DotC1z.Records;
using DotC1z.Tests.Shared;
using Google.Protobuf;
using static DotC1z.Cli.Tests.CliRunner;

namespace DotC1z.Cli.Tests;

/// <summary>
/// Errors on contract (issue 18 item 6; docs/CLI.md §2): every failure is exactly one stderr line starting
/// <c>c1z: error: </c> that names the input and says what is wrong, never an exception type name or a
/// stack trace (without <c>--verbose</c>); bad arguments exit 2; a bad record in a listing is named by its
/// key and stops the listing unless <c>--skip-bad</c> is given.
/// </summary>
public sealed class ErrorContractTests : IDisposable
{
    private const string GrantExpandableUrl = "type.googleapis.com/c1.connector.v2.GrantExpandable";

    private readonly TempDir _dir = new("errors");

    public void Dispose() => _dir.Dispose();

    /// <summary>The contract: one line, the prefix, no exception type, no stack trace.</summary>
    private static string AssertOneErrorLine((int Code, string Out, string Err) r, int code, params string[] contains)
    {
        Assert.True(r.Code == code, $"exit {r.Code}, expected {code}: {r.Err}");
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one stderr line, got:\n" + r.Err);
        string line = lines[0].TrimEnd('\r');
        Assert.StartsWith("c1z: error: ", line, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"unexpected [A-Z]", line);
        Assert.DoesNotMatch(@"\b[A-Z]\w*Exception\b", line);
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
        foreach (string c in contains)
        {
            Assert.Contains(c, line, StringComparison.Ordinal);
        }

        return line;
    }

    private string Fixture()
    {
        string path = _dir.Combine("f.c1z");
        if (!File.Exists(path))
        {
            Assert.Equal(0, Run("fixture-gen", "--out", path, "--grants", "20").Code);
        }

        return path;
    }

    [Theory]
    [InlineData("stats", "")]
    [InlineData("grants", "")]
    [InlineData("verify", "")]
    public void An_empty_path_is_a_usage_error(string command, string path)
    {
        AssertOneErrorLine(Run(command, path), 2, "PATH is empty");
    }

    [Fact]
    public void Empty_path_options_and_nul_characters_are_usage_errors()
    {
        AssertOneErrorLine(Run("export", "--in", "", "--out", _dir.Combine("o.c1z")), 2, "--in is empty");
        AssertOneErrorLine(Run("compact", "--base", Fixture(), "--applied", Fixture(), "--out", ""), 2, "--out is empty");
        AssertOneErrorLine(Run("stats", "a\0b"), 2, "NUL");
    }

    [Theory]
    [InlineData("equiv", "--ops", "-1")]
    [InlineData("fixture-gen", "--grants", "-5")]
    [InlineData("fixture-gen", "--entitlements", "-1")]
    [InlineData("bench", "--grants", "-1")]
    [InlineData("bench", "--duration", "-2")]
    public void Negative_counts_are_usage_errors(string command, string option, string value)
    {
        string[] args = command == "fixture-gen" && option != "--grants"
            ? [command, "--out", _dir.Combine("x"), "--grants", "1", option, value]
            : command == "fixture-gen" ? [command, "--out", _dir.Combine("x"), option, value] : [command, option, value];
        AssertOneErrorLine(Run(args), 2, option, "negative");
    }

    [Fact]
    public void An_invalid_format_is_one_line_and_exit_2()
    {
        AssertOneErrorLine(Run("grants", Fixture(), "--format", "xml"), 2, "'xml'", "'table', 'json', 'csv'");
    }

    [Fact]
    public void Empty_ids_in_filters_are_usage_errors()
    {
        AssertOneErrorLine(Run("grants", Fixture(), "--entitlement", ""), 2, "--entitlement is empty");
        AssertOneErrorLine(Run("grants", Fixture(), "--sync", ""), 2, "--sync is empty");
        AssertOneErrorLine(Run("grants", Fixture(), "--principal", "user/"), 2, "--principal must be TYPE/ID");
        AssertOneErrorLine(Run("grants", Fixture(), "--principal", "/id"), 2, "--principal must be TYPE/ID");
        AssertOneErrorLine(Run("grants", Fixture(), "--principal", ""), 2, "--principal must be TYPE/ID");
    }

    [Fact]
    public void Nul_characters_in_ids_are_reported_or_simply_match_nothing()
    {
        var r = Run("grants", Fixture(), "--sync", "a\0b");
        AssertOneErrorLine(r, 1, "\\x00");
        var none = Run("grants", Fixture(), "--entitlement", "ent\0x", "--format", "json");
        Assert.True(none.Code == 0, none.Err);
        Assert.Equal(string.Empty, none.Out);
    }

    [Fact]
    public async Task A_pipe_as_input_names_it_and_says_why()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string fifo = _dir.Combine("stdin-pipe");
        using (var mk = Process.Start(new ProcessStartInfo("mkfifo", [fifo]) { UseShellExecute = false })!)
        {
            mk.WaitForExit();
            Assert.Equal(0, mk.ExitCode);
        }

        byte[] content = File.ReadAllBytes(Fixture());
        var writer = Task.Run(() =>
        {
            try
            {
                using var w = new FileStream(fifo, FileMode.Open, FileAccess.Write);
                w.Write(content);
            }
            catch (IOException)
            {
                // The reader closed the pipe: expected.
            }
        });

        var r = Run("stats", fifo);
        AssertOneErrorLine(r, 1, fifo, "pipe or device");
        await writer.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public void Dev_stdin_when_it_is_a_pipe_is_refused_in_one_line()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        string c1z = Path.Combine(AppContext.BaseDirectory, "c1z.dll");
        var psi = new ProcessStartInfo("dotnet", [c1z, "stats", "/dev/stdin"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        try
        {
            p.StandardInput.BaseStream.Write(File.ReadAllBytes(Fixture()));
            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // c1z refused and closed its end first.
        }

        string err = p.StandardError.ReadToEnd();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        AssertOneErrorLine((p.ExitCode, output, err), 1, "/dev/stdin", "pipe or device");
    }

    /// <summary>A store whose grant "bad-…" carries an annotation of a known type whose payload does not decode.</summary>
    private string StoreWithBadAnnotation(params string[] bad)
    {
        string dir = _dir.Combine("bad-annotation");
        using var store = RocksStore.Open(dir, new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var sync = store.StartSync(SyncType.Full);
        store.PutResourceTypes(sync, [new ResourceTypeRecord { ExternalId = "user" }]);
        var grants = new List<GrantRecord>();
        foreach (string id in new[] { "g1", "g2", "g3" }.Concat(bad))
        {
            var g = new GrantRecord
            {
                ExternalId = id,
                Entitlement = new EntitlementRef { EntitlementId = "ent", ResourceTypeId = "app", ResourceId = "app" },
                Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = "u-" + id },
            };
            if (bad.Contains(id))
            {
                g.Annotations.Add(new Google.Protobuf.WellKnownTypes.Any { TypeUrl = GrantExpandableUrl, Value = ByteString.CopyFrom(0x0a, 0xff, 0x01) });
            }

            grants.Add(g);
        }

        store.PutGrants(sync, grants);
        store.EndSync(sync);
        return dir;
    }

    [Fact]
    public void One_bad_annotation_stops_the_listing_with_its_key_and_exit_1()
    {
        string store = StoreWithBadAnnotation("g2-bad\u001b[2J");
        var r = Run("grants", store, "--format", "json");
        string line = AssertOneErrorLine(r, 1, "grant \"g2-bad\\x1b[2J\"", store, GrantExpandableUrl, "does not decode", "--skip-bad");
        Assert.DoesNotContain("\u001b", line, StringComparison.Ordinal);

        // Table and CSV do not render annotations: the same store lists fully.
        var csv = Run("grants", store, "--format", "csv");
        Assert.True(csv.Code == 0, csv.Err);
        Assert.Equal(5, csv.Out.Trim().Split('\n').Length);
    }

    [Fact]
    public void Skip_bad_reports_each_bad_record_in_one_line_and_lists_the_rest()
    {
        string store = StoreWithBadAnnotation("bad-a\n", "bad-b");
        var r = Run("grants", store, "--format", "json", "--skip-bad");
        Assert.True(r.Code == 0, r.Err);
        var rows = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, rows.Length);
        Assert.All(rows, row => Assert.Contains("\"externalId\": \"g", row, StringComparison.Ordinal));
        var warnings = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, warnings.Length);
        Assert.All(warnings, w => Assert.StartsWith("c1z: warning: ", w, StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("skipped grant \"bad-a\\n\"", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("skipped grant \"bad-b\"", StringComparison.Ordinal));
        Assert.Contains("2 bad grant(s) skipped", warnings[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Damaged_inputs_fail_in_one_line_naming_the_file()
    {
        string zero = _dir.Combine("zero.c1z");
        File.WriteAllBytes(zero, []);
        AssertOneErrorLine(Run("stats", zero), 1, zero);

        string manifest = _dir.Combine("manifest.c1z");
        File.WriteAllBytes(manifest, [.. "C1Z3\0"u8, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]);
        AssertOneErrorLine(Run("stats", manifest), 1, manifest);
        AssertOneErrorLine(Run("grants", manifest), 1, manifest);

        byte[] good = File.ReadAllBytes(Fixture());
        string truncated = _dir.Combine("truncated.c1z");
        File.WriteAllBytes(truncated, good.AsSpan(0, good.Length / 2).ToArray());
        AssertOneErrorLine(Run("grants", truncated, "--format", "json"), 1, truncated);
        AssertOneErrorLine(Run("stats", truncated, "--deep"), 1, truncated);

        AssertOneErrorLine(Run("stats", _dir.Path), 1, _dir.Path);
        AssertOneErrorLine(Run("grants", _dir.Combine("missing.c1z")), 1, "missing.c1z");
    }

    [Fact]
    public void Leftover_exception_types_become_plain_messages_naming_the_input()
    {
        (string, string)[] input = [("PATH", "snap.c1z")];
        var decode = ProtobufError();
        Assert.Equal("snap.c1z: record does not decode: " + decode.Message, CliApp.Describe(decode, input));
        Assert.Equal("snap.c1z: value out of range: Non-negative number required.", CliApp.Describe(new ArgumentOutOfRangeException("capacity", "Non-negative number required."), input));
        Assert.Equal("snap.c1z: invalid argument: The value cannot be an empty string.", CliApp.Describe(new ArgumentException("The value cannot be an empty string.", "path"), input));
        Assert.Equal("snap.c1z: not supported: Stream does not support seeking.", CliApp.Describe(new NotSupportedException("Stream does not support seeking."), input));
        Assert.Equal("snap.c1z: cannot continue: Sequence contains no elements", CliApp.Describe(new InvalidOperationException("Sequence contains no elements"), input));
        Assert.Equal(
            "snap.c1z: not supported: inner (and 1 more error(s))",
            CliApp.Describe(new AggregateException(new AggregateException(new NotSupportedException("inner")), new InvalidOperationException("second")), input));
        Assert.Equal("failed: boom", CliApp.Describe(new ApplicationException("boom"), []));
        Assert.Equal(
            "record does not decode: " + decode.Message + " (inputs: --base a.c1z, --applied b.c1z)",
            CliApp.Describe(decode, [("--base", "a.c1z"), ("--applied", "b.c1z")]));

        // A message that already names the input is left alone.
        Assert.Equal("cannot continue: snap.c1z is busy", CliApp.Describe(new InvalidOperationException("snap.c1z is busy"), input));
    }

    private static InvalidProtocolBufferException ProtobufError()
    {
        try
        {
            _ = GrantRecord.Parser.ParseFrom([0x00]);
        }
        catch (InvalidProtocolBufferException e)
        {
            return e;
        }

        throw new InvalidOperationException("a zero tag parsed");
    }

    [Fact]
    public void Verbose_adds_the_exception_after_the_one_error_line()
    {
        var r = Run("stats", _dir.Combine("missing.c1z"), "--verbose");
        Assert.Equal(1, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("c1z: error: ", lines[0], StringComparison.Ordinal);
        Assert.True(lines.Length > 1);
    }
}
