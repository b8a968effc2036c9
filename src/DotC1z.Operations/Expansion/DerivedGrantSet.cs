using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using DotC1z.Codecs;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations;

/// <summary>
/// An expansion's derived grants as a few numbers each — the destination, the principal, the combination of carrying
/// edges — handed to a bulk loader that writes them straight into its sorted outputs (docs/DESIGN.md §9, "Derived grants
/// as a sorted set"). A derived grant is <c>T:type:id</c> with the destination's entitlement, the principal and a
/// template of sources, discovery time and the GrantImmutable marker; its stored bytes are the concatenation of four
/// pre-encoded pieces (id, entitlement, principal, template), byte for byte what encoding the record gives. The reduce
/// thread hands over destination after destination (<see cref="TryTake"/>); a builder thread of the set sorts their
/// principals, encodes their templates and hashes their digests beside it; <see cref="Seal"/> waits for it and fixes
/// the orders. Read by any number of cursors at once.
/// </summary>
internal sealed class DerivedGrantSet : ISortedGrantSet, IDisposable
{
    // Destinations waiting for the builder: a few, so the reduce runs ahead without holding many.
    private const int PendingDestinations = 16;

    private readonly BlockingCollection<Pending> _pending = new(PendingDestinations);
    private readonly CancellationTokenSource _builderFailed = new();
    private Task? _builder;
    private long _reserved;
    private Transposed? _transposed;
    private readonly object _progressGate = new();
    private long _entriesRead;
    private int[]? _templateOfRank;

    /// <summary>Bytes held per grant: principal and template (8), and its place and template in the by-principal order while that is written (12).</summary>
    public const int BytesPerGrant = 20;

    private readonly PrincipalBytes _principals;
    private readonly long _budgetGrants;
    private readonly List<Block> _blocks = [];
    private int[] _byTarget = [];
    private int[] _byColon = [];
    private bool _hasClusters;
    private HashSet<long>? _dead;
    private bool _sealed;

    /// <summary>A set for the principals of <paramref name="principals"/> (all interned already), holding at most <paramref name="budgetBytes"/>.</summary>
    public DerivedGrantSet(PrincipalTable principals, long budgetBytes)
    {
        _principals = new PrincipalBytes(principals);
        _budgetGrants = Math.Max(0, budgetBytes / BytesPerGrant);
    }

    /// <inheritdoc/>
    public long Count { get; private set; }

    /// <summary>Entries a loader writes per grant: one per <see cref="GrantOrder"/>.</summary>
    public int EntriesPerGrant => 4;

    /// <summary>Called with the entries read so far by all cursors together, every 64Ki entries and at each cursor's end (one call at a time).</summary>
    public Action<long>? Progress { get; set; }

    private void Read(long entries)
    {
        long done = Interlocked.Add(ref _entriesRead, entries);
        if (Progress is { } progress)
        {
            lock (_progressGate)
            {
                progress(done);
            }
        }
    }

    /// <inheritdoc/>
    /// <remarks>Hashed from each grant's three layout parts (entitlement, principal, template's sources) as the grants are taken.</remarks>
    public IReadOnlyDictionary<string, GrantDigest>? Digests { get; private set; }

    /// <summary>
    /// Takes the derived grants of a destination — every principal not <paramref name="consumed"/> by an existing
    /// grant — unless they would exceed the budget (the caller then writes them as records). The destination must stay
    /// unchanged; the builder thread reads it later. Called from one thread, destinations in the order of writing.
    /// </summary>
    /// <returns>Whether the grants were taken.</returns>
    public bool TryTake(Destination d, bool[] consumed, EntitlementRef entRef, Timestamp now, Any immutable, out int added)
    {
        if (_sealed)
        {
            throw new InvalidOperationException("the set is sealed");
        }

        added = 0;
        for (int i = 0; i < d.Count; i++)
        {
            added += consumed[i] ? 0 : 1;
        }

        if (added == 0 || _reserved + added > _budgetGrants)
        {
            bool none = added == 0;
            added = 0;
            return none;
        }

        _reserved += added;
        _builder ??= Task.Factory.StartNew(Build, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            _pending.Add(new Pending(d, consumed, entRef, now, immutable, added), _builderFailed.Token);
        }
        catch (OperationCanceledException)
        {
            // The builder failed: its exception is the one to report.
            _builder.GetAwaiter().GetResult();
            throw;
        }

        return true;
    }

