using System.Buffers.Binary;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>Partitioned grant scans: split points from the SST files' size estimates, one iterator per part, one snapshot.</summary>
public sealed partial class RocksStore
{
    // Bisection steps per split point: the search runs over a 64-bit number, so 64 steps reach a single key position.
    private const int SplitSteps = 64;

    // Finer cells tried per split point: 8 more key bytes each, 32 bytes past the common prefix at most.
    private const int SplitRefinements = 4;

    /// <inheritdoc/>
    /// <remarks>
    /// Split points come from RocksDB's size estimates (the SST index blocks): each part holds about the same number
    /// of bytes of the sync's grants. Grants still in a memtable are not estimated; a sync held only there is one part.
    /// </remarks>
    public GrantPartitions PartitionGrants(SyncId syncId, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        ThrowIfDisposed();
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId);
        byte[] upper = KeyRange.UpperBound(prefix)!;
        var snapshot = new SharedSnapshot(this);
        try
        {
            var bounds = RangeBounds(prefix, upper, snapshot, parts, "partition");
            var list = new List<IEnumerable<GrantRecord>>(bounds.Count - 1);
            string syncText = SyncText(syncId);
            for (int i = 0; i + 1 < bounds.Count; i++)
            {
                list.Add(ScanPart(bounds[i], bounds[i + 1], snapshot, syncText));
            }

            return new GrantPartitions(list, snapshot);
        }
        catch
        {
            snapshot.Dispose();
            throw;
        }
    }

    private IEnumerable<GrantRecord> ScanPart(byte[] lower, byte[] upper, SharedSnapshot snapshot, string syncText)
    {
        var strings = RecordOps.Grant.NewScanTable();
        // A part is a share of a whole-sync scan: its blocks are read once, so they stay out of the cache.
        using var scan = new Scan(this, lower, upper, snapshot.Handle, fillCache: false);
        while (scan.MoveNext())
        {
            yield return RecordOps.Grant.DecodeValue(scan.Value, syncText, strings);
        }
    }

    /// <summary>
    /// <c>[prefix, split points…, upper]</c>: the bounds of up to <paramref name="parts"/> key ranges of about equal
    /// estimated size that together cover <c>[prefix, upper)</c> (one range when it cannot be split).
    /// </summary>
    private List<byte[]> RangeBounds(byte[] prefix, byte[] upper, SharedSnapshot snapshot, int parts, string operation)
    {
        var bounds = new List<byte[]> { prefix };
        if (parts > 1)
        {
            bounds.AddRange(Guard((prefix, upper, snapshot, parts), static (store, s) => store.SplitPoints(s.prefix, s.upper, s.snapshot.Handle, s.parts), operation));
        }

        bounds.Add(upper);
        return bounds;
    }

    /// <summary>
    /// The split points of the keys under <paramref name="prefix"/> into up to <paramref name="parts"/> ranges, each
    /// without its first <paramref name="suffixStart"/> bytes (the head every key of the range shares), for callers
    /// that cut other syncs at the same place.
    /// </summary>
    private List<byte[]> SplitSuffixes(byte[] prefix, int parts, int suffixStart)
    {
        if (parts == 1)
        {
            return [];
        }

        using var snapshot = new SharedSnapshot(this);
        var bounds = RangeBounds(prefix, KeyRange.UpperBound(prefix)!, snapshot, parts, "partition");
        var splits = new List<byte[]>(bounds.Count);
        foreach (byte[] point in bounds.Skip(1).SkipLast(1))
        {
            // Split points lie between two keys of the range, so they carry its head.
            if (point.Length > suffixStart)
            {
                splits.Add(point[suffixStart..]);
            }
        }

        return splits;
    }

    /// <summary>
    /// Up to <paramref name="parts"/> − 1 increasing keys inside (first key, last key] of <c>[prefix, upper)</c> that cut it
    /// into ranges of about equal estimated size; fewer (none) when the range is empty, a single key, or not estimable.
    /// </summary>
    /// <remarks>
    /// Bisection over RocksDB's size estimates on the 8 key bytes past the first and last keys' common prefix, refined:
    /// where those 8 bytes leave a large share of the range in one cell — an expanded sync's derived ids share long
    /// prefixes (<c>group:app-…:member:user:…</c>: G16's 5M grants all begin <c>group:ap</c>, and one part got 98 % of
    /// them) — the bisection continues over the next 8 bytes inside that cell.
    /// </remarks>
    private List<byte[]> SplitPoints(byte[] prefix, byte[] upper, IntPtr snapshot, int parts)
    {
        var points = new List<byte[]>();
        byte[] first, last;
        using (var it = new BoundedIterator(_db.Handle, prefix, upper, snapshot, fillCache: false))
        {
            it.SeekToFirst();
            if (!it.Valid)
            {
                it.ThrowIfFailed(Directory, "partition");
                return points;
            }

            first = it.Key.ToArray();
            it.SeekToLast();
            if (!it.Valid)
            {
                it.ThrowIfFailed(Directory, "partition");
                return points;
            }

            last = it.Key.ToArray();
        }

        ulong total = Size(first, upper);
        int common = first.AsSpan().CommonPrefixLength(last);
        if (total == 0 || Suffix(first, common) >= Suffix(last, common))
        {
            return points;
        }

        // A cell is fine enough when it holds at most a sixteenth of a part.
        ulong fine = Math.Max(1, total / (ulong)parts / 16);
        for (int k = 1; k < parts; k++)
        {
            ulong target = total * (ulong)k / (ulong)parts;
            byte[] cell = first[..common];
            ulong lo = Suffix(first, common), hi = Suffix(last, common);
            byte[] point = Key(cell, cell.Length, hi);
            for (int level = 0; level < SplitRefinements; level++)
            {
                // The smallest 8-byte continuation of the cell whose key has at least the target before it.
                ulong a = lo, b = hi;
                for (int step = 0; step < SplitSteps && a < b; step++)
                {
                    ulong mid = a + ((b - a) / 2);
                    if (Size(first, Key(cell, cell.Length, mid)) < target)
                    {
                        a = mid + 1;
                    }
                    else
                    {
                        b = mid;
                    }
                }

                point = Key(cell, cell.Length, a);
                if (a == 0)
                {
                    break;
                }

                // Keys between the previous continuation and the point all begin with the previous one: refine there when it is large.
                byte[] below = Key(cell, cell.Length, a - 1);
                if (Size(below, point) <= fine)
                {
                    break;
                }

                cell = below;
                lo = 0;
                hi = ulong.MaxValue;
            }

            if (ByteArrayComparer.Instance.Compare(point, first) > 0 && ByteArrayComparer.Instance.Compare(point, last) <= 0
                && (points.Count == 0 || ByteArrayComparer.Instance.Compare(point, points[^1]) > 0))
            {
                points.Add(point);
            }
        }

        return points;
    }

    private static ulong Suffix(byte[] key, int common)
    {
        Span<byte> eight = stackalloc byte[8];
        eight.Clear();
        var rest = key.AsSpan(common);
        rest[..Math.Min(8, rest.Length)].CopyTo(eight);
        return BinaryPrimitives.ReadUInt64BigEndian(eight);
    }

    private static byte[] Key(byte[] model, int common, ulong suffix)
    {
        var key = new byte[common + 8];
        model.AsSpan(0, common).CopyTo(key);
        BinaryPrimitives.WriteUInt64BigEndian(key.AsSpan(common), suffix);
        return key;
    }

    private unsafe ulong Size(byte[] start, byte[] limit)
    {
        ulong size = 0;
        IntPtr error = IntPtr.Zero;
        nuint startLength = (nuint)start.Length, limitLength = (nuint)limit.Length;
        fixed (byte* s = start)
        fixed (byte* l = limit)
        {
            byte* starts = s, limits = l;
            RawRocks.ApproximateSizes(_db.Handle, 1, &starts, &startLength, &limits, &limitLength, &size, &error);
        }

        RawRocks.ThrowIfError(error);
        return size;
    }

    /// <summary>One snapshot shared by the parts of a partitioned scan, under a lease on the store; released once.</summary>
    private sealed class SharedSnapshot : IDisposable
    {
        private readonly RocksStore _store;
        private int _released;

        public SharedSnapshot(RocksStore store)
        {
            ObjectDisposedException.ThrowIf(!store.TryLease(), store);
            _store = store;
            Handle = RawRocks.CreateSnapshot(store._db.Handle);
        }

        public IntPtr Handle { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return;
            }

            RawRocks.ReleaseSnapshot(_store._db.Handle, Handle);
            _store.ReleaseLease();
        }
    }
}
