using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations;

/// <summary>The two syncs a diff writes.</summary>
/// <param name="Additions">Records of applied that base lacks or holds with another value (PARTIAL_UPSERTS).</param>
/// <param name="Deletions">Identity-only records of base that applied lacks (PARTIAL_DELETIONS).</param>
/// <param name="AddedCounts">Counts in the additions sync.</param>
/// <param name="DeletedCounts">Counts in the deletions sync.</param>
public sealed record DiffResult(SyncId Additions, SyncId Deletions, RecordCounts AddedCounts, RecordCounts DeletedCounts);

/// <summary>What changed in one record kind.</summary>
/// <param name="Kind">The kind.</param>
/// <param name="Created">Identities only applied holds.</param>
/// <param name="Deleted">Identities only base holds.</param>
/// <param name="Modified">Identities both hold with different content (sync id aside).</param>
/// <param name="ChangedFields">For modified records: how many changed each field (proto field name).</param>
public sealed record KindChanges(RecordKindInfo Kind, long Created, long Deleted, long Modified, IReadOnlyDictionary<string, long> ChangedFields);

/// <summary>Receives a diff's records as the merge finds them (identity order within a kind, kinds in <see cref="RecordKinds.All"/> order).</summary>
public interface IDiffVisitor
{
    /// <summary>A record only applied holds.</summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="kind">Its kind.</param>
    /// <param name="record">The applied record.</param>
    void Created<T>(RecordKindInfo<T> kind, T record)
        where T : class, IMessage<T>, new();

    /// <summary>A record only base holds.</summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="kind">Its kind.</param>
    /// <param name="record">The base record.</param>
    void Deleted<T>(RecordKindInfo<T> kind, T record)
        where T : class, IMessage<T>, new();

    /// <summary>A record both hold with different content.</summary>
    /// <typeparam name="T">The record type.</typeparam>
    /// <param name="kind">Its kind.</param>
    /// <param name="before">The base record (sync id cleared).</param>
    /// <param name="after">The applied record (sync id cleared).</param>
    /// <param name="changedFields">The proto names of the fields that differ, in field-number order.</param>
    void Modified<T>(RecordKindInfo<T> kind, T before, T after, IReadOnlyList<string> changedFields)
        where T : class, IMessage<T>, new();
}

/// <summary>
/// Diff between two syncs, which may live in different stores of any kind (docs/DESIGN.md §6): upstream's
/// additions-only contract (what applied adds or changes), plus — beyond upstream — the identities applied
/// removed, and a report of created / deleted / modified records with the fields that changed. Every form is one
/// merge-join of the two identity-ordered scans per kind: nothing is copied, memory holds one record per side.
/// Values are compared with their sync ids aside, so equal records never show up as changes, and two inputs may
/// carry the same sync id.
/// </summary>
public static class SyncDiff
{
    /// <summary>Writes the diff of two syncs of one store as two new syncs of <paramref name="target"/>.</summary>
    /// <param name="source">Store with both syncs.</param>
    /// <param name="baseSync">The older sync.</param>
    /// <param name="appliedSync">The newer sync.</param>
    /// <param name="target">Where the additions and deletions syncs go (may be <paramref name="source"/>).</param>
    /// <param name="cancellationToken">Stops the diff; nothing is visible then.</param>
    /// <returns>The two syncs and their counts.</returns>
    /// <exception cref="C1zArgumentException">A sync does not exist.</exception>
    public static DiffResult Diff(IC1zStore source, SyncId baseSync, SyncId appliedSync, IC1zStore target, CancellationToken cancellationToken = default) =>
        Diff(new SyncSource(source, baseSync), new SyncSource(source, appliedSync), target, cancellationToken);

