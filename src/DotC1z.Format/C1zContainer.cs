using System.Buffers.Binary;
using System.Security.Cryptography;
using DotC1z.Errors;
using DotC1z.Format.Manifest;
using DotC1z.Storage;
using Google.Protobuf;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace DotC1z.Format;

/// <summary>Options of <see cref="C1zContainer.Write"/>.</summary>
public sealed record C1zSaveOptions
{
    /// <summary>Payload encoding (default zstd-compressed tar).</summary>
    public PayloadEncoding Encoding { get; init; } = PayloadEncoding.TarZstd;

    /// <summary>zstd level (1 is fast and still compresses synthetic ids well).</summary>
    public int CompressionLevel { get; init; } = 1;

    /// <summary>Tool name recorded in the manifest.</summary>
    public string CreatedBy { get; init; } = "c1z";

    /// <summary>
    /// Replace an existing file at the target (atomically, by rename). When false the save fails with
    /// <see cref="C1zOutputExistsException"/> if anything exists there, decided atomically at the final move.
    /// </summary>
    public bool ReplaceExisting { get; init; } = true;
}

/// <summary>
/// Limits that bound what reading a C1Z3 container may cost (docs/RELIABILITY.md): decoded bytes, zstd window,
/// tar entries, and where private extraction directories are made.
/// </summary>
public record C1zReadLimits
{
    /// <summary>Largest decoded payload accepted (default 10 GiB or 100× the file size, whichever is larger).</summary>
    public long? MaxDecodedBytes { get; init; }

    /// <summary>Largest zstd window accepted, as a log2 (27 = 128 MiB).</summary>
    public int MaxWindowLog { get; init; } = 27;

    /// <summary>Most tar entries accepted.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>Where private extraction directories are made (default: the system temp directory).</summary>
    public string? TempDirectory { get; init; }

    /// <summary>The decoded-bytes budget for a file of <paramref name="fileLength"/> bytes.</summary>
    /// <param name="fileLength">The file's length.</param>
    /// <returns><see cref="MaxDecodedBytes"/>, or its default.</returns>
    public long DecodedBudget(long fileLength) => MaxDecodedBytes ?? Math.Max(10L << 30, fileLength * 100);
}

/// <summary>
/// The C1Z3 container (docs/FORMAT.md): atomic write of a payload directory with its manifest, and a reader of
/// header, manifest and TAR/TAR_ZSTD payloads that survives hostile files. It knows no engine: what the payload
/// directory holds is the caller's business.
/// </summary>
public static class C1zContainer
{
    /// <summary>Test seam: called with the name of each save step; a test throws from it to simulate a crash there.</summary>
    internal static Action<string>? FaultHook { get; set; }

