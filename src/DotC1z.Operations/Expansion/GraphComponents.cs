namespace DotC1z.Operations;

/// <summary>
/// Strongly connected components of a directed graph of entitlement ids: grant expansion collapses each cycle of
/// expandable grants into one component (docs/INTEROP-V1.md §5), and `c1z access` does the same over the part of the
/// graph a principal reaches. One implementation for both.
/// </summary>
public static class GraphComponents
{
    /// <summary>
    /// Tarjan's algorithm, iterative (no recursion, so a long chain of nested groups cannot overflow the stack).
    /// </summary>
    /// <param name="successors">Every node with its successors; every successor must itself be a key.</param>
    /// <returns>The component index of every node; nodes of one cycle share an index.</returns>
    public static Dictionary<string, int> Of<TList>(IReadOnlyDictionary<string, TList> successors)
        where TList : IReadOnlyList<string>
    {
        ArgumentNullException.ThrowIfNull(successors);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var component = new Dictionary<string, int>(StringComparer.Ordinal);
        int counter = 0, components = 0;
        foreach (string root in successors.Keys)
        {
            if (index.ContainsKey(root))
            {
                continue;
            }

            var work = new Stack<(string Node, int Next)>();
            work.Push((root, 0));
            index[root] = low[root] = counter++;
            stack.Push(root);
            onStack.Add(root);
            while (work.Count > 0)
            {
                var (v, next) = work.Pop();
                var succ = successors[v];
                if (next < succ.Count)
                {
                    work.Push((v, next + 1));
                    string w = succ[next];
                    if (!index.ContainsKey(w))
                    {
                        index[w] = low[w] = counter++;
                        stack.Push(w);
                        onStack.Add(w);
                        work.Push((w, 0));
                    }
                    else if (onStack.Contains(w))
                    {
                        low[v] = Math.Min(low[v], index[w]);
                    }

                    continue;
                }

                if (low[v] == index[v])
                {
                    string w;
                    do
                    {
                        w = stack.Pop();
                        onStack.Remove(w);
                        component[w] = components;
                    }
                    while (w != v);
                    components++;
                }

                if (work.Count > 0)
                {
                    var parent = work.Peek().Node;
                    low[parent] = Math.Min(low[parent], low[v]);
                }
            }
        }

        return component;
    }
}
