using System.Collections.Concurrent;
using DotC1z.Keys;
using DotC1z.Records;

namespace DotC1z.Storage;

/// <summary>Partitioned grant scans: one sync's grants split into key ranges that separate threads read.</summary>
public partial interface IC1zReader
{
    /// <summary>
    /// Splits the grants of <paramref name="syncId"/> into at most <paramref name="parts"/> contiguous key ranges of
    /// about equal size, all read on one snapshot: each part is ordered, the parts follow each other in key order,
    /// and together they hold exactly what <see cref="Grants"/> returns. Parts may be enumerated on different
    /// threads at the same time when <see cref="SupportsConcurrentScans"/> is true. An engine that cannot split
    /// returns one part.
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="parts">The most parts wanted (the machine's cores, typically).</param>
    /// <returns>The parts; the caller disposes them after the last enumeration ends.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parts"/> is below 1.</exception>
    GrantPartitions PartitionGrants(SyncId syncId, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        return new GrantPartitions([Grants(syncId)], null);
    }
}

/// <summary>
/// A sync's grants as contiguous key ranges (<see cref="IC1zReader.PartitionGrants"/>), in key order. Disposing
/// releases the snapshot they share; enumerate no part after that.
/// </summary>
public sealed class GrantPartitions : IDisposable
{
    private readonly IDisposable? _owner;

    /// <summary>Creates the partitions.</summary>
    /// <param name="parts">The ranges' scans, in key order.</param>
    /// <param name="owner">What to release with them (the shared snapshot), or null.</param>
    /// <exception cref="ArgumentException"><paramref name="parts"/> is empty.</exception>
    public GrantPartitions(IReadOnlyList<IEnumerable<GrantRecord>> parts, IDisposable? owner)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0)
        {
            throw new ArgumentException("at least one part is needed", nameof(parts));
        }

        Parts = parts;
        _owner = owner;
    }

    /// <summary>The parts, in key order.</summary>
    public IReadOnlyList<IEnumerable<GrantRecord>> Parts { get; }

    /// <summary>
    /// Every grant mapped by <paramref name="map"/>, in key order (the same sequence as the serial scan), with each
    /// part read and mapped ahead on its own worker thread: the caller consumes one part while the next ones are
    /// decoded. Each part holds at most <paramref name="ahead"/> mapped rows not yet consumed, so memory stays
    /// bounded whatever the size of the sync.
    /// </summary>
    /// <typeparam name="TOut">What a grant becomes (a row, a JSON line).</typeparam>
    /// <param name="map">Runs on the workers: it must not touch state the consumer uses.</param>
    /// <param name="ahead">Rows a part may hold ahead of the consumer.</param>
    /// <param name="cancellationToken">Stops the workers and the enumeration.</param>
    /// <returns>The mapped grants in key order; ending the enumeration early stops the workers.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ahead"/> is below 1.</exception>
    public IEnumerable<TOut> InOrder<TOut>(Func<GrantRecord, TOut> map, int ahead = 16_384, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentOutOfRangeException.ThrowIfLessThan(ahead, 1);
        return Parts.Count == 1 ? Parts[0].Select(map) : Pipelined(map, ahead, cancellationToken);
    }

    private IEnumerable<TOut> Pipelined<TOut>(Func<GrantRecord, TOut> map, int ahead, CancellationToken cancellationToken)
    {
        // Rows travel in batches: one hand-off per batch, not per row.
        const int Batch = 256;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var queues = new BlockingCollection<TOut[]>[Parts.Count];
        var workers = new Task[Parts.Count];
        for (int i = 0; i < Parts.Count; i++)
        {
            var queue = queues[i] = new BlockingCollection<TOut[]>(Math.Max(1, ahead / Batch));
            var part = Parts[i];
            workers[i] = Task.Factory.StartNew(
                () =>
                {
                    try
                    {
                        var batch = new List<TOut>(Batch);
                        foreach (var grant in part)
                        {
                            batch.Add(map(grant));
                            if (batch.Count == Batch)
                            {
                                queue.Add([.. batch], stop.Token);
                                batch.Clear();
                            }
                        }

                        if (batch.Count > 0)
                        {
                            queue.Add([.. batch], stop.Token);
                        }
                    }
                    finally
                    {
                        queue.CompleteAdding();
                    }
                },
                stop.Token,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }

        try
        {
            for (int i = 0; i < queues.Length; i++)
            {
                foreach (var batch in queues[i].GetConsumingEnumerable(stop.Token))
                {
                    foreach (var row in batch)
                    {
                        yield return row;
                    }
                }

                // A worker that failed ends its queue early: its exception, not a short result.
                workers[i].GetAwaiter().GetResult();
            }
        }
        finally
        {
            stop.Cancel();
            try
            {
                Task.WaitAll(workers);
            }
            catch (AggregateException) when (stop.IsCancellationRequested)
            {
                // Workers stopped because the enumeration ended early; a real failure was already thrown above.
            }

            foreach (var queue in queues)
            {
                queue.Dispose();
            }
        }
    }

    /// <summary>Releases the shared snapshot.</summary>
    public void Dispose() => _owner?.Dispose();
}
