using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>Grants handed out as stored: the primary keyspace's values, with the escaped id from the key.</summary>
public sealed partial class RocksStore
{
    /// <inheritdoc/>
    public bool TryOpenEncodedGrants(SyncId syncId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        ThrowIfDisposed();
        cursor = new EncodedGrantCursor(this, Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId));
        return true;
    }

    private sealed class EncodedGrantCursor(RocksStore store, byte[] prefix) : IEncodedGrantCursor
    {
        // A whole-sync scan reads every block once: keeping them would only evict what point reads need.
        private readonly Scan _scan = new(store, prefix, prefix, fillCache: false);

        // Primary key: header, separator, escaped id (Keyspace.RecordKey).
        public ReadOnlySpan<byte> Id => _scan.Key[(Keyspace.RecordHeaderLength + 1)..];

        public ReadOnlySpan<byte> Value => _scan.Value;

        public bool MoveNext() => _scan.MoveNext();

        public void Dispose() => _scan.Dispose();
    }
}
