namespace DotC1z.Operations;

/// <summary>The orders of <see cref="DerivedGrantSet"/> that are not whole blocks one after another, and the by-principal transposition.</summary>
internal sealed partial class DerivedGrantSet
{
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
}
