using System.Buffers;
using System.Text;

namespace DotC1z.Format;

/// <summary>
/// The minimal ustar subset C1Z3 payloads use: a flat directory of regular files. The writer is ours;
/// the reader is strict because .NET's <c>TarReader</c> neither verifies header checksums nor bounds
/// its allocations (docs/RELIABILITY.md F1–F3): every header checksum is verified, only regular files with
/// short plain names are accepted, duplicates, links, devices, PAX/GNU extension headers, base-256
/// sizes, truncation and trailing data are rejected, and entry count and bytes are capped.
/// </summary>
/// <remarks>
/// <code>
/// header block (512 bytes)                           then  data, padded to 512
///   0 name[100]   100 mode[8]   108 uid[8]  116 gid[8]
///   124 size[12]  136 mtime[12] 148 chksum[8]  156 typeflag
///   157 linkname[100]  257 magic "ustar\0"  263 version "00"
///   265 uname[32] 297 gname[32] 329 devmajor[8] 337 devminor[8] 345 prefix[155]
/// end of archive: two zero blocks, and nothing but zeros after them
/// </code>
/// </remarks>
internal static class StrictTar
{
    public const int BlockSize = 512;
    public const int MaxNameLength = 100;
    private const int NameOffset = 0, ModeOffset = 100, UidOffset = 108, GidOffset = 116, SizeOffset = 124, MtimeOffset = 136,
        ChecksumOffset = 148, TypeOffset = 156, LinkOffset = 157, MagicOffset = 257, VersionOffset = 263, PrefixOffset = 345;

    public static void WriteFile(Stream output, string name, Stream content, long length)
    {
        if (!IsSafeName(name))
        {
            throw new ArgumentException($"unsafe tar entry name: {name}", nameof(name));
        }

        var header = new byte[BlockSize];
        Encoding.ASCII.GetBytes(name, header.AsSpan(NameOffset));
        Octal(header.AsSpan(ModeOffset, 8), 0x180); // 0600
        Octal(header.AsSpan(UidOffset, 8), 0);
        Octal(header.AsSpan(GidOffset, 8), 0);
        Octal(header.AsSpan(SizeOffset, 12), length);
        Octal(header.AsSpan(MtimeOffset, 12), 0); // deterministic archives
        header[TypeOffset] = (byte)'0';
        "ustar\0"u8.CopyTo(header.AsSpan(MagicOffset));
        "00"u8.CopyTo(header.AsSpan(VersionOffset));
        header.AsSpan(ChecksumOffset, 8).Fill((byte)' ');
        long sum = 0;
        foreach (byte b in header)
        {
            sum += b;
        }

        Octal(header.AsSpan(ChecksumOffset, 7), sum);
        output.Write(header);
        long copied = 0;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int n;
            while (copied < length && (n = content.Read(buffer, 0, (int)Math.Min(buffer.Length, length - copied))) > 0)
            {
                output.Write(buffer, 0, n);
                copied += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (copied != length)
        {
            throw new IOException($"{name} changed size while it was archived");
        }

        int pad = (int)((BlockSize - (length % BlockSize)) % BlockSize);
        output.Write(new byte[pad]);
    }

    public static void WriteEnd(Stream output) => output.Write(new byte[BlockSize * 2]);

    // Octal digits, NUL-terminated, right-aligned with leading zeros.
    private static void Octal(Span<byte> field, long value)
    {
        int digits = field.Length - 1;
        for (int i = digits - 1; i >= 0; i--)
        {
            field[i] = (byte)('0' + (value & 7));
            value >>= 3;
        }

        field[digits] = 0;
    }

    /// <summary>Allowed entry names: 1..100 chars of <c>[A-Za-z0-9._-]</c>, not <c>.</c> or <c>..</c>.</summary>
    public static bool IsSafeName(string name) =>
        name.Length is > 0 and <= MaxNameLength && name != "." && name != ".." && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    /// <summary>Reads a whole archive, writing each file into <paramref name="destination"/> (created new, mode 0600).</summary>
    /// <returns>Entries extracted.</returns>
    public static int Extract(Stream input, string destination, int maxEntries, string path, CancellationToken ct)
    {
        var header = new byte[BlockSize];
        // Case-insensitive: names that collide under case folding would collide on some file systems (docs/RELIABILITY.md C4).
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                ReadBlock(input, header, path, "tar header");
                if (header.AsSpan().IndexOfAnyExcept((byte)0) < 0)
                {
                    ReadBlock(input, header, path, "tar end marker");
                    if (header.AsSpan().IndexOfAnyExcept((byte)0) >= 0)
                    {
                        throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, "tar end marker is followed by a non-zero block");
                    }

                    return names.Count;
                }

                VerifyChecksum(header, path);
                byte type = header[TypeOffset];
                if (type is not ((byte)'0' or 0))
                {
                    throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, $"tar entry of type '{(char)type}' is not allowed (only regular files)");
                }

