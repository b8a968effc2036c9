using DotC1z.Storage;

namespace DotC1z.Operations;

/// <summary>Which side(s) of a merge an identity came from.</summary>
internal enum MergeSide
{
    BaseOnly,
    AppliedOnly,
    Both,
}

/// <summary>
/// Merge-join of two identity-ordered record streams (every by-sync scan of the store contract is
/// ordered by identity in UTF-8 byte order), in one pass and constant memory.
/// </summary>
internal static class SortedMerge
{
    /// <summary>Yields (side, base record or null, applied record or null) in identity order.</summary>
    public static IEnumerable<(MergeSide Side, T? Base, T? Applied)> Join<T>(IEnumerable<T> baseRecords, IEnumerable<T> appliedRecords, Comparison<T> order)
        where T : class
    {
        using var b = baseRecords.GetEnumerator();
        using var a = appliedRecords.GetEnumerator();
        bool hasB = b.MoveNext();
        bool hasA = a.MoveNext();
        while (hasB || hasA)
        {
            int c = !hasB ? 1 : !hasA ? -1 : order(b.Current, a.Current);
            if (c < 0)
            {
                yield return (MergeSide.BaseOnly, b.Current, null);
                hasB = b.MoveNext();
            }
            else if (c > 0)
            {
                yield return (MergeSide.AppliedOnly, null, a.Current);
                hasA = a.MoveNext();
            }
            else
            {
                yield return (MergeSide.Both, b.Current, a.Current);
                hasB = b.MoveNext();
                hasA = a.MoveNext();
            }
        }
    }
}

/// <summary>
/// Merge of N identity-ordered record streams (one per input, in input order), grouped by identity: each step
/// yields, for the smallest identity left, the record each input holds for it (null where an input lacks it).
/// One pass over every stream, memory of one record per input.
/// </summary>
internal sealed class MultiMerge<T> : IDisposable
    where T : class
{
    private readonly IEnumerator<T>[] _inputs;
    private readonly bool[] _live;
    private readonly Comparison<T> _order;

    public MultiMerge(IReadOnlyList<IEnumerable<T>> inputs, Comparison<T> order)
    {
        _order = order;
        _inputs = new IEnumerator<T>[inputs.Count];
        _live = new bool[inputs.Count];
        try
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                _inputs[i] = inputs[i].GetEnumerator();
                _live[i] = _inputs[i].MoveNext();
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        Group = new T?[inputs.Count];
    }

    /// <summary>The current group: slot i holds input i's record of the current identity, or null.</summary>
    public T?[] Group { get; }

    /// <summary>Moves to the next identity.</summary>
    /// <returns>False when every stream is exhausted.</returns>
    public bool MoveNext()
    {
        T? least = null;
        for (int i = 0; i < _inputs.Length; i++)
        {
            if (_live[i] && (least is null || _order(_inputs[i].Current, least) < 0))
            {
                least = _inputs[i].Current;
            }
        }

        if (least is null)
        {
            Array.Clear(Group);
            return false;
        }

        for (int i = 0; i < _inputs.Length; i++)
        {
            if (_live[i] && _order(_inputs[i].Current, least) == 0)
            {
                Group[i] = _inputs[i].Current;
                _live[i] = _inputs[i].MoveNext();
            }
            else
            {
                Group[i] = null;
            }
        }

        return true;
    }

    public void Dispose()
    {
        foreach (var input in _inputs)
        {
            input?.Dispose();
        }
    }
}

/// <summary>
/// Reads a record stream ahead on a worker thread in batches, so decoding one input overlaps the merge, the other
/// input and the target's encoding. Memory: at most <see cref="Depth"/> batches of <see cref="Batch"/> records in
/// flight. A source failure surfaces on the consumer's thread; ending the enumeration stops and awaits the worker.
/// </summary>
internal static class Prefetch
{
    private const int Batch = 1024;
    private const int Depth = 4;

    /// <summary>The records of <paramref name="source"/> read ahead when its store allows scans on other threads and there is a core to spare.</summary>
    public static IEnumerable<T> Scan<T>(RecordKindInfo<T> kind, SyncSource source, CancellationToken ct)
        where T : class, Google.Protobuf.IMessage<T>, new()
    {
        var scan = kind.Scan(source.Store, source.Sync);
        return source.Store.SupportsConcurrentScans && Environment.ProcessorCount > 1 ? Ahead(scan, ct) : scan;
    }

    private static IEnumerable<T> Ahead<T>(IEnumerable<T> source, CancellationToken ct)
    {
        using var queue = new System.Collections.Concurrent.BlockingCollection<T[]>(Depth);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Exception? failure = null;
        var worker = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    var batch = new List<T>(Batch);
                    foreach (var item in source)
                    {
                        batch.Add(item);
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
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    // The consumer stopped early, or the operation was cancelled: the consumer reports it.
                }
                catch (Exception ex)
                {
                    failure = ex;
                }
                finally
                {
                    queue.CompleteAdding();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        try
        {
            foreach (var batch in queue.GetConsumingEnumerable(ct))
            {
                foreach (var item in batch)
                {
                    yield return item;
                }
            }

            if (failure is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }
        }
        finally
        {
            stop.Cancel();

            // Drain so a worker blocked on a full queue sees the cancellation, then wait for it: the source (and the
            // store it reads) must not be in use once the consumer is done.
            while (queue.TryTake(out _))
            {
            }

            worker.Wait(CancellationToken.None);
        }
    }
}