    /// <summary>A destination handed over, waiting for the builder.</summary>
    private sealed record Pending(Destination D, bool[] Consumed, EntitlementRef EntRef, Timestamp Now, Any Immutable, int Added);

    private void Build()
    {
        try
        {
            foreach (var p in _pending.GetConsumingEnumerable())
            {
                Add(p.D, p.Consumed, p.EntRef, p.Now, p.Immutable, p.Added);
            }
        }
        catch
        {
            _builderFailed.Cancel();
            throw;
        }
    }

    /// <summary>Builds one destination's block (the builder thread).</summary>
    private void Add(Destination d, bool[] consumed, EntitlementRef entRef, Timestamp now, Any immutable, int added)
    {

        // (tuple rank << 32 | template): sorting puts the principals in the by-entitlement order.
        var keys = new long[added];
        var suffixes = new List<byte[]>();
        var sourceLayouts = new List<byte[]>();
        var single = new int[d.Edges.Count * 2];
        Array.Fill(single, -1);
        Dictionary<EntrySlice, int>? multiple = null;
        int n = 0;
        for (int i = 0; i < d.Count; i++)
        {
            if (consumed[i])
            {
                continue;
            }

            int from = d.Starts[i], to = d.Starts[i + 1];
            int template;
            if (to - from == 1)
            {
                ref int slot = ref single[d.Entries[from]];
                if (slot < 0)
                {
                    slot = suffixes.Count;
                    AddTemplate(DerivedGrants.Template(d, from, to, null, now, immutable));
                }

                template = slot;
            }
            else
            {
                multiple ??= [];
                var key = new EntrySlice(d.Entries, from, to - from);
                if (!multiple.TryGetValue(key, out template))
                {
                    multiple[key] = template = suffixes.Count;
                    AddTemplate(DerivedGrants.Template(d, from, to, null, now, immutable));
                }
            }

            keys[n++] = ((long)_principals.TupleRank[d.Principals[i]] << 32) | (uint)template;
        }

        SortByRank(keys);
        var principals = new int[n];
        var templates = new int[n];
        byte[] entitlementLayout = GrantDigest.EntitlementLayout(entRef);
        ulong xor = 0;
        for (int k = 0; k < n; k++)
        {
            principals[k] = _principals.ByTupleRank[(int)(keys[k] >> 32)];
            templates[k] = (int)(uint)keys[k];
            xor ^= GrantDigest.HashLayout(entitlementLayout, _principals.Layout(principals[k]), sourceLayouts[templates[k]]);
        }

        byte[] target = Encoding.UTF8.GetBytes(d.Target);
        _blocks.Add(new Block
        {
            TargetId = d.Target,
            Target = target,
            Colon = [.. target, (byte)':'],
            ResourceType = Encoding.UTF8.GetBytes(entRef.ResourceTypeId),
            ResourceId = Encoding.UTF8.GetBytes(entRef.ResourceId),
            EntitlementField = Encode(new GrantRecord { Entitlement = entRef }),
            Suffixes = [.. suffixes],
            Principals = principals,
            Templates = templates,
            FirstOrdinal = Count,
            EntitlementLayout = entitlementLayout,
            SourceLayouts = [.. sourceLayouts],
            Digest = new GrantDigest(n, xor),
        });
        Count += n;

        void AddTemplate(GrantRecord t)
        {
            suffixes.Add(Encode(t));
            sourceLayouts.Add(GrantDigest.SourcesLayout(t.Sources.Keys));
        }
    }