                if (!header.AsSpan(MagicOffset, 6).SequenceEqual("ustar\0"u8))
                {
                    throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, "tar header is not ustar");
                }

                if (header[PrefixOffset] != 0 || header[LinkOffset] != 0)
                {
                    throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, "tar entry uses a path prefix or a link name");
                }

                string name = ReadName(header, path);
                long size = ReadSize(header, path);
                if (!names.Add(name))
                {
                    throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, $"duplicate tar entry {name}");
                }

                if (names.Count > maxEntries)
                {
                    throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, $"more than {maxEntries} tar entries");
                }

                using (var file = new FileStream(Path.Combine(destination, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    long left = size;
                    while (left > 0)
                    {
                        int n = input.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                        if (n <= 0)
                        {
                            throw new C1zArchiveException(ArchiveError.Truncated, path, $"tar entry {name} is truncated");
                        }

                        file.Write(buffer, 0, n);
                        left -= n;
                    }
                }

                int pad = (int)((BlockSize - (size % BlockSize)) % BlockSize);
                if (pad > 0)
                {
                    ReadExactly(input, buffer.AsSpan(0, pad), path, "tar padding");
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void ReadBlock(Stream input, byte[] block, string path, string what) => ReadExactly(input, block, path, what);

    private static void ReadExactly(Stream input, Span<byte> target, string path, string what)
    {
        int read = input.ReadAtLeast(target, target.Length, throwOnEndOfStream: false);
        if (read != target.Length)
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, $"payload ends inside the {what}");
        }
    }

    private static void VerifyChecksum(byte[] header, string path)
    {
        var field = header.AsSpan(ChecksumOffset, 8);
        long stored = 0;
        int i = 0;
        while (i < field.Length && field[i] == (byte)' ')
        {
            i++;
        }

        int digits = 0;
        for (; i < field.Length && field[i] is >= (byte)'0' and <= (byte)'7'; i++, digits++)
        {
            stored = (stored << 3) | (uint)(field[i] - '0');
        }

        long unsignedSum = 0, signedSum = 0;
        for (int k = 0; k < BlockSize; k++)
        {
            byte b = k is >= ChecksumOffset and < ChecksumOffset + 8 ? (byte)' ' : header[k];
            unsignedSum += b;
            signedSum += (sbyte)b;
        }

        if (digits == 0 || (stored != unsignedSum && stored != signedSum))
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, "tar header checksum mismatch");
        }
    }

    private static string ReadName(byte[] header, string path)
    {
        var field = header.AsSpan(NameOffset, MaxNameLength);
        int end = field.IndexOf((byte)0);
        var raw = end < 0 ? field : field[..end];
        if (raw.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E) >= 0)
        {
            throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, "tar entry name is not printable ASCII");
        }

        string name = Encoding.ASCII.GetString(raw);
        if (!IsSafeName(name))
        {
            throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, $"unsafe tar entry name \"{name}\"");
        }

        return name;
    }

    private static long ReadSize(byte[] header, string path)
    {
        var field = header.AsSpan(SizeOffset, 12);
        if ((field[0] & 0x80) != 0)
        {
            throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, "base-256 tar sizes are not accepted");
        }

        long size = 0;
        int digits = 0;
        foreach (byte b in field)
        {
            if (b is 0 or (byte)' ')
            {
                if (digits > 0)
                {
                    break;
                }

                continue;
            }

            if (b is < (byte)'0' or > (byte)'7')
            {
                throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, "tar size field is not octal");
            }

            size = (size << 3) | (uint)(b - '0');
            digits++;
        }

        if (digits == 0)
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, "tar size field is empty");
        }

        return size;
    }
}
