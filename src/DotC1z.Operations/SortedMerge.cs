
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