    /// <summary>
    /// Sorts (rank, template) keys by rank. Ranks are distinct (one key per principal), so a destination holding a good
    /// share of all principals is bucketed through an array of every rank — linear — and only a sparse one is sorted.
    /// </summary>
    private void SortByRank(long[] keys)
    {
        int ranks = _principals.Count;
        if ((long)keys.Length * 16 < ranks)
        {
            Array.Sort(keys);
            return;
        }

        if (_templateOfRank is null)
        {
            _templateOfRank = new int[ranks];
            Array.Fill(_templateOfRank, -1);
        }

        foreach (long key in keys)
        {
            _templateOfRank[(int)(key >> 32)] = (int)(uint)key;
        }

        int n = 0;
        for (int r = 0; r < ranks; r++)
        {
            int template = _templateOfRank[r];
            if (template >= 0)
            {
                keys[n++] = ((long)r << 32) | (uint)template;
                _templateOfRank[r] = -1;
            }
        }
    }

    /// <summary>
    /// Waits for the builder and fixes the orders once every destination is in (the by-principal order is built here,
    /// before the load needs it); derived ids that repeat (possible only between entitlements whose ids extend one
    /// another past a colon) keep the last destination's grant, as writing them one by one did.
    /// </summary>
    public void Seal()
    {
        if (_sealed)
        {
            return;
        }

        _pending.CompleteAdding();
        _builder?.GetAwaiter().GetResult();
        _sealed = true;
        _byTarget = [.. Enumerable.Range(0, _blocks.Count)];
        Array.Sort(_byTarget, (a, b) => _blocks[a].Target.AsSpan().SequenceCompareTo(_blocks[b].Target));
        _byColon = [.. Enumerable.Range(0, _blocks.Count)];
        Array.Sort(_byColon, (a, b) => _blocks[a].Colon.AsSpan().SequenceCompareTo(_blocks[b].Colon));

        // A cluster: blocks whose ids can interleave, because one's "T:" starts another's. Sorted by "T:", a cluster is
        // its first block and every block after it whose "T:" starts with the first's.
        int head = -1;
        foreach (int b in _byColon)
        {
            if (head >= 0 && _blocks[b].Colon.AsSpan().StartsWith(_blocks[head].Colon))
            {
                _blocks[b].Cluster = head;
                _hasClusters = true;
            }
            else
            {
                _blocks[b].Cluster = head = b;
            }
        }

        if (_hasClusters)
        {
            FindRepeatedIds();
        }

        // A repeated id's losing grant is not written: out of its entitlement's digest.
        foreach (long ordinal in _dead ?? [])
        {
            var block = BlockOf(ordinal);
            int position = (int)(ordinal - block.FirstOrdinal);
            ulong hash = GrantDigest.HashLayout(block.EntitlementLayout, _principals.Layout(block.Principals[position]), block.SourceLayouts[block.Templates[position]]);
            block.Digest = new GrantDigest(block.Digest.Count - 1, block.Digest.Xor ^ hash);
        }

        var digests = new Dictionary<string, GrantDigest>(_blocks.Count, StringComparer.Ordinal);
        foreach (var block in _blocks)
        {
            digests[block.TargetId] = digests.TryGetValue(block.TargetId, out var d) ? d.Combine(block.Digest) : block.Digest;
        }

        Digests = digests;
        _transposed = Transpose();
    }

    /// <summary>Stops the builder when the expansion failed before <see cref="Seal"/> (its failure, if any, is not reported again).</summary>
    public void Dispose()
    {
        _pending.CompleteAdding();
        try
        {
            _builder?.Wait();
        }
        catch (AggregateException)
        {
            // Reported by TryTake or Seal.
        }

        _pending.Dispose();
        _builderFailed.Dispose();
    }

