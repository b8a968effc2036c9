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

/// <summary>
/// Diff between two syncs: upstream's additions-only contract (what applied adds or changes), plus —
/// beyond upstream — the identities applied removed. Values are compared by their canonical encoding
/// (sync id cleared), so equal records never show up as changes.
/// </summary>
public static class SyncDiff
{
    /// <summary>Writes the diff of <paramref name="baseSync"/> → <paramref name="appliedSync"/> of <paramref name="source"/> as two new syncs of <paramref name="target"/>.</summary>
    /// <param name="source">Store with both syncs.</param>
    /// <param name="baseSync">The older sync.</param>
    /// <param name="appliedSync">The newer sync.</param>
    /// <param name="target">Where the additions and deletions syncs go (may be <paramref name="source"/>).</param>
    /// <param name="cancellationToken">Stops the diff; nothing is visible then.</param>
    /// <returns>The two syncs and their counts.</returns>
    /// <exception cref="C1zArgumentException">A sync does not exist.</exception>
    public static DiffResult Diff(IC1zStore source, SyncId baseSync, SyncId appliedSync, IC1zStore target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (!source.TryGetSyncRun(baseSync, out _) || !source.TryGetSyncRun(appliedSync, out _))
        {
            throw new C1zArgumentException("diff needs both syncs to exist in the source store");
        }

        var additions = target.NewUniqueSyncId();
        SyncId deletions;
        do
        {
            deletions = target.NewUniqueSyncId();
        }
        while (deletions == additions);

        // Two passes, one bulk load each: engines allow one bulk load at a time, and each pass is a
        // constant-memory merge of two ordered scans.
        var added = new long[5];
        var deleted = new long[5];
        foreach (bool upserts in new[] { true, false })
        {
            var counts = upserts ? added : deleted;
            using var loader = target.BeginBulkLoad(upserts ? additions : deletions);
            var differ = new KindDiffer(source, baseSync, appliedSync, loader, upserts, counts, cancellationToken);
            foreach (var kind in RecordKinds.All)
            {
                kind.Accept(differ);
            }

            loader.Complete(cancellationToken);
        }

        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        target.PutSyncRun(new SyncRunRecord { SyncId = additions.ToString(), Type = SyncType.PartialUpserts, ParentSyncId = baseSync.ToString(), LinkedSyncId = deletions.ToString(), StartedAt = now, EndedAt = now });
        target.PutSyncRun(new SyncRunRecord { SyncId = deletions.ToString(), Type = SyncType.PartialDeletions, ParentSyncId = baseSync.ToString(), LinkedSyncId = additions.ToString(), StartedAt = now, EndedAt = now });
        return new DiffResult(additions, deletions, RecordKindInfo.Counts(added), RecordKindInfo.Counts(deleted));
    }

    /// <summary>
    /// One kind: a merge-join of the two identity-ordered scans. The upserts pass keeps applied records that are new
    /// or differ (sync id aside); the deletions pass keeps the identity of base records the applied side lacks.
    /// </summary>
    private sealed class KindDiffer(IC1zReader source, SyncId baseSync, SyncId appliedSync, IBulkLoader loader, bool upserts, long[] counts, CancellationToken ct) : IRecordKindVisitor
    {
        private int _kind;

        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, IMessage<T>, new()
        {
            long n = 0;
            long kept = 0;
            foreach (var (side, b, a) in SortedMerge.Join(kind.Scan(source, baseSync), kind.Scan(source, appliedSync), kind.IdentityOrder))
            {
                if (upserts && (side == MergeSide.AppliedOnly || (side == MergeSide.Both && !Canonical(kind, b!).AsSpan().SequenceEqual(Canonical(kind, a!)))))
                {
                    kind.Add(loader, a!);
                    kept++;
                }
                else if (!upserts && side == MergeSide.BaseOnly)
                {
                    kind.Add(loader, kind.IdentityOnly(b!));
                    kept++;
                }

                if ((++n & 0x3FFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }
            }

            counts[_kind++] = kept;
        }

        private static byte[] Canonical<T>(RecordKindInfo<T> kind, T record)
            where T : class, IMessage<T>, new()
        {
            // The sync id inside a record is the sync it was read from: compare everything else.
            var copy = record.Clone();
            kind.ClearSync(copy);
            return kind.Codec.ToArray(copy);
        }
    }
}
