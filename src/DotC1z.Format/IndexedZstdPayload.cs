using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using DotC1z.Errors;
using DotC1z.Format.Manifest;
using DotC1z.Storage;
using Google.Protobuf;
using ZstdSharp;

namespace DotC1z.Format;

/// <summary>
/// An INDEXED_ZSTD payload (payload encoding 5, written by baton's Pebble engine): one bare zstd frame per
/// file, a frame index and a 28-byte footer at the end of the file (docs/PEBBLE.md, "Envelope"). Files are
/// read straight from their frames, never extracted to disk. Everything the writer recorded is checked:
/// footer magic and fit, the index's XXH64, the manifest's XXH64, every entry's bounds, that the frames
/// tile the payload exactly (no unreferenced bytes), and per file the decoded length, XXH64 and SHA-256.
/// </summary>
public sealed class IndexedZstdPayload : IPayloadFileSource, IDisposable
{
    /// <summary>Length of the footer: u64 BE index offset, u32 BE index length, u64 BE XXH64(index), magic.</summary>
    public const int FooterLength = 28;

    /// <summary>Largest frame index accepted.</summary>
    public const int MaxIndexBytes = 64 << 20;

    /// <summary>Longest file name accepted in the index.</summary>
    public const int MaxNameBytes = 4096;

    private static ReadOnlySpan<byte> FooterMagic => "C1ZIDX1\0"u8;

    private readonly FileStream _file;
    private readonly string _path;
    private readonly Dictionary<string, IndexedFrameEntry> _entries;
    private readonly long _maxDecodedBytes;
    private readonly Lock _cacheLock = new();
    private readonly LinkedList<(string Name, byte[] Bytes)> _cache = new();
    private long _cached;
    private long _decoded;

    private IndexedZstdPayload(FileStream file, string path, Dictionary<string, IndexedFrameEntry> entries, IReadOnlyList<string> names, long maxDecodedBytes)
    {
        _file = file;
        _path = path;
        _entries = entries;
        FileNames = names;
        _maxDecodedBytes = maxDecodedBytes;
        TotalRawBytes = entries.Values.Sum(e => e.RawSize);
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> FileNames { get; }

    /// <summary>
    /// Decoded files kept for repeated reads (a reader scans the same tables once per key range): the most
    /// recently read ones, up to this many bytes in all.
    /// </summary>
    public long CacheBytes { get; init; } = 64L << 20;

    /// <summary>Sum of the raw sizes of every file, as the index records it.</summary>
    public long TotalRawBytes { get; }

    /// <summary>
    /// Reads and checks the footer and frame index of an open C1Z3 file whose manifest says INDEXED_ZSTD.
    /// Takes ownership of <paramref name="file"/> (the one handle every later read uses).
    /// </summary>
    /// <param name="file">The open file.</param>
    /// <param name="path">Its path, for messages.</param>
    /// <param name="manifestBytes">The manifest exactly as stored (its XXH64 is checked against the index).</param>
    /// <param name="payloadStart">File offset where the payload starts (9 + manifest length).</param>
    /// <param name="maxDecodedBytes">Budget for the sum of decoded file sizes.</param>
    /// <returns>The payload.</returns>
    /// <exception cref="C1zArchiveException">The footer, index or frame layout is not acceptable.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static IndexedZstdPayload Open(FileStream file, string path, ReadOnlySpan<byte> manifestBytes, long payloadStart, long maxDecodedBytes)
    {
        ArgumentNullException.ThrowIfNull(file);
        try
        {
            return OpenCore(file, path, manifestBytes, payloadStart, maxDecodedBytes);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static IndexedZstdPayload OpenCore(FileStream file, string path, ReadOnlySpan<byte> manifestBytes, long payloadStart, long maxDecodedBytes)
    {
        long length = file.Length;
        if (length - payloadStart < FooterLength)
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, "INDEXED_ZSTD payload is shorter than its footer");
        }

        Span<byte> footer = stackalloc byte[FooterLength];
        ReadAt(file, path, length - FooterLength, footer);
        if (!footer[20..].SequenceEqual(FooterMagic))
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, "INDEXED_ZSTD footer magic is missing (truncated or not an indexed payload)");
        }

        ulong indexOffset = BinaryPrimitives.ReadUInt64BigEndian(footer);
        uint indexLength = BinaryPrimitives.ReadUInt32BigEndian(footer[8..]);
        ulong indexHash = BinaryPrimitives.ReadUInt64BigEndian(footer[12..]);
        if (indexLength > MaxIndexBytes)
        {
            throw new C1zArchiveException(ArchiveError.ManifestTooLarge, path, $"frame index of {indexLength} bytes exceeds {MaxIndexBytes}");
        }

