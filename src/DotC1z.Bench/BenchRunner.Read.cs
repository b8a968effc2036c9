using System.Diagnostics;
using System.Globalization;
using DotC1z.Keys;
using DotC1z.Records;

namespace DotC1z.Bench;

/// <summary>Read-path benchmarks added with issue 19 (batched point reads).</summary>
public sealed partial class BenchRunner
{
    /// <summary>
    /// G5: full scan of the sync's grants (records decoded), on one core — the reported figure — and then split by
    /// <see cref="Storage.IC1zReader.PartitionGrants"/> across the machine's cores, one part per core, printed as its
    /// own line beside it (an engine without concurrent scans reads its one part on one thread).
    /// </summary>
    private BenchResult G5(BenchEngine engine, SyncId sync)
    {
        var serial = Timed("G5", "FullSyncScan", engine, (_, _) => engine.Store.Grants(sync).LongCount(), seed: 4);
        int cores = engine.Store.SupportsConcurrentScans ? Environment.ProcessorCount : 1;
        var parallel = Timed("G5", string.Create(CultureInfo.InvariantCulture, $"FullSyncScan-{cores}cores"), engine, (_, _) => PartitionedCount(engine.Store, sync, cores), seed: 4);
        _ctx.Out.WriteLine(parallel.Line());
        return serial;
    }

    private static long PartitionedCount(Storage.IC1zReader store, SyncId sync, int parts)
    {
        using var partitions = store.PartitionGrants(sync, parts);
        if (partitions.Parts.Count == 1)
        {
            return partitions.Parts[0].LongCount();
        }

        var counts = partitions.Parts.Select(p => Task.Factory.StartNew(p.LongCount, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        return counts.Sum(t => t.GetAwaiter().GetResult());
    }

    /// <summary>Ids per G2b batch.</summary>
    private const int G2bBatch = 1000;

    /// <summary>
    /// G2b: batched point reads, <see cref="G2bBatch"/> random ids per <c>TryGetGrants</c> call. Ops are
    /// ids (not calls), so the figure compares with G2's gets/s; an engine without a batched read
    /// answers through the interface's one-by-one default.
    /// </summary>
    private BenchResult G2b(BenchEngine engine, SyncId sync, List<string> ids)
    {
        var batch = new string[G2bBatch];
        var records = new GrantRecord?[G2bBatch];
        long Op(Random rng)
        {
            for (int i = 0; i < batch.Length; i++)
            {
                batch[i] = ids[rng.Next(ids.Count)];
            }

            return engine.Store.TryGetGrants(sync, batch, records);
        }

        var rng = new Random(6);
        long calls = 0, rows = 0;
        ResetPeakRss();
        WarmUp(Op, 6);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < _duration || calls == 0)
        {
            rows += Op(rng);
            calls++;
            _ctx.Cancellation.ThrowIfCancellationRequested();
        }

        sw.Stop();
        return new BenchResult("G2b", "MultiGet-1000", engine.Name, calls * G2bBatch, sw.Elapsed.TotalMilliseconds, rows, PeakRss());
    }
}
