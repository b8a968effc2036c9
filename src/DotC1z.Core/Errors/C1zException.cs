namespace DotC1z.Errors;

/// <summary>
/// Root of the DotC1z exception taxonomy. Every failure the library reports on bad input or a bad
/// environment is one of its subclasses, so callers can catch one type at a boundary:
/// <list type="bullet">
/// <item><see cref="C1zCorruptionException"/>: stored bytes are damaged or inconsistent; never retry.</item>
/// <item><see cref="C1zIOException"/>: the environment failed (disk full, I/O error, store in use).</item>
/// <item><see cref="C1zFormatException"/>: a file is not what it claims, or was written by a newer version.</item>
/// <item><see cref="C1zMisuseException"/>: the caller broke a contract (read-only store, no current sync, bad argument).</item>
/// </list>
/// Expected misses (a key that is not there) are values, never exceptions.
/// </summary>
public abstract class C1zException : Exception
{
    /// <summary>Creates an exception with a message and an optional cause.</summary>
    /// <param name="message">What went wrong, naming the file where there is one.</param>
    /// <param name="path">The file or directory concerned, if any.</param>
    /// <param name="inner">The original exception, kept for diagnostics.</param>
    protected C1zException(string message, string? path = null, Exception? inner = null)
        : base(message, inner)
    {
        Path = path;
    }

    /// <summary>The file or directory the failure concerns, when known.</summary>
    public string? Path { get; }
}

/// <summary>Stored data is damaged: a checksum failed, a record does not decode, an index disagrees with its primary.</summary>
public class C1zCorruptionException : C1zException
{
    /// <summary>Creates a corruption error.</summary>
    /// <param name="message">What is corrupt and where.</param>
    /// <param name="path">The file or directory concerned, if any.</param>
    /// <param name="inner">The original exception, if any.</param>
    public C1zCorruptionException(string message, string? path = null, Exception? inner = null)
        : base(message, path, inner)
    {
    }
}

/// <summary>The environment failed: an I/O error from the OS or the storage engine.</summary>
public class C1zIOException : C1zException
{
    /// <summary>Creates an I/O error.</summary>
    /// <param name="message">What failed and where.</param>
    /// <param name="path">The file or directory concerned, if any.</param>
    /// <param name="inner">The original exception, if any.</param>
    public C1zIOException(string message, string? path = null, Exception? inner = null)
        : base(message, path, inner)
    {
    }
}

/// <summary>The device is full (ENOSPC). The store stays readable; free space and retry.</summary>
public sealed class C1zDiskFullException : C1zIOException
{
    /// <summary>Creates a disk-full error.</summary>
    /// <param name="message">What was being written.</param>
    /// <param name="path">The file or directory concerned, if any.</param>
    /// <param name="inner">The original exception, if any.</param>
    public C1zDiskFullException(string message, string? path = null, Exception? inner = null)
        : base(message, path, inner)
    {
    }
}

