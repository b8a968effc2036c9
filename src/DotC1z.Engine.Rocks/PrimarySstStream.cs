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

    private readonly byte[] _recordHeader;
    private readonly SstOutput _output;
    private readonly BlockPipe _pipe;
    private byte[] _key = new byte[256];
    private bool _disposed;

    /// <summary>Starts the writer (and, when <paramref name="foldDigests"/>, the digest fold) for <paramref name="path"/>.</summary>
    public PrimarySstStream(string path, string storeDirectory, byte[] recordHeader, bool foldDigests = true)
    {
        _recordHeader = recordHeader;
        _output = new SstOutput(path, storeDirectory);
        _pipe = foldDigests
            ? new BlockPipe(BlockBytes, BlocksInFlight, Write, (_, value) => Digests.AddEncoded(value))
            : new BlockPipe(BlockBytes, BlocksInFlight, Write);
    }

    /// <summary>The digests of the grants written (complete once <see cref="Finish"/> returned; empty when not folded).</summary>
    public GrantDigestBuilder Digests { get; } = new();

    /// <summary>Queues one grant; ids must arrive in strictly increasing order.</summary>
    public void Append(ReadOnlySpan<byte> escapedId, ReadOnlySpan<byte> value) => _pipe.Append(escapedId, value);

    /// <summary>Waits for the workers and completes the file: its path, or null when no grant came.</summary>
    /// <exception cref="Errors.C1zException">Writing the SST failed.</exception>
    public string? Finish(CancellationToken cancellationToken)
    {
        _pipe.Finish(cancellationToken);
        return _output.Finish();
    }

    // The writer's thread: one primary key per grant, fed to the SST writer.
    private void Write(ReadOnlySpan<byte> id, ReadOnlySpan<byte> value)
    {
        int keyLength = GrantChunk.BuildKey(ref _key, _recordHeader, null, null, null, id);
        _output.Put(_key.AsSpan(0, keyLength), value);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _pipe.Dispose();
        _output.Dispose();
    }
}
