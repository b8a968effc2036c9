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
    /// Each kept grant is its bytes behind a header in the chunk (their length, and the index of the entitlement's
    /// previous kept grant): a managed list entry and chain link per grant were 16 MB of G16's holdings pass, which
    /// keeps nearly every grant it reads (a changed membership reaches most of a user's entitlements).
    /// </summary>
    /// <param name="covers">The entitlements whose grants are kept (the others' are not asked for: <see cref="Covers"/>).</param>
    /// <param name="intern">The one string of an entitlement id, as <see cref="Add"/> is given them.</param>
    /// <param name="budget">The most bytes kept: past it the stash drops everything and covers nothing (the pairs are read again).</param>
    private sealed class Stash(Coverage covers, Func<string, string> intern, long budget)
    {
        // Below glibc's mmap threshold (128 KiB), so chunks come from the heap's free memory: 256 KiB chunks were mapped
        // afresh, and the page faults of copying into them were 5 % of G16's holdings pass. A grant's index is its chunk
        // and its header's offset there (OffsetBits bits: a chunk longer than ChunkBytes holds one grant, at offset 0).
        private const int ChunkBytes = 1 << OffsetBits;
        private const int OffsetBits = 16;
        private const int MaxChunks = int.MaxValue >> OffsetBits;
        private const int HeaderBytes = 2 * sizeof(int);
        private readonly List<NativeChunk> _chunks = [];

        // Each entitlement's last kept grant, by the interned string of its id (compared by reference, as Add is given).
        // Sized for every covered entitlement up front (a user holds most of those a change reaches): grown from empty, the
        // G16 stashes' dictionaries were rebuilt eight times each, 7 MB of the holdings pass's allocations.
        private readonly Dictionary<string, int> _last = new(Math.Min(covers.MaxCount, MaxPresized), ReferenceEqualityComparer.Instance);
        private const int MaxPresized = 4096;
        private int _used = ChunkBytes;
        private bool _dropped;

        /// <summary>Bytes kept.</summary>
        public long Length { get; private set; }

        /// <summary>Whether the grants of <paramref name="entitlement"/> are kept (all of them, when so).</summary>
        public bool Covers(string entitlement) => !_dropped && covers.Contains(entitlement);

        /// <summary>The stored bytes of one kept grant (valid until <see cref="Release"/>).</summary>
        public ReadOnlyMemory<byte> this[int index]
        {
            get
            {
                var chunk = _chunks[index >> OffsetBits];
                int at = index & (ChunkBytes - 1);
                return chunk.Memory.Slice(at + HeaderBytes, Header(chunk, at, 0));
            }
        }

        /// <summary>
        /// The indexes of the kept grants of one entitlement (most recent first), given as the interned string
        /// <see cref="Add"/> was given (another string with the same text finds nothing).
        /// </summary>
        public ChainEnumerator Of(string interned) => new(this, _last.GetValueOrDefault(interned, -1));

        /// <summary>Keeps one grant of <paramref name="entitlement"/> (an interned string) when the stash covers it.</summary>
        public void Add(ReadOnlySpan<byte> value, string entitlement)
        {
            if (_dropped || !covers.ContainsInterned(entitlement, intern))
            {
                return;
            }

            int need = HeaderBytes + value.Length;
            if (Length + value.Length > budget || (_chunks.Count == MaxChunks && ChunkBytes - _used < need))
            {
                // Too much to keep: nothing is, and every pair of this principal is read again for the diff.
                Release();
                _dropped = true;
                return;
            }

            if (_chunks.Count == 0 || _chunks[^1].Length - _used < need)
            {
                _chunks.Add(new NativeChunk(Math.Max(ChunkBytes, need)));
                _used = 0;
            }

            ref int last = ref CollectionsMarshal.GetValueRefOrAddDefault(_last, entitlement, out bool seen);
            var span = _chunks[^1].GetSpan().Slice(_used, need);
            MemoryMarshal.Write(span, value.Length);
            MemoryMarshal.Write(span[sizeof(int)..], seen ? last : -1);
            value.CopyTo(span[HeaderBytes..]);
            last = ((_chunks.Count - 1) << OffsetBits) | _used;
            _used += need;
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
            _last.Clear();
            _used = ChunkBytes;
            Length = 0;
        }

        /// <summary>One of a kept grant's two header fields: 0 its length, 1 the previous grant of its entitlement.</summary>
        private static int Header(NativeChunk chunk, int at, int field) => MemoryMarshal.Read<int>(chunk.GetSpan().Slice(at + (field * sizeof(int)), sizeof(int)));

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
                _next = Header(stash._chunks[_next >> OffsetBits], _next & (ChunkBytes - 1), 1);
                return true;
            }
        }
    }

    /// <summary>
    /// The entitlements a principal's stash keeps: the reach of each entitlement the principal is marked at, as those sets
    /// themselves (shared by every principal marked there), not their union. Building each principal's union, and its
    /// interned copy, was 10–15 ms of G16's update on one core; most principals are marked at one or two entitlements.
    /// </summary>
    private sealed class Coverage(ReachSet[] parts)
    {
        private readonly bool _all;

        private Coverage()
            : this([])
        {
            _all = true;
            MaxCount = AllPresized;
        }

        /// <summary>Every entitlement: a stash that keeps all of its principal's grants.</summary>
        public static Coverage All { get; } = new();

        // What a stash covering everything presizes its chains for (a user of a dense graph holds hundreds of entitlements).
        private const int AllPresized = 1024;

        /// <summary>At most this many entitlements (the parts' sizes added up).</summary>
        public int MaxCount { get; } = parts.Sum(r => r.Ids.Count);

        /// <summary>Whether <paramref name="entitlement"/> (any string with its text) is covered.</summary>
        public bool Contains(string entitlement)
        {
            if (_all)
            {
                return true;
            }

            foreach (var part in parts)
            {
                if (part.Ids.Contains(entitlement))
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>Whether <paramref name="interned"/> (the one string of its id, compared by reference: no hash of its text) is covered.</summary>
        public bool ContainsInterned(string interned, Func<string, string> intern)
        {
            if (_all)
            {
                return true;
            }

            foreach (var part in parts)
            {
                if (part.Interned(intern).Contains(interned))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>One entitlement's reach (itself and everything downstream), by text and, made once on first use, by interned string.</summary>
    private sealed class ReachSet(HashSet<string> ids)
    {
        private HashSet<string>? _interned;

        public HashSet<string> Ids { get; } = ids;

        /// <summary>The same entitlements as their interned strings, compared by reference (safe on all cores: a race builds equal sets).</summary>
        public HashSet<string> Interned(Func<string, string> intern)
        {
            return Volatile.Read(ref _interned) ?? Build();

            HashSet<string> Build()
            {
                var byReference = new HashSet<string>(Ids.Count, ReferenceEqualityComparer.Instance);
                foreach (string id in Ids)
                {
                    byReference.Add(intern(id));
                }

                return Interlocked.CompareExchange(ref _interned, byReference, null) ?? byReference;
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