    /// <inheritdoc/>
    public ISortedGrantCursor Open(GrantOrder order)
    {
        if (!_sealed)
        {
            throw new InvalidOperationException("the set is not sealed");
        }

        // Whole blocks one after another, in each block's own order, unless ids interleave between blocks or within one.
        bool wholeBlocks = !_hasClusters && _principals.FlatIsTuple;
        return order switch
        {
            GrantOrder.ByEntitlement => new Cursor(this, _byTarget),
            GrantOrder.ById => wholeBlocks ? new Cursor(this, _byColon) : new Cursor(this, IdOrder(_byColon)),
            GrantOrder.ByEntitlementResource => wholeBlocks ? new Cursor(this, ByResource()) : new Cursor(this, ResourceOrder()),
            GrantOrder.ByPrincipal => new Cursor(this, _transposed!),
            _ => throw new ArgumentOutOfRangeException(nameof(order)),
        };
    }

    private static long Pack(int block, int position) => ((long)block << 32) | (uint)position;

    /// <summary>Id order over blocks sorted by "T:": a block alone in its cluster in principal order, a cluster merged by whole ids.</summary>
    private IEnumerable<long> IdOrder(IReadOnlyList<int> blocks)
    {
        for (int i = 0; i < blocks.Count;)
        {
            int j = i + 1;
            while (j < blocks.Count && _blocks[blocks[j]].Cluster == _blocks[blocks[i]].Cluster)
            {
                j++;
            }

            var entries = j - i == 1 ? FlatOrder(blocks[i]) : MergeById([.. blocks.Skip(i).Take(j - i)]);
            foreach (long e in entries)
            {
                yield return e;
            }

            i = j;
        }
    }

    /// <summary>A block's grants in id order: "T:" then <c>type:id</c>, which is the by-entitlement order unless some principal type sorts otherwise with its colon.</summary>
    private IEnumerable<long> FlatOrder(int b)
    {
        var block = _blocks[b];
        if (_principals.FlatIsTuple)
        {
            for (int i = 0; i < block.Principals.Length; i++)
            {
                yield return Pack(b, i);
            }

            yield break;
        }

        int[] positions = [.. Enumerable.Range(0, block.Principals.Length)];
        Array.Sort(positions, (x, y) => _principals.FlatRank[block.Principals[x]].CompareTo(_principals.FlatRank[block.Principals[y]]));
        foreach (int i in positions)
        {
            yield return Pack(b, i);
        }
    }

    private IEnumerable<long> MergeById(int[] blocks)
    {
        var queue = new PriorityQueue<(IEnumerator<long> Entries, long Current), byte[]>(ByteOrder.Instance);
        foreach (int b in blocks)
        {
            var entries = FlatOrder(b).GetEnumerator();
            if (entries.MoveNext())
            {
                queue.Enqueue((entries, entries.Current), IdOf(entries.Current));
            }
        }

        while (queue.TryDequeue(out var head, out _))
        {
            yield return head.Current;
            if (head.Entries.MoveNext())
            {
                queue.Enqueue((head.Entries, head.Entries.Current), IdOf(head.Entries.Current));
            }
        }
    }

    /// <summary>Blocks by the entitlement's resource, then "T:".</summary>
    private int[] ByResource()
    {
        int[] byResource = [.. _byColon];
        Array.Sort(byResource, (a, b) =>
        {
            int c = _blocks[a].ResourceType.AsSpan().SequenceCompareTo(_blocks[b].ResourceType);
            c = c != 0 ? c : _blocks[a].ResourceId.AsSpan().SequenceCompareTo(_blocks[b].ResourceId);
            return c != 0 ? c : _blocks[a].Colon.AsSpan().SequenceCompareTo(_blocks[b].Colon);
        });
        return byResource;
    }

