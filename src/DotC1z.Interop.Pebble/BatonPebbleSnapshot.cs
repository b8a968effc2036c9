using System.Text;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Pebble;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Interop.Pebble;

/// <summary>Which key shapes baton's id indexes use (the in-payload stamp <c>grant_entitlement_id_format</c>).</summary>
public enum BatonIdIndexFormat
{
    /// <summary>Format 0: entitlement and grant keys are the external ids (baton v0.15–v0.17, no stamp).</summary>
    LegacyExternalId = 0,

    /// <summary>Format 2: structural identity keys (resource type, resource, flag, tail[, principal]).</summary>
    Structural = 2,
}

/// <summary>
/// One sync as baton's Pebble engine stores it (single-sync layout, keyspace version 2), read through
/// <see cref="PebbleDatabase"/>: the stamps are checked on open (never the manifest's engine name), and each
/// record family is read in key order with its key checked against its value (docs/PEBBLE.md).
/// </summary>
public sealed class BatonPebbleSnapshot : IDisposable
{
    private readonly PebbleDatabase _db;
    private readonly string _path;
    private readonly bool _ownsDatabase;

    private BatonPebbleSnapshot(PebbleDatabase db, string path, bool ownsDatabase, BatonIdIndexFormat format, SyncRunRecord? run, SyncStatsRecord? stats)
    {
        _db = db;
        _path = path;
        _ownsDatabase = ownsDatabase;
        IdIndexFormat = format;
        SyncRun = run;
        Stats = stats;
    }

    /// <summary>The Pebble database underneath (for raw key/value reads).</summary>
    public PebbleDatabase Database => _db;

    /// <summary>The id-index format the payload's stamp names.</summary>
    public BatonIdIndexFormat IdIndexFormat { get; }

    /// <summary>The file's one sync run, or null for an empty database.</summary>
    public SyncRunRecord? SyncRun { get; }

    /// <summary>The stats sidecar baton wrote when the sync ended, if any.</summary>
    public SyncStatsRecord? Stats { get; }

    /// <summary>The sync id of <see cref="SyncRun"/>.</summary>
    public SyncId? Sync => SyncRun is null ? null : SyncId.Parse(SyncRun.SyncId);

    /// <summary>Checks the stamps and reads the sync run and stats.</summary>
    /// <param name="db">The database.</param>
    /// <param name="path">The file it came from, for messages.</param>
    /// <param name="ownsDatabase">Dispose <paramref name="db"/> with the snapshot.</param>
    /// <returns>The snapshot.</returns>
    /// <exception cref="C1zFormatException">A layout or stamp this build does not read (named in the message).</exception>
    /// <exception cref="C1zCorruptionException">A stamp, the sync run or the stats do not decode.</exception>
    public static BatonPebbleSnapshot Open(PebbleDatabase db, string path, bool ownsDatabase = true)
    {
        ArgumentNullException.ThrowIfNull(db);
        try
        {
            return OpenCore(db, path, ownsDatabase);
        }
        catch
        {
            if (ownsDatabase)
            {
                db.Dispose();
            }

            throw;
        }
    }

    private static BatonPebbleSnapshot OpenCore(PebbleDatabase db, string path, bool ownsDatabase)
    {
        bool empty;
        using (var any = db.Scan())
        {
            empty = !any.MoveNext();
        }

        if (!db.TryGet(BatonKeys.KeyspaceVersionKey, out var versionBytes))
        {
            if (empty)
            {
                return new BatonPebbleSnapshot(db, path, ownsDatabase, BatonIdIndexFormat.Structural, null, null);
            }

            throw new C1zFormatException($"{path}: the Pebble database has no keyspace_version stamp: it is baton's multi-sync layout (engine \"pebble\", baton v0.10–v0.14), which this build does not read", path);
        }

        if (!BatonKeys.TryReadStamp(versionBytes, out uint version))
        {
            throw new C1zCorruptionException($"{path}: keyspace_version stamp is {versionBytes.Length} bytes, not 4", path);
        }

        if (version != BatonKeys.SupportedKeyspaceVersion)
        {
            throw new C1zFormatException($"{path}: baton keyspace version {version} is not supported (this build reads {BatonKeys.SupportedKeyspaceVersion})", path);
        }

        var format = BatonIdIndexFormat.LegacyExternalId;
        if (db.TryGet(BatonKeys.IdFormatKey, out var formatBytes))
        {
            if (!BatonKeys.TryReadStamp(formatBytes, out uint f))
            {
                throw new C1zCorruptionException($"{path}: grant_entitlement_id_format stamp is {formatBytes.Length} bytes, not 4", path);
            }

            format = f switch
            {
                0 => BatonIdIndexFormat.LegacyExternalId,
                2 => BatonIdIndexFormat.Structural,
                _ => throw new C1zFormatException($"{path}: baton id-index format {f} is not supported (this build reads 0 and 2)", path),
            };
        }

        SyncRunRecord? run = null;
        if (db.TryGet(BatonKeys.SyncRunKey, out var runBytes))
        {
            run = Parse(SyncRunRecord.Parser, runBytes, BatonKeys.SyncRunKey, path);
            if (!SyncId.TryParse(run.SyncId, out _))
            {
                throw new C1zCorruptionException($"{path}: the sync run has an invalid sync id \"{BatonKeys.Show(Encoding.UTF8.GetBytes(run.SyncId))}\"", path);
            }
        }

        SyncStatsRecord? stats = db.TryGet(BatonKeys.StatsKey, out var statsBytes) ? Parse(SyncStatsRecord.Parser, statsBytes, BatonKeys.StatsKey, path) : null;
        return new BatonPebbleSnapshot(db, path, ownsDatabase, format, run, stats);
    }

