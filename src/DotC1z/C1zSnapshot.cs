using System.Runtime.CompilerServices;
using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Format;
using DotC1z.Keys;
using DotC1z.Operations;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z;

/// <summary>What a <see cref="C1zSnapshot"/> was opened from.</summary>
public enum SnapshotKind
{
    /// <summary>A C1Z3 file of ours (RocksDB payload).</summary>
    C1z3,

    /// <summary>A C1Z3 file baton's Pebble engine wrote (read-only).</summary>
    BatonPebble,

    /// <summary>A legacy v1 file (zstd + SQLite; read-only).</summary>
    LegacyV1,

    /// <summary>A RocksDB store directory.</summary>
    StoreDirectory,

    /// <summary>A new, empty snapshot made by <see cref="C1zSnapshot.Create"/> (exists only until saved).</summary>
    New,
}

/// <summary>
/// The library's entry point: one c1z snapshot, whatever it was opened from — a C1Z3 file (ours or baton's
/// Pebble files), a legacy v1 file, or a store directory — with paged and streaming listings, counts, and an
/// explicit <see cref="Save"/> / <see cref="SaveAs"/>. <see cref="Dispose"/> only releases: it never writes.
/// </summary>
/// <example>
/// <code>
/// using var snapshot = C1zSnapshot.Open("sync.c1z");
/// string? token = null;
/// do
/// {
///     var page = snapshot.Page(RecordListing.GrantsByPrincipal("user", "alice"), token, pageSize: 100);
///     foreach (var grant in page.Items)
///     {
///         Console.WriteLine(grant.Entitlement.EntitlementId);
///     }
///
///     token = page.NextPageToken;
/// }
/// while (token is not null);
/// </code>
/// </example>
public sealed class C1zSnapshot : IDisposable
{
    /// <summary>The largest page a listing returns; larger requests are served in pages of this size.</summary>
    public const int MaxPageSize = 10_000;

    private readonly IC1zStore _store;
    private readonly string? _scratch;
    private bool _disposed;

    private C1zSnapshot(IC1zStore store, string? path, SnapshotKind kind, string? scratch = null)
    {
        _store = store;
        Path = path;
        Kind = kind;
        _scratch = scratch;
    }

    /// <summary>The path it was opened from (null for <see cref="SnapshotKind.New"/> until saved).</summary>
    public string? Path { get; private set; }

    /// <summary>What it was opened from.</summary>
    public SnapshotKind Kind { get; private set; }

    /// <summary>Whether writes are refused.</summary>
    public bool IsReadOnly => _store.IsReadOnly;

