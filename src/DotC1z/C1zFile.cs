using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Format;
using DotC1z.Format.Manifest;
using DotC1z.Interop.Pebble;
using DotC1z.Keys;
using DotC1z.Storage;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z;

/// <summary>Options of <see cref="C1zFile.Open(string, C1zOpenOptions?)"/> and <see cref="C1zSnapshot.Open"/>.</summary>
public sealed record C1zOpenOptions : C1zReadLimits
{
    /// <summary>Open read-only (the default). A writable open is written back only by an explicit save.</summary>
    public bool ReadOnly { get; init; } = true;

    /// <summary>How an untrusted store extracted from a file is checked before it is opened (default: in a child process).</summary>
    public StoreVerification Verification { get; init; } = StoreVerification.ChildProcess;

    /// <summary>How long the child-process check may run before the file is treated as hostile.</summary>
    public TimeSpan VerifierTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Block cache of the opened store, or null for the engine's default. Whole-snapshot streaming (diff, compaction
    /// of several inputs) reads each block once, so a small cache keeps several open inputs within a memory budget.
    /// </summary>
    public long? BlockCacheBytes { get; init; }

    /// <summary>Store options for an open with these options.</summary>
    internal RocksStoreOptions StoreOptions(RocksStoreOptions options) => BlockCacheBytes is long bytes ? options with { BlockCacheBytes = bytes } : options;
}

/// <summary>
/// C1Z3 files holding our RocksDB store: atomic save of a store, and a loader that survives hostile files
/// (docs/FORMAT.md, docs/RELIABILITY.md). baton's Pebble C1Z3 files open here too, read-only.
/// </summary>
public static class C1zFile
{
    /// <summary>
    /// Saves <paramref name="store"/> to <paramref name="path"/>: checkpoint → tar (→ zstd) → a unique
    /// temp file beside the target → fsync → atomic rename → fsync of the directory. A failure at any
    /// step leaves the previous file (if any) untouched and removes the temp files.
    /// </summary>
    /// <param name="store">The store (stays open and writable).</param>
    /// <param name="path">The target file; replaced atomically if it exists.</param>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Stops the save; nothing changes then.</param>
    /// <returns>The manifest written.</returns>
    /// <exception cref="C1zArgumentException">The encoding is not writable.</exception>
    /// <exception cref="C1zIOException">Writing failed.</exception>
    /// <exception cref="C1zOutputExistsException">The target exists and <see cref="C1zSaveOptions.ReplaceExisting"/> is off.</exception>
    public static C1ZManifest Save(RocksStore store, string path, C1zSaveOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new C1zSaveOptions();
        return C1zContainer.Write(path, options, checkpoint =>
        {
            store.Checkpoint(checkpoint);
            return BuildManifest(store, options);
        }, cancellationToken);
    }

    private static C1ZManifest BuildManifest(RocksStore store, C1zSaveOptions options)
    {
        var manifest = new C1ZManifest
        {
            Engine = C1zEnvelope.EngineName,
            EngineSchemaVersion = C1zEnvelope.EngineSchemaVersion,
            PayloadEncoding = options.Encoding,
            CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            CreatedByTool = options.CreatedBy,
        };
        var totals = new long[RecordKinds.All.Count];
        int entitlementBudget = MaxEntitlementDigests;
        foreach (var run in store.ListSyncRuns())
        {
            bool valid = SyncId.TryParse(run.SyncId, out var id);
            var counts = valid ? store.Count(id) : default;
            // A sync bulk-loaded by this store instance (compaction, expansion, import, fixtures) brings its digests along.
            var byEntitlement = !valid ? null : store.TryGetGrantDigests(id, out var folded) ? folded : GrantDigest.ByEntitlement(store, id);
            GrantDigestRoot? digest = byEntitlement is null ? null : ManifestDigests.ToRoot(GrantDigest.Combine(byEntitlement.Values));
            var summary = new SyncRunSummary
            {
                GrantDigest = digest,
                SyncId = run.SyncId,
                Type = (int)run.Type,
                StartedAt = run.StartedAt,
                EndedAt = run.EndedAt,
                ParentSyncId = run.ParentSyncId,
                ResourceTypes = counts.ResourceTypes,
                Resources = counts.Resources,
                Entitlements = counts.Entitlements,
                Grants = counts.Grants,
                Assets = counts.Assets,
            };
            if (byEntitlement is not null && byEntitlement.Count <= entitlementBudget)
            {
                entitlementBudget -= byEntitlement.Count;
                foreach (var (entitlement, d) in byEntitlement.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    summary.EntitlementGrantDigests.Add(ManifestDigests.ToEntry(entitlement, d));
                }
            }

            manifest.SyncRuns.Add(summary);
            for (int i = 0; i < totals.Length; i++)
            {
                totals[i] += RecordKinds.All[i].CountIn(counts);
            }
        }

        // baton's field 43 is the digest of the file's one sync; ours carries it when the file holds exactly one.
        if (manifest.SyncRuns.Count == 1)
        {
            manifest.GrantDigestRoot = manifest.SyncRuns[0].GrantDigest;
        }

        for (int i = 0; i < totals.Length; i++)
        {
            manifest.RecordTypes.Add(new RecordTypeInfo { MessageFullName = RecordKinds.All[i].Descriptor.FullName, SchemaVersion = 1, EstimatedCount = totals[i] });
        }

        return manifest;
    }