/// <summary>Maps the OS's and the runtime's failures to the typed hierarchy at a library boundary.</summary>
public static class C1zErrors
{
    /// <summary>Whether an I/O error means the volume is full (ENOSPC, or SQLite's "database or disk is full").</summary>
    /// <param name="ex">The error.</param>
    /// <returns>True for a full disk.</returns>
    public static bool IsDiskFull(Exception ex) =>
        ex is C1zDiskFullException || (ex.HResult & 0xFFFF) == 28 || ex.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase)
        || ex.Message.Contains("disk is full", StringComparison.OrdinalIgnoreCase);

    /// <summary>An I/O failure as a typed error: <see cref="C1zDiskFullException"/> for a full disk, else <see cref="C1zIOException"/>.</summary>
    /// <param name="message">What failed, naming the user's file.</param>
    /// <param name="path">That file.</param>
    /// <param name="ex">The original error.</param>
    /// <returns>The typed error (to throw).</returns>
    public static C1zIOException IO(string message, string? path, Exception ex) =>
        IsDiskFull(ex) ? new C1zDiskFullException($"disk full: {message}", path, ex) : new C1zIOException(message, path, ex);

    /// <summary>Opens a file for reading, the OS's failures mapped to typed errors naming it.</summary>
    /// <param name="path">The file.</param>
    /// <param name="bufferSize">The stream's buffer size.</param>
    /// <returns>The open stream.</returns>
    /// <exception cref="C1zIOException">The file does not exist or cannot be opened.</exception>
    public static FileStream OpenRead(string path, int bufferSize = 1 << 16)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new C1zIOException($"{path}: file not found", path, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new C1zIOException($"{path}: {ex.Message}", path, ex);
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> and, when parallel work fails with an <see cref="AggregateException"/>,
    /// rethrows its first typed error (or the first error, I/O ones mapped) so callers never see the aggregate.
    /// </summary>
    /// <param name="action">The work.</param>
    /// <param name="path">The file or store concerned, for mapped I/O errors.</param>
    public static void Unwrapped(Action action, string? path)
    {
        ArgumentNullException.ThrowIfNull(action);
        try
        {
            action();
        }
        catch (AggregateException ex)
        {
            var inner = ex.Flatten().InnerExceptions;
            var first = inner.FirstOrDefault(e => e is C1zException) ?? inner.FirstOrDefault(e => e is OperationCanceledException) ?? inner[0];
            if (first is IOException io)
            {
                throw IO(io.Message, path, io);
            }

            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
    }
}

/// <summary>Another process or handle holds the store's lock.</summary>
public sealed class C1zStoreInUseException : C1zIOException
{
    /// <summary>Creates a store-in-use error.</summary>
    /// <param name="message">Which store is locked.</param>
    /// <param name="path">The store directory.</param>
    /// <param name="inner">The original exception, if any.</param>
    public C1zStoreInUseException(string message, string? path = null, Exception? inner = null)
        : base(message, path, inner)
    {
    }
}

/// <summary>An output was not written because something already exists at its path (and replacing was not asked for).</summary>
public sealed class C1zOutputExistsException : C1zIOException
{
    /// <summary>Creates an output-exists error.</summary>
    /// <param name="path">The output path.</param>
    public C1zOutputExistsException(string path)
        : base($"output already exists: {path}", path)
    {
    }
}

/// <summary>
/// A file or directory is not in a format this version reads: wrong magic, truncated envelope,
/// unsupported encoding or schema version, unsafe archive entry, limits exceeded.
/// Subsystems (the C1Z3 loader, the v1 importer) derive more specific types from it.
/// </summary>
public class C1zFormatException : C1zException
{
    /// <summary>Creates a format error.</summary>
    /// <param name="message">What is wrong with the file.</param>
    /// <param name="path">The file concerned, if any.</param>
    /// <param name="inner">The original exception, if any.</param>
    public C1zFormatException(string message, string? path = null, Exception? inner = null)
        : base(message, path, inner)
    {
    }
}

/// <summary>The caller broke a contract of the API. Subclasses say which one.</summary>
public abstract class C1zMisuseException : C1zException
{
    /// <summary>Creates a misuse error.</summary>
    /// <param name="message">Which contract was broken.</param>
    /// <param name="path">The store concerned, if any.</param>
    /// <param name="inner">The original exception, if any.</param>
    protected C1zMisuseException(string message, string? path = null, Exception? inner = null)
        : base(message, path, inner)
    {
    }
}

/// <summary>A write was attempted on a store opened read-only.</summary>
public sealed class C1zReadOnlyException : C1zMisuseException
{
    /// <summary>Creates a read-only error.</summary>
    /// <param name="path">The store concerned, if any.</param>
    public C1zReadOnlyException(string? path = null)
        : base(path is null ? "the store is open read-only" : $"the store is open read-only: {path}", path)
    {
    }
}

/// <summary>An operation needed the current sync and none is set.</summary>
public sealed class C1zNoCurrentSyncException : C1zMisuseException
{
    /// <summary>Creates a no-current-sync error.</summary>
    /// <param name="path">The store concerned, if any.</param>
    public C1zNoCurrentSyncException(string? path = null)
        : base("no current sync: start or set a sync before writing", path)
    {
    }
}

/// <summary>An argument is invalid (empty id, malformed sync id, unknown record type, bad page token).</summary>
public class C1zArgumentException : C1zMisuseException
{
    /// <summary>Creates an invalid-argument error.</summary>
    /// <param name="message">Which argument is wrong and why.</param>
    /// <param name="path">The store concerned, if any.</param>
    /// <param name="inner">The original exception, if any.</param>
    public C1zArgumentException(string message, string? path = null, Exception? inner = null)
        : base(message, path, inner)
    {
    }
}
