using System.Buffers.Binary;
using System.Numerics;

namespace DotC1z.Pebble;

/// <summary>
/// CRC-32C (Castagnoli) and the LevelDB/Pebble "masked" form stored in record logs, block trailers and
/// table footers. Masking rotates and offsets the CRC so that a CRC stored inside checksummed data does
/// not make the outer checksum degenerate.
/// </summary>
internal static class Crc32C
{
    private const uint MaskDelta = 0xA282EAD8;

    /// <summary>Extends a running (already inverted) CRC state over <paramref name="data"/>.</summary>
    public static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        // BitOperations.Crc32C is the raw CRC step (hardware instruction where available); feeding it
        // 8 bytes at a time keeps checksum cost far below decompression cost.
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(i, 8)));
        }

        for (; i < data.Length; i++)
        {
            state = BitOperations.Crc32C(state, data[i]);
        }

        return state;
    }

    /// <summary>The standard CRC-32C of <paramref name="data"/> (init and final xor 0xFFFFFFFF).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(0xFFFFFFFFu, data);

    /// <summary>The standard CRC-32C of two concatenated spans.</summary>
    public static uint Compute(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => ~Update(Update(0xFFFFFFFFu, a), b);

    /// <summary>The masked form of a CRC, as stored on disk.</summary>
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    /// <summary>The masked CRC-32C of <paramref name="data"/>.</summary>
    public static uint Masked(ReadOnlySpan<byte> data) => Mask(Compute(data));
}