        if (indexOffset < (ulong)payloadStart || indexOffset + indexLength + FooterLength != (ulong)length)
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, $"frame index at {indexOffset} (+{indexLength}) does not end at the footer");
        }

        var indexBytes = new byte[indexLength];
        ReadAt(file, path, (long)indexOffset, indexBytes);
        if (XxHash64.HashToUInt64(indexBytes) != indexHash)
        {
            throw new C1zArchiveException(ArchiveError.ChecksumMismatch, path, "frame index XXH64 does not match the footer");
        }

        IndexedFrameIndex index;
        try
        {
            index = IndexedFrameIndex.Parser.ParseFrom(indexBytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new C1zArchiveException(ArchiveError.ManifestInvalid, path, $"frame index does not parse: {ex.Message}", ex);
        }

        if (index.ManifestXxh64 != 0 && XxHash64.HashToUInt64(manifestBytes) != index.ManifestXxh64)
        {
            throw new C1zArchiveException(ArchiveError.ChecksumMismatch, path, "manifest XXH64 does not match the frame index");
        }

        var entries = new Dictionary<string, IndexedFrameEntry>(index.Entries.Count, StringComparer.Ordinal);
        long raw = 0;
        foreach (var e in index.Entries)
        {
            CheckEntry(e, path, payloadStart, (long)indexOffset);
            if (!entries.TryAdd(e.Name, e))
            {
                throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, $"frame index names {Printable(e.Name)} twice");
            }

            raw += e.RawSize;
            if (raw > maxDecodedBytes)
            {
                throw new C1zArchiveException(ArchiveError.DecodedSizeExceeded, path, $"files decode to more than the {maxDecodedBytes}-byte budget");
            }
        }

        // The frames must tile [payloadStart, indexOffset) exactly: bytes no entry accounts for are refused.
        long expect = payloadStart;
        foreach (var e in index.Entries.OrderBy(e => e.FrameOffset))
        {
            if (e.FrameOffset != expect)
            {
                throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, $"frame of {Printable(e.Name)} starts at {e.FrameOffset}, expected {expect} (overlapping or unreferenced bytes)");
            }

            expect = e.FrameOffset + e.CompressedSize;
        }

        if (expect != (long)indexOffset)
        {
            throw new C1zArchiveException(ArchiveError.TrailingData, path, $"{(long)indexOffset - expect} unreferenced bytes precede the frame index");
        }

        var names = entries.Keys.Order(StringComparer.Ordinal).ToArray();
        return new IndexedZstdPayload(file, path, entries, names, maxDecodedBytes);
    }

    private static void CheckEntry(IndexedFrameEntry e, string path, long payloadStart, long indexOffset)
    {
        string name = e.Name;
        if (name.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(name) > MaxNameBytes || name.StartsWith('/') || name.Contains('\\', StringComparison.Ordinal)
            || name.Split('/').Any(p => p is "" or "." or "..") || name.Any(char.IsControl))
        {
            throw new C1zArchiveException(ArchiveError.UnsafeEntry, path, $"frame index entry name {Printable(name)} is not a safe relative path");
        }

        if (e.CompressedSize <= 0 || e.RawSize < 0 || e.FrameOffset < payloadStart || e.FrameOffset > indexOffset - e.CompressedSize)
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, path, $"frame of {Printable(name)} ({e.FrameOffset}+{e.CompressedSize}, raw {e.RawSize}) lies outside the payload");
        }

        if (e.RawSha256.Length is not (0 or 32))
        {
            throw new C1zArchiveException(ArchiveError.ManifestInvalid, path, $"frame of {Printable(name)} has a {e.RawSha256.Length}-byte SHA-256");
        }
    }

    /// <inheritdoc/>
    public long GetLength(string name) => Entry(name).RawSize;

    /// <inheritdoc/>
    /// <remarks>Returns a shared, cached buffer for files read before: callers must not modify it.</remarks>
    public byte[] ReadAllBytes(string name, CancellationToken cancellationToken = default)
    {
        lock (_cacheLock)
        {
            for (var node = _cache.First; node is not null; node = node.Next)
            {
                if (node.Value.Name == name)
                {
                    _cache.Remove(node);
                    _cache.AddFirst(node);
                    return node.Value.Bytes;
                }
            }
        }

        byte[] raw = Decode(name, cancellationToken);
        if (raw.Length <= CacheBytes / 4)
        {
            lock (_cacheLock)
            {
                _cache.AddFirst((name, raw));
                _cached += raw.Length;
                while (_cached > CacheBytes && _cache.Last is { } last)
                {
                    _cached -= last.Value.Bytes.Length;
                    _cache.RemoveLast();
                }
            }
        }

        return raw;
    }

    /// <summary>Decodes and verifies a file from its frame, bypassing the cache (for whole-payload verification).</summary>
    /// <param name="name">A name from <see cref="FileNames"/>.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The decoded file.</returns>
    /// <exception cref="C1zArchiveException">The frame does not match the index.</exception>
    public byte[] DecodeUncached(string name, CancellationToken cancellationToken = default) => Decode(name, cancellationToken);

    private byte[] Decode(string name, CancellationToken cancellationToken)
    {
        var e = Entry(name);
        cancellationToken.ThrowIfCancellationRequested();
        if (e.RawSize > Array.MaxLength)
        {
            throw new C1zArchiveException(ArchiveError.DecodedSizeExceeded, _path, $"{Printable(name)} decodes to {e.RawSize} bytes, more than one buffer holds");
        }

        if (Interlocked.Add(ref _decoded, e.RawSize) > Math.Max(_maxDecodedBytes, TotalRawBytes) * 4)
        {
            // Files are read again when a reader revisits them; four passes over everything is the ceiling.
            throw new C1zArchiveException(ArchiveError.DecodedSizeExceeded, _path, $"reading {Printable(name)} exceeds the decoded-bytes budget");
        }

        var compressed = new byte[e.CompressedSize];
        ReadAt(_file, _path, e.FrameOffset, compressed);
        var raw = new byte[e.RawSize];
        int written;
        try
        {
            if (FrameLength(compressed) != compressed.Length)
            {
                throw new C1zArchiveException(ArchiveError.PayloadCorrupt, _path, $"frame of {Printable(name)} is not exactly one zstd frame");
            }

            ulong declared = ContentSize(compressed);
            if (declared != ulong.MaxValue - 1 && declared != ulong.MaxValue && declared != (ulong)e.RawSize && !(declared == 0 && e.RawSize == 0))
            {
                throw new C1zArchiveException(ArchiveError.PayloadCorrupt, _path, $"frame of {Printable(name)} declares {declared} bytes, the index says {e.RawSize}");
            }

            using var zstd = new Decompressor();
            zstd.SetParameter(ZstdSharp.Unsafe.ZSTD_dParameter.ZSTD_d_windowLogMax, 31);
            written = zstd.Unwrap(compressed, raw);
        }
        catch (ZstdException ex)
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, _path, $"frame of {Printable(name)} does not decode: {ex.Message}", ex);
        }

        if (written != e.RawSize)
        {
            throw new C1zArchiveException(ArchiveError.PayloadCorrupt, _path, $"{Printable(name)} decodes to {written} bytes, the index says {e.RawSize}");
        }

        if (XxHash64.HashToUInt64(raw) != e.RawXxh64)
        {
            throw new C1zArchiveException(ArchiveError.ChecksumMismatch, _path, $"{Printable(name)}: XXH64 of the decoded file does not match the index");
        }

        if (e.RawSha256.Length == 32 && !SHA256.HashData(raw).AsSpan().SequenceEqual(e.RawSha256.Span))
        {
            throw new C1zArchiveException(ArchiveError.ChecksumMismatch, _path, $"{Printable(name)}: SHA-256 of the decoded file does not match the index");
        }

        return raw;
    }

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();

    private IndexedFrameEntry Entry(string name) =>
        _entries.TryGetValue(name, out var e) ? e : throw new C1zArgumentException($"{_path}: the payload holds no file {Printable(name)}", _path);

    /// <summary>The frame header's content size: ulong.MaxValue when absent (baton's 0-byte files), MaxValue−1 on error.</summary>
    private static unsafe ulong ContentSize(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            return ZstdSharp.Unsafe.Methods.ZSTD_getFrameContentSize(p, (nuint)frame.Length);
        }
    }

    private static unsafe long FrameLength(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            nuint n = ZstdSharp.Unsafe.Methods.ZSTD_findFrameCompressedSize(p, (nuint)frame.Length);
            return ZstdSharp.Unsafe.Methods.ZSTD_isError(n) ? -1 : (long)n;
        }
    }

    private static void ReadAt(FileStream file, string path, long offset, Span<byte> buffer)
    {
        int got = ZstdFrames.Read(file.SafeFileHandle, buffer, offset, path);
        if (got < buffer.Length)
        {
            throw new C1zArchiveException(ArchiveError.Truncated, path, $"file ends at {offset + got}, inside the payload");
        }
    }

    /// <summary>A name as it may be shown: control characters escaped, long names cut.</summary>
    internal static string Printable(string name)
    {
        var sb = new System.Text.StringBuilder(name.Length + 2);
        sb.Append('"');
        foreach (char c in name.Length > 200 ? name[..200] : name)
        {
            if (char.IsControl(c))
            {
                sb.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.Append(name.Length > 200 ? "…\"" : "\"").ToString();
    }
}
