namespace DotC1z.Pebble;

/// <summary>
/// Range deletions seen so far, queried with non-decreasing keys: tombstones wait in a queue ordered by
/// start until the scan reaches them, then move to a max-heap by seqnum. A tombstone whose end the scan
/// has passed can never cover a later key, so it is dropped when it surfaces at the top; each query is
/// therefore logarithmic however many tombstones overlap.
/// </summary>
internal sealed class RangeDelTracker
{
    private static readonly Comparer<byte[]> Bytewise = Comparer<byte[]>.Create(static (x, y) => x.AsSpan().SequenceCompareTo(y));
    private static readonly Comparer<ulong> Descending = Comparer<ulong>.Create(static (x, y) => y.CompareTo(x));
    private readonly PriorityQueue<RangeTombstone, byte[]> _pending = new(Bytewise);
    private readonly PriorityQueue<RangeTombstone, ulong> _active = new(Descending);

    public void Add(List<RangeTombstone> tombstones)
    {
        foreach (var t in tombstones)
        {
            _pending.Enqueue(t, t.Start);
        }
    }

    /// <summary>The highest seqnum of a tombstone covering <paramref name="key"/>, or 0; <paramref name="end"/> is that tombstone's end.</summary>
    public ulong MaxSeqCovering(ReadOnlySpan<byte> key, out byte[]? end)
    {
        end = null;
        while (_pending.TryPeek(out var t, out var start) && key.SequenceCompareTo(start) >= 0)
        {
            _pending.Dequeue();
            _active.Enqueue(t, t.Seq);
        }

        while (_active.TryPeek(out var top, out _))
        {
            if (key.SequenceCompareTo(top.End) < 0)
            {
                end = top.End;
                return top.Seq;
            }

            _active.Dequeue();
        }

        return 0;
    }
}

/// <summary>Opens a live table for reading: its file and its (clipped) range deletions.</summary>
internal delegate (TableFile File, List<RangeTombstone> RangeDels) TableLoader(TableMeta meta, DecodeBudget budget);

/// <summary>
/// The k-way merge of every table and the WAL into the live key set (docs/PEBBLE.md, "Merge rules"):
/// a min-heap over sources in internal-key order, where tables not yet reached sit as placeholders
/// keyed by their smallest bound and are loaded only when the merge gets there.
/// </summary>
internal sealed class MergingIterator : IDisposable
{
    private sealed class Slot
    {
        public PointSource? Source;
        public TableMeta? Pending;
        public byte[] PendingKey = [];
    }

    private readonly TableLoader _loader;
    private readonly DecodeBudget _budget;
    private readonly CancellationToken _ct;
    private readonly byte[] _lower;
    private readonly byte[]? _upper;
    private readonly RangeDelTracker _rangeDels = new();
    private readonly List<Slot> _heap = [];
    private byte[] _lastKey = new byte[256];
    private int _lastLen;
    private bool _skipPending;
    private bool _done;
    private PointSource? _current;

    private readonly BlockCache? _blockCache;

    public MergingIterator(IEnumerable<TableMeta> tables, MemTable? mem, TableLoader loader, DecodeBudget budget,
        ReadOnlySpan<byte> lower, ReadOnlySpan<byte> upper, CancellationToken ct, BlockCache? blockCache = null)
    {
        _blockCache = blockCache;
        _loader = loader;
        _budget = budget;
        _ct = ct;
        _lower = lower.ToArray();
        _upper = upper.IsEmpty ? null : upper.ToArray();
        foreach (var t in tables)
        {
            int c = t.LargestUserKey.AsSpan().SequenceCompareTo(_lower);
            if (c < 0 || (c == 0 && t.LargestExclusive))
            {
                continue;
            }

            if (_upper is not null && t.SmallestUserKey.AsSpan().SequenceCompareTo(_upper) >= 0)
            {
                continue;
            }

            var key = t.SmallestUserKey.AsSpan().SequenceCompareTo(_lower) < 0 ? _lower : t.SmallestUserKey;
            _heap.Add(new Slot { Pending = t, PendingKey = key });
        }

        if (mem is not null)
        {
            _rangeDels.Add(mem.RangeDels);
            var src = new MemTableSource(mem, _lower);
            if (src.Next())
            {
                _heap.Add(new Slot { Source = src });
            }
        }

        for (int i = (_heap.Count / 2) - 1; i >= 0; i--)
        {
            SiftDown(i);
        }
    }

    public ReadOnlySpan<byte> Key => new(_lastKey, 0, _lastLen);

    public ReadOnlySpan<byte> Value => _current is null ? default : _current.Value;