    /// <summary>
    /// Writes the diff <paramref name="baseSource"/> → <paramref name="applied"/> as two new syncs of
    /// <paramref name="target"/>: additions (PARTIAL_UPSERTS) and deletions (PARTIAL_DELETIONS, identities only).
    /// One merge pass reads both inputs; the additions stream into the first bulk load and the (usually few)
    /// deletion identities spill to a temporary file that feeds the second, since an engine runs one bulk load at a time.
    /// </summary>
    /// <param name="baseSource">The older sync.</param>
    /// <param name="applied">The newer sync.</param>
    /// <param name="target">Where the two syncs go (may be one of the inputs' stores).</param>
    /// <param name="cancellationToken">Stops the diff; nothing is visible then.</param>
    /// <returns>The two syncs and their counts.</returns>
    /// <exception cref="C1zArgumentException">A sync does not exist.</exception>
    /// <exception cref="C1zIOException">The temporary spill file cannot be written.</exception>
    public static DiffResult Diff(SyncSource baseSource, SyncSource applied, IC1zStore target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        var baseRun = baseSource.Run();
        _ = applied.Run();
        var additions = target.NewUniqueSyncId();
        SyncId deletions;
        do
        {
            deletions = target.NewUniqueSyncId();
        }
        while (deletions == additions);

        var added = new long[RecordKinds.All.Count];
        var deleted = new long[RecordKinds.All.Count];
        using (var spill = new RecordSpill())
        {
            using (var loader = target.BeginBulkLoad(additions))
            {
                var writer = new SyncWriter(loader, spill, added, deleted);
                Compare(baseSource, applied, writer, cancellationToken);
                loader.Complete(cancellationToken);
            }

            using (var loader = target.BeginBulkLoad(deletions))
            {
                spill.ReplayInto(loader, cancellationToken);
                loader.Complete(cancellationToken);
            }
        }

        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        string parent = baseRun.SyncId;
        target.PutSyncRun(new SyncRunRecord { SyncId = additions.ToString(), Type = SyncType.PartialUpserts, ParentSyncId = parent, LinkedSyncId = deletions.ToString(), StartedAt = now, EndedAt = now });
        target.PutSyncRun(new SyncRunRecord { SyncId = deletions.ToString(), Type = SyncType.PartialDeletions, ParentSyncId = parent, LinkedSyncId = additions.ToString(), StartedAt = now, EndedAt = now });
        return new DiffResult(additions, deletions, RecordKindInfo.Counts(added), RecordKindInfo.Counts(deleted));
    }

    /// <summary>
    /// Compares two syncs kind by kind and reports every created, deleted and modified record to
    /// <paramref name="visitor"/> (when given), with the fields that changed.
    /// </summary>
    /// <param name="baseSource">The older sync.</param>
    /// <param name="applied">The newer sync.</param>
    /// <param name="visitor">Receives the changed records, or null for counts only.</param>
    /// <param name="cancellationToken">Stops the comparison.</param>
    /// <returns>Per kind, in <see cref="RecordKinds.All"/> order: what changed.</returns>
    /// <exception cref="C1zArgumentException">A sync does not exist.</exception>
    public static IReadOnlyList<KindChanges> Compare(SyncSource baseSource, SyncSource applied, IDiffVisitor? visitor, CancellationToken cancellationToken = default)
    {
        _ = baseSource.Run();
        _ = applied.Run();
        var comparer = new KindComparer(baseSource, applied, visitor, cancellationToken);
        foreach (var kind in RecordKinds.All)
        {
            kind.Accept(comparer);
        }

        return comparer.Changes;
    }

    /// <summary>The proto names of the fields (sync id aside) in which two records of one type differ.</summary>
    /// <param name="before">One record.</param>
    /// <param name="after">The other.</param>
    /// <returns>Field names in field-number order.</returns>
    public static IReadOnlyList<string> ChangedFields(IMessage before, IMessage after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var changed = new List<string>();
        foreach (var field in before.Descriptor.Fields.InFieldNumberOrder())
        {
            if (field.Name == "sync_id")
            {
                continue;
            }

            if (!Equals(field.Accessor.GetValue(before), field.Accessor.GetValue(after)))
            {
                changed.Add(field.Name);
            }
        }

        return changed;
    }

