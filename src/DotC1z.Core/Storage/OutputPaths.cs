using System.ComponentModel;
using System.Runtime.InteropServices;
using DotC1z.Errors;

namespace DotC1z.Storage;

/// <summary>
/// Puts a finished output in place without ever destroying what was there first: create-exclusive moves
/// (two writers of one path cannot both win), atomic exchange for replacements (readers of the old output
/// never see "no such file"), and the store lock of a target directory honoured. See docs/RELIABILITY.md.
/// </summary>
public static partial class OutputPaths
{
    private const int AtFdCwd = -100;
    private const uint RenameNoReplace = 1;
    private const uint RenameExchange = 2;
    private const int EExist = 17;
    private const int ENotEmpty = 39;
    private const int ENoSys = 38;
    private const int EInval = 22;

    /// <summary>
    /// Moves <paramref name="source"/> (a file or directory) to <paramref name="target"/>, failing if
    /// <paramref name="target"/> exists — atomically, so of two concurrent writers exactly one wins.
    /// </summary>
    /// <param name="source">The finished output.</param>
    /// <param name="target">Where it goes; must not exist.</param>
    /// <exception cref="C1zOutputExistsException"><paramref name="target"/> exists (now or by the time of the move).</exception>
    /// <exception cref="C1zIOException">The move failed for another reason.</exception>
    public static void MoveNoReplace(string source, string target)
    {
        if (OperatingSystem.IsLinux())
        {
            int rc = RenameAt2(AtFdCwd, source, AtFdCwd, target, RenameNoReplace);
            if (rc == 0)
            {
                return;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno is EExist or ENotEmpty)
            {
                throw new C1zOutputExistsException(target);
            }

            if (errno is not (ENoSys or EInval))
            {
                throw new C1zIOException($"cannot move the output into place at {target}: {new Win32Exception(errno).Message}", target);
            }
        }

        // No renameat2 (another OS, or a file system without it): link-then-unlink for files is exclusive;
        // for directories the check and the move are not atomic together, which is the best this OS offers.
        try
        {
            if (File.Exists(source))
            {
                File.Move(source, target, overwrite: false);
            }
            else
            {
                if (Path.Exists(target))
                {
                    throw new C1zOutputExistsException(target);
                }

                Directory.Move(source, target);
            }
        }
        catch (IOException) when (Path.Exists(target))
        {
            throw new C1zOutputExistsException(target);
        }
        catch (IOException ex)
        {
            throw new C1zIOException($"cannot move the output into place at {target}: {ex.Message}", target, ex);
        }
    }

    /// <summary>
    /// Replaces <paramref name="target"/> with <paramref name="source"/> in one step. Afterwards
    /// <paramref name="source"/> names what <paramref name="target"/> held, so the caller removes it once it
    /// no longer matters. Where the OS cannot exchange, the old output is renamed aside first (a short window
    /// in which <paramref name="target"/> is absent, but it is never deleted before the new one is in place).
    /// </summary>
    /// <param name="source">The finished output.</param>
    /// <param name="target">The existing output to replace.</param>
    /// <exception cref="C1zIOException">The exchange failed; both paths are as they were.</exception>
    public static void Exchange(string source, string target)
    {
        if (OperatingSystem.IsLinux())
        {
            if (RenameAt2(AtFdCwd, source, AtFdCwd, target, RenameExchange) == 0)
            {
                return;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno is not (ENoSys or EInval))
            {
                throw new C1zIOException($"cannot replace {target}: {new Win32Exception(errno).Message}", target);
            }
        }

        string aside = source + ".old";
        try
        {
            Move(target, aside);
            try
            {
                Move(source, target);
            }
            catch
            {
                Move(aside, target);
                throw;
            }

            Move(aside, source);
        }
        catch (IOException ex)
        {
            throw new C1zIOException($"cannot replace {target}: {ex.Message}", target, ex);
        }
    }

    /// <summary>
    /// Takes the RocksDB store lock of <paramref name="directory"/> (the POSIX record lock on its <c>LOCK</c>
    /// file that RocksDB itself takes), so no other process can open the store while it is replaced.
    /// </summary>
    /// <param name="directory">A store directory.</param>
    /// <returns>The lock; dispose it to release. Null when the directory has no LOCK file.</returns>
    /// <exception cref="C1zStoreInUseException">Another process has the store open.</exception>
    public static IDisposable? LockStore(string directory)
    {
        string lockFile = Path.Combine(directory, "LOCK");
        if (!File.Exists(lockFile))
        {
            return null;
        }

        var stream = new FileStream(lockFile, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        try
        {
            // FileStream.Lock is fcntl(F_SETLK) on Unix: it conflicts with RocksDB's whole-file lock.
            if (!OperatingSystem.IsMacOS())
            {
                stream.Lock(0, 1);
            }

            return stream;
        }
        catch (IOException ex)
        {
            stream.Dispose();
            throw new C1zStoreInUseException($"{directory} is open in another process (its store lock is held); close it first", directory, ex);
        }
    }

    /// <summary>
    /// The canonical form of a path (symbolic links and <c>..</c> resolved where the path exists), for
    /// deciding whether an output names one of the inputs.
    /// </summary>
    /// <param name="path">A path.</param>
    /// <returns>The canonical absolute path.</returns>
    public static string Canonical(string path)
    {
        string full = Path.GetFullPath(path);
        if (!OperatingSystem.IsWindows() && Path.Exists(full))
        {
            nint resolved = RealPath(full, 0);
            if (resolved != 0)
            {
                try
                {
                    return Marshal.PtrToStringUTF8(resolved) ?? full;
                }
                finally
                {
                    Marshal.FreeHGlobal(resolved);
                }
            }
        }

        return full.TrimEnd(Path.DirectorySeparatorChar) is { Length: > 0 } trimmed ? trimmed : full;
    }

    private static void Move(string from, string to)
    {
        if (Directory.Exists(from))
        {
            Directory.Move(from, to);
        }
        else
        {
            File.Move(from, to);
        }
    }

    [LibraryImport("libc", EntryPoint = "renameat2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int RenameAt2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPath(string path, nint resolved);
}
