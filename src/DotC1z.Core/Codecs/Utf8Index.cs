using System.IO.Hashing;

namespace DotC1z.Codecs;

/// <summary>
/// Numbers distinct UTF-8 byte strings 0, 1, 2… in the order they first come, found again by their bytes
/// (an open-addressing table on XXH3): writers that see key elements as stored bytes (the bulk loader, the
/// digest builder) intern them without making a string per row. Each index remembers the last lookup, as
/// rows usually repeat an element. Not thread-safe.
/// </summary>
public sealed class Utf8Index
{
    private readonly List<(byte[] Bytes, uint Hash)> _keys = [];
    private int[] _slots = new int[64];
    private int _last = -1;

    /// <summary>Distinct strings numbered so far.</summary>
    public int Count => _keys.Count;

    /// <summary>The number of <paramref name="utf8"/>, giving it the next one when it is new.</summary>
    /// <param name="utf8">The bytes (copied when new).</param>
    /// <param name="added">Whether it was new.</param>
    /// <returns>Its number.</returns>
    public int GetOrAdd(ReadOnlySpan<byte> utf8, out bool added)
    {
        added = false;
        if (_last >= 0 && utf8.SequenceEqual(_keys[_last].Bytes))
        {
            return _last;
        }

        uint hash = (uint)XxHash3.HashToUInt64(utf8);
        int mask = _slots.Length - 1;
        for (int slot = (int)hash & mask; ; slot = (slot + 1) & mask)
        {
            int index = _slots[slot] - 1;
            if (index < 0)
            {
                _keys.Add((utf8.ToArray(), hash));
                _slots[slot] = _keys.Count;
                if (_keys.Count * 2 > _slots.Length)
                {
                    Grow();
                }

                added = true;
                return _last = _keys.Count - 1;
            }

            if (_keys[index].Hash == hash && utf8.SequenceEqual(_keys[index].Bytes))
            {
                return _last = index;
            }
        }
    }

    /// <summary>Forgets every string.</summary>
    public void Clear()
    {
        _keys.Clear();
        Array.Clear(_slots);
        _last = -1;
    }

    private void Grow()
    {
        _slots = new int[_slots.Length * 2];
        int mask = _slots.Length - 1;
        for (int i = 0; i < _keys.Count; i++)
        {
            int slot = (int)_keys[i].Hash & mask;
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            _slots[slot] = i + 1;
        }
    }
}
