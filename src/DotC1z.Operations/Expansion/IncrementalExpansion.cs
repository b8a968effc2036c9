using System.Diagnostics.CodeAnalysis;
using System.Text;
using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations;

public static partial class GrantExpander
{
    /// <summary>
    /// Brings an expanded sync up to date with a newer unexpanded sync, recomputing only what the
    /// changes reach: afterwards the grants of <paramref name="expandedSync"/> are exactly those
    /// <see cref="Expand"/> would produce from <paramref name="nextSync"/> (sources included; the
    /// <c>discovered_at</c> of derived grants that did not change is kept). Propagation recomputes the
    /// (entitlement, principal) pairs whose holding or sources change, plus whole entitlements whose
    /// incoming edges change (added, removed or narrowed edges, new or broken cycles, a moved depth
    /// limit): additions and revocations alike, no fallback to a full expansion. Reads are per
    /// principal: every grant of a principal the changes reach is read twice (once reduced to
    /// holdings for propagation, in place where the store hands out stored bytes; once for the
    /// recomputed pairs' stored records), and the changed grants are written back in batches of puts
    /// and deletes, with the records just read as their committed values
    /// (<see cref="IC1zWriter.WriteGrantChanges(SyncId, IReadOnlyList{GrantRecord}, IReadOnlyList{string}, IReadOnlyDictionary{string, GrantRecord})"/>).
    /// </summary>
    /// <param name="expanded">The store holding the full expansion of an earlier sync (written in place).</param>
    /// <param name="expandedSync">That expanded sync.</param>
    /// <param name="next">The store holding the newer, unexpanded sync (read only; may be <paramref name="expanded"/>).</param>
    /// <param name="nextSync">The newer sync.</param>
    /// <param name="changedGrantIds">
    /// External ids of every grant added, removed or modified between the earlier sync's input and
    /// <paramref name="nextSync"/> (a superset is fine; <see cref="ChangedGrants"/> computes one).
    /// Other records (entitlements, resources) are not copied: only grants are brought up to date.
    /// </param>
    /// <param name="options">The options the earlier expansion used (depth limit, <c>is_direct</c> rule).</param>
    /// <param name="cancellationToken">Stops before anything is written.</param>
    /// <returns>What was done; <see cref="ExpansionResult.EntitlementsRecomputed"/> counts the entitlements touched.</returns>
    /// <remarks>
    /// An expanded sync no longer shows which grants were flagged <c>needs_expansion</c>, so the earlier
    /// graph is rebuilt on the assumption baton's syncer makes true: a grant was flagged exactly when it
    /// carries an expandable annotation naming at least one entitlement. Grants outside
    /// <paramref name="changedGrantIds"/> declare the same edges in both syncs.
    /// </remarks>
    /// <exception cref="C1zReadOnlyException">The expanded store is read-only.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (nothing written).</exception>
    public static ExpansionResult ExpandIncremental(IC1zStore expanded, SyncId expandedSync, IC1zReader next, SyncId nextSync, IReadOnlyCollection<string> changedGrantIds, ExpansionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expanded);
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(changedGrantIds);
        options ??= new ExpansionOptions();
        if (expanded.IsReadOnly)
        {
            throw new C1zReadOnlyException();
        }

