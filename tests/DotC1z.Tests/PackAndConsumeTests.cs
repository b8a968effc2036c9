using System.Diagnostics;
using System.Globalization;
using System.Text;
using DotC1z.Format;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Tests;

/// <summary>
/// The libraries as a NuGet consumer gets them: pack them from a copy of the sources, build a console project that
/// references only the packages and whose Program.cs is the README's C# example verbatim, and run it on real files.
/// The child-process verifier must come with the packages: it runs on our C1Z3 file, it rejects a planted corrupt
/// store, and without it the open fails (so the good run did use it).
/// </summary>
public sealed class PackAndConsumeTests : IDisposable
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(10);
    private readonly TempDir _dir = new("consume");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_readme_example_runs_against_the_packed_packages_and_the_verifier_ships_with_them()
    {
        string version = string.Create(CultureInfo.InvariantCulture, $"0.0.0-consume.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}");
        string feed = _dir.Combine("feed");
        try
        {
            Pack(version, feed);
            string consumer = CreateConsumer(version, feed);

            // Inputs: our C1Z3 file (untrusted RocksDB payload → the verifier runs), a v1 file to diff against.
            string ours = _dir.Combine("ours.c1z");
            GrantRecord probe;
            using (var v1 = C1zSnapshot.Open(TestPaths.RealFixture("small-unexpanded.c1z")))
            {
                v1.SaveAs(ours);
                probe = v1.List(RecordListing.Grants()).Skip(100).First();
            }

            List<string> expected;
            using (var s = C1zSnapshot.Open(ours))
            {
                expected = [.. s.List(RecordListing.GrantsByPrincipal(probe.Principal.ResourceTypeId, probe.Principal.ResourceId)).Select(g => "  " + g.Entitlement.EntitlementId)];
            }

            string newer = TestPaths.RealFixture("small-expanded.c1z");
            string changes = _dir.Combine("changes.c1z");
            var good = Run("dotnet", [Path.Combine(consumer, "bin", "consumer.dll"), ours, probe.Principal.ResourceTypeId, probe.Principal.ResourceId, newer, changes], consumer);
            Assert.True(good.ExitCode == 0, $"the README example failed:\n{good.Output}");
            var lines = good.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
            Assert.StartsWith("C1z3: ", lines[0], StringComparison.Ordinal);
            Assert.Equal(expected, lines.Skip(1).Take(expected.Count));
            Assert.StartsWith("added ", lines[^1], StringComparison.Ordinal);
            using (var written = C1zSnapshot.Open(changes))
            {
                Assert.Equal(2, written.SyncRuns().Count);
            }

            // A store whose SST is damaged under a valid envelope: only the store check can see it.
            string corrupt = PlantCorruptStore(ours);
            var bad = Run("dotnet", [Path.Combine(consumer, "bin", "consumer.dll"), corrupt, "user", "x", newer, changes], consumer);
            Assert.True(bad.ExitCode != 0, $"a corrupt store was opened:\n{bad.Output}");
            Assert.Contains("does not hold a sound store", bad.StdErr, StringComparison.Ordinal);

            // Without the verifier beside the app, opening an untrusted store fails: the good run really ran it.
            File.Delete(Path.Combine(consumer, "bin", "c1z-verify-store.dll"));
            var missing = Run("dotnet", [Path.Combine(consumer, "bin", "consumer.dll"), ours, "user", "x", newer, changes], consumer);
            Assert.True(missing.ExitCode != 0, $"opened without the verifier:\n{missing.Output}");
            Assert.Contains("store verifier", missing.StdErr, StringComparison.Ordinal);
        }
        finally
        {
            // The unique pre-release version went into the machine's package cache; remove it again.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            foreach (string id in Directory.Exists(cache) ? Directory.EnumerateDirectories(cache, "dotc1z*") : [])
            {
                string cached = Path.Combine(id, version);
                if (Directory.Exists(cached))
                {
                    Directory.Delete(cached, recursive: true);
                }
            }
        }
    }

    private void Pack(string version, string feed)
    {
        // A copy of the sources, so the pack's builds never touch the bin/obj of the running tests.
        string repo = _dir.Combine("repo");
        foreach (string file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", "README.md", ".editorconfig" })
        {
            string from = Path.Combine(TestPaths.RepoRoot, file);
            if (File.Exists(from))
            {
                Directory.CreateDirectory(repo);
                File.Copy(from, Path.Combine(repo, file));
            }
        }

        var projects = new List<string>();
        foreach (string project in Directory.EnumerateDirectories(Path.Combine(TestPaths.RepoRoot, "src")))
        {
            string name = Path.GetFileName(project);
            CopyTree(project, Path.Combine(repo, "src", name));
            if (name != "DotC1z.Cli")
            {
                projects.Add($"  <Project Path=\"src/{name}/{name}.csproj\" />");
            }
        }

        File.WriteAllText(Path.Combine(repo, "libs.slnx"), "<Solution>\n" + string.Join('\n', projects) + "\n</Solution>\n");
        var pack = Run("dotnet", ["pack", "libs.slnx", "-c", "Release", "-o", feed, "-p:Version=" + version, "-nodeReuse:false", "--disable-build-servers"], repo);
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed:\n{pack.Output}");
        foreach (string id in new[] { "DotC1z", "DotC1z.Core", "DotC1z.Format", "DotC1z.Verifier" })
        {
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{version}.nupkg")), $"{id} was not packed");
        }
    }

    private string CreateConsumer(string version, string feed)
    {
        string consumer = _dir.Combine("consumer");
        Directory.CreateDirectory(consumer);
        File.WriteAllText(Path.Combine(consumer, "consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <OutputPath>bin</OutputPath>
                <AppendTargetFrameworkToOutputPath>false</AppendTargetFrameworkToOutputPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="DotC1z" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="dotc1z-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(consumer, "Program.cs"), ReadmeExample());
        var build = Run("dotnet", ["build", "-c", "Release", "-nodeReuse:false", "--disable-build-servers"], consumer);
        Assert.True(build.ExitCode == 0, $"the consumer did not build:\n{build.Output}");
        Assert.True(File.Exists(Path.Combine(consumer, "bin", "c1z-verify-store.dll")), "the verifier did not come with the packages");
        return consumer;
    }

    /// <summary>The README's "Use it from C#" code block, verbatim.</summary>
    private static string ReadmeExample()
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        int section = readme.IndexOf("## Use it from C#", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no \"Use it from C#\" section");
        int open = readme.IndexOf("```csharp\n", section, StringComparison.Ordinal);
        int close = readme.IndexOf("\n```", open + 10, StringComparison.Ordinal);
        Assert.True(open > 0 && close > open, "the section has no csharp code block");
        return readme[(open + 10)..(close + 1)];
    }

    private string PlantCorruptStore(string good)
    {
        string extracted = _dir.Combine("extracted");
        Directory.CreateDirectory(extracted);
        var manifest = C1zContainer.Extract(good, extracted);
        string sst = Directory.EnumerateFiles(extracted, "*.sst").OrderByDescending(f => new FileInfo(f).Length).First();
        byte[] bytes = File.ReadAllBytes(sst);
        for (int i = bytes.Length / 3; i < bytes.Length / 3 + 64; i++)
        {
            bytes[i] ^= 0x5A;
        }

        File.WriteAllBytes(sst, bytes);
        string corrupt = _dir.Combine("corrupt.c1z");
        C1zContainer.Write(corrupt, null, payload =>
        {
            CopyTree(extracted, payload);
            return manifest.Clone();
        });
        return corrupt;
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string dir in Directory.EnumerateDirectories(from))
        {
            string name = Path.GetFileName(dir);
            if (name is not ("bin" or "obj"))
            {
                CopyTree(dir, Path.Combine(to, name));
            }
        }

        foreach (string file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    private static (int ExitCode, string StdOut, string StdErr, string Output) Run(string fileName, string[] arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        // The test host's MSBuild settings must not leak into the nested builds.
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(StepTimeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{fileName} {string.Join(' ', arguments)} did not finish within {StepTimeout.TotalMinutes} min:\n{stdout}\n{stderr}");
        }

        process.WaitForExit();
        string o = stdout.ToString();
        string e = stderr.ToString();
        return (process.ExitCode, o, e, $"$ {fileName} {string.Join(' ', arguments)}\n{o}\n{e}");
    }
}