    /// <summary>The store underneath, for reads and writes the listings do not cover (writes need a writable open).</summary>
    public IC1zStore Store
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _store;
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/>: a C1Z3 file (ours, or baton's Pebble files), a legacy v1 file, or a store
    /// directory, told apart by the file's magic. Untrusted payloads are checked before use (a child process by
    /// default, see <see cref="C1zOpenOptions.Verification"/>).
    /// </summary>
    /// <param name="path">The file or directory.</param>
    /// <param name="options">Options (read-only by default; baton's files and v1 files are always read-only).</param>
    /// <returns>The snapshot; dispose it.</returns>
    /// <exception cref="C1zIOException">The path does not exist or cannot be read.</exception>
    /// <exception cref="C1zArchiveException">The file is not an acceptable c1z file.</exception>
    /// <exception cref="C1zFormatException">A layout this build does not read.</exception>
    /// <exception cref="C1zCorruptionException">The data inside is damaged.</exception>
    /// <example>
    /// <code>
    /// using var snapshot = C1zSnapshot.Open("sync.c1z");
    /// Console.WriteLine(snapshot.Count().Grants);
    /// </code>
    /// </example>
    public static C1zSnapshot Open(string path, C1zOpenOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new C1zOpenOptions();
        var (store, kind) = StoreOpener.OpenWithKind(path, options);
        return new C1zSnapshot(store, System.IO.Path.GetFullPath(path), kind);
    }

    /// <summary>Creates a new, empty, writable snapshot in a private scratch directory; <see cref="SaveAs"/> writes it out.</summary>
    /// <param name="tempDirectory">Where the scratch directory goes (default: the system temp directory).</param>
    /// <returns>The snapshot; dispose it (the scratch directory is removed).</returns>
    /// <exception cref="C1zIOException">The scratch store cannot be created.</exception>
    public static C1zSnapshot Create(string? tempDirectory = null)
    {
        string scratch = PrivateDirectory.CreateUnique(tempDirectory ?? System.IO.Path.GetTempPath(), "c1z-open-");
        try
        {
            var store = RocksStore.Open(System.IO.Path.Combine(scratch, "db"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
            return new C1zSnapshot(store, null, SnapshotKind.New, scratch);
        }
        catch
        {
            PrivateDirectory.TryDelete(scratch);
            throw;
        }
    }

    /// <summary>Every sync run, oldest first.</summary>
    /// <returns>The runs.</returns>
    public IReadOnlyList<SyncRunRecord> SyncRuns() => Store.ListSyncRuns();

    /// <summary>The sync listings read by default: the latest finished sync, else the latest sync.</summary>
    /// <returns>The sync.</returns>
    /// <exception cref="C1zArgumentException">The snapshot holds no sync.</exception>
    public SyncId DefaultSync() => Store.LatestFinishedSync() ?? Store.LatestSync() ?? throw new C1zArgumentException($"{Path ?? "the snapshot"} holds no sync");

    /// <summary>Record counts of a sync.</summary>
    /// <param name="syncId">The sync (default: <see cref="DefaultSync"/>).</param>
    /// <returns>The counts.</returns>
    public RecordCounts Count(SyncId? syncId = null) => Store.Count(syncId ?? DefaultSync());

    /// <summary>
    /// One page of <paramref name="listing"/>. Pass the returned <see cref="RecordPage{T}.NextPageToken"/> to get the
    /// next page; it is null after the last. Tokens are opaque and stable under concurrent writes: the next page
    /// starts strictly after the last record returned, so a record present throughout is listed exactly once.
    /// </summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="listing">What to list, e.g. <see cref="RecordListing.GrantsByEntitlement"/>.</param>
    /// <param name="pageToken">The previous page's token, or null for the first page.</param>
    /// <param name="pageSize">Records per page, 1 to <see cref="MaxPageSize"/> (larger values are served as <see cref="MaxPageSize"/>).</param>
    /// <param name="syncId">The sync (default: <see cref="DefaultSync"/>).</param>
    /// <returns>The page.</returns>
    /// <exception cref="C1zArgumentException">The page size is not positive.</exception>
    /// <exception cref="C1zInvalidPageTokenException">The token is malformed, altered, or from another listing or sync.</exception>
    public RecordPage<T> Page<T>(RecordListing<T> listing, string? pageToken = null, int pageSize = 100, SyncId? syncId = null)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(listing);
        if (pageSize <= 0)
        {
            throw new C1zArgumentException($"page size must be positive, got {pageSize}");
        }

        pageSize = Math.Min(pageSize, MaxPageSize);
        var sync = syncId ?? DefaultSync();
        string[]? after = pageToken is null ? null : PageToken.Decode(pageToken, listing, sync);
        var items = new List<T>(Math.Min(pageSize, 1024));
        bool more = false;
        foreach (var record in Store.List(sync, listing, after))
        {
            if (items.Count == pageSize)
            {
                more = true;
                break;
            }

            items.Add(record);
        }

        string? next = more ? PageToken.Encode(listing, sync, listing.SortKey(items[^1])) : null;
        return new RecordPage<T>(items, next);
    }

    /// <summary>Streams <paramref name="listing"/> in its order; the enumeration reads a consistent snapshot taken when it starts.</summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="listing">What to list.</param>
    /// <param name="syncId">The sync (default: <see cref="DefaultSync"/>).</param>
    /// <param name="cancellationToken">Stops the enumeration (<see cref="OperationCanceledException"/> at the next record).</param>
    /// <returns>The records, lazily.</returns>
    public IEnumerable<T> List<T>(RecordListing<T> listing, SyncId? syncId = null, CancellationToken cancellationToken = default)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(listing);
        var sync = syncId ?? DefaultSync();
        return Iterate(Store.List(sync, listing), cancellationToken);

        static IEnumerable<T> Iterate(IEnumerable<T> source, CancellationToken ct)
        {
            foreach (var record in source)
            {
                ct.ThrowIfCancellationRequested();
                yield return record;
            }
        }
    }

    /// <summary>
    /// <see cref="List{T}"/> as an async stream, for callers that consume records at an async boundary (a network
    /// response, a pipe). The store reads synchronously; the stream yields to the caller between records.
    /// </summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="listing">What to list.</param>
    /// <param name="syncId">The sync (default: <see cref="DefaultSync"/>).</param>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The records.</returns>
    public async IAsyncEnumerable<T> ListAsync<T>(RecordListing<T> listing, SyncId? syncId = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(listing);
        var sync = syncId ?? DefaultSync();
        int n = 0;
        foreach (var record in Store.List(sync, listing))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return record;
            if (++n % 1024 == 0)
            {
                // Let a single-threaded consumer's other work run during a long listing.
                await Task.Yield();
            }
        }
    }

    /// <summary>
    /// Writes the snapshot back to the C1Z3 file it was opened from, atomically (a store directory is durable on its
    /// own, so this only checks the snapshot is writable).
    /// </summary>
    /// <param name="cancellationToken">Stops the save; nothing changes then.</param>
    /// <exception cref="C1zReadOnlyException">The snapshot was opened read-only, or is a baton or v1 file.</exception>
    /// <exception cref="C1zArgumentException">A new snapshot has no path yet: use <see cref="SaveAs"/>.</exception>
    /// <exception cref="C1zIOException">Writing failed; the file is unchanged.</exception>
    public void Save(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Kind == SnapshotKind.New)
        {
            throw new C1zArgumentException("a new snapshot has no file yet; use SaveAs(path)");
        }

