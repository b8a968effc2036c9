using System.Buffers;
using DotC1z.Records;

namespace DotC1z.Operations;

/// <summary>Principals seen by one expansion, interned to dense ints so sets of holders are int arrays.</summary>
internal sealed class PrincipalTable
{
    private readonly Dictionary<(string, string), int> _ids = [];
    private readonly Dictionary<string, int> _typeIds = new(StringComparer.Ordinal);
    private readonly List<(string Type, string Id)> _keys = [];
    private readonly List<int> _typeOf = [];
    private readonly List<PrincipalRef?> _refs = [];

    public int Count => _keys.Count;

    public int TypeCount => _typeIds.Count;

    public static (string Type, string Id) KeyOf(GrantRecord g) => (g.Principal?.ResourceTypeId ?? string.Empty, g.Principal?.ResourceId ?? string.Empty);

    public int Intern((string Type, string Id) key)
    {
        if (!_ids.TryGetValue(key, out int id))
        {
            id = _keys.Count;
            _ids[key] = id;
            _keys.Add(key);
            if (!_typeIds.TryGetValue(key.Type, out int t))
            {
                _typeIds[key.Type] = t = _typeIds.Count;
            }

            _typeOf.Add(t);
            _refs.Add(null);
        }

        return id;
    }

    /// <summary>
    /// One shared principal reference per principal for the derived grants (millions of them share
    /// a few thousand principals). Derived records are only encoded, never mutated, after they are built.
    /// </summary>
    public PrincipalRef Ref(int id) => _refs[id] ??= new PrincipalRef { ResourceTypeId = _keys[id].Type, ResourceId = _keys[id].Id };

    public int Find((string Type, string Id) key) => _ids.TryGetValue(key, out int id) ? id : -1;

    public (string Type, string Id) Key(int id) => _keys[id];

    public int TypeOf(int id) => _typeOf[id];

    public int TypeId(string type) => _typeIds.TryGetValue(type, out int t) ? t : -1;
}

/// <summary>
/// The contributions one destination entitlement receives: for each principal (ascending intern id),
/// the propagating incoming edges that carry it, in application order, with the <c>is_direct</c> to
/// record. Entries are <c>edge index &lt;&lt; 1 | recorded</c>.
/// </summary>
internal sealed class Destination(string target, List<ExpansionPlan.Edge> edges, int[] principals, int[] starts, int[] entries, int count)
{
    private GrantSourceRecord?[]? _sources;

    /// <summary>The source entry an edge writes on derived grants (shared by them: they are encoded, never mutated).</summary>
    /// <param name="entry">An entry of <see cref="Entries"/>.</param>
    public GrantSourceRecord SharedSource(int entry)
    {
        _sources ??= new GrantSourceRecord?[Edges.Count * 2];
        return _sources[entry] ??= new GrantSourceRecord { EntitlementId = Edges[entry >> 1].Source, IsDirect = (entry & 1) != 0 };
    }

    public string Target { get; } = target;

    public List<ExpansionPlan.Edge> Edges { get; } = edges;

    public int[] Principals { get; } = principals;

    public int[] Starts { get; } = starts;

    public int[] Entries { get; } = entries;

    public int Count { get; } = count;

    /// <summary>Index of a principal in <see cref="Principals"/>, or negative.</summary>
    public int IndexOf(int principal) => principal < 0 ? -1 : Array.BinarySearch(Principals, 0, Count, principal);
}

/// <summary>
/// The reduce: the final holder set of every entitlement that feeds an edge, computed once from its
/// original grants and its sources' final sets, destination after destination in topological order.
/// A holder is <c>principal &lt;&lt; 1 | direct</c>, where direct means one of the principal's grants on
/// that entitlement has no sources or lists the entitlement itself — a property of the original
/// grants alone, since expansion only adds sources naming other entitlements (edges inside a
/// component, self-loops included, are dropped). A source's set is freed after its last edge. The
/// sets live in <see cref="HolderSets"/>, which spills them to run files beyond the budget.
/// </summary>
internal sealed class ExpansionReducer(ExpansionPlan plan, PrincipalTable principals, bool legacyIsDirectFalse, HolderSets sets)
{
    private readonly Dictionary<string, int> _remainingUses = new(StringComparer.Ordinal);

    /// <summary>Records the original grants of a source entitlement (before anything is written).</summary>
    public void LoadOriginals(string entitlement, IEnumerable<GrantRecord> grants)
    {
        var list = new List<int>();
        foreach (var g in grants)
        {
            if (g.Principal is null)
            {
                continue;
            }

            bool direct = g.Sources.Count == 0 || g.Sources.ContainsKey(entitlement);
            list.Add((principals.Intern(PrincipalTable.KeyOf(g)) << 1) | (direct ? 1 : 0));
        }

        if (plan.Outgoing.TryGetValue(entitlement, out var outs))
        {
            _remainingUses[entitlement] = outs.Count;
        }

        // A source no edge reaches is final as loaded; the others' originals wait for their own reduce.
        sets.Add(entitlement, original: plan.Incoming.ContainsKey(entitlement), Normalize(list));
    }

    /// <summary>Sorts holders by principal and merges duplicates (direct if any grant is).</summary>
    private static int[] Normalize(List<int> list)
    {
        if (list.Count == 0)
        {
            return [];
        }

        list.Sort();
        int n = 0;
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list);
        for (int i = 0; i < span.Length; i++)
        {
            if (n > 0 && (span[n - 1] >> 1) == (span[i] >> 1))
            {
                span[n - 1] |= span[i] & 1;
            }
            else
            {
                span[n++] = span[i];
            }
        }