        return new Incremental(expanded, expandedSync, next, nextSync, changedGrantIds, options, cancellationToken).Run();
    }

    /// <summary>
    /// The grants that differ between an expanded sync and a newer unexpanded one, for
    /// <see cref="ExpandIncremental"/>: one scan of each. A grant of the expanded sync that only
    /// expansion wrote (marked <c>GrantImmutable</c>, id <c>T:type:id</c>, absent from the newer sync)
    /// is skipped; a grant present in both counts as unchanged when it is equal apart from
    /// <c>needs_expansion</c> and the sources expansion adds: either both carry the same sources, or
    /// the newer one has none and the expanded one has what §5.2 writes on a grant without sources —
    /// its own entitlement with the rule's <c>is_direct</c>, plus at least one other source. (A grant
    /// whose original sources had exactly that shape and that lost them is the one change this
    /// cannot see.)
    /// </summary>
    /// <param name="expanded">The store of the expanded sync.</param>
    /// <param name="expandedSync">The expanded sync.</param>
    /// <param name="next">The store of the newer sync.</param>
    /// <param name="nextSync">The newer, unexpanded sync.</param>
    /// <param name="options">The options of the earlier expansion (its <c>is_direct</c> rule).</param>
    /// <param name="cancellationToken">Stops the scans.</param>
    /// <returns>External ids added, removed or modified.</returns>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static IReadOnlyCollection<string> ChangedGrants(IC1zReader expanded, SyncId expandedSync, IC1zReader next, SyncId nextSync, ExpansionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(expanded);
        ArgumentNullException.ThrowIfNull(next);
        bool selfDirect = !(options ?? new ExpansionOptions()).LegacyIsDirectFalse;
        if (TryChangedGrantsEncoded(expanded, expandedSync, next, nextSync, selfDirect, cancellationToken) is { } fast)
        {
            return fast;
        }

        return ChangedRecords(expanded, expandedSync, next, nextSync, (old, current) => current is null ? !IsDerived(old) : !SameOriginal(old, current, selfDirect), cancellationToken);
    }

    /// <summary>
    /// The grants that differ between two unexpanded syncs, for <see cref="ExpandIncremental"/> when the input an
    /// expansion was made from is at hand: then the changes are found from the two inputs alone, without scanning
    /// the expanded sync (millions of derived grants; <see cref="ChangedGrants"/>). Where both stores hand out stored
    /// bytes a grant counts as changed when its bytes differ (a superset of the semantic changes, which
    /// <see cref="ExpandIncremental"/> accepts); otherwise when its records differ apart from <c>sync_id</c>.
    /// </summary>
    /// <param name="earlier">The store of the input the expansion was made from.</param>
    /// <param name="earlierSync">That input's sync (the sync the expansion was written as, for `c1z expand`).</param>
    /// <param name="next">The store of the newer sync.</param>
    /// <param name="nextSync">The newer, unexpanded sync.</param>
    /// <param name="cancellationToken">Stops the scans.</param>
    /// <returns>External ids added, removed or modified.</returns>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static IReadOnlyCollection<string> ChangedInputGrants(IC1zReader earlier, SyncId earlierSync, IC1zReader next, SyncId nextSync, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        ArgumentNullException.ThrowIfNull(next);
        if (TryMergeEncoded(earlier, earlierSync, next, nextSync, (before, after) => MergeChangedBytes(before, after, cancellationToken), cancellationToken) is { } fast)
        {
            return fast;
        }

        return ChangedRecords(earlier, earlierSync, next, nextSync, (old, current) => current is null || !SameRecord(old, current), cancellationToken);

        static bool SameRecord(GrantRecord a, GrantRecord b)
        {
            if (a.SyncId == b.SyncId)
            {
                return a.Equals(b);
            }

            var x = a.Clone();
            x.SyncId = b.SyncId;
            return x.Equals(b);
        }
    }

    /// <summary>
    /// The record road of <see cref="ChangedGrants"/> and <see cref="ChangedInputGrants"/>, for stores that do not hand
    /// out stored bytes: the newer sync by id in memory, the earlier one streamed against it. A grant only in the newer
    /// sync is changed; <paramref name="changed"/> decides for the others (its second argument null when the grant
    /// is only in the earlier sync).
    /// </summary>
    private static List<string> ChangedRecords(IC1zReader earlier, SyncId earlierSync, IC1zReader next, SyncId nextSync, Func<GrantRecord, GrantRecord?, bool> changed, CancellationToken cancellationToken)
    {
        var pending = new Dictionary<string, GrantRecord>(StringComparer.Ordinal);
        foreach (var g in next.Grants(nextSync))
        {
            pending[g.ExternalId] = g;
        }

        var ids = new List<string>();
        long n = 0;
        foreach (var old in earlier.Grants(earlierSync))
        {
            if (++n % 65536 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            if (changed(old, pending.Remove(old.ExternalId, out var current) ? current : null))
            {
                ids.Add(old.ExternalId);
            }
        }

        ids.AddRange(pending.Keys);
        return ids;
    }

    /// <summary>The merge of <see cref="ChangedInputGrants"/> over one pair of cursors covering the same ids: every id whose stored bytes differ.</summary>
    private static List<string> MergeChangedBytes(IEncodedGrantCursor before, IEncodedGrantCursor after, CancellationToken cancellationToken) =>
        MergeById(before, after, Id, (b, a) => b.SequenceEqual(a) ? null : Id(a), cancellationToken);

    /// <summary>What a merge by id makes of a grant in one sync only (its id when it counts as changed, else null).</summary>
    private delegate string? OneSide(ReadOnlySpan<byte> value);

    /// <summary>What a merge by id makes of a grant in both syncs (its id when it counts as changed, else null).</summary>
    private delegate string? BothSides(ReadOnlySpan<byte> before, ReadOnlySpan<byte> after);

    /// <summary>
    /// Walks two cursors over the same ids in id order: a grant only in <paramref name="before"/> goes to
    /// <paramref name="beforeOnly"/>, one in both to <paramref name="both"/>; a grant only in <paramref name="after"/> is changed.
    /// </summary>
    private static List<string> MergeById(IEncodedGrantCursor before, IEncodedGrantCursor after, OneSide beforeOnly, BothSides both, CancellationToken cancellationToken)
    {
        var changed = new List<string>();
        long n = 0;
        bool hasBefore = before.MoveNext(), hasAfter = after.MoveNext();
        while (hasBefore || hasAfter)
        {
            if (++n % 65536 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            int order = !hasBefore ? 1 : !hasAfter ? -1 : before.Id.SequenceCompareTo(after.Id);
            string? id = order < 0 ? beforeOnly(before.Value) : order > 0 ? Id(after.Value) : both(before.Value, after.Value);
            if (id is not null)
            {
                changed.Add(id);
            }

            hasBefore = order <= 0 ? before.MoveNext() : hasBefore;
            hasAfter = order >= 0 ? after.MoveNext() : hasAfter;
        }

        return changed;
    }

    /// <summary>
    /// <see cref="ChangedGrants"/> on the stored encodings, when both stores offer them (docs/DESIGN.md §6):
    /// the two syncs merged in id order. Nearly every grant of an expanded sync is derived, and decoding
    /// them all was the whole cost (≈ 11 s for G16's 5M grants); here a grant only in the expanded sync
    /// is recognised as derived from its id, entitlement, principal and annotations read in place, a grant
    /// stored with the same bytes in both is unchanged (unless it declares an edge, when the flag decides),
    /// and only the rest is decoded and compared as the record road does. The merge is one thread walking
    /// millions of entries (iterator, block decompression, in-place parse), so when the stores can cut the
    /// syncs into id ranges (<see cref="IC1zReader.GrantIdSplits"/>) each core merges one range.
    /// </summary>
    /// <returns>The changed ids (in id order), or null when a store cannot list its stored encoding.</returns>
    private static List<string>? TryChangedGrantsEncoded(IC1zReader expanded, SyncId expandedSync, IC1zReader next, SyncId nextSync, bool selfDirect, CancellationToken cancellationToken) =>
        TryMergeEncoded(expanded, expandedSync, next, nextSync, (before, after) => MergeChanged(before, after, selfDirect, cancellationToken), cancellationToken);

    /// <summary>
    /// Runs <paramref name="merge"/> over the two syncs' stored grants in id order, one id range per core where the
    /// stores can cut them (<see cref="IC1zReader.GrantIdSplits"/>), and concatenates what it found (still in id order).
    /// </summary>
    /// <returns>The ids found, or null when a store cannot list its stored encoding.</returns>
    private static List<string>? TryMergeEncoded(IC1zReader expanded, SyncId expandedSync, IC1zReader next, SyncId nextSync, Func<IEncodedGrantCursor, IEncodedGrantCursor, List<string>> merge, CancellationToken cancellationToken)
    {
        int cores = Environment.ProcessorCount;
        var splits = cores > 1 ? expanded.GrantIdSplits(expandedSync, cores) : [];
        if (splits.Count > 0 && TryOpenRanges(expanded, expandedSync, next, nextSync, splits) is { } ranges)
        {
            try
            {
                var found = new List<string>[ranges.Count];
                C1zErrors.Unwrapped(() => Parallel.For(0, ranges.Count, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = cores }, i =>
                    found[i] = merge(ranges[i].Before, ranges[i].After)), null);
                var all = new List<string>(found.Sum(f => f.Count));
                foreach (var f in found)
                {
                    all.AddRange(f);
                }

                return all;
            }
            finally
            {
                Close(ranges);
            }
        }

        if (!expanded.TryOpenEncodedGrants(expandedSync, out var whole))
        {
            return null;
        }

        using (whole)
        {
            if (!next.TryOpenEncodedGrants(nextSync, out var wholeNext))
            {
                return null;
            }

            using (wholeNext)
            {
                return merge(whole, wholeNext);
            }
        }
    }

    /// <summary>A cursor pair per id range (both syncs cut at the same bounds), or null when a store cannot open ranges.</summary>
    private static List<(IEncodedGrantCursor Before, IEncodedGrantCursor After)>? TryOpenRanges(IC1zReader expanded, SyncId expandedSync, IC1zReader next, SyncId nextSync, IReadOnlyList<byte[]> splits)
    {
        var ranges = new List<(IEncodedGrantCursor Before, IEncodedGrantCursor After)>(splits.Count + 1);
        try
        {
            for (int i = 0; i <= splits.Count; i++)
            {
                byte[]? from = i == 0 ? null : splits[i - 1], to = i == splits.Count ? null : splits[i];
                if (!expanded.TryOpenEncodedGrants(expandedSync, from, to, out var before))
                {
                    break;
                }

                if (!next.TryOpenEncodedGrants(nextSync, from, to, out var after))
                {
                    before.Dispose();
                    break;
                }

                ranges.Add((before, after));
            }
        }
        catch
        {
            Close(ranges);
            throw;
        }

        if (ranges.Count == splits.Count + 1)
        {
            return ranges;
        }

        Close(ranges);
        return null;
    }

    private static void Close(List<(IEncodedGrantCursor Before, IEncodedGrantCursor After)> ranges)
    {
        foreach (var (before, after) in ranges)
        {
            before.Dispose();
            after.Dispose();
        }
    }

    /// <summary>The merge of <see cref="TryChangedGrantsEncoded"/> over one pair of cursors covering the same ids.</summary>
    private static List<string> MergeChanged(IEncodedGrantCursor before, IEncodedGrantCursor after, bool selfDirect, CancellationToken cancellationToken) =>
        MergeById(
            before,
            after,
            value => IsDerivedEncoded(value, out string? id) ? null : id,
            (b, a) =>
            {
                if (b.SequenceEqual(a) && !MayDeclare(b))
                {
                    return null;
                }

                var old = CodecRegistry.Grant.Decode(b);
                return SameOriginal(old, CodecRegistry.Grant.Decode(a), selfDirect) ? null : old.ExternalId;
            },
            cancellationToken);

    private static readonly byte[] GrantImmutableUtf8 = Encoding.UTF8.GetBytes(GrantImmutableTypeUrl);

    /// <summary>The row of a stored grant, with its GrantImmutable mark and whether it carries an expansion annotation.</summary>
    /// <exception cref="C1zCorruptionException">The stored bytes are not a grant.</exception>
    private static GrantRow Parse(ReadOnlySpan<byte> value, out bool immutable, out bool expansion) =>
        GrantRow.TryParse(value, GrantImmutableUtf8, out var row, out immutable, out expansion) ? row : throw NotAGrant();

    /// <summary>The id of a stored grant (its annotations unread).</summary>
    private static string Id(ReadOnlySpan<byte> value) =>
        GrantRow.TryParse(value, out var row) ? Encoding.UTF8.GetString(row.ExternalId) : throw NotAGrant();

    private static C1zCorruptionException NotAGrant() => new("a stored grant does not decode");

    /// <summary>UTF-8 bytes as UTF-16 in a rented buffer (grown as needed), for dictionary lookups without a string per grant.</summary>
    private static ReadOnlySpan<char> Utf16(ReadOnlySpan<byte> utf8, ref char[]? buffer)
    {
        int max = Encoding.UTF8.GetMaxCharCount(utf8.Length);
        if (buffer is null || buffer.Length < max)
        {
            if (buffer is not null)
            {
                System.Buffers.ArrayPool<char>.Shared.Return(buffer);
            }

            buffer = System.Buffers.ArrayPool<char>.Shared.Rent(Math.Max(max, 256));
        }

        return buffer.AsSpan(0, Encoding.UTF8.GetChars(utf8, buffer));
    }

    /// <summary><see cref="IsDerived"/> read in place; <paramref name="id"/> is set only for a grant that is not derived.</summary>
    private static bool IsDerivedEncoded(ReadOnlySpan<byte> value, [NotNullWhen(false)] out string? id)
    {
        id = null;
        var row = Parse(value, out bool immutable, out _);

        // The id a derived grant gets: {entitlement}:{principal type}:{principal id}.
        var ext = row.ExternalId;
        int e = row.EntitlementId.Length, t = row.PrincipalResourceTypeId.Length;
        bool shaped = ext.Length == e + 1 + t + 1 + row.PrincipalResourceId.Length
            && ext[..e].SequenceEqual(row.EntitlementId) && ext[e] == (byte)':'
            && ext.Slice(e + 1, t).SequenceEqual(row.PrincipalResourceTypeId) && ext[e + 1 + t] == (byte)':'
            && ext[(e + t + 2)..].SequenceEqual(row.PrincipalResourceId);
        if (shaped && immutable)
        {
            return true;
        }

        id = Encoding.UTF8.GetString(ext);
        return false;
    }

    /// <summary>Whether an encoded grant may declare an edge while unflagged (then equal bytes do not mean unchanged: <see cref="SameOriginal"/> decides).</summary>
    private static bool MayDeclare(ReadOnlySpan<byte> value)
    {
        var row = Parse(value, out _, out bool expansion);
        return expansion && !row.NeedsExpansion;
    }

    private static bool IsDerived(GrantRecord g) =>
        g.Annotations.Any(a => a.TypeUrl == GrantImmutableTypeUrl)
        && g.ExternalId == $"{g.Entitlement?.EntitlementId}:{g.Principal?.ResourceTypeId}:{g.Principal?.ResourceId}";

    /// <summary>Whether an expanded grant is what expansion makes of <paramref name="current"/> (ignoring flags and added sources).</summary>
    private static bool SameOriginal(GrantRecord old, GrantRecord current, bool selfDirect)
    {
        // Declaring an edge is part of the input: an expanded grant declared one if it carries a
        // usable annotation (its flag was cleared), the newer grant only if it is also flagged.
        if (Declares(old) != (current.NeedsExpansion && Declares(current)))
        {
            return false;
        }

        var a = old.Clone();
        var b = current.Clone();
        a.NeedsExpansion = b.NeedsExpansion = false;
        a.SyncId = b.SyncId = string.Empty;
        if (b.Sources.Count == 0 && a.Sources.Count >= 2 && a.Sources.TryGetValue(a.Entitlement?.EntitlementId ?? string.Empty, out var self) && self.IsDirect == selfDirect)
        {
            a.Sources.Clear();
        }

        return a.Equals(b);
    }

    private static bool Declares(GrantRecord g) => g.Expansion is not null && g.Expansion.EntitlementIds.Any(id => !string.IsNullOrWhiteSpace(id));

    /// <summary>Whether a principal holds an entitlement in a set of records, and directly.</summary>
    private readonly record struct Holding(bool Holds, bool Direct)
    {
        public static Holding Of(string entitlement, List<GrantRecord>? records)
        {
            bool holds = false, direct = false;
            foreach (var r in records ?? [])
            {
                if (r.Principal is null)
                {
                    continue;
                }

                holds = true;
                direct |= r.Sources.Count == 0 || r.Sources.ContainsKey(entitlement);
            }

            return new Holding(holds, direct);
        }

        /// <summary>This holding with one more record of <paramref name="entitlement"/> (<see cref="Of"/>, one record at a time).</summary>
        public Holding With(string entitlement, GrantRecord r) =>
            r.Principal is null ? this : new Holding(true, Direct || r.Sources.Count == 0 || r.Sources.ContainsKey(entitlement));
    }

    /// <summary>Grants of the newer sync as records, loaded per principal (pairs) or per entitlement (whole recomputes).</summary>
    private sealed class GrantIndex(IC1zReader reader, SyncId sync)
    {
        private readonly Dictionary<(string, string), Dictionary<string, List<GrantRecord>>> _byPrincipal = [];
        private readonly Dictionary<string, Dictionary<(string, string), List<GrantRecord>>> _byEntitlement = new(StringComparer.Ordinal);

        public List<GrantRecord>? Records(string entitlement, (string Type, string Id) principal)
        {
            // Most updates load no entitlement whole: the lookup (a hash of the id) is skipped then.
            if (_byEntitlement.Count > 0 && _byEntitlement.TryGetValue(entitlement, out var e))
            {
                return e.GetValueOrDefault(principal);
            }

            if (!_byPrincipal.TryGetValue(principal, out var p))
            {
                _byPrincipal[principal] = p = Load(principal);
            }

            return p.GetValueOrDefault(entitlement);
        }

        /// <summary>Whether the principal's records were read.</summary>
        public bool HasRead((string, string) principal) => _byPrincipal.ContainsKey(principal);

        /// <summary>
        /// Loads the grants of many principals on all cores: pair recomputes only ever touch the
        /// principals of the changed grants (changes travel per principal), so they are known up front,
        /// and reading them from the expanded store is most of an incremental update.
        /// </summary>
        public void Prefetch(IEnumerable<(string, string)> principals, CancellationToken cancellationToken)
        {
            var todo = principals.Distinct().Where(p => !_byPrincipal.ContainsKey(p)).ToArray();
            var loaded = new Dictionary<string, List<GrantRecord>>[todo.Length];
            Parallel.For(0, todo.Length, new ParallelOptions { CancellationToken = cancellationToken }, i => loaded[i] = Load(todo[i]));
            for (int i = 0; i < todo.Length; i++)
            {
                _byPrincipal[todo[i]] = loaded[i];
            }
        }

        private Dictionary<string, List<GrantRecord>> Load((string Type, string Id) principal)
        {
            var p = new Dictionary<string, List<GrantRecord>>(StringComparer.Ordinal);
            foreach (var g in reader.GrantsByPrincipal(sync, principal.Type, principal.Id))
            {
                Add(p, g.Entitlement?.EntitlementId ?? string.Empty, g);
            }

            return p;
        }

        /// <summary>Loads a whole entitlement (its principals become known without a query each).</summary>
        public IEnumerable<(string, string)> Principals(string entitlement)
        {
            if (!_byEntitlement.TryGetValue(entitlement, out var e))
            {
                e = [];
                foreach (var g in reader.GrantsByEntitlement(sync, entitlement))
                {
                    Add(e, PrincipalTable.KeyOf(g), g);
                }

                _byEntitlement[entitlement] = e;
            }

            return e.Keys;
        }

        public static void Add<TKey>(Dictionary<TKey, List<GrantRecord>> map, TKey key, GrantRecord g)
            where TKey : notnull
        {
            if (!map.TryGetValue(key, out var list))
            {
                map[key] = list = [];
            }

            list.Add(g);
        }
    }

    /// <summary>
    /// The expanded sync's grants as the update needs them. Propagation needs only whether each
    /// principal holds each entitlement (and directly), so a principal's grants are read once and
    /// reduced to one <see cref="GrantExpander.Holding"/> per entitlement: keeping the records instead (about 500
    /// per user in a dense graph, most never compared) made the garbage collector copy all of them,
    /// five times the cost of reading them. Where the store hands out stored bytes, the prefetched
    /// principals' bytes are kept (native memory, 128 MiB in all at most; about 25 MB for G16's
    /// 200 principals) and the stored grants of each recomputed pair only are taken from them as it is
    /// recomputed (<see cref="TryStored"/>); otherwise those principals are read again (<see cref="Records"/>). Entitlements recomputed whole
    /// are loaded as records.
    /// </summary>
    private sealed class ExpandedIndex(IC1zReader reader, SyncId sync)
    {
        // Stored bytes kept per prefetched principal for the records pass, at most this many in all.
        private const long StashBudget = 128L << 20;

        private readonly Dictionary<(string, string), Dictionary<string, Holding>> _holdings = [];
        private readonly Dictionary<string, Dictionary<(string, string), List<GrantRecord>>> _byEntitlement = new(StringComparer.Ordinal);
        private readonly Dictionary<(string, string), Stash> _stashes = [];

        // The entitlement ids read so far, one string each (read on all cores).
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _names = new(StringComparer.Ordinal);

        // The most holdings one principal had so far, capped: the initial size of the next principal's dictionary.
        private const int MaxTypicalHoldings = 4096;
        private int _typicalHoldings;

        private string Intern(string name) => _names.GetOrAdd(name, name);

        private string Intern(ReadOnlySpan<char> name)
        {
            var lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();
            if (lookup.TryGetValue(name, out string? known))
            {
                return known;
            }

            string s = name.ToString();
            return _names.GetOrAdd(s, s);
        }

        /// <summary>The one string of an entitlement id the holdings and stashes are keyed by (<paramref name="name"/> itself when never read).</summary>
        public string Interned(string name) => _names.TryGetValue(name, out string? known) ? known : name;

        /// <summary>The holdings of a principal already read (null if not), to pass to <see cref="Holding(string, ValueTuple{string, string}, Dictionary{string, Holding}?)"/> for many entitlements.</summary>
        public Dictionary<string, Holding>? ReadHoldings((string, string) principal) => _holdings.GetValueOrDefault(principal);

        public Holding Holding(string entitlement, (string Type, string Id) principal) => Holding(entitlement, principal, ReadHoldings(principal));

        /// <summary>
        /// The principal's holding of <paramref name="entitlement"/>: from the entitlement's records when it was loaded
        /// whole, else from the principal's holdings (<paramref name="held"/>, as <see cref="ReadHoldings"/> gave them;
        /// read now when null).
        /// </summary>
        public Holding Holding(string entitlement, (string Type, string Id) principal, Dictionary<string, Holding>? held)
        {
            // Most updates load no entitlement whole: the lookup (a hash of the id) is skipped then.
            if (_byEntitlement.Count > 0 && _byEntitlement.TryGetValue(entitlement, out var e))
            {
                return GrantExpander.Holding.Of(entitlement, e.GetValueOrDefault(principal));
            }

            if (held is null)
            {
                _holdings[principal] = held = LoadHoldings(principal);
            }

            return held.GetValueOrDefault(entitlement);
        }

        /// <summary>Whether the principal's holdings were read.</summary>
        public bool HasRead((string, string) principal) => _holdings.ContainsKey(principal);

        /// <summary>
        /// Reads the holdings of many principals on all cores: changes travel per principal, so the
        /// principals of the changed grants are the ones propagation asks about.
        /// </summary>
        /// <param name="principals">The principals.</param>
        /// <param name="covers">The entitlements whose stored grants the update may recompute for a principal: only theirs are kept (asked on all cores).</param>
        /// <param name="cancellationToken">Cancels the reads.</param>
        public void Prefetch(IEnumerable<(string, string)> principals, Func<(string, string), Coverage> covers, CancellationToken cancellationToken)
        {
            var todo = principals.Distinct().Where(p => !_holdings.ContainsKey(p)).ToArray();
            var loaded = new Dictionary<string, Holding>[todo.Length];
            var stashes = new Stash?[todo.Length];
            long stashed = 0;
            C1zErrors.Unwrapped(() => Parallel.For(0, todo.Length, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                var stash = new Stash(covers(todo[i]), Intern, StashBudget);
                loaded[i] = LoadHoldings(todo[i], stash);
                if (stash.Length > 0 && Interlocked.Add(ref stashed, stash.Length) <= StashBudget)
                {
                    stashes[i] = stash;
                }
                else
                {
                    stash.Release();
                }
            }), null);
            for (int i = 0; i < todo.Length; i++)
            {
                _holdings[todo[i]] = loaded[i];
                if (stashes[i] is { } stash)
                {
                    _stashes[todo[i]] = stash;
                }
            }
        }

        private Dictionary<string, Holding> LoadHoldings((string Type, string Id) principal, Stash? stash = null)
        {
            // Sized like the principals read before (a user of a dense graph holds hundreds of entitlements): growing
            // each dictionary from empty rehashed it eight times.
            var p = new Dictionary<string, Holding>(Volatile.Read(ref _typicalHoldings), StringComparer.Ordinal);
            if (reader.TryOpenEncodedGrantsByPrincipal(sync, principal.Type, principal.Id, out var cursor))
            {
                // The holdings read in place (GrantRow.TryReadHolding): decoding the principal's few hundred
                // records only to keep two bits each was most of this pass (docs/PERFORMANCE.md, G16).
                using (cursor)
                {
                    char[]? chars = null;
                    try
                    {
                        while (cursor.MoveNext())
                        {
                            if (!GrantRow.TryReadHolding(cursor.Value, out var entitlement, out bool hasPrincipal, out bool direct))
                            {
                                throw NotAGrant();
                            }

                            // One string per entitlement, shared by every principal holding it (and by the covers sets).
                            string key = Intern(Utf16(entitlement, ref chars));
                            ref var h = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(p, key, out bool seen);
                            h = !seen ? new Holding(hasPrincipal, hasPrincipal && direct)
                                : hasPrincipal ? new Holding(true, h.Direct || direct) : h;

                            stash?.Add(cursor.Value, key);
                        }
                    }
                    finally
                    {
                        if (chars is not null)
                        {
                            System.Buffers.ArrayPool<char>.Shared.Return(chars);
                        }
                    }
                }

                if (p.Count > Volatile.Read(ref _typicalHoldings))
                {
                    Volatile.Write(ref _typicalHoldings, Math.Min(p.Count, MaxTypicalHoldings));
                }

                return p;
            }

            foreach (var g in reader.GrantsByPrincipal(sync, principal.Type, principal.Id))
            {
                string entitlement = g.Entitlement?.EntitlementId ?? string.Empty;
                p[entitlement] = p.GetValueOrDefault(entitlement).With(entitlement, g);
            }

            return p;
        }

        /// <summary>Loads a whole entitlement as records (its principals become known without a query each).</summary>
        public IEnumerable<(string, string)> Principals(string entitlement)
        {
            if (!_byEntitlement.TryGetValue(entitlement, out var e))
            {
                e = [];
                foreach (var g in reader.GrantsByEntitlement(sync, entitlement))
                {
                    GrantIndex.Add(e, PrincipalTable.KeyOf(g), g);
                }

                _byEntitlement[entitlement] = e;
            }

            return e.Keys;
        }

        /// <summary>
        /// The stored records of each pair: those of entitlements loaded whole from their load, the
        /// others by reading the principal again (on all cores), keeping only the asked entitlements' grants
        /// (their stored bytes, copied). A pair whose principal's bytes were kept never comes here: the
        /// recompute diffed it (<see cref="TryStored"/>).
        /// </summary>
        public Dictionary<(string Ent, (string, string) Principal), List<StoredGrant>> Records(IEnumerable<(string Ent, (string, string) Principal)> pairs, CancellationToken cancellationToken)
        {
            var result = new Dictionary<(string Ent, (string, string) Principal), List<StoredGrant>>();
            var wanted = new Dictionary<(string, string), HashSet<string>>();
            foreach (var pair in pairs)
            {
                if (_byEntitlement.TryGetValue(pair.Ent, out var e))
                {
                    result[pair] = [.. (e.GetValueOrDefault(pair.Principal) ?? []).Select(StoredGrant.Of)];
                }
                else
                {
                    if (!wanted.TryGetValue(pair.Principal, out var ents))
                    {
                        wanted[pair.Principal] = ents = new HashSet<string>(StringComparer.Ordinal);
                    }

                    ents.Add(pair.Ent);
                }
            }

            var todo = wanted.ToArray();
            var loaded = new List<(string Ent, StoredGrant Grant)>[todo.Length];
            C1zErrors.Unwrapped(() => Parallel.For(0, todo.Length, new ParallelOptions { CancellationToken = cancellationToken }, i =>
            {
                var (principal, ents) = todo[i];
                var kept = new List<(string Ent, StoredGrant Grant)>();
                var wantedNames = ents.GetAlternateLookup<ReadOnlySpan<char>>();
                char[]? chars = null;

                // Only the asked entitlements' grants are kept (a tenth of the principal's, or less, in G16), as stored
                // bytes: the diff compares encodings, and decoding them was most of its cost (docs/DESIGN.md §6).
                // Each kept value is copied out (the cursor reuses its buffer).
                void Consider(ReadOnlySpan<byte> value)
                {
                    if (!GrantRow.TryParse(value, out var row))
                    {
                        throw NotAGrant();
                    }

                    if (wantedNames.TryGetValue(Utf16(row.EntitlementId, ref chars), out string? ent))
                    {
                        kept.Add((ent, StoredGrant.Copy(row, value)));
                    }
                }

                try
                {
                    if (reader.TryOpenEncodedGrantsByPrincipal(sync, principal.Item1, principal.Item2, out var cursor))
                    {
                        using (cursor)
                        {
                            while (cursor.MoveNext())
                            {
                                Consider(cursor.Value);
                            }
                        }

                        loaded[i] = kept;
                        return;
                    }
                }
                finally
                {
                    if (chars is not null)
                    {
                        System.Buffers.ArrayPool<char>.Shared.Return(chars);
                    }
                }

                foreach (var g in reader.GrantsByPrincipal(sync, principal.Item1, principal.Item2))
                {
                    if (ents.TryGetValue(g.Entitlement?.EntitlementId ?? string.Empty, out string? ent))
                    {
                        kept.Add((ent, StoredGrant.Of(g)));
                    }
                }

                loaded[i] = kept;
            }), null);
            for (int i = 0; i < todo.Length; i++)
            {
                var principal = todo[i].Key;
                foreach (string ent in todo[i].Value)
                {
                    result[(ent, principal)] = [];
                }

                foreach (var (ent, g) in loaded[i])
                {
                    result[(ent, principal)].Add(g);
                }
            }

            return result;
        }

        /// <summary>
        /// The stored grants of one pair from its principal's kept bytes (copied), when they were kept: the recompute then
        /// diffs the pair at once and drops its records. Read-only (safe on all cores once the principals are prefetched).
        /// </summary>
        public bool TryStored(string entitlement, (string, string) principal, [NotNullWhen(true)] out List<StoredGrant>? stored)
        {
            stored = null;
            if (!TryStash(entitlement, principal, out var stash))
            {
                return false;
            }

            stored = [];
            foreach (int k in stash.Of(Interned(entitlement)))
            {
                var value = stash[k];
                if (!GrantRow.TryParse(value.Span, out var row))
                {
                    throw NotAGrant();
                }

                stored.Add(new StoredGrant(Encoding.UTF8.GetString(row.ExternalId), null, value));
            }

            return true;
        }

        /// <summary>The kept bytes of a principal when they hold the pair's stored grants (all of them).</summary>
        public bool TryStash(string entitlement, (string, string) principal, [NotNullWhen(true)] out Stash? stash) =>
            _stashes.TryGetValue(principal, out stash) && stash.Covers(entitlement);

        /// <summary>Frees the kept bytes (once the update's write is over, or when the update fails).</summary>
        public void ReleaseStashes()
        {
            foreach (var stash in _stashes.Values)
            {
                stash.Release();
            }

            _stashes.Clear();
        }
    }

    /// <summary>
    /// One stored grant of a recomputed pair, for the diff: its stored bytes where the store hands them out (compared
    /// with the final record's encoding, decoded never), otherwise its record.
    /// </summary>
    private readonly record struct StoredGrant(string Id, GrantRecord? Record, ReadOnlyMemory<byte> Value)
    {
        public static StoredGrant Of(GrantRecord record) => new(record.ExternalId, record, default);

        /// <summary>A stored grant as a copy of its bytes (<paramref name="row"/> parsed from them).</summary>
        public static StoredGrant Copy(in GrantRow row, ReadOnlySpan<byte> value) => new(Encoding.UTF8.GetString(row.ExternalId), null, value.ToArray());
    }

    private sealed class Incremental(IC1zStore expanded, SyncId expandedSync, IC1zReader next, SyncId nextSync, IReadOnlyCollection<string> changedIds, ExpansionOptions options, CancellationToken cancellationToken)
    {
        private readonly ExpandedIndex _old = new(expanded, expandedSync);
        private readonly GrantIndex _new = new(next, nextSync);
        // The recomputed holdings by principal, then entitlement: a pair's sources look its principal up once, not once per edge.
        private readonly Dictionary<(string, string), Dictionary<string, Holding>> _recomputed = [];
        private readonly Dictionary<(string Ent, (string, string) Principal), List<GrantRecord>> _final = [];
        private readonly Dictionary<(string Ent, (string, string) Principal), PairDiff> _diffed = [];
        private bool _encode;
        private readonly Dictionary<string, HashSet<(string, string)>> _dirty = new(StringComparer.Ordinal);
        private readonly HashSet<string> _whole = new(StringComparer.Ordinal);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ReachSet> _reach = new(StringComparer.Ordinal);
        private readonly SortedSet<(int Depth, string Id)> _work = new(Comparer<(int Depth, string Id)>.Create((a, b) => a.Depth != b.Depth ? a.Depth.CompareTo(b.Depth) : string.CompareOrdinal(a.Id, b.Id)));
        private readonly Dictionary<string, PendingPut> _puts = new(StringComparer.Ordinal);
        private readonly HashSet<string> _deletes = new(StringComparer.Ordinal);
        // The committed records or stored bytes read for the diff, by id: the write takes them instead of reading them again.
        private readonly Dictionary<string, GrantRecord> _stored = new(StringComparer.Ordinal);
        private readonly Dictionary<string, ReadOnlyMemory<byte>> _storedValues = new(StringComparer.Ordinal);
        private readonly Timestamp _now = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        private readonly Any _immutable = new() { TypeUrl = GrantImmutableTypeUrl };
        private ExpansionPlan _plan = null!;

        public ExpansionResult Run()
        {
            try
            {
                return RunCore();
            }
            finally
            {
                // The kept bytes are native memory: freed on every way out.
                _old.ReleaseStashes();
            }
        }

        private ExpansionResult RunCore()
        {
            _encode = HandsOutStoredBytes();

            // The newer graph, and the earlier one rebuilt from the same declarations except for the changed grants.
            // Planning is point reads and small graphs, one thread's work each, and the update's first 15 % ran it on one
            // core (G16): the changed grants' two versions are read beside the declaring grants, the earlier graph is
            // planned beside the newer one, and the newer sync's grants of the changed principals are read beside the
            // comparison of the two graphs. Each side reads its own sync and memo (docs/DESIGN.md §9).
            var changed = changedIds as IReadOnlySet<string> ?? new HashSet<string>(changedIds, StringComparer.Ordinal);
            var ids = changed.ToArray();
            var olds = new GrantRecord?[ids.Length];
            var currents = new GrantRecord?[ids.Length];
            Task<HashSet<(string, string)>>? versions = null;
            Task? oldPlanning = null, newerGrants = null, oldHoldings = null;
            ExpansionPlan? oldPlan = null;
            try
            {
                versions = Task.Run(
                    () =>
                    {
                        expanded.TryGetGrants(expandedSync, ids, olds);
                        cancellationToken.ThrowIfCancellationRequested();
                        next.TryGetGrants(nextSync, ids, currents);

                        // Their principals (each once): propagation asks about them, and about few others.
                        return ChangedPrincipals(olds, currents);
                    },
                    cancellationToken);

                // The changed grants' principals' holdings are read as soon as the grants are, beside the planning: the
                // holdings pass is the update's longest, and planning left a core idle. Their stashes keep every grant
                // (which entitlements the update recomputes is known only once both graphs are): G16's kept nearly all anyway.
                oldHoldings = versions.ContinueWith(
                    done =>
                    {
                        if (done.IsCompletedSuccessfully)
                        {
                            _old.Prefetch(done.Result, _ => Coverage.All, cancellationToken);
                        }
                    },
                    cancellationToken,
                    TaskContinuationOptions.None,
                    TaskScheduler.Default);

                // The declaring grants (one per edge, few beside the memberships) are read once for both graphs.
                var flagged = next.GrantsNeedingExpansion(nextSync).ToList();
                var seeds = Join(versions);
                var oldDeclaring = flagged.Where(g => !changed.Contains(g.ExternalId)).ToList();
                oldDeclaring.AddRange(olds.OfType<GrantRecord>().Where(Declares));
                oldPlanning = Task.Run(() => oldPlan = ExpansionPlan.Build(oldDeclaring, id => OldEntitlement(id) is not null, options.MaxDepth), cancellationToken);
                _plan = ExpansionPlan.Build(flagged, id => NextEntitlement(id) is not null, options.MaxDepth);
                for (int i = 0; i < ids.Length; i++)
                {
                    foreach (var g in (ReadOnlySpan<GrantRecord?>)[olds[i], currents[i]])
                    {
                        if (g is not null)
                        {
                            MarkDirty(g.Entitlement?.EntitlementId ?? string.Empty, PrincipalTable.KeyOf(g));
                        }
                    }
                }

                newerGrants = Task.Run(() => _new.Prefetch(seeds, cancellationToken), cancellationToken);
                Join(oldPlanning);

                // Entitlements whose propagating edges differ (or whose derived grants point elsewhere) are recomputed whole.
                foreach (string t in oldPlan!.Incoming.Keys.Union(_plan.Incoming.Keys, StringComparer.Ordinal))
                {
                    var was = oldPlan.Incoming.GetValueOrDefault(t) ?? [];
                    var now = _plan.Incoming.GetValueOrDefault(t) ?? [];
                    bool same = was.Count == now.Count && was.All(e => now.Any(e.SameAs));
                    if (same && now.Count > 0)
                    {
                        same = Equals(NextEntitlement(t)?.Resource, OldEntitlement(t)?.Resource);
                    }

                    if (!same)
                    {
                        _whole.Add(t);
                        Enqueue(t);
                    }
                }

                Join(newerGrants);
            }
            finally
            {
                // No read outlives the update (its stores may be disposed right after a failure).
                Settled(versions, oldPlanning, newerGrants, oldHoldings);
            }

            // The changed principals' holdings, read beside the planning; principals marked later are read at their depth.
            Join(oldHoldings);
            int recomputed = 0;
            while (_work.Count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // One depth at a time: propagating edges run from a lower depth to a higher one (the plan's
                // condensed graph), so the entitlements of one depth read only holdings already final, and the
                // recomputes they cause land deeper. Within a depth the pairs are computed on all cores.
                int depth = _work.Min.Depth;
                var level = new List<string>();
                while (_work.Count > 0 && _work.Min.Depth == depth)
                {
                    level.Add(_work.Min.Id);
                    _work.Remove(_work.Min);
                }

                recomputed += level.Count;
                RecomputeLevel(level);
            }

            // The pairs the recompute could not diff (entitlements recomputed whole, principals whose bytes were not kept)
            // are known only now: their stored records are read once, for the diff. Each pair is compared on its own (its
            // stored and final records belong to it alone), on all cores; the results are gathered in the pairs' order.
            var stored = _old.Records(_final.Keys, cancellationToken);
            var pairs = _final.ToArray();
            var diffs = new (List<PendingPut> Puts, List<string> Deletes)[pairs.Length];
            C1zErrors.Unwrapped(() => Parallel.For(0, pairs.Length, new ParallelOptions { CancellationToken = cancellationToken }, i =>
                diffs[i] = Diff(stored[pairs[i].Key], pairs[i].Value, _encode)), null);

            // The pairs diffed during the recompute first, then the rest, each in its order. The committed values and the
            // changes are gathered side by side (two maps of 20k ids each, one thread's work each, G16).
            var all = _diffed.Values.Select(d => (d.Stored, d.Puts, d.Deletes))
                .Concat(pairs.Select((pair, i) => (stored[pair.Key], diffs[i].Puts, diffs[i].Deletes)))
                .ToList();
            var committed = Task.Run(
                () =>
                {
                    foreach (var (pairStored, _, _) in all)
                    {
                        foreach (var r in pairStored)
                        {
                            if (r.Record is { } record)
                            {
                                _stored[r.Id] = record;
                            }
                            else
                            {
                                _storedValues[r.Id] = r.Value;
                            }
                        }
                    }
                },
                cancellationToken);
            try
            {
                foreach (var (_, pairPuts, pairDeletes) in all)
                {
                    foreach (var r in pairPuts)
                    {
                        _puts[r.Id] = r;
                    }

                    _deletes.UnionWith(pairDeletes);
                }
            }
            finally
            {
                Settled(committed);
            }

            Join(committed);

            // The final records are encoded in the puts now: let the collector have them before the write.
            _final.Clear();
            _diffed.Clear();

            return Apply(recomputed);
        }

        /// <summary>Waits for a task of the update, its failure rethrown as it was (not wrapped).</summary>
        private static void Join(Task task) => task.GetAwaiter().GetResult();

        /// <summary>The result of a task of the update, its failure rethrown as it was (not wrapped).</summary>
        private static T Join<T>(Task<T> task) => task.GetAwaiter().GetResult();

        /// <summary>Waits for every task started (null: not started), whatever became of them: the failure that ends the update is already on its way.</summary>
        private static void Settled(params Task?[] tasks)
        {
            foreach (var task in tasks)
            {
                try
                {
                    task?.Wait();
                }
                catch (AggregateException)
                {
                    // Observed here; the first failure was rethrown by Join or surfaces as the update's own.
                }
            }
        }

        // Each entitlement of either sync is read once: the plans, the edge comparison and the derived grants' references
        // asked for most of them two or three times.
        private readonly Dictionary<string, EntitlementRecord?> _nextEntitlements = new(StringComparer.Ordinal);
        private readonly Dictionary<string, EntitlementRecord?> _oldEntitlements = new(StringComparer.Ordinal);

        private EntitlementRecord? NextEntitlement(string id) => Memoized(_nextEntitlements, next, nextSync, id);

        private EntitlementRecord? OldEntitlement(string id) => Memoized(_oldEntitlements, expanded, expandedSync, id);

        private static EntitlementRecord? Memoized(Dictionary<string, EntitlementRecord?> read, IC1zReader reader, SyncId sync, string id)
        {
            if (!read.TryGetValue(id, out var record))
            {
                read[id] = record = reader.TryGetEntitlement(sync, id, out var found) ? found : null;
            }

            return record;
        }

        /// <summary>The principals of the changed grants' two versions, each once.</summary>
        private static HashSet<(string, string)> ChangedPrincipals(GrantRecord?[] olds, GrantRecord?[] currents)
        {
            var principals = new HashSet<(string, string)>();
            foreach (var g in olds.Concat(currents))
            {
                if (g is not null)
                {
                    principals.Add(PrincipalTable.KeyOf(g));
                }
            }

            return principals;
        }

        private void MarkDirty(string entitlement, (string, string) principal)
        {
            if (!_dirty.TryGetValue(entitlement, out var set))
            {
                _dirty[entitlement] = set = [];
            }

            set.Add(principal);
            Enqueue(entitlement);
        }

        // Entitlements outside the newer graph have no edges out, so they go first.
        private void Enqueue(string entitlement) => _work.Add((_plan.NodeDepth.GetValueOrDefault(entitlement, -1), entitlement));

        /// <summary>
        /// For each principal read once the graphs are known (not the changed grants' own, read beside the planning with
        /// every grant kept), the entitlements the update may still recompute for it: those downstream (in the newer
        /// graph, along which changes travel) of the ones it is marked at and of the ones recomputed whole. Only their
        /// stored grants are kept for the diff. In G16 that is nearly all of a principal's ≈ 500 grants (a changed membership
        /// reaches most of a user's entitlements), though only ≈ 100 of its pairs are recomputed.
        /// A pair outside its principal's set (marked later from elsewhere) is diffed from a second read instead.
        /// </summary>
        private Func<(string, string), Coverage> CoversOf(IEnumerable<(string, string)> principals)
        {
            var wanted = new HashSet<(string, string)>(principals);
            var marked = new Dictionary<(string, string), List<string>>();
            foreach (var (t, set) in _dirty)
            {
                foreach (var p in set)
                {
                    if (wanted.Contains(p))
                    {
                        if (!marked.TryGetValue(p, out var list))
                        {
                            marked[p] = list = [.. _whole];
                        }

                        list.Add(t);
                    }
                }
            }

            // Asked on all cores: the marks are only read, and the reach memo is concurrent.
            var unmarked = new Coverage([.. _whole.Select(Reach)]);
            return p => marked.TryGetValue(p, out var from) ? new Coverage([.. from.Select(Reach)]) : unmarked;
        }

        /// <summary><paramref name="entitlement"/> and every entitlement downstream of it in the newer graph (memoized; safe on all cores).</summary>
        private ReachSet Reach(string entitlement) => _reach.GetOrAdd(entitlement, static (from, plan) =>
        {
            var seen = new HashSet<string>(StringComparer.Ordinal) { from };
            var todo = new Stack<string>();
            todo.Push(from);
            while (todo.Count > 0)
            {
                foreach (var e in plan.Outgoing.GetValueOrDefault(todo.Pop()) ?? [])
                {
                    if (seen.Add(e.Target))
                    {
                        todo.Push(e.Target);
                    }
                }
            }

            return new ReachSet(seen);
        }, _plan);

        /// <summary>
        /// Recomputes the entitlements of one depth: an entitlement recomputed whole (its incoming edges changed) runs
        /// alone, first, as it loads whole entitlements on the way; the others are computed in parallel from state
        /// only read meanwhile (their principals' holdings and newer records are loaded before), then applied in order.
        /// </summary>
        private void RecomputeLevel(List<string> level)
        {
            foreach (string t in level.Where(_whole.Contains))
            {
                Settle(t, Compute(t, WholePrincipals(t)));
            }

            var pairs = level.Where(t => !_whole.Contains(t)).ToList();
            if (pairs.Count == 0)
            {
                return;
            }

            // Only principals not read yet (most were, with the changed grants' own): building their covers and
            // de-duplicating every marked pair again at each depth was a tenth of G16's recompute.
            var fresh = new HashSet<(string, string)>();
            foreach (string t in pairs)
            {
                foreach (var p in _dirty[t])
                {
                    if (!_old.HasRead(p) || !_new.HasRead(p))
                    {
                        fresh.Add(p);
                    }
                }
            }

            if (fresh.Count > 0)
            {
                _old.Prefetch(fresh, CoversOf(fresh), cancellationToken);
                _new.Prefetch(fresh, cancellationToken);
            }

            var computed = new List<Change>[pairs.Count];
            bool small = pairs.Count == 1 || pairs.Sum(t => _dirty[t].Count) < ParallelLevelPairs;
            C1zErrors.Unwrapped(() => Parallel.For(0, pairs.Count, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = small ? 1 : -1 }, i =>
                computed[i] = Compute(pairs[i], _dirty[pairs[i]])), null);

            for (int i = 0; i < pairs.Count; i++)
            {
                Settle(pairs[i], computed[i]);
            }
        }

        /// <summary>Below this many pairs a depth is computed on one thread (a parallel loop costs more than it saves).</summary>
        private const int ParallelLevelPairs = 256;

        /// <summary>
        /// One recomputed pair: its holding before and after, and either the records a full expansion gives it (diffed
        /// after the recompute) or, where its stored grants were at hand, its diff already made (<see cref="PairDiff"/>).
        /// </summary>
        private readonly record struct Change((string, string) Principal, Holding Was, Holding Now, List<GrantRecord>? Records, PairDiff? Diff);

        /// <summary>A pair diffed during the recompute: its puts and deletes, and its stored grants (the committed values of the write).</summary>
        private sealed record PairDiff(List<PendingPut> Puts, List<string> Deletes, List<StoredGrant> Stored);

        /// <summary>Everyone who held a wholly recomputed entitlement, holds it originally now, or holds a source now.</summary>
        private HashSet<(string, string)> WholePrincipals(string t)
        {
            var all = new HashSet<(string, string)>(_old.Principals(t));
            all.UnionWith(_new.Principals(t));
            foreach (var e in _plan.Incoming.GetValueOrDefault(t) ?? [])
            {
                all.UnionWith(_old.Principals(e.Source));
                all.UnionWith(_recomputed.Where(kv => kv.Value.ContainsKey(e.Source)).Select(kv => kv.Key));
            }

            all.UnionWith(_dirty.GetValueOrDefault(t) ?? []);
            return all;
        }

        /// <summary>The pairs of <paramref name="t"/>; reads shared state only (safe beside other entitlements of its depth).</summary>
        private List<Change> Compute(string t, IEnumerable<(string, string)> principals)
        {
            var incoming = _plan.Incoming.GetValueOrDefault(t) ?? [];
            EntitlementRef? entRef = null;
            var changes = new List<Change>();
            bool whole = _whole.Contains(t);
            DerivedScratch? scratch = null;
            try
            {
                foreach (var p in principals)
                {
                    // The common pair (the principal holds t only through its sources, and its stored grants were kept):
                    // built and compared as bytes.
                    if (!whole && _encode && p != (string.Empty, string.Empty) && (_new.Records(t, p) is null or { Count: 0 })
                        && _old.TryStash(t, p, out var stash))
                    {
                        scratch ??= new DerivedScratch(EntRef(t, ref entRef), _immutable, _old.Interned(t));
                        changes.Add(ComputeDerived(t, p, incoming, stash, scratch));
                        continue;
                    }

                    var records = Final(t, p, incoming, ref entRef);
                    var now = Holding.Of(t, records);
                    var was = _old.Holding(t, p);

                    // Diffed at once where the pair's stored grants were kept: its records (most of what the update allocates,
                    // about 20 objects each) then die young instead of being copied by a collection before the diff.
                    if (!whole && _old.TryStored(t, p, out var stored))
                    {
                        var (puts, deletes) = Diff(stored, records, _encode);
                        changes.Add(new Change(p, was, now, null, new PairDiff(puts, deletes, stored)));
                    }
                    else
                    {
                        changes.Add(new Change(p, was, now, records, null));
                    }
                }
            }
            finally
            {
                scratch?.ReturnBuffer();
            }

            return changes;
        }

        /// <summary>Records the pairs of <paramref name="t"/> and marks the principals whose holding changed at its targets.</summary>
        private void Settle(string t, List<Change> changes)
        {
            foreach (var (p, was, now, records, diff) in changes)
            {
                if (diff is not null)
                {
                    _diffed[(t, p)] = diff;
                    if (_final.Count > 0)
                    {
                        _final.Remove((t, p));
                    }
                }
                else
                {
                    _final[(t, p)] = records!;
                    if (_diffed.Count > 0)
                    {
                        _diffed.Remove((t, p));
                    }
                }

                if (!_recomputed.TryGetValue(p, out var mine))
                {
                    _recomputed[p] = mine = new Dictionary<string, Holding>(StringComparer.Ordinal);
                }

                mine[t] = now;
                if (now != was && _plan.Outgoing.TryGetValue(t, out var outs))
                {
                    foreach (var e in outs)
                    {
                        MarkDirty(e.Target, p);
                    }
                }
            }
        }

        /// <summary>
        /// The sources a full expansion gives one (entitlement, principal): each incoming edge whose source the principal
        /// holds (directly, for a shallow edge) and whose filter admits it, with whether that holding is direct.
        /// <paramref name="held"/> is the principal's earlier holdings as <see cref="ExpandedIndex.ReadHoldings"/> gave them.
        /// </summary>
        private void Sources(List<ExpansionPlan.Edge> incoming, (string Type, string Id) p, Dictionary<string, Holding>? held, List<(string Source, bool Recorded)> sources)
        {
            sources.Clear();
            var recomputed = _recomputed.GetValueOrDefault(p);
            foreach (var e in incoming)
            {
                var h = recomputed is not null && recomputed.TryGetValue(e.Source, out var now) ? now : _old.Holding(e.Source, p, held);
                if (!h.Holds || (e.Shallow && !h.Direct) || (e.Filter is not null && !e.Filter.Contains(p.Type)))
                {
                    continue;
                }

                sources.Add((e.Source, h.Direct && !options.LegacyIsDirectFalse));
            }
        }

        /// <summary>
        /// The entitlement reference of <paramref name="t"/>'s derived grants, made once per entitlement from the record
        /// planning read (the memo is only read here: the recompute runs on all cores, and planning is over).
        /// </summary>
        private EntitlementRef EntRef(string t, ref EntitlementRef? entRef)
        {
            if (entRef is null)
            {
                if (!_nextEntitlements.TryGetValue(t, out var ent) && next.TryGetEntitlement(nextSync, t, out var read))
                {
                    ent = read;
                }

                if (ent is null)
                {
                    throw new C1zCorruptionException($"entitlement {t} has edges but no record");
                }

                entRef = new EntitlementRef { EntitlementId = t, ResourceTypeId = ent.Resource?.ResourceTypeId ?? string.Empty, ResourceId = ent.Resource?.ResourceId ?? string.Empty };
            }

            return entRef;
        }

        /// <summary>
        /// <see cref="Final"/> and <see cref="Diff"/> of a pair the principal holds no original grant of, its stored grants
        /// read in place from the stash: the derived grant (if any source remains) is built in a reused record and
        /// compared as its canonical encoding with the stored grant of its id; every other stored grant goes. No records
        /// per pair: the update's allocations (about 20 objects a pair) set off the collections that were a third of
        /// its recompute (docs/PERFORMANCE.md, G16).
        /// </summary>
        private Change ComputeDerived(string t, (string Type, string Id) p, List<ExpansionPlan.Edge> incoming, Stash stash, DerivedScratch scratch)
        {
            // The principal's holdings looked up once, for the sources and the pair's own holding before.
            var held = _old.ReadHoldings(p);
            Sources(incoming, p, held, scratch.Sources);
            string? id = scratch.Sources.Count == 0 ? null : $"{t}:{p.Type}:{p.Id}";
            var stored = new List<StoredGrant>(1);
            var deletes = new List<string>();
            ReadOnlyMemory<byte> same = default;
            foreach (int k in stash.Of(scratch.Interned))
            {
                var value = stash[k];
                if (!GrantRow.TryParse(value.Span, out var row))
                {
                    throw NotAGrant();
                }

                if (id is not null && Utf8Ordinal.SameText(row.ExternalId, id))
                {
                    same = value;
                    stored.Add(new StoredGrant(id, null, value));
                }
                else
                {
                    string storedId = Encoding.UTF8.GetString(row.ExternalId);
                    stored.Add(new StoredGrant(storedId, null, value));
                    deletes.Add(storedId);
                }
            }

            var puts = new List<PendingPut>(1);
            var now = default(Holding);
            if (id is not null)
            {
                var g = scratch.Fill(id, p, _now, scratch.Sources, same.Span);
                if (GrantRecordCodec.EncodeCompactPooled(g, ref scratch.Buffer, out int written, omitSyncId: true) != System.Buffers.OperationStatus.Done)
                {
                    puts.Add(new PendingPut(id, g.Clone(), null));
                }
                else if (same.IsEmpty || !scratch.Buffer.AsSpan(0, written).SequenceEqual(same.Span))
                {
                    puts.Add(new PendingPut(id, null, scratch.Buffer.AsSpan(0, written).ToArray()));
                }

                now = new Holding(true, g.Sources.ContainsKey(t));
            }

            return new Change(p, _old.Holding(t, p, held), now, null, new PairDiff(puts, deletes, stored));
        }

        /// <summary>
        /// One derived grant of an entitlement, reused pair after pair by <see cref="ComputeDerived"/> (one entitlement's
        /// pairs run on one thread): the entitlement, the annotation and each source's record are shared, a pair sets
        /// its id, principal, discovery time and sources.
        /// </summary>
        private sealed class DerivedScratch
        {
            private readonly GrantRecord _grant;
            private readonly PrincipalRef _principal = new();
            private readonly Timestamp _discovered = new();
            private readonly Dictionary<(string, bool), GrantSourceRecord> _sourceRecords = [];

            public DerivedScratch(EntitlementRef entRef, Any immutable, string interned)
            {
                Interned = interned;
                _grant = new GrantRecord { Entitlement = entRef, Principal = _principal };
                _grant.Annotations.Add(immutable);
            }

            /// <summary>The entitlement's id as the stashes key it (<see cref="ExpandedIndex.Interned"/>).</summary>
            public string Interned { get; }

            /// <summary>The pair's sources (<see cref="Sources"/> fills them).</summary>
            public List<(string Source, bool Recorded)> Sources { get; } = [];

            /// <summary>The encoding buffer (rented by the encoder; returned by <see cref="ReturnBuffer"/>).</summary>
            public byte[]? Buffer;

            /// <summary>
            /// The derived grant of one pair, as <see cref="Final"/> builds it: discovered now, or when the stored grant of
            /// its id (<paramref name="stored"/>, empty when none) was, as <see cref="Unchanged"/> keeps it.
            /// </summary>
            public GrantRecord Fill(string id, (string Type, string Id) p, Timestamp now, List<(string Source, bool Recorded)> sources, ReadOnlySpan<byte> stored)
            {
                _grant.ExternalId = id;
                _principal.ResourceTypeId = p.Type;
                _principal.ResourceId = p.Id;
                if (stored.IsEmpty)
                {
                    _grant.DiscoveredAt = now;
                }
                else if (!GrantRow.TryReadDiscoveredAt(stored, out bool present, out long seconds, out int nanos))
                {
                    throw NotAGrant();
                }
                else if (present)
                {
                    _discovered.Seconds = seconds;
                    _discovered.Nanos = nanos;
                    _grant.DiscoveredAt = _discovered;
                }
                else
                {
                    _grant.DiscoveredAt = null;
                }

                _grant.Sources.Clear();
                foreach (var (source, recorded) in sources)
                {
                    if (!_sourceRecords.TryGetValue((source, recorded), out var record))
                    {
                        _sourceRecords[(source, recorded)] = record = new GrantSourceRecord { EntitlementId = source, IsDirect = recorded };
                    }

                    _grant.Sources[source] = record;
                }

                return _grant;
            }

            public void ReturnBuffer()
            {
                if (Buffer is not null)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(Buffer);
                    Buffer = null;
                }
            }
        }

        /// <summary>The records a full expansion gives one (entitlement, principal): §5.2 applied to the newer originals.</summary>
        private List<GrantRecord> Final(string t, (string Type, string Id) p, List<ExpansionPlan.Edge> incoming, ref EntitlementRef? entRef)
        {
            var records = (_new.Records(t, p) ?? []).Select(g => g.Clone()).ToList();
            var sources = new List<(string Source, bool Recorded)>();
            Sources(incoming, p, _old.ReadHoldings(p), sources);

            foreach (var r in records)
            {
                r.NeedsExpansion = false;
                r.SyncId = string.Empty;
            }

            // The first grant of the principal (index order: by external id) receives the sources.
            var first = records.Where(r => r.Principal is not null || p == (string.Empty, string.Empty)).OrderBy(r => r.ExternalId, StringComparer.Ordinal).FirstOrDefault();
            if (sources.Count == 0)
            {
                return records;
            }

            if (first is not null)
            {
                if (first.Sources.Count == 0)
                {
                    first.Sources[t] = new GrantSourceRecord { EntitlementId = t, IsDirect = !options.LegacyIsDirectFalse };
                }

                foreach (var (s, recorded) in sources)
                {
                    if (!first.Sources.TryGetValue(s, out var existing))
                    {
                        first.Sources[s] = new GrantSourceRecord { EntitlementId = s, IsDirect = recorded };
                    }
                    else if (recorded && !existing.IsDirect)
                    {
                        existing.IsDirect = true;
                    }
                }

                return records;
            }

            var derived = new GrantRecord
            {
                ExternalId = $"{t}:{p.Type}:{p.Id}",
                Entitlement = EntRef(t, ref entRef),
                Principal = new PrincipalRef { ResourceTypeId = p.Type, ResourceId = p.Id },
                DiscoveredAt = _now,
            };
            derived.Annotations.Add(_immutable);
            foreach (var (s, recorded) in sources)
            {
                derived.Sources[s] = new GrantSourceRecord { EntitlementId = s, IsDirect = recorded };
            }

            records.Add(derived);
            return records;
        }

        /// <summary>Whether the expanded store hands out stored bytes (then the diff compares encodings and the puts go to it encoded).</summary>
        private bool HandsOutStoredBytes()
        {
            if (!expanded.TryOpenEncodedGrantsByPrincipal(expandedSync, string.Empty, string.Empty, out var cursor))
            {
                return false;
            }

            cursor.Dispose();
            return true;
        }

        /// <summary>A grant to put: its canonical encoding without <c>sync_id</c> where the diff made one, else its record.</summary>
        private readonly record struct PendingPut(string Id, GrantRecord? Record, byte[]? Value);

        /// <summary>
        /// The records of one pair to put (new or changed) and the stored ids it no longer has. With <paramref name="encode"/>
        /// a put is kept as the encoding it was compared by (or, new, is encoded now), and its record is dropped: the
        /// records of 19.6k puts held until the write were most of what the collector copied during G16's update.
        /// </summary>
        private static (List<PendingPut> Puts, List<string> Deletes) Diff(List<StoredGrant> stored, List<GrantRecord> records, bool encode)
        {
            var before = new Dictionary<string, StoredGrant>(stored.Count, StringComparer.Ordinal);
            foreach (var g in stored)
            {
                before[g.Id] = g;
            }

            var puts = new List<PendingPut>(records.Count);
            byte[]? buffer = null;
            try
            {
                foreach (var r in records)
                {
                    int encoded = -1;
                    if (before.Remove(r.ExternalId, out var old))
                    {
                        if (Unchanged(old, r, ref buffer, out encoded))
                        {
                            continue;
                        }
                    }
                    else if (encode && GrantRecordCodec.EncodeCompactPooled(r, ref buffer, out int written, omitSyncId: true) == System.Buffers.OperationStatus.Done)
                    {
                        encoded = written;
                    }

                    puts.Add(encode && encoded >= 0 ? new PendingPut(r.ExternalId, null, buffer.AsSpan(0, encoded).ToArray()) : new PendingPut(r.ExternalId, r, null));
                }
            }
            finally
            {
                if (buffer is not null)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
            }

            return (puts, [.. before.Keys]);
        }

        /// <summary>
        /// Whether <paramref name="r"/> is what is stored. A derived grant first takes the stored one's discovery time
        /// (an unchanged derived grant keeps the time it was first derived). Stored bytes are compared with the
        /// record's encoding: stores keep the canonical encoding without <c>sync_id</c>, so equal bytes are equal
        /// records; a record the compact encoder declines (unknown fields) is compared decoded.
        /// </summary>
        /// <param name="stored">The stored grant with the record's id.</param>
        /// <param name="r">The final record (a derived one takes the stored discovery time).</param>
        /// <param name="buffer">A pooled buffer for the record's encoding, grown as needed.</param>
        /// <param name="encoded">The length of the record's encoding left in <paramref name="buffer"/>, or -1 when none was made.</param>
        private static bool Unchanged(StoredGrant stored, GrantRecord r, ref byte[]? buffer, out int encoded)
        {
            encoded = -1;
            if (stored.Record is null)
            {
                var value = stored.Value.Span;
                if (IsDerived(r))
                {
                    if (!GrantRow.TryReadDiscoveredAt(value, out bool present, out long seconds, out int nanos))
                    {
                        throw NotAGrant();
                    }

                    r.DiscoveredAt = present ? new Timestamp { Seconds = seconds, Nanos = nanos } : null;
                }

                if (GrantRecordCodec.EncodeCompactPooled(r, ref buffer, out int written, omitSyncId: true) != System.Buffers.OperationStatus.Done)
                {
                    return SameRecord(CodecRegistry.Grant.Decode(value), r);
                }

                encoded = written;
                return buffer.AsSpan(0, written).SequenceEqual(value);
            }

            // The stored records were read for this diff alone (propagation is over), so no copy.
            var old = stored.Record;
            if (IsDerived(r))
            {
                r.DiscoveredAt = old.DiscoveredAt;
            }

            return SameRecord(old, r);

            static bool SameRecord(GrantRecord old, GrantRecord r)
            {
                old.SyncId = string.Empty;
                return old.Equals(r);
            }
        }

        /// <summary>
        /// Grants written per change set: the records are all in memory already, so a chunk bounds only the store's
        /// keys and sorted entries for it (a few hundred bytes a grant); each chunk is one SST made, synced and ingested,
        /// and 5,000-grant chunks made G16's 19.6k rewrites four of them (docs/PERFORMANCE.md, G16).
        /// </summary>
        private const int ChangeSetChunk = 32_768;

        private ExpansionResult Apply(int recomputed)
        {
            long deleted = 0, created = 0, updated = 0;
            var deletes = _deletes.Where(id => !_puts.ContainsKey(id)).ToList();
            var puts = _puts.Values.ToList();
            foreach (var g in puts)
            {
                // A put over a stored id rewrites it (a grant that moved between pairs included).
                if (_stored.ContainsKey(g.Id) || _storedValues.ContainsKey(g.Id))
                {
                    updated++;
                }
                else
                {
                    created++;
                }
            }

            // Batches of puts and deletes together, one commit per batch. Each id is written once, so the records
            // read for the diff are still the committed ones when its batch is written: only new ids are read again.
            // One batch at a time: the store spreads a batch's encoding and reads over the cores itself (RocksDB, which
            // also ingests a batch this large as one SST); two in flight measured no faster (docs/PERFORMANCE.md, G16).
            // Puts the diff encoded go as their bytes (the store keeps them as they are); the rest, records the compact
            // encoder declined or a store without stored bytes, as records.
            var encoded = puts.Where(p => p.Value is not null).Select(p => (ReadOnlyMemory<byte>)p.Value).ToList();
            var records = puts.Where(p => p.Value is null).Select(p => p.Record!).ToList();
            for (int at = 0; at < Math.Max(Math.Max(encoded.Count, records.Count), deletes.Count); at += ChangeSetChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var deleteSlice = Slice(deletes, at, ChangeSetChunk);
                if (encoded.Count > 0)
                {
                    deleted += expanded.WriteEncodedGrantChanges(expandedSync, Slice(encoded, at, ChangeSetChunk), deleteSlice, _storedValues);
                    deleteSlice = [];
                }

                // The records' change set, when this chunk has any (the encoded one took the deletes): an empty set
                // still cost a call through the store's whole write road per chunk.
                var recordSlice = Slice(records, at, ChangeSetChunk);
                if (recordSlice.Count == 0 && deleteSlice.Count == 0)
                {
                    continue;
                }

                // Stored bytes where the store handed them out (records loaded whole, if any, are read again then).
                deleted += _storedValues.Count > 0
                    ? expanded.WriteGrantChanges(expandedSync, recordSlice, deleteSlice, _storedValues)
                    : expanded.WriteGrantChanges(expandedSync, recordSlice, deleteSlice, _stored);
            }

            static List<T> Slice<T>(List<T> list, int at, int size) => at >= list.Count ? [] : list.GetRange(at, Math.Min(size, list.Count - at));

            return new ExpansionResult(_plan.LiveEdges, _plan.Nodes.Count, created, updated, _plan.SkippedEdges, _plan.DepthReached) { EntitlementsRecomputed = recomputed, GrantsDeleted = deleted };
        }
    }
}