        if (IsReadOnly || Kind is SnapshotKind.BatonPebble or SnapshotKind.LegacyV1)
        {
            throw new C1zReadOnlyException(Path);
        }

        if (Kind == SnapshotKind.C1z3)
        {
            C1zFile.SaveBack(_store, null, null, cancellationToken);
        }
    }

    /// <summary>
    /// Writes every sync of the snapshot to a new C1Z3 file at <paramref name="path"/>, atomically: the file appears
    /// complete or not at all. Works for every kind (baton and v1 inputs are converted).
    /// </summary>
    /// <param name="path">The target file.</param>
    /// <param name="overwrite">Replace an existing file (atomically); otherwise an existing target is an error.</param>
    /// <param name="cancellationToken">Stops the save; nothing changes then.</param>
    /// <exception cref="C1zOutputExistsException">The target exists and <paramref name="overwrite"/> is false.</exception>
    /// <exception cref="C1zIOException">Writing failed; an existing target is unchanged.</exception>
    public void SaveAs(string path, bool overwrite = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var options = new C1zSaveOptions { ReplaceExisting = overwrite };
        if (Inner(_store) is RocksStore rocks)
        {
            C1zFile.Save(rocks, path, options, cancellationToken);
        }
        else
        {
            // Another engine (a v1 file's SQLite): copy every sync into a scratch RocksDB store, then save that.
            string scratch = PrivateDirectory.CreateUnique(System.IO.Path.GetTempPath(), "c1z-open-");
            try
            {
                using var copy = RocksStore.Open(System.IO.Path.Combine(scratch, "db"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
                foreach (var run in _store.ListSyncRuns())
                {
                    if (SyncId.TryParse(run.SyncId, out var id))
                    {
                        StoreCopy.CopySync(_store, id, copy, id, cancellationToken);
                    }
                }

                C1zFile.Save(copy, path, options, cancellationToken);
            }
            finally
            {
                PrivateDirectory.TryDelete(scratch);
            }
        }

        if (Kind == SnapshotKind.New)
        {
            Path = System.IO.Path.GetFullPath(path);
        }
    }

    /// <summary>
    /// What changed from <paramref name="baseSnapshot"/>'s default sync to <paramref name="applied"/>'s: a new snapshot
    /// holding an additions sync (records added or changed) and a deletions sync (records removed).
    /// </summary>
    /// <param name="baseSnapshot">The earlier snapshot.</param>
    /// <param name="applied">The later snapshot.</param>
    /// <param name="cancellationToken">Stops the diff.</param>
    /// <returns>The diff as a new snapshot (save it with <see cref="SaveAs"/>) and its summary.</returns>
    /// <exception cref="C1zArgumentException">A snapshot holds no sync.</exception>
    public static (C1zSnapshot Changes, DiffResult Summary) Diff(C1zSnapshot baseSnapshot, C1zSnapshot applied, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseSnapshot);
        ArgumentNullException.ThrowIfNull(applied);
        var bs = baseSnapshot.DefaultSync();
        var asy = applied.DefaultSync();

        // Streamed from both snapshots (nothing copied); the two may carry the same sync id (a file and its expanded version).
        var changes = Create();
        try
        {
            var summary = SyncDiff.Diff(new SyncSource(baseSnapshot.Store, bs), new SyncSource(applied.Store, asy), changes.Store, cancellationToken);
            return (changes, summary);
        }
        catch
        {
            changes.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Folds snapshots, oldest first, into one compacted sync of a new snapshot (docs/DESIGN.md §6): each contributes its
    /// finished syncs in sync order; a full sync resets what came before it, partial upserts overlay, partial deletions
    /// delete; between two records of one identity the later <c>discovered_at</c> wins, else the later input. The inputs
    /// are streamed, not copied.
    /// </summary>
    /// <param name="inputs">The snapshots, oldest first.</param>
    /// <param name="cancellationToken">Stops the compaction.</param>
    /// <returns>The result as a new snapshot (save it with <see cref="SaveAs"/>) and what was done.</returns>
    /// <exception cref="C1zArgumentException">No input, or an input holds no sync.</exception>
    public static (C1zSnapshot Compacted, CompactionResult Summary) Compact(IReadOnlyList<C1zSnapshot> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var sources = new List<SyncSource>();
        foreach (var input in inputs)
        {
            var syncs = SyncSource.AllOf(input.Store);
            if (syncs.Count == 0)
            {
                throw new C1zArgumentException($"{input.Path ?? "a snapshot"} holds no sync");
            }

            sources.AddRange(syncs);
        }

        var compacted = Create();
        try
        {
            return (compacted, SyncCompactor.Compact(sources, compacted.Store, cancellationToken));
        }
        catch
        {
            compacted.Dispose();
            throw;
        }
    }

    /// <summary>Releases the snapshot: closes the store and removes private scratch files. Never writes.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _store.Dispose();
        if (_scratch is not null)
        {
            PrivateDirectory.TryDelete(_scratch);
        }
    }

    private static IC1zStore Inner(IC1zStore store) => store is C1zFileStore file ? file.InnerStore : store;
}
