using System.Buffers;
using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>Id-only grant scans: rows parsed in place from RocksDB's buffers.</summary>
public sealed partial class RocksStore
{
    /// <inheritdoc/>
    public long VisitGrants<TVisitor>(SyncId syncId, RecordListing<GrantRecord> listing, ref TVisitor visitor)
        where TVisitor : struct, IGrantRowVisitor
    {
        ArgumentNullException.ThrowIfNull(listing);
        ThrowIfDisposed();
        var (prefix, primary, covering) = Range(syncId, listing);

        // A whole-sync scan reads every block once: keeping them would only evict what point reads need.
        using var scan = new Scan(this, prefix, prefix, fillCache: !(primary && listing.Kind == ListingKind.Grants));
        byte[]? buffer = null;
        long rows = 0;
        try
        {
            while (scan.MoveNext())
            {
                ReadOnlySpan<byte> value = scan.Value;
                if (!primary && !covering)
                {
                    // The entry's value is the primary key: read the record on the scan's snapshot.
                    int length = scan.GetInto(value, ref buffer);
                    value = buffer.AsSpan(0, length);
                }

                if (!GrantRow.TryParse(value, out var row))
                {
                    throw new C1zCorruptionException($"a stored grant does not decode in {Directory}", Directory);
                }

                rows++;
                if (!visitor.Visit(in row))
                {
                    break;
                }
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return rows;
    }
}
