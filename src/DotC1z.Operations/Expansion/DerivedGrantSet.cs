using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
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
internal sealed partial class DerivedGrantSet : ISortedGrantSet, IDisposable
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
        // Per template: its encoded fields and the sources' part of the digest layout; the number is its place here.
        var suffixes = new List<byte[]>();
        var sourceLayouts = new List<byte[]>();
        var templateOf = new DestinationTemplates<StrongBox<int>>(d, (from, to) =>
        {
            var t = DerivedGrants.Template(d, from, to, null, now, immutable);
            suffixes.Add(Encode(t));
            sourceLayouts.Add(GrantDigest.SourcesLayout(t.Sources.Keys));
            return new StrongBox<int>(suffixes.Count - 1);
        });

        // (tuple rank << 32 | template): sorting puts the principals in the by-entitlement order.
        var keys = new long[added];
        int n = 0;
        for (int i = 0; i < d.Count; i++)
        {
            if (!consumed[i])
            {
                keys[n++] = ((long)_principals.TupleRank[d.Principals[i]] << 32) | (uint)templateOf.Of(i).Value;
            }
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

        // One block per destination entitlement.
        Digests = _blocks.ToDictionary(b => b.TargetId, b => b.Digest, StringComparer.Ordinal);
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
}