    private IEnumerable<long> ResourceOrder()
    {
        int[] byResource = ByResource();
        for (int i = 0; i < byResource.Length;)
        {
            int j = i + 1;
            while (j < byResource.Length && _blocks[byResource[j]].ResourceType.AsSpan().SequenceEqual(_blocks[byResource[i]].ResourceType)
                && _blocks[byResource[j]].ResourceId.AsSpan().SequenceEqual(_blocks[byResource[i]].ResourceId))
            {
                j++;
            }

            foreach (long e in IdOrder(byResource[i..j]))
            {
                yield return e;
            }

            i = j;
        }
    }

    /// <summary>
    /// The transposition: each principal's grants (principals in by-entitlement order), in id order — blocks by "T:",
    /// one principal's ids sharing <c>:type:id</c> — built with a counting sort, 12 bytes a grant while it is read: the
    /// packed (block, position) and the template beside it, so the pass reads no block's arrays at random.
    /// </summary>
    private Transposed Transpose()
    {
        var starts = new int[_principals.Count + 1];
        foreach (var block in _blocks)
        {
            foreach (int p in block.Principals)
            {
                starts[_principals.TupleRank[p] + 1]++;
            }
        }

        for (int r = 0; r < _principals.Count; r++)
        {
            starts[r + 1] += starts[r];
        }

        // Every slot is written below: no zeroing. The scattered writes are the cost; two lanes each take half the
        // principals (each reading every block, sequentially).
        var entries = GC.AllocateUninitializedArray<long>(checked((int)Count));
        var templates = GC.AllocateUninitializedArray<int>(checked((int)Count));
        int lanes = Math.Max(1, Math.Min(Math.Min(2, Environment.ProcessorCount), _principals.Count));
        int split = _principals.Count / lanes;
        Parallel.For(0, lanes, new ParallelOptions { MaxDegreeOfParallelism = lanes }, lane =>
        {
            int from = lane * split, to = lane == lanes - 1 ? _principals.Count : from + split;
            var next = starts[..^1];
            foreach (int b in _byColon)
            {
                var block = _blocks[b];
                for (int i = 0; i < block.Principals.Length; i++)
                {
                    int rank = _principals.TupleRank[block.Principals[i]];
                    if (rank >= from && rank < to)
                    {
                        int at = next[rank]++;
                        entries[at] = Pack(b, i);
                        templates[at] = block.Templates[i];
                    }
                }
            }
        });

        if (_hasClusters)
        {
            // Within a cluster, one principal's ids need their whole bytes compared.
            for (int r = 0; r < _principals.Count; r++)
            {
                for (int i = starts[r]; i < starts[r + 1];)
                {
                    int j = i + 1;
                    while (j < starts[r + 1] && _blocks[(int)(entries[j] >> 32)].Cluster == _blocks[(int)(entries[i] >> 32)].Cluster)
                    {
                        j++;
                    }

                    if (j - i > 1)
                    {
                        Array.Sort(entries, templates, i, j - i, Comparer<long>.Create((x, y) => ByteOrder.Instance.Compare(IdOf(x), IdOf(y))));
                    }

                    i = j;
                }
            }
        }

        return new Transposed(entries, templates, starts);
    }

    private void FindRepeatedIds()
    {
        byte[]? previous = null;
        long previousOrdinal = -1;
        foreach (long e in IdOrder(_byColon))
        {
            byte[] id = IdOf(e);
            long ordinal = OrdinalOf(e);
            if (previous is not null && previous.AsSpan().SequenceEqual(id))
            {
                // The later destination's grant is the one kept.
                _dead ??= [];
                _dead.Add(Math.Min(previousOrdinal, ordinal));
                ordinal = Math.Max(previousOrdinal, ordinal);
            }

            previous = id;
            previousOrdinal = ordinal;
        }
    }

