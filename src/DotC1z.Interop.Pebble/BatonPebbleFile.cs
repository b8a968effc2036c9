using DotC1z.Errors;
using DotC1z.Format.Manifest;
using DotC1z.Format;
using DotC1z.Pebble;
using DotC1z.Storage;

namespace DotC1z.Interop.Pebble;

/// <summary>
/// A C1Z3 file written by baton's Pebble engine (manifest engine <c>pebble</c>, <c>pebble2</c> or
/// <c>pebble3</c>), opened read-only: the envelope and INDEXED_ZSTD frame index are checked, the Pebble
/// database is read straight from the frames (nothing is extracted to disk), and the baton keyspace is
/// decoded into our records (docs/PEBBLE.md). Payloads of older writers (TAR_ZSTD, TAR, or UNSPECIFIED read
/// as TAR_ZSTD) go through the strict tar reader into a private directory removed on dispose.
/// </summary>
public sealed class BatonPebbleFile : IDisposable
{
    private readonly IPayloadFileSource _payload;
    private readonly string? _extracted;

    private BatonPebbleFile(C1ZManifest manifest, IPayloadFileSource payload, string? extracted, BatonPebbleSnapshot snapshot)
    {
        Manifest = manifest;
        _payload = payload;
        _extracted = extracted;
        Snapshot = snapshot;
    }

    /// <summary>The manifest as stored.</summary>
    public C1ZManifest Manifest { get; }

    /// <summary>The Pebble database inside.</summary>
    public PebbleDatabase Database => Snapshot.Database;

    /// <summary>The sync inside.</summary>
    public BatonPebbleSnapshot Snapshot { get; }

    /// <summary>Whether a manifest engine name is one of baton's Pebble engines.</summary>
    /// <param name="engine">The manifest's engine.</param>
    /// <returns>True for <c>pebble</c>, <c>pebble2</c>, <c>pebble3</c>.</returns>
    public static bool IsPebbleEngine(string engine) => engine is "pebble" or "pebble2" or "pebble3";

    /// <summary>Opens the file and checks envelope, frame index, Pebble database and baton's stamps.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Limits (the decoded-size budget applies to the sum of the database's files).</param>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <returns>The open file; dispose it.</returns>
    /// <exception cref="C1zArchiveException">The envelope, manifest or frame index is not acceptable.</exception>
    /// <exception cref="C1zFormatException">A Pebble table format, codec or baton layout this build does not read.</exception>
    /// <exception cref="C1zCorruptionException">The database inside is damaged.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static BatonPebbleFile Open(string path, C1zReadLimits? options = null, CancellationToken cancellationToken = default)
    {
        string full = Path.GetFullPath(path);
        return Open(C1zErrors.OpenRead(full), full, options ?? new C1zReadLimits(), cancellationToken);
    }

    /// <summary>Opens the file through <paramref name="input"/> (taken over), read from its start.</summary>
    /// <param name="input">The file; disposed with the result, or on failure.</param>
    /// <param name="full">Its full path, for messages.</param>
    /// <param name="options">Limits.</param>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <returns>The open file; dispose it.</returns>
    /// <exception cref="C1zArchiveException">The envelope, manifest or frame index is not acceptable.</exception>
    /// <exception cref="C1zFormatException">A Pebble table format, codec or baton layout this build does not read.</exception>
    /// <exception cref="C1zCorruptionException">The database inside is damaged.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static BatonPebbleFile Open(FileStream input, string full, C1zReadLimits options, CancellationToken cancellationToken) =>
        Open(input, full, options, null, cancellationToken);

