using System.IO.Hashing;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Engine.Rocks;

/// <summary>Result of <see cref="RocksStore.VerifyConsistency"/>.</summary>
/// <param name="Syncs">Syncs seen (with a run record or with records).</param>
/// <param name="Records">Primary records checked.</param>
/// <param name="IndexEntries">Index entries checked.</param>
/// <param name="Problems">The first problems found (at most <see cref="RocksStore.MaxReportedProblems"/>).</param>
public sealed record ConsistencyReport(long Syncs, long Records, long IndexEntries, IReadOnlyList<string> Problems)
{
    /// <summary>Whether no problem was found.</summary>
    public bool IsConsistent => Problems.Count == 0;
}

public sealed partial class RocksStore
{
    /// <summary>How many problems a consistency report lists at most.</summary>
    public const int MaxReportedProblems = 100;

    /// <summary>
    /// Walks the raw keyspace: every record value decodes and sits under the key its identity gives;
    /// every index entry is exactly one that a live primary record produces (same key, same value);
    /// every primary record has all of its index entries. Also flags keys of unknown shape.
    /// </summary>
    /// <param name="cancellationToken">Stops the walk.</param>
    /// <returns>The report.</returns>
    /// <exception cref="Errors.C1zCorruptionException">A block checksum fails while reading.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public ConsistencyReport VerifyConsistency(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var problems = new List<string>();
        long records = 0, entries = 0;
        var syncs = new SortedSet<SyncId>();
        foreach (var run in ListSyncRuns())
        {
            if (SyncId.TryParse(run.SyncId, out var id))
            {
                syncs.Add(id);
            }
            else
            {
                Report(problems, $"sync run record with invalid sync id \"{run.SyncId}\"");
            }
        }

        // Syncs that have keys but no run record, and keys of unknown shape: spans over the iterator's
        // buffers (copying every key and value of the store was most of this walk's garbage).
        using var all = new Scan(this, [], [], fillCache: false);
        long walked = 0;
        while (all.MoveNext())
        {
            var key = all.Key;
            if ((++walked & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            if (key.Length < 2 || key[0] != Keyspace.Version)
            {
                Report(problems, $"key with unknown version: {Convert.ToHexString(key[..Math.Min(key.Length, 24)])}");
                continue;
            }

            int header = key[1] == Keyspace.Index ? 3 : 2;
            if (key[1] == Keyspace.Meta)
            {
                continue;
            }

            if (key[1] is < 1 or > Keyspace.Index || (key[1] == Keyspace.Index && key.Length > 2 && Array.IndexOf(Keyspace.AllIndexIds, key[2]) < 0) || key.Length < header + SyncId.ByteLength)
            {
                Report(problems, $"key of unknown shape: {Convert.ToHexString(key[..Math.Min(key.Length, 24)])}");
                continue;
            }

            syncs.Add(SyncId.FromBytes(key.Slice(header, SyncId.ByteLength)));
        }

        all.Dispose();

        foreach (var sync in syncs)
        {
            records += VerifyKind(sync, RecordOps.ResourceType, problems, ref entries, cancellationToken);
            records += VerifyKind(sync, RecordOps.Resource, problems, ref entries, cancellationToken);
            records += VerifyKind(sync, RecordOps.Entitlement, problems, ref entries, cancellationToken);
            records += VerifyKind(sync, RecordOps.Grant, problems, ref entries, cancellationToken);
            records += VerifyKind(sync, RecordOps.Asset, problems, ref entries, cancellationToken);
        }

        return new ConsistencyReport(syncs.Count, records, entries, problems);
    }

    // FNV-1a: a stable 64-bit digest so the walk can compare covering values without holding them.
    private static ulong Fnv1a64(ReadOnlySpan<byte> data)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in data)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    private static void Report(List<string> problems, string problem)
    {
        if (problems.Count < MaxReportedProblems)
        {
            problems.Add(problem);
        }
    }