    /// <summary>The block holding a grant (blocks are in the order they were taken, by rising first ordinal).</summary>
    private Block BlockOf(long ordinal)
    {
        int lo = 0, hi = _blocks.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) >> 1;
            if (_blocks[mid].FirstOrdinal <= ordinal)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return _blocks[lo];
    }

    private long OrdinalOf(long entry) => _blocks[(int)(entry >> 32)].FirstOrdinal + (int)entry;

    private byte[] IdOf(long entry)
    {
        var block = _blocks[(int)(entry >> 32)];
        return [.. block.Colon, .. _principals.Flat(block.Principals[(int)entry])];
    }

    internal static byte[] Encode(GrantRecord record)
    {
        byte[]? buffer = null;
        try
        {
            return GrantRecordCodec.EncodeCompactPooled(record, ref buffer, out int written) == OperationStatus.Done
                ? buffer.AsSpan(0, written).ToArray()
                : record.ToByteArray();
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>One destination's derived grants, principals in by-entitlement order.</summary>
    private sealed class Block
    {
        public required string TargetId { get; init; }

        public required byte[] Target { get; init; }

        /// <summary><c>T:</c>, the start of every derived id of the block.</summary>
        public required byte[] Colon { get; init; }

        public required byte[] ResourceType { get; init; }

        public required byte[] ResourceId { get; init; }

        /// <summary>Field 3 (the entitlement) of every grant of the block, encoded.</summary>
        public required byte[] EntitlementField { get; init; }

        /// <summary>Per template: fields 5, 8 and 9 (discovery time, GrantImmutable, sources), encoded.</summary>
        public required byte[][] Suffixes { get; init; }

        public required int[] Principals { get; init; }

        public required int[] Templates { get; init; }

        public required long FirstOrdinal { get; init; }

        /// <summary>The entitlement's part of each grant's hashed layout (<see cref="GrantDigest.EntitlementLayout"/>).</summary>
        public required byte[] EntitlementLayout { get; init; }

        /// <summary>Per template: the sources' part of the hashed layout.</summary>
        public required byte[][] SourceLayouts { get; init; }

        /// <summary>The digest of the block's grants written (repeated ids' losers taken out at <see cref="Seal"/>).</summary>
        public required GrantDigest Digest { get; set; }

        /// <summary>The first block of its cluster (sealed sets).</summary>
        public int Cluster { get; set; }
    }

    /// <summary>The by-principal order: packed (block, position) entries, their templates, and where each principal rank's entries start.</summary>
    private sealed record Transposed(long[] Entries, int[] Templates, int[] Starts);

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }

    /// <summary>
    /// A pass in one order: whole blocks in a given order (the common case, no enumerator per grant), an array of
    /// packed (block, position) entries, or an enumeration of them.
    /// </summary>
    private sealed class Cursor : ISortedGrantCursor
    {
        private readonly DerivedGrantSet _set;
        private readonly int[]? _blockOrder;
        private readonly Transposed? _transposed;
        private readonly IEnumerator<long>? _entries;
        private int _next = -1;
        private Block _block = null!;
        private int _blockLength;
        private int _position = -1;
        private int _principal;
        private int _template;
        private int _rank;
        private byte[] _id = new byte[256];
        private int _idLength;
        private byte[] _value = new byte[1024];
        private int _valueLength = -1;

        // Progress every 64Ki entries read.
        private const int ProgressMask = 0xFFFF;
        private long _read;

        public Cursor(DerivedGrantSet set, int[] blockOrder)
        {
            _set = set;
            _blockOrder = blockOrder;
        }

        public Cursor(DerivedGrantSet set, Transposed transposed)
        {
            _set = set;
            _transposed = transposed;
        }

        public Cursor(DerivedGrantSet set, IEnumerable<long> entries)
        {
            _set = set;
            _entries = entries.GetEnumerator();
        }

        public long Ordinal { get; private set; }

        public ReadOnlySpan<byte> ExternalId => _id.AsSpan(0, _idLength);

        public ReadOnlySpan<byte> EntitlementId => _block.Target;

        public ReadOnlySpan<byte> EntitlementResourceType => _block.ResourceType;

        public ReadOnlySpan<byte> EntitlementResourceId => _block.ResourceId;

        public ReadOnlySpan<byte> PrincipalType => _set._principals.Type(_principal);

        public ReadOnlySpan<byte> PrincipalId => _set._principals.Id(_principal);

        public ReadOnlySpan<byte> Value
        {
            get
            {
                if (_valueLength < 0)
                {
                    BuildValue();
                }

                return _value.AsSpan(0, _valueLength);
            }
        }

        public bool MoveNext()
        {
            while (Advance())
            {
                Ordinal = _block.FirstOrdinal + _position;
                if (_set._dead is { } dead && dead.Contains(Ordinal))
                {
                    continue;
                }

                var flat = _set._principals.Flat(_principal);
                int length = _block.Colon.Length + flat.Length;
                if (length > _id.Length)
                {
                    _id = new byte[Math.Max(length, _id.Length * 2)];
                }

                _block.Colon.CopyTo(_id, 0);
                flat.CopyTo(_id.AsSpan(_block.Colon.Length));
                _idLength = length;
                _valueLength = -1;
                if ((++_read & ProgressMask) == 0)
                {
                    _set.Read(ProgressMask + 1);
                }

                return true;
            }

            return false;
        }

        private bool Advance()
        {
            if (_blockOrder is not null)
            {
                if (++_position >= _blockLength)
                {
                    do
                    {
                        if (++_next >= _blockOrder.Length)
                        {
                            return false;
                        }

                        _block = _set._blocks[_blockOrder[_next]];
                        _blockLength = _block.Principals.Length;
                        _position = 0;
                    }
                    while (_blockLength == 0);
                }

                _principal = _block.Principals[_position];
                _template = _block.Templates[_position];
                return true;
            }

            long e;
            if (_transposed is not null)
            {
                if (++_next >= _transposed.Entries.Length)
                {
                    return false;
                }

                while (_next >= _transposed.Starts[_rank + 1])
                {
                    _rank++;
                }

                e = _transposed.Entries[_next];
                _block = _set._blocks[(int)(e >> 32)];
                _position = (int)e;
                _principal = _set._principals.ByTupleRank[_rank];
                _template = _transposed.Templates[_next];
                return true;
            }

            if (_entries!.MoveNext())
            {
                e = _entries.Current;
            }
            else
            {
                return false;
            }

            _block = _set._blocks[(int)(e >> 32)];
            _position = (int)e;
            _principal = _block.Principals[_position];
            _template = _block.Templates[_position];
            return true;
        }

        /// <summary>Field 2 (the id), then the entitlement, the principal and the template: the canonical field order.</summary>
        private void BuildValue()
        {
            var principal = _set._principals.Field(_principal);
            var suffix = _block.Suffixes[_template];
            int length = 1 + 5 + _idLength + _block.EntitlementField.Length + principal.Length + suffix.Length;
            if (length > _value.Length)
            {
                _value = new byte[Math.Max(length, _value.Length * 2)];
            }

            var span = _value.AsSpan();
            span[0] = 0x12;
            int n = 1;
            for (uint v = (uint)_idLength; ; v >>= 7)
            {
                if (v < 0x80)
                {
                    span[n++] = (byte)v;
                    break;
                }

                span[n++] = (byte)(v | 0x80);
            }

            _id.AsSpan(0, _idLength).CopyTo(span[n..]);
            n += _idLength;
            _block.EntitlementField.CopyTo(span[n..]);
            n += _block.EntitlementField.Length;
            principal.CopyTo(span[n..]);
            n += principal.Length;
            suffix.CopyTo(span[n..]);
            _valueLength = n + suffix.Length;
        }

        public void Dispose()
        {
            _entries?.Dispose();
            _set.Read(_read & ProgressMask);
            _read = 0;
        }
    }
}