    /// <summary>
    /// <see cref="Open(FileStream, string, C1zReadLimits, CancellationToken)"/> with the header the caller already read
    /// through <paramref name="input"/> (from <see cref="C1zContainer.ReadHeader"/>), so it is not parsed again.
    /// </summary>
    /// <param name="input">The file; disposed with the result, or on failure.</param>
    /// <param name="full">Its full path, for messages.</param>
    /// <param name="options">Limits.</param>
    /// <param name="header">The header read through <paramref name="input"/>, or null to read it here.</param>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <returns>The open file; dispose it.</returns>
    /// <exception cref="C1zArchiveException">The envelope, manifest or frame index is not acceptable.</exception>
    /// <exception cref="C1zFormatException">A Pebble table format, codec or baton layout this build does not read.</exception>
    /// <exception cref="C1zCorruptionException">The database inside is damaged.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static BatonPebbleFile Open(FileStream input, string full, C1zReadLimits options, (C1ZManifest Manifest, byte[] Bytes)? header, CancellationToken cancellationToken)
    {
        IPayloadFileSource? payload = null;
        string? extracted = null;
        try
        {
            if (header is null)
            {
                input.Position = 0;
            }

            var (manifest, manifestBytes) = header ?? C1zContainer.ReadHeader(input, full);
            if (!IsPebbleEngine(manifest.Engine))
            {
                throw new C1zArchiveException(ArchiveError.UnsupportedEngine, full, $"engine \"{manifest.Engine}\" is not one of baton's Pebble engines");
            }

            long payloadStart = C1zEnvelope.ManifestOffset + manifestBytes.Length;
            long budget = options.DecodedBudget(input.Length);
            switch (manifest.PayloadEncoding)
            {
                case PayloadEncoding.IndexedZstd:
                    payload = IndexedZstdPayload.Open(input, full, manifestBytes, payloadStart, budget);
                    break;
                case PayloadEncoding.Unspecified or PayloadEncoding.TarZstd or PayloadEncoding.Tar:
                    // Older baton writers: a (zstd-compressed) tar of the directory, running to the end of the file.
                    extracted = PrivateDirectory.CreateUnique(options.TempDirectory ?? Path.GetTempPath(), "c1z-pebble-tar-");
                    C1zContainer.ExtractTarPayload(input, full, extracted, manifest.PayloadEncoding, payloadStart, input.Length - payloadStart, [], options, cancellationToken);
                    input.Dispose();
                    payload = new DirectoryFileSource(extracted);
                    break;
                default:
                    throw new C1zArchiveException(ArchiveError.UnsupportedEncoding, full, $"payload encoding {(int)manifest.PayloadEncoding} is not supported");
            }

            var db = PebbleDatabase.Open(payload, new PebbleReadOptions { MaxTotalDecodedBytes = budget }, cancellationToken);
            var snapshot = BatonPebbleSnapshot.Open(db, full);
            return new BatonPebbleFile(manifest, payload, extracted, snapshot);
        }
        catch
        {
            input.Dispose();
            (payload as IDisposable)?.Dispose();
            if (extracted is not null)
            {
                PrivateDirectory.TryDelete(extracted);
            }

            throw;
        }
    }

    /// <summary>The names of the database's files in the payload.</summary>
    public IReadOnlyList<string> PayloadFileNames => _payload.FileNames;

    /// <summary>One file of the database, decoded and verified.</summary>
    /// <param name="name">A name from <see cref="PayloadFileNames"/>.</param>
    /// <returns>Its bytes.</returns>
    /// <exception cref="C1zArchiveException">The file's frame does not match the index.</exception>
    public byte[] ReadPayloadFile(string name) => _payload.ReadAllBytes(name);

    /// <summary>
    /// Decodes every file of the payload, so each frame's length, XXH64 and SHA-256 are checked, including
    /// files no listing reads (tables whose keys are all range-deleted, OPTIONS, logs).
    /// </summary>
    /// <param name="cancellationToken">Stops the check.</param>
    /// <returns>The number of files checked.</returns>
    /// <exception cref="C1zArchiveException">A frame does not match the index.</exception>
    public int VerifyPayload(CancellationToken cancellationToken = default)
    {
        foreach (string name in _payload.FileNames)
        {
            _ = _payload is IndexedZstdPayload indexed ? indexed.DecodeUncached(name, cancellationToken) : _payload.ReadAllBytes(name, cancellationToken);
        }

        return _payload.FileNames.Count;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Snapshot.Dispose();
        (_payload as IDisposable)?.Dispose();
        if (_extracted is not null)
        {
            PrivateDirectory.TryDelete(_extracted);
        }
    }
}