    /// <summary>Resource types in key order.</summary>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The records.</returns>
    /// <exception cref="C1zCorruptionException">A key or value does not decode or they disagree.</exception>
    public IEnumerable<ResourceTypeRecord> ResourceTypes(CancellationToken cancellationToken = default) =>
        Read(BatonKeys.ResourceType, ResourceTypeRecord.Parser, 1, (r, e) => Is(e[0], r.ExternalId), cancellationToken);

    /// <summary>Resources in key order.</summary>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The records.</returns>
    /// <exception cref="C1zCorruptionException">A key or value does not decode or they disagree.</exception>
    public IEnumerable<ResourceRecord> Resources(CancellationToken cancellationToken = default) =>
        Read(BatonKeys.Resource, ResourceRecord.Parser, 2, (r, e) => Is(e[0], r.ResourceTypeId) && Is(e[1], r.ResourceId), cancellationToken);

    /// <summary>Entitlements in key order.</summary>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The records.</returns>
    /// <exception cref="C1zCorruptionException">A key or value does not decode or they disagree.</exception>
    public IEnumerable<EntitlementRecord> Entitlements(CancellationToken cancellationToken = default) => IdIndexFormat == BatonIdIndexFormat.Structural
        ? Read(BatonKeys.Entitlement, EntitlementRecord.Parser, 4, (r, e) => r.Resource is { } res && Is(e[0], res.ResourceTypeId) && Is(e[1], res.ResourceId) && BatonKeys.IdentityMatches(e[0], e[1], e[2], e[3], r.ExternalId), cancellationToken)
        : Read(BatonKeys.Entitlement, EntitlementRecord.Parser, 1, (r, e) => Is(e[0], r.ExternalId), cancellationToken);

    /// <summary>Grants in key order.</summary>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The records.</returns>
    /// <exception cref="C1zCorruptionException">A key or value does not decode or they disagree.</exception>
    public IEnumerable<GrantRecord> Grants(CancellationToken cancellationToken = default) => IdIndexFormat == BatonIdIndexFormat.Structural
        ? Read(BatonKeys.Grant, GrantRecord.Parser, 6, GrantKeyMatches, cancellationToken)
        : Read(BatonKeys.Grant, GrantRecord.Parser, 1, (r, e) => Is(e[0], r.ExternalId), cancellationToken);

    /// <summary>Assets in key order.</summary>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The records.</returns>
    /// <exception cref="C1zCorruptionException">A key or value does not decode or they disagree.</exception>
    public IEnumerable<AssetRecord> Assets(CancellationToken cancellationToken = default) =>
        Read(BatonKeys.Asset, AssetRecord.Parser, 1, (r, e) => Is(e[0], r.ExternalId), cancellationToken);

    /// <summary>Connector session values (not part of our record model; listed for completeness).</summary>
    /// <param name="cancellationToken">Stops the enumeration.</param>
    /// <returns>The records.</returns>
    /// <exception cref="C1zCorruptionException">A key or value does not decode or they disagree.</exception>
    public IEnumerable<SessionRecord> Sessions(CancellationToken cancellationToken = default) =>
        Read(BatonKeys.Session, SessionRecord.Parser, 2, (r, e) => Is(e[0], r.SyncId) && Is(e[1], r.Key), cancellationToken);

    /// <summary>Counts every record family by reading it.</summary>
    /// <param name="cancellationToken">Stops the count.</param>
    /// <returns>The counts.</returns>
    /// <exception cref="C1zCorruptionException">A key or value does not decode or they disagree.</exception>
    public RecordCounts CountByReading(CancellationToken cancellationToken = default) => new(
        ResourceTypes(cancellationToken).LongCount(),
        Resources(cancellationToken).LongCount(),
        Entitlements(cancellationToken).LongCount(),
        Grants(cancellationToken).LongCount(),
        Assets(cancellationToken).LongCount());