    /// <summary>
    /// Writes a C1Z3 file at <paramref name="path"/> from a payload directory that <paramref name="fill"/> makes:
    /// fill → tar (→ zstd) → a unique temp file beside the target → fsync → atomic rename → fsync of the
    /// directory. A failure at any step leaves the previous file (if any) untouched and removes the temp files.
    /// </summary>
    /// <param name="path">The target file.</param>
    /// <param name="options">Options.</param>
    /// <param name="fill">
    /// Called with a fresh, not yet existing directory inside the private work directory: it creates the directory,
    /// puts the payload's files in it and returns the manifest (the payload length, decoded length and SHA-256 are
    /// set here).
    /// </param>
    /// <param name="cancellationToken">Stops the write; nothing changes then.</param>
    /// <returns>The manifest written.</returns>
    /// <exception cref="C1zArgumentException">The encoding is not writable.</exception>
    /// <exception cref="C1zIOException">Writing failed.</exception>
    /// <exception cref="C1zOutputExistsException">The target exists and <see cref="C1zSaveOptions.ReplaceExisting"/> is off.</exception>
    public static C1ZManifest Write(string path, C1zSaveOptions? options, Func<string, C1ZManifest> fill, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(fill);
        options ??= new C1zSaveOptions();
        if (options.Encoding is not (PayloadEncoding.TarZstd or PayloadEncoding.Tar))
        {
            throw new C1zArgumentException($"payload encoding {options.Encoding} cannot be written");
        }

        string target = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(dir);
        string savePrefix = $".{Path.GetFileName(target)}.save-";
        PrivateDirectory.SweepDeadOwners(dir, [savePrefix]);
        string work = PrivateDirectory.CreateUnique(dir, savePrefix);
        try
        {
            FaultHook?.Invoke("checkpoint");
            string content = Path.Combine(work, "checkpoint");
            var manifest = fill(content);
            manifest.PayloadEncoding = options.Encoding;

            // Payload first, into a scratch file, so the manifest can carry its length and checksum.
            FaultHook?.Invoke("payload");
            string payload = Path.Combine(work, "payload");
            long decoded = WritePayload(content, payload, options, cancellationToken);
            manifest.PayloadDecodedLength = (ulong)decoded;
            using (var p = File.OpenRead(payload))
            {
                manifest.PayloadLength = (ulong)p.Length;
                manifest.PayloadSha256 = ByteString.CopyFrom(SHA256.HashData(p));
            }

            FaultHook?.Invoke("write");
            string temp = Path.Combine(work, "file.c1z");
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                C1zEnvelope.WriteHeader(file, manifest);
                using (var p = File.OpenRead(payload))
                {
                    p.CopyTo(file);
                }

                FaultHook?.Invoke("fsync");
                file.Flush(flushToDisk: true);
            }

            cancellationToken.ThrowIfCancellationRequested();
            FaultHook?.Invoke("rename");
            if (options.ReplaceExisting)
            {
                File.Move(temp, target, overwrite: true);
            }
            else
            {
                OutputPaths.MoveNoReplace(temp, target);
            }

            FaultHook?.Invoke("dirsync");
            DirectorySync.Flush(dir);
            return manifest;
        }
        catch (IOException ex)
        {
            throw C1zErrors.IO($"cannot save {target}: {ex.Message}", target, ex);
        }
        finally
        {
            PrivateDirectory.TryDelete(work);
        }
    }

    private static long WritePayload(string checkpoint, string payloadPath, C1zSaveOptions options, CancellationToken ct)
    {
        using var file = new FileStream(payloadPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        Stream sink = file;
        CompressionStream? zstd = null;
        if (options.Encoding == PayloadEncoding.TarZstd)
        {
            zstd = new CompressionStream(file, options.CompressionLevel, leaveOpen: true);
            zstd.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
            zstd.SetParameter(ZSTD_cParameter.ZSTD_c_nbWorkers, Math.Min(2, Environment.ProcessorCount));
            sink = zstd;
        }

        var counting = new CountingStream(sink);
        try
        {
            // Sorted names make the archive deterministic for a given checkpoint.
            foreach (string f in Directory.GetFiles(checkpoint).Order(StringComparer.Ordinal))
            {
                ct.ThrowIfCancellationRequested();
                using var content = File.OpenRead(f);
                StrictTar.WriteFile(counting, Path.GetFileName(f), content, content.Length);
            }

            StrictTar.WriteEnd(counting);
        }
        finally
        {
            zstd?.Dispose();
        }

        file.Flush(flushToDisk: false);
        return counting.Count;
    }

    /// <summary>Reads and checks the envelope, and extracts the payload into <paramref name="destination"/> (which must exist and be empty).</summary>
    /// <param name="path">The file.</param>
    /// <param name="destination">The extraction directory.</param>
    /// <param name="options">Limits.</param>
    /// <param name="cancellationToken">Stops the extraction.</param>
    /// <returns>The manifest.</returns>
    /// <exception cref="C1zArchiveException">The file is not acceptable.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static C1ZManifest Extract(string path, string destination, C1zReadLimits? options = null, CancellationToken cancellationToken = default)
    {
        using var input = C1zErrors.OpenRead(path);
        return Extract(input, path, destination, options ?? new C1zReadLimits(), cancellationToken);
    }

    /// <summary>
    /// <see cref="Extract(string, string, C1zReadLimits?, CancellationToken)"/> through an open handle (read from
    /// its start, or from the payload when <paramref name="header"/> was already read through it).
    /// </summary>
    /// <param name="input">The file.</param>
    /// <param name="path">Its path, for messages.</param>
    /// <param name="destination">The extraction directory (exists, empty).</param>
    /// <param name="options">Limits.</param>
    /// <param name="cancellationToken">Stops the extraction.</param>
    /// <param name="header">The header already read through <paramref name="input"/>, if any.</param>
    /// <returns>The manifest.</returns>
    /// <exception cref="C1zArchiveException">The file is not acceptable.</exception>
    /// <exception cref="C1zIOException">The file cannot be read or the payload cannot be written.</exception>
    public static C1ZManifest Extract(FileStream input, string path, string destination, C1zReadLimits options, CancellationToken cancellationToken, (C1ZManifest Manifest, byte[] Bytes)? header = null)
    {
        try
        {
            return ExtractCore(input, path, destination, options, cancellationToken, header);
        }
        catch (ZstdException ex)
        {
            var reason = ex.Message.Contains("memory", StringComparison.OrdinalIgnoreCase) || ex.Message.Contains("window", StringComparison.OrdinalIgnoreCase)
                ? ArchiveError.WindowTooLarge
                : ArchiveError.PayloadCorrupt;
            throw new C1zArchiveException(reason, path, $"damaged zstd payload: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException)
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, $"payload is truncated: {ex.Message}", ex);
        }
        catch (IOException ex)
        {
            // Writing the extracted files (a full or failing TMPDIR), not reading the input.
            throw C1zErrors.IO($"{path}: cannot extract into {destination}: {ex.Message}", path, ex);
        }
    }

    /// <summary>
    /// Reads and checks magic, manifest length and manifest from the start of <paramref name="input"/>
    /// (left positioned at the payload).
    /// </summary>
    /// <param name="input">The file, at offset 0.</param>
    /// <param name="path">Its path, for messages.</param>
    /// <returns>The parsed manifest and its bytes as stored.</returns>
    /// <exception cref="C1zArchiveException">The header or manifest is not acceptable.</exception>
    public static (C1ZManifest Manifest, byte[] Bytes) ReadHeader(FileStream input, string path)
    {
        long fileLength = input.Length;
        Span<byte> head = stackalloc byte[C1zEnvelope.ManifestOffset];
        int got = input.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (got >= C1zEnvelope.MagicLength && C1zEnvelope.HasLegacyV1Magic(head))
        {
            throw new C1zArchiveException(ArchiveError.LegacyFile, path, "this is a legacy v1 file; use 'c1z import'");
        }

        if (got < C1zEnvelope.MagicLength)
        {
            throw new C1zArchiveException(got == 0 ? ArchiveError.Truncated : (C1zEnvelope.Magic[..got].SequenceEqual(head[..got]) ? ArchiveError.Truncated : ArchiveError.InvalidMagic), path, "file is too short to be a C1Z3 file");
        }

        if (!C1zEnvelope.HasMagic(head))
        {
            throw new C1zArchiveException(ArchiveError.InvalidMagic, path, "not a C1Z3 file (wrong magic)");
        }

        if (got < head.Length)
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, "file ends inside the manifest length");
        }

        // Compare as unsigned before any cast: a signed read would turn ≥ 2^31 negative.
        uint manifestLength = BinaryPrimitives.ReadUInt32BigEndian(head[C1zEnvelope.ManifestLengthOffset..]);
        if (manifestLength > C1zEnvelope.MaxManifestBytes)
        {
            throw new C1zArchiveException(ArchiveError.ManifestTooLarge, path, $"manifest length {manifestLength} exceeds {C1zEnvelope.MaxManifestBytes}");
        }

        if (manifestLength > fileLength - C1zEnvelope.ManifestOffset)
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, "file ends inside the manifest");
        }

        var manifestBytes = new byte[manifestLength];
        input.ReadExactly(manifestBytes);
        C1ZManifest manifest;
        try
        {
            PreScanManifest(manifestBytes, path);
            manifest = C1ZManifest.Parser.ParseFrom(manifestBytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new C1zArchiveException(ArchiveError.ManifestInvalid, path, $"manifest does not parse: {ex.Message}", ex);
        }

        if (manifest.Engine.Length == 0)
        {
            throw new C1zArchiveException(ArchiveError.ManifestInvalid, path, "manifest names no engine");
        }

        return (manifest, manifestBytes);
    }

    /// <summary>Checks the header (read here, or already read by the caller through the same handle) and extracts the payload.</summary>
    private static C1ZManifest ExtractCore(FileStream input, string path, string destination, C1zReadLimits options, CancellationToken ct, (C1ZManifest Manifest, byte[] Bytes)? header = null)
    {
        long fileLength = input.Length;
        var (manifest, manifestBytes) = header ?? ReadHeader(input, path);
        long manifestLength = manifestBytes.Length;
        if (manifest.Engine != C1zEnvelope.EngineName)
        {
            throw new C1zArchiveException(ArchiveError.UnsupportedEngine, path, $"engine \"{manifest.Engine}\" is not supported");
        }

        if (manifest.EngineSchemaVersion > C1zEnvelope.EngineSchemaVersion || manifest.EngineSchemaVersion == 0)
        {
            throw new C1zArchiveException(ArchiveError.UnsupportedSchemaVersion, path, $"engine schema version {manifest.EngineSchemaVersion} is not supported (this build reads {C1zEnvelope.EngineSchemaVersion})");
        }

        if (manifest.PayloadEncoding is not (PayloadEncoding.TarZstd or PayloadEncoding.Tar))
        {
            throw new C1zArchiveException(ArchiveError.UnsupportedEncoding, path, $"payload encoding {(int)manifest.PayloadEncoding} is not supported");
        }

        long payloadStart = C1zEnvelope.ManifestOffset + manifestLength;
        long actualPayload = fileLength - payloadStart;
        if (manifest.PayloadSha256.Length != 32)
        {
            throw new C1zArchiveException(ArchiveError.ManifestInvalid, path, "manifest carries no payload checksum");
        }

        if ((ulong)actualPayload < manifest.PayloadLength)
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, $"payload is {actualPayload} bytes, the manifest says {manifest.PayloadLength}");
        }

        if ((ulong)actualPayload > manifest.PayloadLength)
        {
            throw new C1zArchiveException(ArchiveError.TrailingData, path, $"{(ulong)actualPayload - manifest.PayloadLength} bytes follow the payload");
        }

        ExtractTarPayload(input, path, destination, manifest.PayloadEncoding, payloadStart, (long)manifest.PayloadLength, manifest.PayloadSha256.ToByteArray(), options, ct, (long)Math.Min(manifest.PayloadDecodedLength, long.MaxValue));
        if (!File.Exists(Path.Combine(destination, "CURRENT")))
        {
            throw new C1zCorruptionException($"{path}: the payload holds no store (CURRENT is missing)", path);
        }

        return manifest;
    }

    /// <summary>
    /// Streams a TAR or TAR_ZSTD payload through the decoded-size budget and the strict tar reader into
    /// <paramref name="destination"/>: exactly one zstd frame (its checksum checked by draining to the end),
    /// only zeros after the tar end marker, and the payload's SHA-256 when the manifest records one.
    /// </summary>
    /// <param name="input">The file, positioned at <paramref name="payloadStart"/>.</param>
    /// <param name="path">Its path, for messages.</param>
    /// <param name="destination">An existing, empty directory.</param>
    /// <param name="encoding">TAR_ZSTD (or UNSPECIFIED, read as it) or TAR.</param>
    /// <param name="payloadStart">File offset of the payload.</param>
    /// <param name="payloadLength">Its length (to the end of the file).</param>
    /// <param name="sha256">The expected SHA-256, or empty when the writer recorded none (baton).</param>
    /// <param name="options">Limits.</param>
    /// <param name="ct">Stops the extraction.</param>
    /// <param name="declaredDecoded">The decoded length the manifest records (0: not recorded); it becomes the exact budget.</param>
    /// <exception cref="C1zArchiveException">The payload is not acceptable.</exception>
    /// <exception cref="C1zDiskFullException">The destination has not enough free space for what the payload declares.</exception>
    public static void ExtractTarPayload(FileStream input, string path, string destination, PayloadEncoding encoding, long payloadStart, long payloadLength, byte[] sha256, C1zReadLimits options, CancellationToken ct, long declaredDecoded = 0)
    {
        long fileLength = input.Length;
        bool compressed = encoding is PayloadEncoding.TarZstd or PayloadEncoding.Unspecified;
        input.Position = payloadStart;
        long budget = options.DecodedBudget(fileLength);
        if (declaredDecoded > budget)
        {
            throw new C1zArchiveException(ArchiveError.DecodedSizeExceeded, path, $"the payload declares {declaredDecoded} decoded bytes, over the {budget}-byte budget");
        }

        // What the manifest declares is what may be written, and the space must be there before the first byte:
        // a small hostile file must not fill TMPDIR on every open (docs/RELIABILITY.md, format laxity).
        budget = declaredDecoded > 0 ? declaredDecoded : budget;
        long free = FreeBytes(destination);
        if (free >= 0 && budget > free - FreeSpaceHeadroom)
        {
            if (declaredDecoded > 0)
            {
                throw new C1zDiskFullException($"{path}: not enough free space in {destination} to open it: the payload decodes to {declaredDecoded} bytes, {free} are free", path);
            }

            budget = Math.Max(0, free - FreeSpaceHeadroom);
        }

        using var hashing = new HashingStream(input, (ulong)payloadLength);
        DecompressionStream? zstd = null;
        BudgetStream? budgetedStream = null;
        Stream decoded = hashing;
        if (compressed)
        {
            zstd = new DecompressionStream(hashing, checkEndOfStream: true, leaveOpen: true);
            zstd.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, options.MaxWindowLog);
            decoded = zstd;
        }

        try
        {
            var budgeted = new BudgetStream(decoded, budget, path);
            budgetedStream = budgeted;
            StrictTar.Extract(budgeted, destination, options.MaxEntries, path, ct);

            // Drain: only zeros may follow the end marker, and reading to the end checks the zstd frame checksum.
            var rest = new byte[1 << 16];
            int n;
            while ((n = budgeted.Read(rest, 0, rest.Length)) > 0)
            {
                if (rest.AsSpan(0, n).IndexOfAnyExcept((byte)0) >= 0)
                {
                    throw new C1zArchiveException(ArchiveError.TrailingData, path, "data follows the tar end marker");
                }
            }
        }
        finally
        {
            zstd?.Dispose();
        }

        long decodedRead = budgetedStream?.Position ?? 0;
        if (declaredDecoded > 0 && decodedRead != declaredDecoded)
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, $"the payload decodes to {decodedRead} bytes, the manifest says {declaredDecoded}");
        }

        // Whatever the decoder left unread is still part of the hashed payload.
        hashing.DrainToEnd();
        if (sha256.Length != 0 && !hashing.Hash.AsSpan().SequenceEqual(sha256))
        {
            throw new C1zArchiveException(ArchiveError.ChecksumMismatch, path, "payload SHA-256 does not match the manifest");
        }

        // The streaming decoder runs straight on into a concatenated frame; the payload must be exactly one.
        // Walked after decoding, so the decoder's own, more specific errors come first.
        if (compressed)
        {
            long frame = ZstdFrames.FrameLength(input.SafeFileHandle, payloadStart, payloadLength, path);
            if (frame != payloadLength)
            {
                throw new C1zArchiveException(ArchiveError.TrailingData, path, $"{payloadLength - frame} bytes (another zstd frame?) follow the payload's zstd frame");
            }
        }

    }

    /// <summary>Free space kept on the extraction volume beyond what a payload declares.</summary>
    private const long FreeSpaceHeadroom = 64L << 20;

    /// <summary>Free bytes on the volume holding <paramref name="directory"/>, or -1 when the OS does not say.</summary>
    private static long FreeBytes(string directory)
    {
        try
        {
            return new DriveInfo(directory).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return -1;
        }
    }

    /// <summary>Most top-level fields a manifest may carry (sync summaries and record types included).</summary>
    public const int MaxManifestFields = 100_000;

    /// <summary>
    /// Counts the manifest's top-level fields on the wire before parsing it: 16 MiB of tiny repeated
    /// sub-messages would otherwise expand into millions of objects (docs/RELIABILITY.md F8/A6).
    /// </summary>
    private static void PreScanManifest(byte[] bytes, string path)
    {
        var input = new CodedInputStream(bytes);
        int fields = 0;
        while (!input.IsAtEnd)
        {
            uint tag = input.ReadTag();
            if (tag == 0)
            {
                break;
            }

            if (++fields > MaxManifestFields)
            {
                throw new C1zArchiveException(ArchiveError.ManifestInvalid, path, $"manifest has more than {MaxManifestFields} fields");
            }

            input.SkipLastField();
        }
    }

    /// <summary>Reads the manifest only (for listings that need no payload).</summary>
    /// <param name="path">The file.</param>
    /// <returns>The manifest.</returns>
    /// <exception cref="C1zArchiveException">The header or manifest is not acceptable.</exception>
    public static C1ZManifest ReadManifest(string path)
    {
        using var input = C1zErrors.OpenRead(path, 4096);
        try
        {
            return ReadHeader(input, path).Manifest;
        }
        catch (IOException ex)
        {
            throw new C1zIOException($"{path}: {ex.Message}", path, ex);
        }
    }
}
