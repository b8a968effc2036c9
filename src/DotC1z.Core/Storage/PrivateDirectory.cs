using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace DotC1z.Storage;

/// <summary>
/// Creates scratch directories only the current user can read (mode 0700 on Unix), named
/// <c>{prefix}{pid}-{random}</c> so that a later run can tell a dead owner's leftovers (after kill -9, a
/// power cut, an OOM kill) from a live process's work and sweep them (docs/RELIABILITY.md, leftovers).
/// </summary>
public static partial class PrivateDirectory
{
    /// <summary>The prefixes of every scratch name the library and the tool create.</summary>
    public static IReadOnlyList<string> KnownPrefixes { get; } =
        [".c1z-out-", ".c1z-export-", "c1z-open-", "c1z-v1-", "c1z-pebble-", "c1z-pebble-tar-", "c1z-bench-", "c1z-equiv-", "c1z-expand-"];

    /// <summary>Creates <paramref name="path"/> (and its parents) with owner-only permissions where the OS supports them.</summary>
    /// <param name="path">The directory.</param>
    /// <returns>The directory info.</returns>
    public static DirectoryInfo Create(string path) => OperatingSystem.IsWindows()
        ? Directory.CreateDirectory(path)
        : Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

    /// <summary>Creates a uniquely named private directory under <paramref name="parent"/>, named after this process.</summary>
    /// <param name="parent">Where to create it.</param>
    /// <param name="prefix">A readable name prefix.</param>
    /// <returns>The new directory's path.</returns>
    public static string CreateUnique(string parent, string prefix)
    {
        string path = Path.Combine(parent, UniqueName(prefix));
        Create(path);
        return path;
    }

    /// <summary>Removes <paramref name="path"/> and everything under it; failures are ignored (best-effort cleanup of scratch).</summary>
    /// <param name="path">A directory, which may not exist.</param>
    public static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Scratch only: a later run's sweep or `c1z gc` removes what is left.
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> as a new private directory (mode 0700) only if nothing exists there yet:
    /// unlike <see cref="Create"/>, an existing entry (another user's directory, a symlink) is never adopted.
    /// Linux only (<c>mkdir(2)</c>); elsewhere nothing is created and the result is false.
    /// </summary>
    /// <param name="path">The directory; its parent must exist.</param>
    /// <returns>Whether this call created the directory.</returns>
    public static bool TryCreateNew(string path) => OperatingSystem.IsLinux() && MakeDirectory(path, 0b111_000_000) == 0;

    /// <summary>A unique scratch name carrying this process's id: <c>{prefix}{pid}-{random}</c>.</summary>
    /// <param name="prefix">A readable name prefix.</param>
    /// <returns>The name.</returns>
    public static string UniqueName(string prefix) => string.Create(CultureInfo.InvariantCulture, $"{prefix}{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>
    /// Removes the scratch entries in <paramref name="parent"/> whose name starts with one of
    /// <paramref name="prefixes"/> and whose owning process no longer runs. Entries of live processes, and
    /// names that carry no process id, are left alone. Failures to remove are ignored (best effort).
    /// </summary>
    /// <param name="parent">The directory to sweep.</param>
    /// <param name="prefixes">Scratch prefixes (default: <see cref="KnownPrefixes"/>).</param>
    /// <returns>The paths removed.</returns>
    public static IReadOnlyList<string> SweepDeadOwners(string parent, IEnumerable<string>? prefixes = null)
    {
        var removed = new List<string>();
        var known = (prefixes ?? KnownPrefixes).ToArray();
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(parent).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return removed;
        }

        foreach (string entry in entries)
        {
            string name = Path.GetFileName(entry);

            // Longest prefix first: "c1z-pebble-tar-" must not be read as "c1z-pebble-" + "tar-…".
            string? prefix = known.Where(p => name.StartsWith(p, StringComparison.Ordinal)).OrderByDescending(p => p.Length).FirstOrDefault();
            if (prefix is null || !TryOwner(name.AsSpan(prefix.Length), out int pid) || IsAlive(pid))
            {
                continue;
            }

            try
            {
                if (Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }

                removed.Add(entry);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return removed;
    }

    private static bool TryOwner(ReadOnlySpan<char> rest, out int pid)
    {
        int dash = rest.IndexOf('-');
        pid = 0;
        return dash > 0 && int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out pid) && pid > 0;
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
        {
            return true;
        }

        if (OperatingSystem.IsLinux())
        {
            return Directory.Exists($"/proc/{pid}");
        }

        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mkdir", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int MakeDirectory(string path, uint mode);
}