    /// <summary>
    /// Reads every record (each key checked against its value) and compares what it found with what baton
    /// recorded: the stats sidecar's counts per kind and per resource type, and the grant index families
    /// (one by-principal row per grant in id-index format 2).
    /// </summary>
    /// <param name="cancellationToken">Stops the check.</param>
    /// <returns>The counts read and the disagreements found (empty when consistent).</returns>
    /// <exception cref="C1zCorruptionException">A record does not decode or disagrees with its key.</exception>
    public (RecordCounts Counts, long IndexEntries, IReadOnlyList<string> Problems) Verify(CancellationToken cancellationToken = default)
    {
        var problems = new List<string>();
        var resourcesByType = new Dictionary<string, long>(StringComparer.Ordinal);
        long resources = 0;
        foreach (var r in Resources(cancellationToken))
        {
            resources++;
            resourcesByType[r.ResourceTypeId] = resourcesByType.GetValueOrDefault(r.ResourceTypeId) + 1;
        }

        var counts = new RecordCounts(
            ResourceTypes(cancellationToken).LongCount(), resources, Entitlements(cancellationToken).LongCount(),
            Grants(cancellationToken).LongCount(), Assets(cancellationToken).LongCount());
        long byPrincipal = CountKeys([BatonKeys.Root, BatonKeys.Index, 0x04, 0], [BatonKeys.Root, BatonKeys.Index, 0x04, 1], cancellationToken);

        // One pass over the whole keyspace reads every table, those whose keys are all deleted included.
        _ = CountKeys(default, default, cancellationToken);
        if (IdIndexFormat == BatonIdIndexFormat.Structural && byPrincipal != counts.Grants)
        {
            problems.Add($"grant.by_principal has {byPrincipal} rows for {counts.Grants} grants");
        }

        if (Stats is { } st)
        {
            void Expect(string what, long recorded, long actual)
            {
                if (recorded != actual)
                {
                    problems.Add($"stats sidecar says {recorded} {what}, the file holds {actual}");
                }
            }

            Expect("resource types", st.ResourceTypes, counts.ResourceTypes);
            Expect("resources", st.Resources, counts.Resources);
            Expect("entitlements", st.Entitlements, counts.Entitlements);
            Expect("grants", st.Grants, counts.Grants);
            Expect("assets", st.Assets, counts.Assets);
            foreach (var (type, n) in st.ResourcesByResourceType)
            {
                Expect($"resources of type {type}", n, resourcesByType.GetValueOrDefault(type));
            }
        }

        return (counts, byPrincipal, problems);
    }

    private long CountKeys(ReadOnlySpan<byte> lower, ReadOnlySpan<byte> upper, CancellationToken cancellationToken)
    {
        using var cursor = _db.Scan(lower, upper, cancellationToken);
        long n = 0;
        while (cursor.MoveNext())
        {
            n++;
        }

        return n;
    }

    /// <summary>
    /// Copies the sync into <paramref name="target"/> under its own sync id, through the target's bulk path
    /// (nothing is visible there until the copy completes), then writes the sync run.
    /// </summary>
    /// <param name="target">The store to write.</param>
    /// <param name="cancellationToken">Stops the copy; the target is then unchanged.</param>
    /// <returns>The counts copied.</returns>
    /// <exception cref="C1zCorruptionException">A record does not decode.</exception>
    public RecordCounts CopyTo(IC1zStore target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (SyncRun is null || Sync is not { } sync)
        {
            return default;
        }

        RecordCounts counts;
        using (var loader = target.BeginBulkLoad(sync))
        {
            counts = Environment.ProcessorCount < 2
                ? StoreCopy.Load(loader, ResourceTypes(cancellationToken), Resources(cancellationToken), Entitlements(cancellationToken), Grants(cancellationToken), Assets(cancellationToken), cancellationToken)
                : LoadPipelined(loader, cancellationToken);
        }

        target.PutSyncRun(SyncRun.Clone());
        return counts;
    }

    // Records per hand-over between the reading thread and the loading thread, and hand-overs in flight.
    private const int BatchRecords = 512, BatchesInFlight = 8;

    /// <summary>A run of decoded records of one kind (0 resource types … 4 assets), handed to the loading thread.</summary>
    private sealed record Batch(int Kind, IMessage[] Records, int Count);

