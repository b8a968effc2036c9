using System.Runtime.CompilerServices;
using DotC1z.Errors;

namespace DotC1z.Engine.Rocks;

/// <summary>Maps native RocksDB failures to the DotC1z exception taxonomy at the engine boundary.</summary>
internal static class RocksErrors
{
    public static C1zException Map(Exception ex, string path, [CallerMemberName] string operation = "")
        => Map(ex.Message ?? string.Empty, path, operation, ex);

    /// <summary>Maps a native error string (a C-API <c>errptr</c>) the same way.</summary>
    public static C1zException Map(string message, string path, string operation, Exception? ex = null)
    {
        string what = $"{operation}: {message}";
        if (message.Contains("No space left", StringComparison.OrdinalIgnoreCase))
        {
            return new C1zDiskFullException($"disk full in {path}: {what}", path, ex);
        }

        if (message.Contains("lock", StringComparison.OrdinalIgnoreCase) && message.Contains("IO error", StringComparison.OrdinalIgnoreCase))
        {
            return new C1zStoreInUseException($"store is in use by another process or handle: {path}", path, ex);
        }

        if (message.StartsWith("Corruption", StringComparison.OrdinalIgnoreCase)
            || message.Contains("checksum", StringComparison.OrdinalIgnoreCase)
            || message.Contains("Bad table", StringComparison.OrdinalIgnoreCase))
        {
            return new C1zCorruptionException($"store is corrupt: {path}: {what}", path, ex);
        }

        if (message.StartsWith("Invalid argument", StringComparison.OrdinalIgnoreCase))
        {
            // Wrong comparator, missing CURRENT on a read-only open, and the like: the directory is not a valid store.
            return new C1zCorruptionException($"not a valid store: {path}: {what}", path, ex);
        }

        if (message.StartsWith("Not implemented", StringComparison.OrdinalIgnoreCase))
        {
            return new C1zFormatException($"store uses a feature this build cannot read: {path}: {what}", path, ex);
        }

        return new C1zIOException($"I/O error on {path}: {what}", path, ex);
    }

    /// <summary>Throws the mapped exception when a C-API call reported an error (taking ownership of its string).</summary>
    public static void ThrowIfError(IntPtr error, string path, string operation)
    {
        if (RawRocks.TakeError(error) is { } message)
        {
            throw Map(message, path, operation);
        }
    }

}
