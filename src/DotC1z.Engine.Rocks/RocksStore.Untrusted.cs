using DotC1z.Errors;

namespace DotC1z.Engine.Rocks;

public sealed partial class RocksStore
{
    /// <summary>The column families a DotC1z store has: the keyspace lives in the default one only.</summary>
    public static readonly IReadOnlyList<string> ExpectedColumnFamilies = ["default"];

    /// <summary>
    /// The check an untrusted store directory must pass before it is adopted (docs/RELIABILITY.md D2):
    /// its column-family list is exactly <see cref="ExpectedColumnFamilies"/>; it opens read-only with
    /// paranoid checks, absolute-consistency WAL recovery, no mmap reads and our own options (the
    /// directory's <c>OPTIONS-*</c> file is never loaded); every SST block checksum verifies; and a full
    /// scan of the keyspace ends without an iterator error.
    /// </summary>
    /// <remarks>
    /// A crafted SST can crash the native parser, which .NET cannot catch, so callers that adopt files
    /// from elsewhere run this in a child process (the <c>c1z-verify-store</c> program) and treat a
    /// crash as corruption. Running it in-process is for trusted files and tests.
    /// </remarks>
    /// <param name="directory">The extracted store directory.</param>
    /// <param name="cancellationToken">Stops the scan.</param>
    /// <returns>The number of keys scanned.</returns>
    /// <exception cref="C1zCorruptionException">The directory is not a sound store.</exception>
    /// <exception cref="C1zIOException">The directory cannot be read.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static long VerifyUntrusted(string directory, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string full = Path.GetFullPath(directory);
        if (!File.Exists(Path.Combine(full, "CURRENT")))
        {
            throw new C1zCorruptionException($"not a valid store: {full}: missing CURRENT file", full);
        }

        return UntrustedStoreCheck.Run(full, cancellationToken);
    }
}

/// <summary>Exit codes of the <c>c1z-verify-store</c> child process, the whole protocol with its parent.</summary>
public enum VerifierExit
{
    /// <summary>The store passed <see cref="RocksStore.VerifyUntrusted"/>: adopt it.</summary>
    Sound = 0,

    /// <summary>The store is damaged or crafted (reason on stderr).</summary>
    Corrupt = 3,

    /// <summary>The check could not run (an I/O error; reason on stderr).</summary>
    Failed = 4,

    /// <summary>Wrong arguments.</summary>
    Usage = 64,
}
