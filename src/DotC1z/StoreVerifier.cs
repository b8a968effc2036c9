using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Storage;

namespace DotC1z;

/// <summary>How an extracted store is checked before it is adopted (docs/RELIABILITY.md D2).</summary>
public enum StoreVerification
{
    /// <summary>
    /// Default: <see cref="RocksStore.VerifyUntrusted"/> runs in a child process (<c>c1z-verify-store</c>),
    /// so a crafted file that crashes RocksDB's native parser kills the child, not the caller, and
    /// surfaces as <see cref="C1zCorruptionException"/>. Costs one runtime start plus one read of the data.
    /// </summary>
    ChildProcess,

    /// <summary>The same check in this process: for trusted files (a native crash would take the process down).</summary>
    InProcess,

    /// <summary>No check beyond the payload checksum and RocksDB's paranoid open: for files this machine wrote.</summary>
    None,
}

/// <summary>Runs the untrusted-store check in the mode the caller chose.</summary>
internal static class StoreVerifier
{
    /// <summary>The verifier program's assembly, deployed beside this library.</summary>
    public const string ProgramAssembly = "c1z-verify-store.dll";

    /// <summary>Test seam: replaces the child command (program and leading arguments; the directory is appended).</summary>
    internal static (string FileName, string[] Arguments)? CommandOverride { get; set; }

    /// <summary>Checks <paramref name="directory"/>, extracted from <paramref name="file"/>.</summary>
    /// <exception cref="C1zCorruptionException">The store failed the check, or the verifier crashed or timed out.</exception>
    /// <exception cref="C1zIOException">The verifier could not be started, or could not read the directory.</exception>
    public static void Verify(string directory, string file, StoreVerification mode, TimeSpan timeout)
    {
        switch (mode)
        {
            case StoreVerification.None:
                return;
            case StoreVerification.InProcess:
                try
                {
                    RocksStore.VerifyUntrusted(directory);
                }
                catch (C1zCorruptionException ex)
                {
                    throw new C1zCorruptionException($"{file}: the payload does not hold a sound store: {ex.Message}", file, ex);
                }

                return;
            case StoreVerification.ChildProcess:
                RunChild(directory, file, timeout);
                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown verification mode");
        }
    }

    private static void RunChild(string directory, string file, TimeSpan timeout)
    {
        var (fileName, arguments) = CommandOverride ?? DefaultCommand();
        var start = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = false,
            CreateNoWindow = true,
        };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        start.ArgumentList.Add(directory);

        // The child is short-lived and single-purpose: workstation GC without tiering noise keeps it small.
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["DOTNET_TieredPGO"] = "0";

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new C1zIOException($"{file}: the store verifier did not start", file);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new C1zIOException($"{file}: cannot start the store verifier ({fileName}): {ex.Message}", file, ex);
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // It exited between the timeout and the kill.
                }

                process.WaitForExit();
                throw new C1zCorruptionException($"{file}: the store verifier did not finish within {timeout.TotalSeconds:0} s", file);
            }

            process.WaitForExit();
            string reason = FirstLine(stderr.Result);
            _ = stdout.Result;
            switch (process.ExitCode)
            {
                case (int)VerifierExit.Sound:
                    return;
                case (int)VerifierExit.Corrupt:
                    throw new C1zCorruptionException($"{file}: the payload does not hold a sound store: {reason}", file);
                case (int)VerifierExit.Failed:
                    throw new C1zIOException($"{file}: the store verifier could not read the payload: {reason}", file);
                default:
                    string how = process.ExitCode > 128 && !OperatingSystem.IsWindows()
                        ? $"signal {process.ExitCode - 128}"
                        : $"exit code {process.ExitCode}";
                    throw new C1zCorruptionException(
                        $"{file}: verifier crashed ({how}) while checking the payload; the file is treated as corrupt{(reason.Length > 0 ? ": " + reason : string.Empty)}",
                        file);
            }
        }
    }

    private static string FirstLine(string text)
    {
        text = text.Trim();
        int nl = text.IndexOf('\n', StringComparison.Ordinal);
        return nl < 0 ? text : text[..nl].TrimEnd();
    }

    private static (string FileName, string[] Arguments) DefaultCommand()
    {
        string program = Path.Combine(AppContext.BaseDirectory, ProgramAssembly);
        if (!File.Exists(program))
        {
            program = Path.Combine(Path.GetDirectoryName(typeof(StoreVerifier).Assembly.Location) ?? ".", ProgramAssembly);
        }

        if (!File.Exists(program))
        {
            throw new C1zIOException($"the store verifier {ProgramAssembly} is not installed beside {AppContext.BaseDirectory}", program);
        }

        // Built beside the verifier project (project references, the c1z tool): it carries its own runtimeconfig.
        if (File.Exists(Path.ChangeExtension(program, ".runtimeconfig.json")))
        {
            return (DotnetHost(), [program]);
        }

        // Installed from the NuGet packages: the verifier arrives as a library assembly of the consumer's app, without a
        // runtimeconfig of its own. Run it on this process's runtime with this app's dependency list (which names
        // RocksDB's native library and our assemblies), and a runtimeconfig written into a private directory.
        // The host joins the app's and the framework's deps files with ';' on every OS (not Path.PathSeparator).
        string? deps = (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string)?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        var args = new List<string> { "exec", "--runtimeconfig", GeneratedRuntimeConfig.Value };
        if (deps is not null && File.Exists(deps))
        {
            args.Add("--depsfile");
            args.Add(deps);
        }

        args.Add(program);
        return (DotnetHost(), [.. args]);
    }

    private static readonly Lazy<string> GeneratedRuntimeConfig = new(() =>
    {
        string dir = PrivateDirectory.CreateUnique(Path.GetTempPath(), "c1z-open-");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => PrivateDirectory.TryDelete(dir);
        string path = Path.Combine(dir, "c1z-verify-store.runtimeconfig.json");
        var v = Environment.Version;
        string version = string.Create(CultureInfo.InvariantCulture, $"{v.Major}.{v.Minor}.{v.Build}");
        string tfm = string.Create(CultureInfo.InvariantCulture, $"net{v.Major}.{v.Minor}");
        File.WriteAllText(path, "{\"runtimeOptions\":{\"tfm\":\"" + tfm + "\",\"framework\":{\"name\":\"Microsoft.NETCore.App\",\"version\":\"" + version + "\"},\"rollForward\":\"LatestPatch\"}}");
        return path;
    });

    // The host that runs this process's runtime: <root>/shared/Microsoft.NETCore.App/<version>/ → <root>/dotnet.
    private static string DotnetHost()
    {
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        string? processPath = Environment.ProcessPath;
        if (processPath is not null && string.Equals(Path.GetFileName(processPath), exe, StringComparison.OrdinalIgnoreCase))
        {
            return processPath;
        }

        var runtimeDir = new DirectoryInfo(RuntimeEnvironment.GetRuntimeDirectory());
        string? root = runtimeDir.Parent?.Parent?.Parent?.FullName;
        if (root is not null && File.Exists(Path.Combine(root, exe)))
        {
            return Path.Combine(root, exe);
        }

        return exe;
    }
}