    /// <summary>
    /// Per-entitlement digests a manifest carries at most, over all syncs: each is a few fields, and a manifest's
    /// field count is capped (docs/RELIABILITY.md) so a hostile header cannot cost unbounded parsing.
    /// </summary>
    internal const int MaxEntitlementDigests = 10_000;

    /// <summary>
    /// Opens a C1Z3 file: header and manifest checked under caps, payload streamed through the
    /// SHA-256 check, the decoded-size budget and the strict tar reader into a fresh private directory,
    /// then the store is opened from there. The returned store owns that directory and removes it on
    /// dispose. A writable store is written back only by <see cref="SaveBack"/>; dispose only releases.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Options.</param>
    /// <returns>The store.</returns>
    /// <exception cref="C1zArchiveException">The file is not an acceptable C1Z3 file (see <see cref="C1zArchiveException.Reason"/>).</exception>
    /// <exception cref="C1zCorruptionException">The payload is intact but the database inside is damaged.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static IC1zStore Open(string path, C1zOpenOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        return Open(C1zErrors.OpenRead(full), full, options ?? new C1zOpenOptions());
    }

    /// <summary>
    /// Writes a store opened writable by <see cref="Open(string, C1zOpenOptions?)"/> back to its file (atomically), or
    /// to <paramref name="path"/> when given.
    /// </summary>
    /// <param name="store">A store returned by <see cref="Open(string, C1zOpenOptions?)"/>.</param>
    /// <param name="path">Another target, or null for the file it was opened from.</param>
    /// <param name="options">Save options.</param>
    /// <param name="cancellationToken">Stops the save; nothing changes then.</param>
    /// <returns>The manifest written.</returns>
    /// <exception cref="C1zArgumentException">The store was not opened from a C1Z3 file of ours.</exception>
    /// <exception cref="C1zIOException">Writing failed.</exception>
    public static C1ZManifest SaveBack(IC1zStore store, string? path = null, C1zSaveOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (store is not C1zFileStore file)
        {
            throw new C1zArgumentException("only a store opened from a C1Z3 file can be saved back to it");
        }

        return Save(file.InnerStore, path ?? file.Path, options, cancellationToken);
    }

    /// <summary>
    /// Opens a C1Z3 file through one handle (taken over): its header decides between our engine and baton's
    /// Pebble engines, and every later read uses the same handle, so the file cannot be swapped in between.
    /// </summary>
    internal static IC1zStore Open(FileStream input, string full, C1zOpenOptions options) => Open(input, full, options, out _);

    /// <inheritdoc cref="Open(FileStream, string, C1zOpenOptions)"/>
    /// <param name="input">The file (taken over).</param>
    /// <param name="full">Its full path.</param>
    /// <param name="options">Options.</param>
    /// <param name="baton">Whether the file was one of baton's Pebble files.</param>
    internal static IC1zStore Open(FileStream input, string full, C1zOpenOptions options, out bool baton)
    {
        string? work = null;
        baton = false;
        try
        {
            input.Position = 0;
            var header = C1zContainer.ReadHeader(input, full);
            if (BatonPebbleFile.IsPebbleEngine(header.Manifest.Engine))
            {
                baton = true;
                return OpenBaton(input, full, options, CancellationToken.None, header);
            }

            string root = options.TempDirectory ?? Path.GetTempPath();
            PrivateDirectory.SweepDeadOwners(root);
            work = PrivateDirectory.CreateUnique(root, "c1z-open-");
            string db = Path.Combine(work, "db");
            PrivateDirectory.Create(db);
            using (input)
            {
                C1zContainer.Extract(input, full, db, options, CancellationToken.None, header);
            }

            StoreVerifier.Verify(db, full, options.Verification, options.VerifierTimeout);
            RocksStore store;
            try
            {
                store = RocksStore.Open(db, options.StoreOptions(new RocksStoreOptions { ReadOnly = options.ReadOnly, CreateIfMissing = false, ParanoidChecks = true }));
            }
            catch (C1zIOException ex) when (ex is not C1zDiskFullException)
            {
                throw new C1zCorruptionException($"{full}: the payload does not hold a valid store: {ex.Message}", full, ex);
            }

            return new C1zFileStore(store, full, work);
        }
        catch
        {
            input.Dispose();
            if (work is not null)
            {
                PrivateDirectory.TryDelete(work);
            }

            throw;
        }
    }

    /// <summary>
    /// Opens a baton Pebble file as a read-only store: the sync is bulk-loaded into a private scratch RocksDB
    /// store that is removed when the returned store is disposed.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Options; <see cref="C1zOpenOptions.ReadOnly"/> must be true.</param>
    /// <param name="cancellationToken">Stops the load.</param>
    /// <returns>The store.</returns>
    /// <exception cref="C1zArchiveException">The file is not acceptable, or a writable open was asked for.</exception>
    /// <exception cref="C1zFormatException">A layout this build does not read.</exception>
    /// <exception cref="C1zCorruptionException">The database inside is damaged.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static IC1zStore OpenBaton(string path, C1zOpenOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        return OpenBaton(C1zErrors.OpenRead(full), full, options ?? new C1zOpenOptions(), cancellationToken);
    }

    /// <summary><see cref="OpenBaton(string, C1zOpenOptions?, CancellationToken)"/> through <paramref name="input"/> (taken over).</summary>
    internal static IC1zStore OpenBaton(FileStream input, string full, C1zOpenOptions options, CancellationToken cancellationToken = default, (C1ZManifest Manifest, byte[] Bytes)? header = null)
    {
        if (!options.ReadOnly)
        {
            input.Dispose();
            throw new C1zArchiveException(ArchiveError.UnsupportedEngine, full, "baton Pebble files open read-only; convert with 'c1z import'");
        }

        using var file = BatonPebbleFile.Open(input, full, options, header, cancellationToken);
        string work = PrivateDirectory.CreateUnique(options.TempDirectory ?? Path.GetTempPath(), "c1z-pebble-");
        RocksStore? store = null;
        try
        {
            store = RocksStore.Open(Path.Combine(work, "db"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
            file.Snapshot.CopyTo(store, cancellationToken);

            // Reopened read-only so a caller's write fails instead of vanishing with the scratch store.
            store.Dispose();
            store = RocksStore.Open(Path.Combine(work, "db"), options.StoreOptions(new RocksStoreOptions { ReadOnly = true, CreateIfMissing = false }));
            return new C1zFileStore(store, full, work);
        }
        catch
        {
            store?.Dispose();
            PrivateDirectory.TryDelete(work);
            throw;
        }
    }
}

/// <summary>
/// A store opened from a C1Z3 file: owns the extraction directory. Dispose only releases (closes the store and
/// removes the directory); writing back is <see cref="C1zFile.SaveBack"/>'s job, never a side effect of dispose.
/// </summary>
internal sealed class C1zFileStore(RocksStore store, string path, string work) : ForwardingStore(store)
{
    public RocksStore InnerStore => store;

    public string Path => path;

    public override void Dispose()
    {
        try
        {
            base.Dispose();
        }
        finally
        {
            PrivateDirectory.TryDelete(work);
        }
    }
}