    private sealed class KindComparer(SyncSource baseSource, SyncSource applied, IDiffVisitor? visitor, CancellationToken ct) : IRecordKindVisitor
    {
        public List<KindChanges> Changes { get; } = [];

        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, IMessage<T>, new()
        {
            if (kind is RecordKindInfo<GrantRecord> grants && TryCompareEncodedGrants(grants))
            {
                return;
            }

            long n = 0;
            long created = 0;
            long deleted = 0;
            long modified = 0;
            var fields = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var (side, b, a) in SortedMerge.Join(Prefetch.Scan(kind, baseSource, ct), Prefetch.Scan(kind, applied, ct), kind.IdentityOrder))
            {
                switch (side)
                {
                    case MergeSide.AppliedOnly:
                        created++;
                        visitor?.Created(kind, a!);
                        break;
                    case MergeSide.BaseOnly:
                        deleted++;
                        visitor?.Deleted(kind, b!);
                        break;
                    default:
                        if (Modified(kind, b!, a!, fields, visitor))
                        {
                            modified++;
                        }

                        break;
                }

                if ((++n & 0x3FFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }
            }

            Changes.Add(new KindChanges(kind, created, deleted, modified, fields));
        }

        /// <summary>Two records of one identity: when their content differs, counts the fields that changed and tells the visitor.</summary>
        private static bool Modified<T>(RecordKindInfo<T> kind, T before, T after, SortedDictionary<string, long> fields, IDiffVisitor? visitor)
            where T : class, IMessage<T>, new()
        {
            if (kind.SameContent(before, after))
            {
                return false;
            }

            var changed = ChangedFields(before, after);
            foreach (string f in changed)
            {
                fields[f] = fields.GetValueOrDefault(f) + 1;
            }

            visitor?.Modified(kind, before, after, changed);
            return true;
        }

        /// <summary>
        /// The byte-level road for grants, taken when both stores hand out their grants as stored and nobody needs them in
        /// identity order as records (counts only, or writing the two syncs): equal bytes are equal grants, so only
        /// the grants that differ are decoded, and created ones go to the additions load as they are.
        /// </summary>
        private bool TryCompareEncodedGrants(RecordKindInfo<GrantRecord> kind)
        {
            var sink = visitor as SyncWriter;
            if ((visitor is not null && sink is null) || !baseSource.Store.TryOpenEncodedGrants(baseSource.Sync, out var b))
            {
                return false;
            }

            using (b)
            {
                if (!applied.Store.TryOpenEncodedGrants(applied.Sync, out var a))
                {
                    return false;
                }

                using (a)
                {
                    long n = 0, created = 0, deleted = 0, modified = 0;
                    var fields = new SortedDictionary<string, long>(StringComparer.Ordinal);
                    bool hasBase = b.MoveNext(), hasApplied = a.MoveNext();
                    while (hasBase || hasApplied)
                    {
                        int order = !hasBase ? 1 : !hasApplied ? -1 : b.Id.SequenceCompareTo(a.Id);
                        if (order < 0)
                        {
                            deleted++;
                            sink?.Deleted(kind, kind.Codec.Decode(b.Value));
                            hasBase = b.MoveNext();
                        }
                        else if (order > 0)
                        {
                            created++;
                            sink?.CreatedAsStored(kind, a.Value);
                            hasApplied = a.MoveNext();
                        }
                        else
                        {
                            if (b.Value.SequenceEqual(a.Value))
                            {
                                // Equal bytes, equal grants: most of a diff, compared without parsing.
                            }
                            else if (sink is not null && ReferencesDiffer(b.Value, a.Value))
                            {
                                // Another entitlement or principal: different grants whatever else they hold, and the
                                // writer counts no fields, so nothing is decoded (a file whose every grant moved
                                // otherwise decoded two records per grant, and the garbage grew the heap).
                                modified++;
                                sink.ModifiedAsStored(kind, a.Value);
                            }
                            else
                            {
                                // Different bytes can still encode equal grants (another field order): decode to be sure.
                                var before = kind.Codec.Decode(b.Value);
                                var after = kind.Codec.Decode(a.Value);
                                if (Modified(kind, before, after, fields, sink))
                                {
                                    modified++;
                                }
                            }

                            hasBase = b.MoveNext();
                            hasApplied = a.MoveNext();
                        }

                        if ((++n & 0x3FFF) == 0)
                        {
                            ct.ThrowIfCancellationRequested();
                        }
                    }

                    Changes.Add(new KindChanges(kind, created, deleted, modified, fields));
                    return true;
                }
            }
        }
    }

