using System.Buffers.Binary;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// An append-only arena of key/value pairs for one keyspace, sortable by key (then by arrival order).
/// Entries carry a 16-byte big-endian key prefix taken after the keyspace's common header so that
/// almost every comparison is two integer compares instead of a walk through the arena
/// (docs/PERF-ANCHORS.md §5: comparison sorts over pointers into a large arena are cache-miss bound).
/// </summary>
internal sealed class KvRun : IDisposable
{
    internal struct Entry
    {
        public ulong Prefix0;
        public ulong Prefix1;
        public int Offset;
        public int KeyLength;
        public int ValueLength;
        public long Seq;
    }

    private readonly int _skip;
    private byte[] _arena;
    private int _used;
    private Entry[] _entries;
    private int _count;

    public KvRun(int commonPrefixLength, int initialBytes = 1 << 20)
    {
        _skip = commonPrefixLength;
        // Owned, not rented: the shared pool would keep a large keyspace's arena for the life of the process.
        _arena = GC.AllocateUninitializedArray<byte>(initialBytes);
        _entries = new Entry[1024];
    }

    public int Count => _count;

    public void Add(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long seq)
    {
        int need = key.Length + value.Length;
        if (_used + need > _arena.Length)
        {
            var bigger = GC.AllocateUninitializedArray<byte>(Math.Max(_arena.Length * 2, _used + need));
            _arena.AsSpan(0, _used).CopyTo(bigger);
            _arena = bigger;
        }

        if (_count == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        key.CopyTo(_arena.AsSpan(_used));
        value.CopyTo(_arena.AsSpan(_used + key.Length));
        Span<byte> prefix = stackalloc byte[16];
        prefix.Clear();
        if (key.Length > _skip)
        {
            var tail = key[_skip..];
            tail[..Math.Min(16, tail.Length)].CopyTo(prefix);
        }

        _entries[_count++] = new Entry
        {
            Prefix0 = BinaryPrimitives.ReadUInt64BigEndian(prefix),
            Prefix1 = BinaryPrimitives.ReadUInt64BigEndian(prefix[8..]),
            Offset = _used,
            KeyLength = key.Length,
            ValueLength = value.Length,
            Seq = seq,
        };
        _used += need;
    }

    public ReadOnlySpan<byte> KeyAt(int i)
    {
        ref var e = ref _entries[i];
        return _arena.AsSpan(e.Offset, e.KeyLength);
    }

    public ReadOnlySpan<byte> ValueAt(int i)
    {
        ref var e = ref _entries[i];
        return _arena.AsSpan(e.Offset + e.KeyLength, e.ValueLength);
    }

    public long SeqAt(int i) => _entries[i].Seq;

    /// <summary>Sorts by key, then by arrival (sequence) so that the last write of a key is last among equals.</summary>
    public void Sort() => _entries.AsSpan(0, _count).Sort(new EntryOrder(_arena));

    /// <summary>
    /// The entries' order as a struct comparer: the sort is specialized for it and inlines the prefix compares, which a
    /// delegate comparison made an indirect call each.
    /// </summary>
    private readonly struct EntryOrder(byte[] arena) : IComparer<Entry>
    {
        public int Compare(Entry a, Entry b)
        {
            if (a.Prefix0 != b.Prefix0)
            {
                return a.Prefix0 < b.Prefix0 ? -1 : 1;
            }

            if (a.Prefix1 != b.Prefix1)
            {
                return a.Prefix1 < b.Prefix1 ? -1 : 1;
            }

            int c = arena.AsSpan(a.Offset, a.KeyLength).SequenceCompareTo(arena.AsSpan(b.Offset, b.KeyLength));
            return c != 0 ? c : a.Seq.CompareTo(b.Seq);
        }
    }

    public void Clear()
    {
        _used = 0;
        _count = 0;
    }

    public void Dispose()
    {
        _arena = [];
        _entries = [];
    }
}
