using System.Buffers.Binary;
using System.Numerics;

namespace DotC1z.Fuzz;

/// <summary>
/// Recomputes the record checksums of a Pebble/LevelDB log file (MANIFEST or WAL) in place, so a mutated
/// record reaches the version-edit or batch decoder instead of stopping at the CRC check.
/// </summary>
internal static class LogCrc
{
    private const int BlockSize = 32 * 1024;
    private const uint MaskDelta = 0xa282ead8;

    /// <summary>Fixes every record header's masked CRC-32C, block by block, until the records stop making sense.</summary>
    /// <param name="log">The file; changed in place.</param>
    /// <returns>How many records were visited.</returns>
    public static int Fix(byte[] log)
    {
        int records = 0;
        for (int block = 0; block < log.Length; block += BlockSize)
        {
            int end = Math.Min(block + BlockSize, log.Length);
            int pos = block;
            while (pos + 7 <= end)
            {
                int length = BinaryPrimitives.ReadUInt16LittleEndian(log.AsSpan(pos + 4));
                byte type = log[pos + 6];
                // Types 1-4: legacy 7-byte header; 5-8: recyclable header with a 4-byte log number; 0: zero padding.
                int header = type is >= 5 and <= 8 ? 11 : 7;
                if (type == 0 && length == 0)
                {
                    break;
                }

                if (pos + header + length > end)
                {
                    break;
                }

                uint crc = Crc32C(log.AsSpan(pos + 6, header - 6 + length));
                BinaryPrimitives.WriteUInt32LittleEndian(log.AsSpan(pos), Mask(crc));
                records++;
                pos += header + length;
            }
        }

        return records;
    }

    private static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c = BitOperations.Crc32C(c, b);
        }

        return ~c;
    }
}
