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

        long rt = 0, res = 0, ent = 0, gr = 0, asset = 0;
        using (var loader = target.BeginBulkLoad(targetSync))
        {
            foreach (var r in source.ResourceTypes(sourceSync))
            {
                loader.Add(r);
                rt++;
            }

            foreach (var r in source.Resources(sourceSync))
            {
                loader.Add(r);
                res++;
            }

            foreach (var r in source.Entitlements(sourceSync))
            {
                loader.Add(r);
                ent++;
            }

            cancellationToken.ThrowIfCancellationRequested();
            foreach (var r in source.Grants(sourceSync))
            {
                loader.Add(r);
                if ((++gr & 0xFFFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }

            foreach (var r in source.Assets(sourceSync))
            {
                loader.Add(r);
                asset++;
            }

            loader.Complete(cancellationToken);
        }

        run.SyncId = targetSync.ToString();
        target.PutSyncRun(run);
        return new RecordCounts(rt, res, ent, gr, asset);
    }
}
