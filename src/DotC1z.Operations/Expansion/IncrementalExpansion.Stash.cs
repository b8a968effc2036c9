using System.Buffers;
using System.Runtime.InteropServices;

namespace DotC1z.Operations;

public static partial class GrantExpander
{
    /// <summary>
    /// One principal's stored grants of the entitlements the update may recompute for it, end to end in native chunks,
    /// kept from the holdings pass: reading them twice from the index cost as much as the propagation between.
    /// Native, not managed: kept across the recompute, G16's 25 MB of pooled managed chunks were copied by the gen-1
    /// collection the recompute's allocations set off (a third of that phase, docs/PERFORMANCE.md, G16). A kept grant
    /// is handed out as memory over its chunk, not copied: the write reads the committed values from there. So the
    /// stash lives until the update's write is over; <see cref="Release"/> (in the update's finally) frees it.
    /// </summary>
    /// <param name="covers">The entitlements whose grants are kept (the others' are not asked for: <see cref="Covers"/>).</param>
    /// <param name="coversInterned">The same entitlements as the interned strings <see cref="Add"/> is given, compared by reference.</param>
    private sealed class Stash(IReadOnlySet<string> covers, HashSet<string> coversInterned)
    {
        // Below glibc's mmap threshold (128 KiB), so chunks come from the heap's free memory: 256 KiB chunks were mapped
        // afresh, and the page faults of copying into them were 5 % of G16's holdings pass.
        private const int ChunkBytes = 64 * 1024;
        private readonly List<NativeChunk> _chunks = [];
        private readonly List<(int Chunk, int Start, int Length)> _entries = [];

        // Each entitlement's entries, as a chain from its last one through each entry's predecessor (-1 ends it).
        private readonly Dictionary<string, int> _last = new(StringComparer.Ordinal);
        private readonly List<int> _previous = [];
        private int _used = ChunkBytes;

        /// <summary>Bytes kept.</summary>
        public long Length { get; private set; }

        /// <summary>Whether the grants of <paramref name="entitlement"/> are kept (all of them, when so).</summary>
        public bool Covers(string entitlement) => covers.Contains(entitlement);

        /// <summary>The stored bytes of one kept grant (valid until <see cref="Release"/>).</summary>
        public ReadOnlyMemory<byte> this[int index]
        {
            get
            {
                var (chunk, start, length) = _entries[index];
                return _chunks[chunk].Memory.Slice(start, length);
            }
        }

        /// <summary>The indexes of the kept grants of one entitlement (most recent first).</summary>
        public ChainEnumerator Of(string entitlement) => new(this, _last.GetValueOrDefault(entitlement, -1));

        /// <summary>Keeps one grant of <paramref name="entitlement"/> (an interned string) when the stash covers it.</summary>
        public void Add(ReadOnlySpan<byte> value, string entitlement)
        {
            if (!coversInterned.Contains(entitlement))
            {
                return;
            }

            _previous.Add(_last.GetValueOrDefault(entitlement, -1));
            _last[entitlement] = _entries.Count;
            if (_chunks.Count == 0 || _chunks[^1].Length - _used < value.Length)
            {
                _chunks.Add(new NativeChunk(Math.Max(ChunkBytes, value.Length)));
                _used = 0;
            }

            value.CopyTo(_chunks[^1].GetSpan()[_used..]);
            _entries.Add((_chunks.Count - 1, _used, value.Length));
            _used += value.Length;
            Length += value.Length;
        }

        /// <summary>Frees the chunks (the stash reads as empty afterwards; memory handed out must no longer be read).</summary>
        public void Release()
        {
            foreach (var chunk in _chunks)
            {
                ((IDisposable)chunk).Dispose();
            }

            _chunks.Clear();
            _entries.Clear();
            _last.Clear();
            _previous.Clear();
            _used = ChunkBytes;
            Length = 0;
        }

        /// <summary>Walks one entitlement's chain without allocating.</summary>
        public struct ChainEnumerator(Stash stash, int first)
        {
            private int _next = first;

            public int Current { get; private set; } = -1;

            public readonly ChainEnumerator GetEnumerator() => this;

            public bool MoveNext()
            {
                if (_next < 0)
                {
                    return false;
                }

                Current = _next;
                _next = stash._previous[_next];
                return true;
            }
        }
    }

    /// <summary>
    /// A native block handed out as <see cref="Memory{T}"/>: slices of it are the committed values of the update's
    /// write without a copy each. Freed by its owner (<see cref="Stash"/>) only, with no finalizer: one could free a
    /// block while a span over it is read (CA2015); the update frees its stashes in a finally instead.
    /// </summary>
    private sealed unsafe class NativeChunk : MemoryManager<byte>
    {
        private byte* _pointer;

        public NativeChunk(int length)
        {
            _pointer = (byte*)NativeMemory.Alloc((nuint)length);
            Length = length;
        }

        public int Length { get; }

        public override Span<byte> GetSpan() =>
            _pointer is null ? throw new ObjectDisposedException(nameof(NativeChunk)) : new Span<byte>(_pointer, Length);

        public override MemoryHandle Pin(int elementIndex = 0) =>
            _pointer is null ? throw new ObjectDisposedException(nameof(NativeChunk)) : new MemoryHandle(_pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (_pointer is not null)
            {
                NativeMemory.Free(_pointer);
                _pointer = null;
            }
        }
    }
}