    /// <summary>
    /// Whether two encoded grants of one id reference another entitlement or principal (or flag expansion otherwise),
    /// read in place. False when either does not parse: the decoding road then reports it.
    /// </summary>
    private static bool ReferencesDiffer(ReadOnlySpan<byte> before, ReadOnlySpan<byte> after) =>
        GrantRow.TryParse(before, out var b) && GrantRow.TryParse(after, out var a) && !GrantRow.SameReferences(b, a);

    /// <summary>Writes a comparison as syncs: created and modified records to the additions loader, deleted identities to the spill.</summary>
    private sealed class SyncWriter(IBulkLoader additions, RecordSpill deletions, long[] added, long[] deleted) : IDiffVisitor
    {
        public void Created<T>(RecordKindInfo<T> kind, T record)
            where T : class, IMessage<T>, new()
        {
            kind.Add(additions, record);
            added[RecordKinds.IndexOf(kind)]++;
        }

        /// <summary>A created grant in its stored encoding: copied as it is when the additions load takes that.</summary>
        public void CreatedAsStored(RecordKindInfo<GrantRecord> kind, ReadOnlySpan<byte> value)
        {
            if (additions.AcceptsEncodedGrants)
            {
                additions.AddEncodedGrant(value);
                added[RecordKinds.IndexOf(kind)]++;
            }
            else
            {
                Created(kind, kind.Codec.Decode(value));
            }
        }

        /// <summary>A modified grant's applied version in its stored encoding.</summary>
        public void ModifiedAsStored(RecordKindInfo<GrantRecord> kind, ReadOnlySpan<byte> value) => CreatedAsStored(kind, value);

        public void Deleted<T>(RecordKindInfo<T> kind, T record)
            where T : class, IMessage<T>, new()
        {
            deletions.Add(kind, kind.IdentityOnly(record));
            deleted[RecordKinds.IndexOf(kind)]++;
        }

        public void Modified<T>(RecordKindInfo<T> kind, T before, T after, IReadOnlyList<string> changedFields)
            where T : class, IMessage<T>, new()
        {
            kind.Add(additions, after);
            added[RecordKinds.IndexOf(kind)]++;
        }
    }
}

/// <summary>
/// Records parked in a temporary file (deleted on close) to be replayed in order later: bounded memory for a
/// stream that must wait for another bulk load to finish. Each entry is a kind index, a length and the record's
/// canonical encoding.
/// </summary>
internal sealed class RecordSpill : IDisposable
{
    private FileStream? _file;

    public void Add<T>(RecordKindInfo<T> kind, T record)
        where T : class, IMessage<T>, new()
    {
        _file ??= Open();
        byte[] bytes = kind.Codec.ToArray(record);
        Span<byte> head = stackalloc byte[5];
        head[0] = (byte)RecordKinds.IndexOf(kind);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(head[1..], bytes.Length);
        _file.Write(head);
        _file.Write(bytes);
    }

    public void ReplayInto(IBulkLoader loader, CancellationToken ct)
    {
        if (_file is null)
        {
            return;
        }

        _file.Flush();
        _file.Position = 0;
        var replay = new Replay(_file, loader);
        Span<byte> head = stackalloc byte[5];
        long n = 0;
        while (_file.Position < _file.Length)
        {
            _file.ReadExactly(head);
            replay.Length = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(head[1..]);
            RecordKinds.All[head[0]].Accept(replay);
            if ((++n & 0x3FFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
        }
    }

    public void Dispose() => _file?.Dispose();

    private static FileStream Open()
    {
        try
        {
            return new FileStream(Path.Combine(Path.GetTempPath(), "dotc1z-spill-" + Guid.NewGuid().ToString("N")), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, System.IO.FileOptions.DeleteOnClose);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new C1zIOException("cannot create a temporary spill file: " + ex.Message, Path.GetTempPath(), ex);
        }
    }

    private sealed class Replay(FileStream file, IBulkLoader loader) : IRecordKindVisitor
    {
        public int Length { get; set; }

        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, IMessage<T>, new()
        {
            byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Length);
            try
            {
                file.ReadExactly(buffer, 0, Length);
                kind.Add(loader, kind.Codec.Decode(buffer.AsSpan(0, Length)));
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
