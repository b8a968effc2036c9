namespace DotC1z.Storage;

/// <summary>Creates scratch directories only the current user can read (mode 0700 on Unix).</summary>
public static class PrivateDirectory
{
    /// <summary>Creates <paramref name="path"/> (and its parents) with owner-only permissions where the OS supports them.</summary>
    /// <param name="path">The directory.</param>
    /// <returns>The directory info.</returns>
    public static DirectoryInfo Create(string path) => OperatingSystem.IsWindows()
        ? Directory.CreateDirectory(path)
        : Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

    /// <summary>Creates a uniquely named private directory under <paramref name="parent"/>.</summary>
    /// <param name="parent">Where to create it.</param>
    /// <param name="prefix">A readable name prefix.</param>
    /// <returns>The new directory's path.</returns>
    public static string CreateUnique(string parent, string prefix)
    {
        string path = Path.Combine(parent, $"{prefix}{Guid.NewGuid():N}");
        Create(path);
        return path;
    }
}
