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
            Diff(source.ResourceTypes(baseSync), source.ResourceTypes(appliedSync), SortedMerge.ResourceTypeOrder, CodecRegistry.ResourceType, static r => r.SyncId = string.Empty,
                static r => new ResourceTypeRecord { ExternalId = r.ExternalId }, loader.Add, upserts, ref counts[0], cancellationToken);
            Diff(source.Resources(baseSync), source.Resources(appliedSync), SortedMerge.ResourceOrder, CodecRegistry.Resource, static r => r.SyncId = string.Empty,
                static r => new ResourceRecord { ResourceTypeId = r.ResourceTypeId, ResourceId = r.ResourceId }, loader.Add, upserts, ref counts[1], cancellationToken);
            Diff(source.Entitlements(baseSync), source.Entitlements(appliedSync), SortedMerge.EntitlementOrder, CodecRegistry.Entitlement, static r => r.SyncId = string.Empty,
                static r => new EntitlementRecord { ExternalId = r.ExternalId }, loader.Add, upserts, ref counts[2], cancellationToken);
            Diff(source.Grants(baseSync), source.Grants(appliedSync), SortedMerge.GrantOrder, CodecRegistry.Grant, static r => r.SyncId = string.Empty,
                static r => new GrantRecord { ExternalId = r.ExternalId }, loader.Add, upserts, ref counts[3], cancellationToken);
            Diff(source.Assets(baseSync), source.Assets(appliedSync), SortedMerge.AssetOrder, CodecRegistry.Asset, static r => r.SyncId = string.Empty,
                static r => new AssetRecord { ExternalId = r.ExternalId }, loader.Add, upserts, ref counts[4], cancellationToken);
            loader.Complete(cancellationToken);
        }

        var now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        target.PutSyncRun(new SyncRunRecord { SyncId = additions.ToString(), Type = SyncType.PartialUpserts, ParentSyncId = baseSync.ToString(), LinkedSyncId = deletions.ToString(), StartedAt = now, EndedAt = now });
        target.PutSyncRun(new SyncRunRecord { SyncId = deletions.ToString(), Type = SyncType.PartialDeletions, ParentSyncId = baseSync.ToString(), LinkedSyncId = additions.ToString(), StartedAt = now, EndedAt = now });
        return new DiffResult(additions, deletions, new RecordCounts(added[0], added[1], added[2], added[3], added[4]), new RecordCounts(deleted[0], deleted[1], deleted[2], deleted[3], deleted[4]));
    }

    private static void Diff<T>(IEnumerable<T> baseRecords, IEnumerable<T> appliedRecords, Comparison<T> order, DirectCodec<T> codec, Action<T> clearSync,
        Func<T, T> identityOnly, Action<T> add, bool upserts, ref long count, CancellationToken ct)
        where T : class, IMessage<T>, new()
    {
        long n = 0;
        foreach (var (side, b, a) in SortedMerge.Join(baseRecords, appliedRecords, order))
        {
            if (upserts && (side == MergeSide.AppliedOnly || (side == MergeSide.Both && !Canonical(codec, b!, clearSync).AsSpan().SequenceEqual(Canonical(codec, a!, clearSync)))))
            {
                add(a!);
                count++;
            }
            else if (!upserts && side == MergeSide.BaseOnly)
            {
                add(identityOnly(b!));
                count++;
            }

            if ((++n & 0x3FFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }
        }
    }

    private static byte[] Canonical<T>(DirectCodec<T> codec, T record, Action<T> clearSync)
        where T : class, IMessage<T>, new()
    {
        var copy = record.Clone();
        clearSync(copy);
        return codec.ToArray(copy);
    }
}
