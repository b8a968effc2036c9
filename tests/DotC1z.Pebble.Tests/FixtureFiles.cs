using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using DotC1z.Errors;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Pebble.Tests;

/// <summary>
/// Test-only reader of a C1Z3 INDEXED_ZSTD envelope: exposes the frames of the payload as files.
/// Layout: "C1Z3\0", u32 BE manifest length M, M manifest bytes, frames, then an index (protobuf) and a
/// 28-byte footer (u64 BE index offset, u32 BE index length, u64 BE xxh64 of the index, "C1ZIDX1\0").
/// Every file is decompressed once at construction; <see cref="ReadAllBytes"/> hands out copies so tests
/// can mutate them freely.
/// </summary>
internal sealed class FixtureFiles : IPayloadFileSource
{
    private readonly Dictionary<string, byte[]> _files;
    private readonly bool _share;

    /// <param name="files">The files by name.</param>
    /// <param name="share">Hand out the stored arrays instead of copies (the reader never writes to them; saves time in mutation runs).</param>
    public FixtureFiles(Dictionary<string, byte[]> files, bool share = false)
    {
        _files = files;
        _share = share;
        FileNames = files.Keys.Order(StringComparer.Ordinal).ToList();
    }

    public IReadOnlyList<string> FileNames { get; }

    /// <summary>The decoded files (shared, do not mutate).</summary>
    public IReadOnlyDictionary<string, byte[]> Files => _files;

    public static string MediumPath => Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "medium-unexpanded.pebble2.c1z");

    private static readonly Lazy<FixtureFiles> MediumLazy = new(() => Load(MediumPath));

    /// <summary>The medium fixture, loaded once per test run.</summary>
    public static FixtureFiles Medium => MediumLazy.Value;

    public long GetLength(string name) => Get(name).LongLength;

    public byte[] ReadAllBytes(string name, CancellationToken cancellationToken = default) => _share ? Get(name) : (byte[])Get(name).Clone();

    private byte[] Get(string name) => _files.TryGetValue(name, out var b) ? b : throw new C1zArgumentException($"no file {name}");

    /// <summary>A copy of this source with some files replaced.</summary>
    public FixtureFiles With(string name, byte[] data)
    {
        var d = new Dictionary<string, byte[]>(_files, StringComparer.Ordinal) { [name] = data };
        return new FixtureFiles(d, _share);
    }

    /// <summary>This source in sharing mode.</summary>
    public FixtureFiles Shared()
    {
        return new FixtureFiles(_files, share: true);
    }

    public static FixtureFiles Load(string path)
    {
        byte[] f = File.ReadAllBytes(path);
        if (f.Length < 9 + 28 || !f.AsSpan(0, 5).SequenceEqual("C1Z3\0"u8))
        {
            throw new InvalidDataException("not a C1Z3 file");
        }

        long manifestEnd = 9 + (long)BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(5));
        var footer = f.AsSpan(f.Length - 28);
        if (!footer[20..].SequenceEqual("C1ZIDX1\0"u8))
        {
            throw new InvalidDataException("bad index footer magic");
        }

        long indexOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(footer);
        long indexLen = BinaryPrimitives.ReadUInt32BigEndian(footer[8..]);
        ulong indexHash = BinaryPrimitives.ReadUInt64BigEndian(footer[12..]);
        if (indexOffset < manifestEnd || indexOffset + indexLen + 28 != f.Length)
        {
            throw new InvalidDataException("index does not fit");
        }

        var index = f.AsSpan((int)indexOffset, (int)indexLen);
        if (XxHash64.HashToUInt64(index) != indexHash)
        {
            throw new InvalidDataException("index hash mismatch");
        }

        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int p = 0;
        while (p < index.Length)
        {
            ulong tag = ReadVarint(index, ref p);
            if (tag == (1 << 3 | 2))
            {
                int len = checked((int)ReadVarint(index, ref p));
                var (name, data) = ReadEntry(f, index.Slice(p, len));
                files.Add(name, data);
                p += len;
            }
            else
            {
                Skip(index, ref p, (int)(tag & 7));
            }
        }

        return new FixtureFiles(files);
    }

    private static (string Name, byte[] Data) ReadEntry(byte[] file, ReadOnlySpan<byte> e)
    {
        string? name = null;
        long offset = 0, compressed = 0, raw = 0; // proto3 omits zero values
        ulong rawHash = 0;
        int p = 0;
        while (p < e.Length)
        {
            ulong tag = ReadVarint(e, ref p);
            switch (tag)
            {
                case 1 << 3 | 2:
                    {
                        int len = checked((int)ReadVarint(e, ref p));
                        name = Encoding.UTF8.GetString(e.Slice(p, len));
                        p += len;
                        break;
                    }

                case 2 << 3:
                    offset = (long)ReadVarint(e, ref p);
                    break;
                case 3 << 3:
                    compressed = (long)ReadVarint(e, ref p);
                    break;
                case 4 << 3:
                    raw = (long)ReadVarint(e, ref p);
                    break;
                case 5 << 3 | 1:
                    rawHash = BinaryPrimitives.ReadUInt64LittleEndian(e[p..]);
                    p += 8;
                    break;
                default:
                    Skip(e, ref p, (int)(tag & 7));
                    break;
            }
        }

        if (name is null || offset <= 0 || compressed <= 0 || offset + compressed > file.Length)
        {
            throw new InvalidDataException("bad index entry");
        }

        using var z = new ZstdSharp.Decompressor();
        byte[] data = z.Unwrap(file.AsSpan((int)offset, (int)compressed)).ToArray();
        if (data.Length != raw || XxHash64.HashToUInt64(data) != rawHash)
        {
            throw new InvalidDataException($"frame {name} does not match its index entry");
        }

        return (name, data);
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> b, ref int p)
    {
        ulong v = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte x = b[p++];
            v |= (ulong)(x & 0x7F) << shift;
            if (x < 0x80)
            {
                return v;
            }
        }

        throw new InvalidDataException("varint too long");
    }

    private static void Skip(ReadOnlySpan<byte> b, ref int p, int wire)
    {
        switch (wire)
        {
            case 0:
                ReadVarint(b, ref p);
                break;
            case 1:
                p += 8;
                break;
            case 2:
                {
                    // Read the length first: `p += f(ref p)` would add to the stale p.
                    int len = checked((int)ReadVarint(b, ref p));
                    p += len;
                    break;
                }
            case 5:
                p += 4;
                break;
            default:
                throw new InvalidDataException($"wire type {wire}");
        }
    }
}