    /// <summary>
    /// <see cref="StoreCopy.Load"/> with the reading (table decode, record parse, key check) on a second
    /// thread: the loader receives the same records in the same order, in batches, while the next ones
    /// are decoded. A read error reaches the caller as it would without the second thread, after the
    /// records before it were added (the loader is then disposed without completing, as before).
    /// </summary>
    private RecordCounts LoadPipelined(IBulkLoader loader, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var queue = new System.Collections.Concurrent.BlockingCollection<Batch>(BatchesInFlight);
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? readError = null;
        var reader = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    Produce(queue, 0, ResourceTypes(stop.Token), stop.Token);
                    Produce(queue, 1, Resources(stop.Token), stop.Token);
                    Produce(queue, 2, Entitlements(stop.Token), stop.Token);
                    Produce(queue, 3, Grants(stop.Token), stop.Token);
                    Produce(queue, 4, Assets(stop.Token), stop.Token);
                }
                catch (Exception ex)
                {
                    readError = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex);
                }
                finally
                {
                    queue.CompleteAdding();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        try
        {
            Batch? pending = null;
            IEnumerable<T> Of<T>(int kind)
                where T : IMessage
            {
                while (true)
                {
                    if (pending is null)
                    {
                        if (!queue.TryTake(out pending, Timeout.Infinite, stop.Token))
                        {
                            // Every record was handed over, or the reader failed: its error surfaces here,
                            // where the sequential read would have thrown it.
                            reader.Wait(CancellationToken.None);
                            readError?.Throw();
                            yield break;
                        }
                    }

                    // Kinds arrive in order: a later kind ends this one.
                    if (pending.Kind != kind)
                    {
                        yield break;
                    }

                    var batch = pending;
                    pending = null;
                    for (int i = 0; i < batch.Count; i++)
                    {
                        yield return (T)batch.Records[i];
                    }
                }
            }

            return StoreCopy.Load(loader, Of<ResourceTypeRecord>(0), Of<ResourceRecord>(1), Of<EntitlementRecord>(2), Of<GrantRecord>(3), Of<AssetRecord>(4), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Reported against the caller's token, whichever thread noticed first.
            cancellationToken.ThrowIfCancellationRequested();
            throw;
        }
        finally
        {
            // The reader stops (if it has not finished) before the database can go away.
            stop.Cancel();
            reader.Wait(CancellationToken.None);
        }
    }

    private static void Produce<T>(System.Collections.Concurrent.BlockingCollection<Batch> queue, int kind, IEnumerable<T> records, CancellationToken cancellationToken)
        where T : IMessage
    {
        var items = new IMessage[BatchRecords];
        int n = 0;
        foreach (var record in records)
        {
            items[n++] = record;
            if (n == items.Length)
            {
                queue.Add(new Batch(kind, items, n), cancellationToken);
                items = new IMessage[BatchRecords];
                n = 0;
            }
        }

        if (n > 0)
        {
            queue.Add(new Batch(kind, items, n), cancellationToken);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_ownsDatabase)
        {
            _db.Dispose();
        }
    }

    private static bool GrantKeyMatches(GrantRecord r, KeyTuple e)
    {
        if (r.Entitlement is not { } ent || r.Principal is not { } p)
        {
            return false;
        }

        return Is(e[0], ent.ResourceTypeId) && Is(e[1], ent.ResourceId) && BatonKeys.IdentityMatches(e[0], e[1], e[2], e[3], ent.EntitlementId)
            && Is(e[4], p.ResourceTypeId) && Is(e[5], p.ResourceId);
    }

    private static bool Is(ReadOnlySpan<byte> element, string value) => BatonKeys.Is(element, value);

    private IEnumerable<T> Read<T>(byte family, MessageParser<T> parser, int elements, Func<T, KeyTuple, bool> keyMatches, CancellationToken cancellationToken)
        where T : IMessage<T>
    {
        var (lower, upper) = BatonKeys.Family(family);
        var split = new KeyTuple();
        using var cursor = _db.Scan(lower, upper, cancellationToken);
        long n = 0;
        while (cursor.MoveNext())
        {
            if ((++n & 0x3FFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            var key = cursor.Key;
            var record = Parse(parser, cursor.Value, key, _path);
            if (!BatonKeys.TrySplit(key[lower.Length..], elements, split) || !keyMatches(record, split))
            {
                throw new C1zCorruptionException($"{_path}: key {BatonKeys.Show(key)} does not match its {typeof(T).Name} (id-index format {(int)IdIndexFormat})", _path);
            }

            yield return record;
        }
    }

    private static T Parse<T>(MessageParser<T> parser, ReadOnlySpan<byte> value, ReadOnlySpan<byte> key, string path)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new C1zCorruptionException($"{path}: the {typeof(T).Name} at key {BatonKeys.Show(key)} does not decode: {ex.Message}", path, ex);
        }
    }
}
