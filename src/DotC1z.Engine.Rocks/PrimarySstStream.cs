using System.Buffers.Binary;
using System.Collections.Concurrent;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Writes the grant primary keyspace of a bulk load on a second thread while the grants still
/// arrive. Producers (fixture generation, compaction, import) usually emit grants in id order, and
/// then the primary SST is exactly the arrival order: the caller thread only copies each escaped id
/// and value into a block, and the worker builds keys and feeds the SST writer, so that work is off
/// the loader's critical path and out of <see cref="RocksBulkLoader.Complete"/>. The loader stops
/// using the stream (disposes it) as soon as an id arrives out of order or the chunk spills.
/// The grants' digests are folded from the same blocks on a third thread: hashing every grant was more than half of
/// the writer's work, which made it the critical path of a compaction's primary merge (docs/PERFORMANCE.md).
/// </summary>
internal sealed class PrimarySstStream : IDisposable
{
    // Blocks are handed over whole; a few in flight bound the memory and let the caller run ahead.
    private const int BlockBytes = 1 << 20;
    private const int BlocksInFlight = 8;
    private const int EntryHeader = 8;

    private readonly BlockingCollection<Handed> _full = new(BlocksInFlight);
    private readonly BlockingCollection<Handed> _toDigest = new(BlocksInFlight);
    private readonly ConcurrentQueue<byte[]> _free = new();
    private readonly byte[] _recordHeader;
    private readonly SstOutput _output;
    private readonly Task _worker;
    private readonly Task _digester;

    /// <summary>The digests of the grants written (complete once <see cref="Finish"/> returned; empty when not folded).</summary>
    public GrantDigestBuilder Digests { get; } = new();
    private byte[] _block = new byte[BlockBytes];
    private int _used;
    private Exception? _failure;
    private volatile bool _stopping;
    private bool _disposed;

    /// <summary>Starts the writer (and, when <paramref name="foldDigests"/>, the digest fold) for <paramref name="path"/>.</summary>
    public PrimarySstStream(string path, string storeDirectory, byte[] recordHeader, bool foldDigests = true)
    {
        _recordHeader = recordHeader;
        _output = new SstOutput(path, storeDirectory);
        _worker = Task.Factory.StartNew(Drain, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        _digester = foldDigests
            ? Task.Factory.StartNew(Digest, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            : Task.CompletedTask;
        _foldDigests = foldDigests;
    }

    private readonly bool _foldDigests;

    // A block handed to both workers; the last one done recycles it.
    private sealed class Handed(byte[] block, int used, int readers)
    {
        public byte[] Block { get; } = block;

        public int Used { get; } = used;

        public int Pending = readers;
    }

    /// <summary>Queues one grant; ids must arrive in strictly increasing order.</summary>
    public void Append(ReadOnlySpan<byte> escapedId, ReadOnlySpan<byte> value)
    {
        int need = EntryHeader + escapedId.Length + value.Length;
        if (_used + need > _block.Length)
        {
            HandOver();
            if (need > _block.Length)
            {
                _block = new byte[need];
            }
        }

        var span = _block.AsSpan(_used);
        BinaryPrimitives.WriteInt32LittleEndian(span, escapedId.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], value.Length);
        escapedId.CopyTo(span[EntryHeader..]);
        value.CopyTo(span[(EntryHeader + escapedId.Length)..]);
        _used += need;
    }

    /// <summary>Waits for the worker and completes the file: its path, or null when no grant came.</summary>
    /// <exception cref="Errors.C1zException">Writing the SST failed.</exception>
    public string? Finish(CancellationToken cancellationToken)
    {
        HandOver();
        _full.CompleteAdding();
        _toDigest.CompleteAdding();
        _worker.Wait(cancellationToken);
        _digester.Wait(cancellationToken);
        if (_failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(_failure);
        }

        return _output.Finish();
    }

    private void HandOver()
    {
        if (_used == 0)
        {
            return;
        }

        var handed = new Handed(_block, _used, _foldDigests ? 2 : 1);
        _full.Add(handed);
        if (_foldDigests)
        {
            _toDigest.Add(handed);
        }

        _block = _free.TryDequeue(out var reused) ? reused : new byte[BlockBytes];
        _used = 0;
    }

    private void Drain()
    {
        byte[] key = new byte[256];
        foreach (var handed in _full.GetConsumingEnumerable())
        {
            if (_failure is null && !_stopping)
            {
                try
                {
                    WriteBlock(handed.Block.AsSpan(0, handed.Used), ref key);
                }
                catch (Exception ex)
                {
                    // Reported by Finish; until then blocks are only drained so the caller never blocks.
                    Interlocked.CompareExchange(ref _failure, ex, null);
                }
            }

            Release(handed);
        }
    }

    private void Digest()
    {
        foreach (var handed in _toDigest.GetConsumingEnumerable())
        {
            if (_failure is null && !_stopping)
            {
                try
                {
                    var entries = handed.Block.AsSpan(0, handed.Used);
                    while (!entries.IsEmpty)
                    {
                        int idLength = BinaryPrimitives.ReadInt32LittleEndian(entries);
                        int valueLength = BinaryPrimitives.ReadInt32LittleEndian(entries[4..]);
                        Digests.AddEncoded(entries.Slice(EntryHeader + idLength, valueLength));
                        entries = entries[(EntryHeader + idLength + valueLength)..];
                    }
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref _failure, ex, null);
                }
            }

            Release(handed);
        }
    }

    private void Release(Handed handed)
    {
        if (Interlocked.Decrement(ref handed.Pending) == 0 && handed.Block.Length == BlockBytes)
        {
            _free.Enqueue(handed.Block);
        }
    }

    private void WriteBlock(ReadOnlySpan<byte> entries, ref byte[] key)
    {
        while (!entries.IsEmpty)
        {
            int idLength = BinaryPrimitives.ReadInt32LittleEndian(entries);
            int valueLength = BinaryPrimitives.ReadInt32LittleEndian(entries[4..]);
            var id = entries.Slice(EntryHeader, idLength);
            var value = entries.Slice(EntryHeader + idLength, valueLength);
            int keyLength = GrantChunk.BuildKey(ref key, _recordHeader, null, null, null, id);
            _output.Put(key.AsSpan(0, keyLength), value);
            entries = entries[(EntryHeader + idLength + valueLength)..];
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stopping = true;
        if (!_full.IsAddingCompleted)
        {
            _full.CompleteAdding();
        }

        if (!_toDigest.IsAddingCompleted)
        {
            _toDigest.CompleteAdding();
        }

        try
        {
            Task.WaitAll(_worker, _digester);
        }
        catch (AggregateException)
        {
            // Drain records its failures itself; nothing else can fault the worker.
        }

        _output.Dispose();
        _full.Dispose();
        _toDigest.Dispose();
    }
}