/// <summary>
/// The bytes of an expansion's principals for derived grants, in one arena: <c>type:id</c> (the end of a derived id),
/// field 4 of a grant (the principal, encoded) and the principal's part of the digest layout; with their ranks in tuple order (type, then id) and in the order of
/// <c>type:id</c>.
/// </summary>
internal sealed class PrincipalBytes
{
    private readonly byte[] _arena;
    private readonly int[] _start;
    private readonly int[] _typeLength;
    private readonly int[] _flatLength;
    private readonly int[] _fieldLength;
    private readonly int[] _layoutLength;

    public PrincipalBytes(PrincipalTable principals)
    {
        Count = principals.Count;
        _start = new int[Count];
        _typeLength = new int[Count];
        _flatLength = new int[Count];
        _fieldLength = new int[Count];
        _layoutLength = new int[Count];
        var arena = new ArrayBufferWriter<byte>();
        for (int p = 0; p < Count; p++)
        {
            var (type, id) = principals.Key(p);
            _start[p] = arena.WrittenCount;
            int typeLength = Encoding.UTF8.GetBytes(type, arena.GetSpan(Encoding.UTF8.GetMaxByteCount(type.Length)));
            arena.Advance(typeLength);
            arena.GetSpan(1)[0] = (byte)':';
            arena.Advance(1);
            int idLength = Encoding.UTF8.GetBytes(id, arena.GetSpan(Encoding.UTF8.GetMaxByteCount(id.Length)));
            arena.Advance(idLength);
            byte[] field = DerivedGrantSet.Encode(new GrantRecord { Principal = principals.Ref(p) });
            arena.Write(field);
            byte[] layout = GrantDigest.PrincipalLayout(principals.Ref(p));
            arena.Write(layout);
            _layoutLength[p] = layout.Length;
            _typeLength[p] = typeLength;
            _flatLength[p] = typeLength + 1 + idLength;
            _fieldLength[p] = field.Length;
        }

        _arena = arena.WrittenSpan.ToArray();
        ByTupleRank = [.. Enumerable.Range(0, Count)];
        Array.Sort(ByTupleRank, (a, b) =>
        {
            int c = Type(a).SequenceCompareTo(Type(b));
            return c != 0 ? c : Id(a).SequenceCompareTo(Id(b));
        });
        int[] byFlat = [.. ByTupleRank];
        Array.Sort(byFlat, (a, b) => Flat(a).SequenceCompareTo(Flat(b)));
        FlatIsTuple = byFlat.AsSpan().SequenceEqual(ByTupleRank);
        TupleRank = Invert(ByTupleRank);
        FlatRank = Invert(byFlat);
    }

