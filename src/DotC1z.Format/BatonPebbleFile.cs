using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Format.Manifest;
using DotC1z.Interop.Pebble;
using DotC1z.Pebble;
using DotC1z.Storage;

namespace DotC1z.Format;

/// <summary>
/// A C1Z3 file written by baton's Pebble engine (manifest engine <c>pebble</c>, <c>pebble2</c> or
/// <c>pebble3</c>), opened read-only: the envelope and INDEXED_ZSTD frame index are checked, the Pebble
/// database is read straight from the frames (nothing is extracted to disk), and the baton keyspace is
/// decoded into our records (docs/PEBBLE.md).
/// </summary>
public sealed class BatonPebbleFile : IDisposable
{
    private readonly IndexedZstdPayload _payload;

    private BatonPebbleFile(C1ZManifest manifest, IndexedZstdPayload payload, BatonPebbleSnapshot snapshot)
    {
        Manifest = manifest;
        _payload = payload;
        Snapshot = snapshot;
    }

    /// <summary>The manifest as stored.</summary>
    public C1ZManifest Manifest { get; }

    /// <summary>The sync inside.</summary>
    public BatonPebbleSnapshot Snapshot { get; }

    /// <summary>Whether a manifest engine name is one of baton's Pebble engines.</summary>
    /// <param name="engine">The manifest's engine.</param>
    /// <returns>True for <c>pebble</c>, <c>pebble2</c>, <c>pebble3</c>.</returns>
    public static bool IsPebbleEngine(string engine) => engine is "pebble" or "pebble2" or "pebble3";

    /// <summary>Opens the file and checks envelope, frame index, Pebble database and baton's stamps.</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Limits (the decoded-size budget applies to the sum of the database's files).</param>
    /// <returns>The open file; dispose it.</returns>
    /// <exception cref="C1zArchiveException">The envelope, manifest or frame index is not acceptable.</exception>
    /// <exception cref="C1zFormatException">A Pebble table format, codec or baton layout this build does not read.</exception>
    /// <exception cref="C1zCorruptionException">The database inside is damaged.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static BatonPebbleFile Open(string path, C1zOpenOptions? options = null)
    {
        options ??= new C1zOpenOptions();
        string full = Path.GetFullPath(path);
        FileStream input = OpenInput(full);
        IndexedZstdPayload? payload = null;
        try
        {
            var (manifest, manifestBytes) = C1zFile.ReadHeader(input, full);
            if (!IsPebbleEngine(manifest.Engine))
            {
                throw new C1zArchiveException(ArchiveError.UnsupportedEngine, full, $"engine \"{manifest.Engine}\" is not one of baton's Pebble engines");
            }

            if (manifest.PayloadEncoding != PayloadEncoding.IndexedZstd)
            {
                throw new C1zArchiveException(ArchiveError.UnsupportedEncoding, full, $"a Pebble payload in encoding {manifest.PayloadEncoding} is not supported (this build reads INDEXED_ZSTD, which baton writes since v0.13.5)");
            }

            long budget = options.MaxDecodedBytes ?? Math.Max(10L << 30, input.Length * 100);
            payload = IndexedZstdPayload.Open(input, full, manifestBytes, C1zEnvelope.ManifestOffset + manifestBytes.Length, budget);
            var db = PebbleDatabase.Open(payload, new PebbleReadOptions { MaxTotalDecodedBytes = budget });
            var snapshot = BatonPebbleSnapshot.Open(db, full);
            return new BatonPebbleFile(manifest, payload, snapshot);
        }
        catch
        {
            if (payload is null)
            {
                input.Dispose();
            }
            else
            {
                payload.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// Opens the file as a read-only store: the sync is bulk-loaded into a private scratch RocksDB store that
    /// is removed when the returned store is disposed.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Options; <see cref="C1zOpenOptions.ReadOnly"/> must be true.</param>
    /// <param name="cancellationToken">Stops the load.</param>
    /// <returns>The store.</returns>
    /// <exception cref="C1zArchiveException">The file is not acceptable, or a writable open was asked for.</exception>
    /// <exception cref="C1zFormatException">A layout this build does not read.</exception>
    /// <exception cref="C1zCorruptionException">The database inside is damaged.</exception>
    public static IC1zStore OpenStore(string path, C1zOpenOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new C1zOpenOptions();
        string full = Path.GetFullPath(path);
        if (!options.ReadOnly)
        {
            throw new C1zArchiveException(ArchiveError.UnsupportedEngine, full, "baton Pebble files open read-only; convert with 'c1z import'");
        }

        using var file = Open(full, options);
        string work = PrivateDirectory.CreateUnique(options.TempDirectory ?? Path.GetTempPath(), "c1z-pebble-");
        RocksStore? store = null;
        try
        {
            store = RocksStore.Open(Path.Combine(work, "db"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
            file.Snapshot.CopyTo(store, cancellationToken);

            // Reopened read-only so a caller's write fails instead of vanishing with the scratch store.
            store.Dispose();
            store = RocksStore.Open(Path.Combine(work, "db"), new RocksStoreOptions { ReadOnly = true, CreateIfMissing = false });
            return new C1zFileStore(store, full, work, readOnly: true);
        }
        catch
        {
            store?.Dispose();
            C1zFile.TryDeleteDirectory(work);
            throw;
        }
    }

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
            _ = _payload.ReadAllBytes(name, cancellationToken);
        }

        return _payload.FileNames.Count;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Snapshot.Dispose();
        _payload.Dispose();
    }

    private static FileStream OpenInput(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.RandomAccess);
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
}
