
namespace DotC1z.Operations;

/// <summary>Which side(s) of a merge an identity came from.</summary>
internal enum MergeSide
{
    BaseOnly,
    AppliedOnly,
    Both,
}

/// <summary>
/// Merge-join of two identity-ordered record streams (every by-sync scan of the store contract is
/// ordered by identity in UTF-8 byte order), in one pass and constant memory.
/// </summary>
internal static class SortedMerge
{
    /// <summary>Yields (side, base record or null, applied record or null) in identity order.</summary>
    public static IEnumerable<(MergeSide Side, T? Base, T? Applied)> Join<T>(IEnumerable<T> baseRecords, IEnumerable<T> appliedRecords, Comparison<T> order)
        where T : class
    {
        using var b = baseRecords.GetEnumerator();
        using var a = appliedRecords.GetEnumerator();
        bool hasB = b.MoveNext();
        bool hasA = a.MoveNext();
        while (hasB || hasA)
        {
            int c = !hasB ? 1 : !hasA ? -1 : order(b.Current, a.Current);
            if (c < 0)
            {
                yield return (MergeSide.BaseOnly, b.Current, null);
                hasB = b.MoveNext();
            }
            else if (c > 0)
            {
                yield return (MergeSide.AppliedOnly, null, a.Current);
                hasA = a.MoveNext();
            }
            else
            {
                yield return (MergeSide.Both, b.Current, a.Current);
                hasB = b.MoveNext();
                hasA = a.MoveNext();
            }
        }
    }
}

/// <summary>
/// Merge of N identity-ordered record streams (one per input, in input order), grouped by identity: each step
/// yields, for the smallest identity left, the record each input holds for it (null where an input lacks it).
/// One pass over every stream, memory of one record per input.
/// </summary>
internal sealed class MultiMerge<T> : IDisposable
    where T : class
{
    private readonly IEnumerator<T>[] _inputs;
    private readonly bool[] _live;
    private readonly Comparison<T> _order;

    public MultiMerge(IReadOnlyList<IEnumerable<T>> inputs, Comparison<T> order)
    {
        _order = order;
        _inputs = new IEnumerator<T>[inputs.Count];
        _live = new bool[inputs.Count];
        try
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                _inputs[i] = inputs[i].GetEnumerator();
                _live[i] = _inputs[i].MoveNext();
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        Group = new T?[inputs.Count];
    }

    /// <summary>The current group: slot i holds input i's record of the current identity, or null.</summary>
    public T?[] Group { get; }

    /// <summary>Moves to the next identity.</summary>
    /// <returns>False when every stream is exhausted.</returns>
    public bool MoveNext()
    {
        T? least = null;
        for (int i = 0; i < _inputs.Length; i++)
        {
            if (_live[i] && (least is null || _order(_inputs[i].Current, least) < 0))
            {
                least = _inputs[i].Current;
            }
        }

        if (least is null)
        {
            Array.Clear(Group);
            return false;
        }

        for (int i = 0; i < _inputs.Length; i++)
        {
            if (_live[i] && _order(_inputs[i].Current, least) == 0)
            {
                Group[i] = _inputs[i].Current;
                _live[i] = _inputs[i].MoveNext();
            }
            else
            {
                Group[i] = null;
            }
        }

        return true;
    }

    public void Dispose()
    {
        foreach (var input in _inputs)
        {
            input?.Dispose();
        }
    }
}
