using DotC1z.Keys;

namespace DotC1z.Storage;

/// <summary>Copies whole syncs between stores through the target's bulk path.</summary>
public static class StoreCopy
{
    /// <summary>
    /// Copies every record of <paramref name="sourceSync"/> into <paramref name="targetSync"/> of
    /// <paramref name="target"/> (the sync run record is copied too, re-keyed to the target sync), in one
    /// bulk load: nothing is visible in the target until the copy completes.
    /// </summary>
    /// <param name="source">Store to read.</param>
    /// <param name="sourceSync">Sync to copy.</param>
    /// <param name="target">Store to write.</param>
    /// <param name="targetSync">Sync id in the target (often the same id).</param>
    /// <param name="cancellationToken">Stops the copy; the target is then unchanged.</param>
    /// <returns>The counts copied.</returns>
    /// <exception cref="Errors.C1zArgumentException">The source has no such sync run.</exception>
    public static RecordCounts CopySync(IC1zStore source, SyncId sourceSync, IC1zStore target, SyncId targetSync, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        if (!source.TryGetSyncRun(sourceSync, out var run))
        {
            throw new Errors.C1zArgumentException($"no sync run {sourceSync} in the source store");
        }

        RecordCounts counts;
        using (var loader = target.BeginBulkLoad(targetSync))
        {
            // One kind after the other: each scan starts only when the previous kind is done (one open scan at a time).
            var copier = new KindCopier(source, sourceSync, loader, cancellationToken);
            foreach (var kind in RecordKinds.All)
            {
                kind.Accept(copier);
            }

            loader.Complete(cancellationToken);
            counts = RecordKindInfo.Counts(copier.Counts);
        }

        run.SyncId = targetSync.ToString();
        target.PutSyncRun(run);
        return counts;
    }

    /// <summary>
    /// Adds every record of <paramref name="sync"/> except its grants to <paramref name="loader"/> (the caller writes
    /// the grants itself, e.g. an expansion that rewrites them), kind by kind; does not complete the load.
    /// </summary>
    /// <param name="source">Store to read.</param>
    /// <param name="sync">Sync to copy.</param>
    /// <param name="loader">The target's bulk loader.</param>
    /// <param name="cancellationToken">Stops the copy between records.</param>
    public static void AddAllButGrants(IC1zReader source, SyncId sync, IBulkLoader loader, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(loader);
        var copier = new KindCopier(source, sync, loader, cancellationToken) { SkipGrants = true };
        foreach (var kind in RecordKinds.All)
        {
            kind.Accept(copier);
        }
    }

    private sealed class KindCopier(IC1zReader source, SyncId sync, IBulkLoader loader, CancellationToken ct) : IRecordKindVisitor
    {
        public bool SkipGrants { get; init; }

        private int _kind;

        public long[] Counts { get; } = new long[5];

        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, Google.Protobuf.IMessage<T>, new()
        {
            long n = 0;
            if (SkipGrants && kind.Kind == RecordKind.Grant)
            {
                Counts[_kind++] = 0;
                return;
            }

            foreach (var record in kind.Scan(source, sync))
            {
                kind.Add(loader, record);
                if ((++n & 0xFFFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }
            }

            ct.ThrowIfCancellationRequested();
            Counts[_kind++] = n;
        }
    }

    /// <summary>
    /// Feeds every record of one sync, kind by kind, into <paramref name="loader"/> and completes it: the one
    /// place that walks the five record kinds for a bulk copy, whatever the source.
    /// </summary>
    /// <param name="loader">The target's bulk loader.</param>
    /// <param name="resourceTypes">Resource types.</param>
    /// <param name="resources">Resources.</param>
    /// <param name="entitlements">Entitlements.</param>
    /// <param name="grants">Grants.</param>
    /// <param name="assets">Assets.</param>
    /// <param name="cancellationToken">Stops the copy; the target is then unchanged.</param>
    /// <returns>The counts loaded.</returns>
    public static RecordCounts Load(IBulkLoader loader, IEnumerable<Records.ResourceTypeRecord> resourceTypes, IEnumerable<Records.ResourceRecord> resources, IEnumerable<Records.EntitlementRecord> entitlements, IEnumerable<Records.GrantRecord> grants, IEnumerable<Records.AssetRecord> assets, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(loader);
        long rt = 0, res = 0, ent = 0, gr = 0, asset = 0;
        foreach (var r in resourceTypes)
        {
            loader.Add(r);
            rt++;
        }

        foreach (var r in resources)
        {
            loader.Add(r);
            res++;
        }

        foreach (var r in entitlements)
        {
            loader.Add(r);
            ent++;
        }

        cancellationToken.ThrowIfCancellationRequested();
        foreach (var r in grants)
        {
            loader.Add(r);
            if ((++gr & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        foreach (var r in assets)
        {
            loader.Add(r);
            asset++;
        }

        loader.Complete(cancellationToken);
        return new RecordCounts(rt, res, ent, gr, asset);
    }
}
