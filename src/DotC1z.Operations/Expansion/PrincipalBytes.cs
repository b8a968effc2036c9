using System.Buffers;
using System.Text;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Operations;

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