    private long VerifyKind<T>(SyncId sync, RecordOps<T> ops, List<string> problems, ref long entries, CancellationToken ct)
        where T : class, IMessage<T>, new()
    {
        // One pass over the primary records decodes each once, checks its key, and folds every index
        // entry it should have into a per-index digest (a sum of 128-bit hashes of key and value, so
        // order does not matter) and count. One pass over each index keyspace folds what is there the
        // same way. Equal digests and counts: that index holds exactly the expected entries. Only an
        // index whose digest differs is walked again, the exact way (expected entries sorted and merged
        // with the index), to name each missing, orphan or stale entry. Before, every index re-read and
        // re-decoded the whole primary keyspace and sorted a million keys even on a consistent store.
        byte[] indexIds = ops.Indexes is null ? [] : ops.Kind switch
        {
            RecordKind.Resource => [Keyspace.IdxResourceByParent],
            RecordKind.Entitlement => [Keyspace.IdxEntitlementByResource],
            _ => Keyspace.GrantIndexIds,
        };
        // The folds are sums, so order does not matter: the grant primary is cut into key ranges (one per
        // core, split on the SST size estimates) and every index keyspace is its own piece; the pieces run
        // on the cores on one snapshot and their sums are added. Problems keep piece order, so the report
        // is the same on every run.
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)ops.Kind, sync);
        byte[] upper = KeyRange.UpperBound(prefix)!;
        using var snapshot = new SharedSnapshot(this);
        var bounds = RangeBounds(prefix, upper, snapshot, ops.Kind == RecordKind.Grant ? VerifyLanes : 1, "verify");
        int parts = bounds.Count - 1;
        var primary = new PrimaryFold[parts];
        var index = new (UInt128 Digest, long Count)[indexIds.Length];
        C1zErrors.Unwrapped(
            () => Parallel.For(0, parts + indexIds.Length, new ParallelOptions { MaxDegreeOfParallelism = VerifyLanes, CancellationToken = ct }, piece =>
            {
                if (piece < parts)
                {
                    primary[piece] = FoldPrimary(sync, ops, indexIds, bounds[piece], bounds[piece + 1], snapshot.Handle, ct);
                }
                else
                {
                    index[piece - parts] = FoldIndex(Keyspace.IndexSyncPrefix(indexIds[piece - parts], sync), snapshot.Handle, ct);
                }
            }),
            Directory);

        long count = 0;
        var expectedDigest = new UInt128[indexIds.Length];
        var expectedCount = new long[indexIds.Length];
        foreach (var fold in primary)
        {
            count += fold.Records;
            foreach (string problem in fold.Problems)
            {
                Report(problems, problem);
            }

            for (int slot = 0; slot < indexIds.Length; slot++)
            {
                expectedDigest[slot] += fold.Digests[slot];
                expectedCount[slot] += fold.Counts[slot];
            }
        }

        for (int slot = 0; slot < indexIds.Length; slot++)
        {
            ct.ThrowIfCancellationRequested();
            entries += index[slot].Count;
            if (index[slot].Digest != expectedDigest[slot] || index[slot].Count != expectedCount[slot])
            {
                VerifyIndexExactly(sync, ops, indexIds[slot], problems, ct);
            }
        }

        return count;
    }

    // Two lanes at most: verify of a C1Z3 file runs its manifest-digest pass beside this walk.
    private static int VerifyLanes => Math.Max(1, Math.Min(2, Environment.ProcessorCount));

    /// <summary>What one key range of a primary keyspace contributes: records, problems, and the index entries its records should have.</summary>
    private sealed record PrimaryFold(long Records, List<string> Problems, UInt128[] Digests, long[] Counts);

    // Decodes each record of [lower, upper) once, checks its key, and folds every index entry it should
    // have into a per-index digest (a sum of 128-bit hashes of key and value) and count.
    private PrimaryFold FoldPrimary<T>(SyncId sync, RecordOps<T> ops, byte[] indexIds, byte[] lower, byte[] upper, IntPtr snapshot, CancellationToken ct)
        where T : class, IMessage<T>, new()
    {
        var problems = new List<string>();
        var digests = new UInt128[indexIds.Length];
        var counts = new long[indexIds.Length];
        long count = 0;
        using var scan = new Scan(this, lower, upper, snapshot, fillCache: false);
        while (scan.MoveNext())
        {
            if ((++count & 0x3FFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            if (!ops.Codec.TryDecode(scan.Value, out var message))
            {
                Report(problems, $"sync {sync}: {ops.Kind} value under key {Convert.ToHexString(scan.Key)} does not decode");
                continue;
            }

            var record = (T)message;
            if (!scan.Key.SequenceEqual(ops.PrimaryKey(sync, record)))
            {
                Report(problems, $"sync {sync}: {ops.Kind} stored under key {Convert.ToHexString(scan.Key)} but its identity gives another key");
            }

            if (ops.Indexes is null)
            {
                continue;
            }

            UInt128 valueHash = XxHash128.HashToUInt128(scan.Value);
            UInt128 keyHash = XxHash128.HashToUInt128(scan.Key);
            foreach (var entry in ops.Indexes(sync, record))
            {
                int slot = Array.IndexOf(indexIds, entry.Key[2]);
                if (slot >= 0)
                {
                    digests[slot] += EntryDigest(entry.Key, entry.Covering ? valueHash : keyHash);
                    counts[slot]++;
                }
            }
        }

        return new PrimaryFold(count, problems, digests, counts);
    }

    // Folds what one index keyspace holds the same way.
    private (UInt128 Digest, long Count) FoldIndex(byte[] prefix, IntPtr snapshot, CancellationToken ct)
    {
        UInt128 digest = 0;
        long n = 0;
        using var scan = new Scan(this, prefix, KeyRange.UpperBound(prefix), snapshot, fillCache: false);
        while (scan.MoveNext())
        {
            if ((++n & 0xFFFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            digest += EntryDigest(scan.Key, XxHash128.HashToUInt128(scan.Value));
        }

        return (digest, n);
    }

    // One index entry's contribution to a digest: its key hashed with its value's hash as the seed, so
    // the pair counts, not each part (two entries that swapped values change the sum).
    private static UInt128 EntryDigest(ReadOnlySpan<byte> key, UInt128 valueHash) =>
        XxHash128.HashToUInt128(key, (long)((ulong)valueHash ^ (ulong)(valueHash >> 64)));

    /// <summary>The exact check of one index: every expected entry, sorted, merged with the index keyspace; names each difference.</summary>
    private void VerifyIndexExactly<T>(SyncId sync, RecordOps<T> ops, byte indexId, List<string> problems, CancellationToken ct)
        where T : class, IMessage<T>, new()
    {
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)ops.Kind, sync);
        var expected = new List<(byte[] Key, ulong ValueHash)>();
        using (var scan = new Scan(this, prefix, prefix, fillCache: false))
        {
            while (scan.MoveNext())
            {
                if (!ops.Codec.TryDecode(scan.Value, out var message))
                {
                    continue; // already reported
                }

                ulong valueHash = Fnv1a64(scan.Value);
                ulong keyHash = Fnv1a64(scan.Key);
                foreach (var entry in ops.Indexes!(sync, (T)message))
                {
                    if (entry.Key[2] == indexId)
                    {
                        expected.Add((entry.Key, entry.Covering ? valueHash : keyHash));
                    }
                }
            }
        }

        ct.ThrowIfCancellationRequested();
        expected.Sort(static (a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key));
        int i = 0;
        using (var scan = new Scan(this, Keyspace.IndexSyncPrefix(indexId, sync), Keyspace.IndexSyncPrefix(indexId, sync), fillCache: false))
        {
            while (scan.MoveNext())
            {
                var key = scan.Key;
                while (i < expected.Count && expected[i].Key.AsSpan().SequenceCompareTo(key) < 0)
                {
                    Report(problems, $"sync {sync}: index {indexId:X2} entry missing for a live {ops.Kind}: {Convert.ToHexString(expected[i].Key)}");
                    i++;
                }

                if (i < expected.Count && expected[i].Key.AsSpan().SequenceEqual(key))
                {
                    if (expected[i].ValueHash != Fnv1a64(scan.Value))
                    {
                        Report(problems, $"sync {sync}: index {indexId:X2} entry {Convert.ToHexString(key)} has a stale value");
                    }

                    i++;
                }
                else
                {
                    Report(problems, $"sync {sync}: orphan index {indexId:X2} entry {Convert.ToHexString(key)} (no live record produces it)");
                }
            }
        }

        for (; i < expected.Count; i++)
        {
            Report(problems, $"sync {sync}: index {indexId:X2} entry missing for a live {ops.Kind}: {Convert.ToHexString(expected[i].Key)}");
        }
    }

    /// <summary>Test seam: writes or deletes one raw key, bypassing index maintenance (to plant inconsistencies).</summary>
    internal void RawWrite(byte[] key, byte[]? value)
    {
        ThrowIfNotWritable();
        using var batch = new NativeWriteBatch();
        if (value is null)
        {
            batch.Delete(key);
        }
        else
        {
            batch.Put(key, value);
        }

        Commit(batch);
    }
}
