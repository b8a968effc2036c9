using DotC1z.Storage;

namespace DotC1z.Interop.V1;

/// <summary>
/// Hands out the private directories that hold decompressed v1 databases, reusing the names of directories this
/// process created and already removed.
/// </summary>
/// <remarks>
/// The database's path is part of its SQLite connection string, and Microsoft.Data.Sqlite keeps one pool group
/// per distinct connection string, pooled or not, until its pruning timer retires it (first after 4 minutes, then
/// every 30 s). It removes the retired groups from a list one by one (<c>List.Remove</c> in a loop: quadratic)
/// while holding the lock every new <c>SqliteConnection</c> needs. A process that opened tens of thousands of v1
/// files under fresh random names in its first minutes blocked all SQLite opens for seconds about five minutes in
/// (the one AFL timeout per v1 fuzz campaign, docs/RELIABILITY.md "Coverage-guided fuzzing"). With reused names the
/// number of distinct connection strings stays at the number of v1 files open at once per temp directory.
/// A name is reused only through <see cref="PrivateDirectory.TryCreateNew"/> (mkdir, which fails if anything is
/// there), so a name that someone else took in a shared temp directory meanwhile is never adopted; a fresh random
/// name is used instead, as on systems without <c>TryCreateNew</c>.
/// </remarks>
internal static class ScratchNames
{
    /// <summary>The scratch prefix of v1 databases (<see cref="PrivateDirectory.KnownPrefixes"/>).</summary>
    public const string Prefix = "c1z-v1-";

    private const int MaxFree = 64;
    private static readonly Lock Gate = new();
    private static readonly List<string> Free = [];

    /// <summary>Creates a private directory under <paramref name="root"/>, preferably under a name used before.</summary>
    /// <param name="root">The temp directory.</param>
    /// <returns>The new, empty directory.</returns>
    public static string Create(string root)
    {
        string parent = ParentOf(Path.Combine(root, Prefix));
        string? reuse = null;
        lock (Gate)
        {
            for (int i = Free.Count - 1; i >= 0; i--)
            {
                if (string.Equals(ParentOf(Free[i]), parent, StringComparison.Ordinal))
                {
                    reuse = Free[i];
                    Free.RemoveAt(i);
                    break;
                }
            }
        }

        return reuse is not null && PrivateDirectory.TryCreateNew(reuse) ? reuse : PrivateDirectory.CreateUnique(root, Prefix);
    }

    /// <summary>
    /// Removes a directory from <see cref="Create"/> (best effort) and, once it is gone, offers its name for reuse.
    /// Its databases are untrusted and opened without connection pooling, so no pooled connection holds them.
    /// </summary>
    /// <param name="directory">The directory.</param>
    public static void Delete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        if (!OperatingSystem.IsLinux() || Directory.Exists(directory))
        {
            return;
        }

        lock (Gate)
        {
            if (Free.Count >= MaxFree)
            {
                Free.RemoveAt(0);
            }

            Free.Add(directory);
        }
    }

    private static string ParentOf(string path) => Path.GetDirectoryName(path) ?? string.Empty;
}
