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

        // Syncs that have keys but no run record, and keys of unknown shape.
        foreach (var (key, _) in ScanRaw([]))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (key.Length < 2 || key[0] != Keyspace.Version)
            {
                Report(problems, $"key with unknown version: {Convert.ToHexString(key.AsSpan(0, Math.Min(key.Length, 24)))}");
                continue;
            }

            int header = key[1] == Keyspace.Index ? 3 : 2;
            if (key[1] == Keyspace.Meta)
            {
                continue;
            }

            if (key[1] is < 1 or > Keyspace.Index || (key[1] == Keyspace.Index && key.Length > 2 && Array.IndexOf(Keyspace.AllIndexIds, key[2]) < 0) || key.Length < header + SyncId.ByteLength)
            {
                Report(problems, $"key of unknown shape: {Convert.ToHexString(key.AsSpan(0, Math.Min(key.Length, 24)))}");
                continue;
            }

            syncs.Add(SyncId.FromBytes(key.AsSpan(header, SyncId.ByteLength)));
        }

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
        long count = 0;
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)ops.Kind, sync);
        using (var scan = new Scan(this, prefix))
        {
            while (scan.MoveNext())
            {
                count++;
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
            }
        }

        if (ops.Indexes is null)
        {
            return count;
        }

        // One pass per index id keeps memory to one index's expected entries at a time.
        var indexIds = ops.Kind switch
        {
            RecordKind.Resource => new[] { Keyspace.IdxResourceByParent },
            RecordKind.Entitlement => [Keyspace.IdxEntitlementByResource],
            _ => Keyspace.GrantIndexIds,
        };
        foreach (byte indexId in indexIds)
        {
            ct.ThrowIfCancellationRequested();
            var expected = new List<(byte[] Key, ulong ValueHash)>();
            using (var scan = new Scan(this, prefix))
            {
                while (scan.MoveNext())
                {
                    if (!ops.Codec.TryDecode(scan.Value, out var message))
                    {
                        continue; // already reported
                    }

                    ulong valueHash = Fnv1a64(scan.Value);
                    ulong keyHash = Fnv1a64(scan.Key);
                    foreach (var entry in ops.Indexes(sync, (T)message))
                    {
                        if (entry.Key[2] == indexId)
                        {
                            expected.Add((entry.Key, entry.Covering ? valueHash : keyHash));
                        }
                    }
                }
            }

            expected.Sort(static (a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key));
            int i = 0;
            using (var scan = new Scan(this, Keyspace.IndexSyncPrefix(indexId, sync)))
            {
                while (scan.MoveNext())
                {
                    entries++;
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

        return count;
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