    public int Count { get; }

    /// <summary>Principals (intern ids) in tuple order.</summary>
    public int[] ByTupleRank { get; }

    /// <summary>Each principal's place in tuple order.</summary>
    public int[] TupleRank { get; }

    /// <summary>Each principal's place in the order of <c>type:id</c>.</summary>
    public int[] FlatRank { get; }

    /// <summary>Whether both orders agree (always, unless a type sorts before another only through the colon).</summary>
    public bool FlatIsTuple { get; }

    public ReadOnlySpan<byte> Type(int p) => _arena.AsSpan(_start[p], _typeLength[p]);

    public ReadOnlySpan<byte> Id(int p) => _arena.AsSpan(_start[p] + _typeLength[p] + 1, _flatLength[p] - _typeLength[p] - 1);

    public ReadOnlySpan<byte> Flat(int p) => _arena.AsSpan(_start[p], _flatLength[p]);

    public ReadOnlySpan<byte> Field(int p) => _arena.AsSpan(_start[p] + _flatLength[p], _fieldLength[p]);

    /// <summary>The principal's part of a grant's hashed layout (<see cref="GrantDigest.PrincipalLayout"/>).</summary>
    public ReadOnlySpan<byte> Layout(int p) => _arena.AsSpan(_start[p] + _flatLength[p] + _fieldLength[p], _layoutLength[p]);

    private static int[] Invert(int[] order)
    {
        var rank = new int[order.Length];
        for (int r = 0; r < order.Length; r++)
        {
            rank[order[r]] = r;
        }

        return rank;
    }
}
