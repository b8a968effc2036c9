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

        var manifest = C1zContainer.ReadManifest(path);
        if (BatonPebbleFile.IsPebbleEngine(manifest.Engine))
        {
            return VerifyBaton(path, cancellationToken);
        }

        using var file = C1zFile.Open(path, new C1zOpenOptions { ReadOnly = true });
        var rocks = (RocksStore)((C1zFileStore)file).InnerStore;
        rocks.VerifyChecksums();
        // The digest check is a second full pass over the grants, independent of the walk: it runs on the other
        // core, on its own snapshot, while this thread walks (both only read).
        var digests = Task.Factory.StartNew(() => CheckDigests(manifest, rocks, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        ConsistencyReport report;
        try
        {
            report = rocks.VerifyConsistency(cancellationToken);
        }
        finally
        {
            // The store is disposed on the way out: the digest pass must have ended, whatever happened here.
            ((IAsyncResult)digests).AsyncWaitHandle.WaitOne();
        }

        var digestProblems = digests.GetAwaiter().GetResult();
        return digestProblems.Count == 0 ? report : report with { Problems = [.. report.Problems, .. digestProblems] };
    }

    /// <summary>
    /// The grant digests the manifest carries (per sync, and baton's whole-file root) against digests computed
    /// from the records: a grant changed, added or dropped after the manifest was written shows here.
    /// </summary>
    internal static List<string> CheckDigests(Format.Manifest.C1ZManifest manifest, IC1zReader store, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        var computed = new Dictionary<string, GrantDigest>(StringComparer.Ordinal);
        foreach (var summary in manifest.SyncRuns)
        {
            if (summary.GrantDigest is null || !SyncId.TryParse(summary.SyncId, out var sync))
            {
                continue;
            }

            // One scan gives both the per-entitlement digests and, combined, the sync's root.
            var byEntitlement = GrantDigest.ByEntitlement(store, sync, cancellationToken);
            var digest = computed[summary.SyncId] = GrantDigest.Combine(byEntitlement.Values);
            if (!Matches(summary.GrantDigest, digest))
            {
                problems.Add($"sync {summary.SyncId}: its grants do not match the manifest's grant digest ({Describe(summary.GrantDigest)} in the manifest, {Describe(digest)} computed)");
            }

            if (summary.EntitlementGrantDigests.Count > 0)
            {
                var stored = summary.EntitlementGrantDigests.ToDictionary(e => e.EntitlementId, StringComparer.Ordinal);
                var differing = byEntitlement.Keys.Union(stored.Keys, StringComparer.Ordinal)
                    .Where(e => !stored.TryGetValue(e, out var s) || !byEntitlement.TryGetValue(e, out var c) || !ManifestDigests.TryRead(s, out var d) || d != c)
                    .Order(StringComparer.Ordinal).ToList();
                if (differing.Count > 0)
                {
                    problems.Add($"sync {summary.SyncId}: the grants of {differing.Count} entitlements do not match their digests in the manifest (first: {string.Join(", ", differing.Take(5))})");
                }
            }
        }

        if (manifest.GrantDigestRoot is { } root && manifest.SyncRuns.Count == 1 && SyncId.TryParse(manifest.SyncRuns[0].SyncId, out var only))
        {
            var digest = computed.TryGetValue(manifest.SyncRuns[0].SyncId, out var d) ? d : GrantDigest.Of(store, only, cancellationToken);
            if (!Matches(root, digest))
            {
                problems.Add($"the grants do not match the manifest's grant digest root ({Describe(root)} in the manifest, {Describe(digest)} computed)");
            }
        }

        return problems;
    }

    // A root of another ABI version cannot be compared (it is not wrong); a malformed one of ours is a mismatch.
    private static bool Matches(Format.Manifest.GrantDigestRoot stored, GrantDigest computed) =>
        stored.AbiVersion != GrantDigest.AbiVersion || (ManifestDigests.TryRead(stored, out var digest) && digest == computed);

    private static string Describe(Format.Manifest.GrantDigestRoot root) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{root.Count} grants, {Convert.ToHexStringLower(root.XorDigest.Span)}");

    private static string Describe(GrantDigest digest) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{digest.Count} grants, {Convert.ToHexStringLower(digest.XorBytes())}");

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

        // baton writes the root at seal time only when it built digests; when present ours must agree with it.
        if (file.Manifest.GrantDigestRoot is { } root && root.AbiVersion == GrantDigest.AbiVersion)
        {
            var digest = default(GrantDigest);
            foreach (var grant in file.Snapshot.Grants(cancellationToken))
            {
                digest = digest.Add(grant);
            }

            if (!Matches(root, digest))
            {
                all.Add($"the grants do not match the manifest's grant digest root ({Describe(root)} in the manifest, {Describe(digest)} computed)");
            }
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
