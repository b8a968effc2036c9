using DotC1z.Errors;

namespace DotC1z.Format;

/// <summary>Why a C1Z3 file was rejected (docs/RELIABILITY.md §2.0 I1).</summary>
public enum ArchiveError
{
    /// <summary>Not a C1Z3 file.</summary>
    InvalidMagic,

    /// <summary>A legacy v1 file was given where a C1Z3 file is required.</summary>
    LegacyFile,

    /// <summary>The file ends inside the header, the manifest or the payload.</summary>
    Truncated,

    /// <summary>The manifest length exceeds the cap or the file.</summary>
    ManifestTooLarge,

    /// <summary>The manifest does not parse or misses required fields.</summary>
    ManifestInvalid,

    /// <summary>The manifest names an engine this build does not have.</summary>
    UnsupportedEngine,

    /// <summary>The payload encoding is unknown or reserved.</summary>
    UnsupportedEncoding,

    /// <summary>The engine schema version is newer than this build reads.</summary>
    UnsupportedSchemaVersion,

    /// <summary>The decoded payload exceeds the decoded-size budget.</summary>
    DecodedSizeExceeded,

    /// <summary>The zstd frame asks for a larger window than allowed.</summary>
    WindowTooLarge,

    /// <summary>The zstd stream or the tar structure is damaged (checksums, syntax).</summary>
    PayloadCorrupt,

    /// <summary>A tar entry is not a plain file with a safe, unique, short name, or there are too many.</summary>
    UnsafeEntry,

    /// <summary>Bytes follow the payload or the tar end marker.</summary>
    TrailingData,

    /// <summary>The payload's SHA-256 or length differs from the manifest's.</summary>
    ChecksumMismatch,
}

/// <summary>A C1Z3 file is not acceptable; <see cref="Reason"/> says why, the message names the file.</summary>
public sealed class C1zArchiveException : C1zFormatException
{
    /// <summary>Creates the error.</summary>
    /// <param name="reason">The classification.</param>
    /// <param name="path">The file.</param>
    /// <param name="detail">What exactly is wrong.</param>
    /// <param name="inner">The cause.</param>
    public C1zArchiveException(ArchiveError reason, string path, string detail, Exception? inner = null)
        : base($"{path}: {detail}", path, inner)
    {
        Reason = reason;
    }

    /// <summary>The classification.</summary>
    public ArchiveError Reason { get; }
}
