using System.Runtime.InteropServices;

namespace DotC1z.Format;

/// <summary>
/// fsync of a directory, so a rename inside it is durable. .NET cannot open a directory handle
/// (docs/RELIABILITY.md F11), so on Linux and macOS this calls open(O_RDONLY|O_DIRECTORY) + fsync directly.
/// </summary>
internal static partial class DirectorySync
{
    private const int ORdOnly = 0;
    private const int ODirectoryLinux = 0x10000;
    private const int ODirectoryMac = 0x100000;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // NTFS metadata is journaled; there is no portable directory flush.
        }

        int fd = Open(directory, ORdOnly | (OperatingSystem.IsMacOS() ? ODirectoryMac : ODirectoryLinux));
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {directory} to fsync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }
}
