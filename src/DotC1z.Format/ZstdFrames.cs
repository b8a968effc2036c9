using System.Buffers.Binary;
using DotC1z.Errors;
using Microsoft.Win32.SafeHandles;

namespace DotC1z.Format;

/// <summary>
/// Walks a zstd frame's structure (header, block headers, checksum) without decoding it, to learn where the
/// frame ends. A streaming decoder silently continues into a second, concatenated frame; a payload must be
/// exactly one frame (docs/RELIABILITY.md, format laxity), so the walk runs before decoding.
/// </summary>
internal static class ZstdFrames
{
    private const uint FrameMagic = 0xFD2FB528;

    /// <summary>Length of the zstd frame starting at <paramref name="start"/>.</summary>
    /// <param name="file">The file.</param>
    /// <param name="start">Where the frame starts.</param>
    /// <param name="available">Bytes available from <paramref name="start"/>.</param>
    /// <param name="path">The file's path, for messages.</param>
    /// <returns>The frame's length in bytes.</returns>
    /// <exception cref="C1zArchiveException">Not a zstd frame, or it runs past <paramref name="available"/>.</exception>
    public static long FrameLength(SafeFileHandle file, long start, long available, string path)
    {
        Span<byte> head = stackalloc byte[18];
        int got = Read(file, head[..(int)Math.Min(head.Length, available)], start, path);
        if (got < 6 || BinaryPrimitives.ReadUInt32LittleEndian(head) != FrameMagic)
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, "the payload does not start with a zstd frame");
        }

        byte descriptor = head[4];
        int fcsFlag = descriptor >> 6;
        bool singleSegment = (descriptor & 0x20) != 0;
        bool checksum = (descriptor & 0x04) != 0;
        if ((descriptor & 0x08) != 0)
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, "zstd frame header has its reserved bit set");
        }

        int dictionaryBytes = (descriptor & 3) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
        int fcsBytes = fcsFlag switch { 0 => singleSegment ? 1 : 0, 1 => 2, 2 => 4, _ => 8 };
        long position = start + 5 + (singleSegment ? 0 : 1) + dictionaryBytes + fcsBytes;
        long end = start + available;
        Span<byte> block = stackalloc byte[3];
        while (true)
        {
            if (position + 3 > end || Read(file, block, position, path) != 3)
            {
                throw new C1zArchiveException(ArchiveError.Truncated, path, "the payload's zstd frame is truncated");
            }

            int header = block[0] | (block[1] << 8) | (block[2] << 16);
            bool last = (header & 1) != 0;
            int type = (header >> 1) & 3;
            int size = header >> 3;
            long content = type switch
            {
                0 or 2 => size,
                1 => 1,
                _ => throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, "zstd block of the reserved type"),
            };
            position += 3 + content;
            if (position > end)
            {
                throw new C1zArchiveException(ArchiveError.Truncated, path, "the payload's zstd frame is truncated");
            }

            if (last)
            {
                break;
            }
        }

        position += checksum ? 4 : 0;
        if (position > end)
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, "the payload's zstd frame is truncated");
        }

        return position - start;
    }

    /// <summary>Positional read of up to <paramref name="buffer"/>'s length (less only at the end of the file), I/O errors typed.</summary>
    internal static int Read(SafeFileHandle file, Span<byte> buffer, long offset, string path)
    {
        try
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int n = RandomAccess.Read(file, buffer[total..], offset + total);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        }
        catch (IOException ex)
        {
            throw new C1zIOException($"{path}: {ex.Message}", path, ex);
        }
    }
}
