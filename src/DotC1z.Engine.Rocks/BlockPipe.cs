using System.Buffers.Binary;
using System.Collections.Concurrent;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Entries of two byte strings, appended on one thread and handed in blocks to workers that each run on a thread of
/// their own and see every entry in order (the primary stream's SST writer and digest fold; a compaction's losers).
/// The caller only copies bytes; a few blocks in flight bound the memory, and a block goes back to the pool when its
/// last worker is done. A worker's failure is kept and rethrown by <see cref="Finish"/>; until then blocks are only
/// drained, so the appending thread never blocks on a failed worker.
/// </summary>
internal sealed class BlockPipe : IDisposable
{
    /// <summary>What a worker does with one entry.</summary>
    public delegate void EntryAction(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second);

    private const int EntryHeader = 8;

    private readonly int _blockBytes;
    private readonly BlockingCollection<Handed>[] _queues;
    private readonly Task[] _workers;
    private readonly ConcurrentQueue<byte[]> _free = new();
    private byte[] _block;
    private int _used;
    private Exception? _failure;
    private volatile bool _stopping;
    private bool _disposed;

    /// <summary>Starts one worker per action.</summary>
    /// <param name="blockBytes">Bytes per block handed over.</param>
    /// <param name="blocksInFlight">Blocks each worker may have waiting.</param>
    /// <param name="workers">The workers' actions.</param>
    public BlockPipe(int blockBytes, int blocksInFlight, params EntryAction[] workers)
    {
        _blockBytes = blockBytes;
        _block = new byte[blockBytes];
        _queues = [.. workers.Select(_ => new BlockingCollection<Handed>(blocksInFlight))];
        _workers = [.. workers.Select((action, i) => Task.Factory.StartNew(() => Run(_queues[i], action), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))];
    }

    // A block handed to every worker; the last one done recycles it.
    private sealed class Handed(byte[] block, int used, int readers)
    {
        public byte[] Block { get; } = block;

        public int Used { get; } = used;

        public int Pending = readers;
    }

    /// <summary>Queues one entry.</summary>
    public void Append(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        int need = EntryHeader + first.Length + second.Length;
        if (_used + need > _block.Length)
        {
            HandOver();
            if (need > _block.Length)
            {
                _block = new byte[need];
            }
        }

        var span = _block.AsSpan(_used);
        BinaryPrimitives.WriteInt32LittleEndian(span, first.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], second.Length);
        first.CopyTo(span[EntryHeader..]);
        second.CopyTo(span[(EntryHeader + first.Length)..]);
        _used += need;
    }

    /// <summary>Hands over the last block and waits for every worker; rethrows the first failure.</summary>
    public void Finish(CancellationToken cancellationToken)
    {
        HandOver();
        foreach (var queue in _queues)
        {
            queue.CompleteAdding();
        }

        foreach (var worker in _workers)
        {
            worker.Wait(cancellationToken);
        }

        if (_failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
        }
    }

    /// <summary>Stops the workers (what is queued is drained, not processed) and waits for them.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping = true;
        foreach (var queue in _queues)
        {
            if (!queue.IsAddingCompleted)
            {
                queue.CompleteAdding();
            }
        }

        try
        {
            Task.WaitAll(_workers);
        }
        catch (AggregateException)
        {
            // Run keeps its failures itself; nothing else can fault a worker.
        }

        foreach (var queue in _queues)
        {
            queue.Dispose();
        }
    }

    private void HandOver()
    {
        if (_used == 0)
        {
            return;
        }

        var handed = new Handed(_block, _used, _queues.Length);
        foreach (var queue in _queues)
        {
            queue.Add(handed);
        }

        _block = _free.TryDequeue(out var reused) ? reused : new byte[_blockBytes];
        _used = 0;
    }

    private void Run(BlockingCollection<Handed> queue, EntryAction action)
    {
        foreach (var handed in queue.GetConsumingEnumerable())
        {
            if (_failure is null && !_stopping)
            {
                try
                {
                    var entries = handed.Block.AsSpan(0, handed.Used);
                    while (!entries.IsEmpty)
                    {
                        int firstLength = BinaryPrimitives.ReadInt32LittleEndian(entries);
                        int secondLength = BinaryPrimitives.ReadInt32LittleEndian(entries[4..]);
                        action(entries.Slice(EntryHeader, firstLength), entries.Slice(EntryHeader + firstLength, secondLength));
                        entries = entries[(EntryHeader + firstLength + secondLength)..];
                    }
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref _failure, ex, null);
                }
            }

            if (Interlocked.Decrement(ref handed.Pending) == 0 && handed.Block.Length == _blockBytes)
            {
                _free.Enqueue(handed.Block);
            }
        }
    }
}
