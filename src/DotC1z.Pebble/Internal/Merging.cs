namespace DotC1z.Pebble;

/// <summary>
/// Range deletions seen so far, queried with non-decreasing keys: fragments wait in a queue ordered by
/// start until the scan reaches them, stay active until it passes their end, and the newest active
/// seqnum decides whether a point is hidden.
/// </summary>
internal sealed class RangeDelTracker
{
    private static readonly Comparer<byte[]> Bytewise = Comparer<byte[]>.Create(static (x, y) => x.AsSpan().SequenceCompareTo(y));
    private readonly PriorityQueue<RangeTombstone, byte[]> _pending = new(Bytewise);
    private readonly List<RangeTombstone> _active = [];

    public void Add(List<RangeTombstone> tombstones)
    {
        foreach (var t in tombstones)
        {
            _pending.Enqueue(t, t.Start);
        }
    }

    /// <summary>The highest seqnum of a tombstone covering <paramref name="key"/>, or 0.</summary>
    public ulong MaxSeqCovering(ReadOnlySpan<byte> key)
    {
        while (_pending.TryPeek(out var t, out var start) && key.SequenceCompareTo(start) >= 0)
        {
            _pending.Dequeue();
            _active.Add(t);
        }

        if (_active.Count == 0)
        {
            return 0;
        }

        ulong max = 0;
        for (int i = _active.Count - 1; i >= 0; i--)
        {
            var t = _active[i];
            if (key.SequenceCompareTo(t.End) >= 0)
            {
                _active[i] = _active[^1];
                _active.RemoveAt(_active.Count - 1);
                continue;
            }

            max = Math.Max(max, t.Seq);
        }

        return max;
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

    public MergingIterator(IEnumerable<TableMeta> tables, MemTable? mem, TableLoader loader, DecodeBudget budget,
        ReadOnlySpan<byte> lower, ReadOnlySpan<byte> upper, CancellationToken ct)
    {
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
            _skipPending = false;
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
            ulong deletedBelow = _rangeDels.MaxSeqCovering(Key);
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
            var it = new TableIterator(file, meta, _lower, _budget, _ct);
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
