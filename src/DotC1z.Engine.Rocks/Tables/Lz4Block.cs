using System.Runtime.CompilerServices;

namespace DotC1z.Engine.Rocks.Tables;

/// <summary>
/// The decoder of one raw LZ4 block (the format RocksDB stores a block in, after its size prefix; docs/DESIGN.md
/// §6.4). Every length and offset is checked against both buffers, so damaged input is refused, never read or written
/// out of bounds.
/// </summary>
internal static class Lz4Block
{
    // A match copies from at most this far back; a literal or match copy of up to WildCopy bytes is done in 16-byte
    // steps when both buffers have that much room left.
    private const int MinMatch = 4;
    private const int WildCopy = 16;

    /// <summary>Decodes <paramref name="source"/> into <paramref name="destination"/>.</summary>
    /// <returns>False when the block is malformed or does not fill <paramref name="destination"/> exactly.</returns>
    public static unsafe bool TryDecode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (source.IsEmpty)
        {
            return destination.IsEmpty;
        }

        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            byte* ip = src;
            byte* iend = src + source.Length;
            byte* op = dst;
            byte* oend = dst + destination.Length;
            while (true)
            {
                uint token = *ip++;

                // Literals.
                nuint literals = token >> 4;
                if (literals == 15 && !TryExtend(ref ip, iend, ref literals))
                {
                    return false;
                }

                if ((nuint)(iend - ip) < literals || (nuint)(oend - op) < literals)
                {
                    return false;
                }

                if (literals <= WildCopy && iend - ip >= WildCopy && oend - op >= WildCopy)
                {
                    Unsafe.CopyBlockUnaligned(op, ip, WildCopy);
                }
                else
                {
                    Buffer.MemoryCopy(ip, op, literals, literals);
                }

                ip += literals;
                op += literals;

                // The last sequence is literals only and ends the block.
                if (ip == iend)
                {
                    return op == oend;
                }

                // Match.
                if (iend - ip < 2)
                {
                    return false;
                }

                nuint offset = (nuint)(ip[0] | (ip[1] << 8));
                ip += 2;
                if (offset == 0 || offset > (nuint)(op - dst))
                {
                    return false;
                }

                nuint length = token & 15;
                if (length == 15 && !TryExtend(ref ip, iend, ref length))
                {
                    return false;
                }

                length += MinMatch;
                if ((nuint)(oend - op) < length)
                {
                    return false;
                }

                byte* match = op - offset;
                if (offset >= WildCopy && length <= WildCopy && oend - op >= WildCopy)
                {
                    // The 16 bytes read all lie before op, so the wide copy cannot read what it writes.
                    Unsafe.CopyBlockUnaligned(op, match, WildCopy);
                }
                else if (offset >= length)
                {
                    Buffer.MemoryCopy(match, op, length, length);
                }
                else
                {
                    // Overlapping: a short offset repeats a pattern, byte by byte as LZ4 defines it.
                    for (nuint i = 0; i < length; i++)
                    {
                        op[i] = match[i];
                    }
                }

                op += length;
                if (ip >= iend)
                {
                    return false;
                }
            }
        }
    }

    // A length of 15 continues in bytes that add up until one below 255.
    private static unsafe bool TryExtend(ref byte* ip, byte* iend, ref nuint length)
    {
        uint b;
        do
        {
            if (ip >= iend)
            {
                return false;
            }

            b = *ip++;
            length += b;
        }
        while (b == 255);

        // Beyond any block size: refuse rather than let the sums wrap.
        return length < int.MaxValue;
    }
}