        return span[..n].ToArray();
    }

    /// <summary>Computes one destination (all its sources must be final) and, if it feeds edges itself, its final holder set.</summary>
    public Destination Reduce(string target)
    {
        var edges = plan.Incoming[target];
        int typeCount = principals.TypeCount;
        var filters = new bool[edges.Count][];
        long total = 0;
        for (int j = 0; j < edges.Count; j++)
        {
            var filter = edges[j].Filter;
            if (filter is not null)
            {
                filters[j] = new bool[typeCount];
                foreach (string t in filter)
                {
                    int ti = principals.TypeId(t);
                    if (ti >= 0)
                    {
                        filters[j][ti] = true;
                    }
                }
            }

            total += sets.Length(edges[j].Source, original: false);
        }

        // (principal << 32 | edge << 1 | recorded): in that order, each principal's edges come together in application order.
        long[] buffer = ArrayPool<long>.Shared.Rent((int)Math.Max(1, total));
        long[]? spare = null;
        int count = 0;
        var runs = new List<int>(edges.Count + 1);
        try
        {
            for (int j = 0; j < edges.Count; j++)
            {
                runs.Add(count);
                var edge = edges[j];
                var filter = filters[j];
                using var reader = sets.Open(edge.Source, original: false);
                while (reader.Next(out var chunk))
                {
                    foreach (int h in chunk)
                    {
                        int p = h >> 1;
                        bool direct = (h & 1) != 0;
                        if ((edge.Shallow && !direct) || (filter is not null && !filter[principals.TypeOf(p)]))
                        {
                            continue;
                        }

                        int recorded = direct && !legacyIsDirectFalse ? 1 : 0;
                        buffer[count++] = ((long)p << 32) | (uint)((j << 1) | recorded);
                    }
                }
            }

            // Each edge yields its source's order, ascending by principal: the runs are merged, not sorted.
            runs.Add(count);
            if (edges.Count > 1)
            {
                spare = ArrayPool<long>.Shared.Rent(buffer.Length);
                if (MergeRuns(buffer, spare, runs) != buffer)
                {
                    (buffer, spare) = (spare, buffer);
                }
            }

            // Exact-size arrays (every slot written, so not zeroed): growing lists and copying them out allocated several
            // times the destination's size, and fresh memory is slow to touch on this kind of VM (docs/PERFORMANCE.md).
            int distinct = 0;
            for (int i = 0; i < count; i++)
            {
                distinct += i == 0 || (buffer[i] >> 32) != (buffer[i - 1] >> 32) ? 1 : 0;
            }

            var ps = GC.AllocateUninitializedArray<int>(distinct);
            var starts = GC.AllocateUninitializedArray<int>(distinct + 1);
            var entries = GC.AllocateUninitializedArray<int>(count);
            int n = 0;
            for (int i = 0; i < count; i++)
            {
                int p = (int)(buffer[i] >> 32);
                if (n == 0 || ps[n - 1] != p)
                {
                    ps[n] = p;
                    starts[n++] = i;
                }

                entries[i] = (int)(uint)buffer[i];
            }

            starts[distinct] = count;
            var result = new Destination(target, edges, ps, starts, entries, distinct);
            Finish(target, result);
            return result;
        }
        finally
        {
            ArrayPool<long>.Shared.Return(buffer);
            if (spare is not null)
            {
                ArrayPool<long>.Shared.Return(spare);
            }
        }
    }

    /// <summary>
    /// Merges the sorted runs <c>[bounds[i], bounds[i + 1])</c> of <paramref name="a"/> pairwise, back and forth with
    /// <paramref name="b"/>, until one is left: O(n log runs) where a sort is O(n log n). Returns the array holding it.
    /// </summary>
    internal static long[] MergeRuns(long[] a, long[] b, List<int> bounds)
    {
        var current = bounds;
        while (current.Count > 2)
        {
            var next = new List<int>((current.Count / 2) + 2) { current[0] };
            for (int r = 0; r + 1 < current.Count; r += 2)
            {
                int lo = current[r], mid = current[r + 1], hi = r + 2 < current.Count ? current[r + 2] : mid;
                int i = lo, j = mid, k = lo;
                while (i < mid && j < hi)
                {
                    b[k++] = a[i] <= a[j] ? a[i++] : a[j++];
                }

                Array.Copy(a, i, b, k, mid - i);
                k += mid - i;
                Array.Copy(a, j, b, k, hi - j);
                next.Add(hi);
            }

            (a, b) = (b, a);
            current = next;
        }

        return a;
    }

    private void Finish(string target, Destination d)
    {
        foreach (var e in d.Edges)
        {
            if (--_remainingUses[e.Source] == 0)
            {
                sets.Remove(e.Source, original: false);
            }
        }

        if (!plan.Outgoing.ContainsKey(target))
        {
            return;
        }

        // Final set: originals (with their direct bit) merged with derived holders (not direct).
        int[] orig = sets.Contains(target, original: true) ? sets.ReadAll(target, original: true) : [];
        sets.Remove(target, original: true);
        var merged = new int[orig.Length + d.Count];
        int a = 0, b = 0, n = 0;
        while (a < orig.Length || b < d.Count)
        {
            if (b == d.Count || (a < orig.Length && (orig[a] >> 1) <= d.Principals[b]))
            {
                if (b < d.Count && (orig[a] >> 1) == d.Principals[b])
                {
                    b++;
                }

                merged[n++] = orig[a++];
            }
            else
            {
                merged[n++] = d.Principals[b++] << 1;
            }
        }

        sets.Add(target, original: false, n == merged.Length ? merged : merged[..n]);
    }
}