    public bool MoveNext()
    {
        _current = null;
        if (_done)
        {
            return false;
        }

        if (_skipPending)
        {
            // The top is still the entry just returned: advance it without comparing, then drop any
            // older versions of the same key from other sources.
            _skipPending = false;
            AdvanceTop(_heap[0].Source!);
            SkipCurrentKey();
        }

        while (true)
        {
            var top = Top();
            if (top is null)
            {
                return Finish();
            }

            var key = top.Key;
            if (_upper is not null && key.SequenceCompareTo(_upper) >= 0)
            {
                return Finish();
            }

            if (_lastKey.Length < key.Length)
            {
                _lastKey = new byte[Math.Max(key.Length, _lastKey.Length * 2)];
            }

            key.CopyTo(_lastKey);
            _lastLen = key.Length;
            ulong deletedBelow = _rangeDels.MaxSeqCovering(Key, out byte[]? tombstoneEnd);
            if (deletedBelow > top.Seq && top is TableIterator table && table.MaxSeq < deletedBelow)
            {
                // Everything this table holds below the tombstone's end is older than it: jump past it
                // instead of decoding the hidden entries. Other versions of this key are older still,
                // so they are hidden too and need no special care.
                if (table.SeekGE(tombstoneEnd!))
                {
                    SiftDown(0);
                }
                else
                {
                    table.Dispose();
                    RemoveTop();
                }

                continue;
            }

            if (deletedBelow <= top.Seq)
            {
                switch (top.Kind)
                {
                    case Kinds.Set or Kinds.SetWithDelete:
                        top.ResolveValue();
                        _current = top;
                        _skipPending = true;
                        return true;
                    case Kinds.Merge:
                        throw Fail.Format(top is TableIterator ti ? ti.Name : "WAL", "merge operands not supported");
                }
            }

            // Deleted (by a point tombstone or a newer range deletion): drop every version.
            SkipCurrentKey();
        }
    }

    private bool Finish()
    {
        _done = true;
        _lastLen = 0;
        Dispose();
        return false;
    }

    private void SkipCurrentKey()
    {
        var k = Key;
        while (true)
        {
            var top = Top();
            if (top is null || !top.Key.SequenceEqual(k))
            {
                return;
            }

            AdvanceTop(top);
        }
    }

    private void AdvanceTop(PointSource top)
    {
        if (top.Next())
        {
            SiftDown(0);
        }
        else
        {
            top.Dispose();
            RemoveTop();
        }
    }

    /// <summary>The source holding the smallest entry, loading placeholder tables that reach the top.</summary>
    private PointSource? Top()
    {
        while (_heap.Count > 0)
        {
            var s = _heap[0];
            if (s.Source is not null)
            {
                return s.Source;
            }

            _ct.ThrowIfCancellationRequested();
            var meta = s.Pending!;
            var (file, dels) = _loader(meta, _budget);
            _rangeDels.Add(dels);
            var it = new TableIterator(file, meta, _lower, _budget, _ct, _blockCache);
            s.Pending = null;
            s.PendingKey = [];
            if (it.Next())
            {
                s.Source = it;
                SiftDown(0);
            }
            else
            {
                RemoveTop();
            }
        }

        return null;
    }

    private void RemoveTop()
    {
        int last = _heap.Count - 1;
        _heap[0] = _heap[last];
        _heap.RemoveAt(last);
        if (_heap.Count > 0)
        {
            SiftDown(0);
        }
    }

    private static int Compare(Slot a, Slot b)
    {
        var ka = a.Source is null ? a.PendingKey : a.Source.Key;
        var kb = b.Source is null ? b.PendingKey : b.Source.Key;
        int c = ka.SequenceCompareTo(kb);
        if (c != 0)
        {
            return c;
        }

        // An unloaded table may hold newer versions of this key, so it sorts first.
        if (a.Source is null || b.Source is null)
        {
            return (a.Source is null ? 0 : 1) - (b.Source is null ? 0 : 1);
        }

        return b.Source.Seq.CompareTo(a.Source.Seq);
    }

    private void SiftDown(int i)
    {
        int n = _heap.Count;
        var item = _heap[i];
        while (true)
        {
            int l = (2 * i) + 1;
            if (l >= n)
            {
                break;
            }

            int r = l + 1;
            int m = r < n && Compare(_heap[r], _heap[l]) < 0 ? r : l;
            if (Compare(_heap[m], item) >= 0)
            {
                break;
            }

            _heap[i] = _heap[m];
            i = m;
        }

        _heap[i] = item;
    }

    public void Dispose()
    {
        foreach (var s in _heap)
        {
            s.Source?.Dispose();
        }

        _heap.Clear();
        _current = null;
    }
}
