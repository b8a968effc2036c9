using DotC1z.Engine.Rocks;
using DotC1z.Format;
using DotC1z.Interop.Pebble;
using DotC1z.Interop.V1;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z;

/// <summary>Integrity check behind <c>c1z verify</c>.</summary>
public static class C1zVerifier
{
    /// <summary>
    /// Checks a path: for a C1Z3 file the envelope, manifest, payload checksum and strict tar (while
    /// opening), then for every store the SST block checksums and the full index↔primary walk; for a
    /// legacy v1 file the zstd frame checksum and that every record decodes.
    /// </summary>
    /// <param name="path">A C1Z3 file, a v1 file or a store directory.</param>
    /// <param name="cancellationToken">Stops the check.</param>
    /// <returns>The consistency report.</returns>
    /// <exception cref="Errors.C1zException">The file cannot be opened at all (the error says why).</exception>
    public static ConsistencyReport Verify(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path) && V1File.IsV1File(path))
        {
            using var v1 = V1File.OpenReadOnly(path);
            long records = 0;
            var runs = v1.ListSyncRuns();
            foreach (var run in runs)
            {
                if (!SyncId.TryParse(run.SyncId, out var s))
                {
                    throw new Errors.C1zFormatException($"{path}: the sync run id \"{run.SyncId}\" is not a valid sync id", path);
                }

                // Decode every record of every kind (a count from the index would not read them).
                var counter = new DecodingCounter(v1, s);
                foreach (var kind in RecordKinds.All)
                {
                    kind.Accept(counter);
                }

                records += counter.Records;
            }

            return new ConsistencyReport(runs.Count, records, 0, []);
        }

        if (Directory.Exists(path))
        {
            using var dir = RocksStore.Open(path, new RocksStoreOptions { ReadOnly = true, CreateIfMissing = false, ParanoidChecks = true });
            dir.VerifyChecksums();
            return dir.VerifyConsistency(cancellationToken);
        }

        if (BatonPebbleFile.IsPebbleEngine(C1zContainer.ReadManifest(path).Engine))
        {
            return VerifyBaton(path, cancellationToken);
        }

        using var file = C1zFile.Open(path, new C1zOpenOptions { ReadOnly = true });
        var rocks = (RocksStore)((C1zFileStore)file).InnerStore;
        rocks.VerifyChecksums();
        return rocks.VerifyConsistency(cancellationToken);
    }

    /// <summary>
    /// A baton Pebble file: the frame hashes and every Pebble block checksum (while reading), every record
    /// against its key, and the counts against the stats sidecar and the manifest's copy of it.
    /// </summary>
    private static ConsistencyReport VerifyBaton(string path, CancellationToken cancellationToken)
    {
        using var file = BatonPebbleFile.Open(path);
        file.VerifyPayload(cancellationToken);
        var (counts, index, problems) = file.Snapshot.Verify(cancellationToken);
        var all = problems.ToList();
        var summary = file.Manifest.SyncRuns.FirstOrDefault(r => r.SyncId == file.Snapshot.SyncRun?.SyncId);
        if (file.Snapshot.Stats is { } stats && summary?.Stats is { } copy && !copy.Equals(stats))
        {
            all.Add("the manifest's stats differ from the payload's stats sidecar");
        }

        if (file.Snapshot.SyncRun is not null && summary is null)
        {
            all.Add($"the manifest has no summary for sync {file.Snapshot.SyncRun.SyncId}");
        }

        return new ConsistencyReport(file.Snapshot.SyncRun is null ? 0 : 1, counts.Total, index, all);
    }

    private sealed class DecodingCounter(IC1zReader store, SyncId sync) : IRecordKindVisitor
    {
        public long Records { get; private set; }

        public void Visit<T>(RecordKindInfo<T> kind)
            where T : class, Google.Protobuf.IMessage<T>, new() => Records += kind.Scan(store, sync).LongCount();
    }
}
