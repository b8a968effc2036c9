using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace DotC1z.Pebble.Tests;

/// <summary>Writers for the record-log framing, version edits and WAL batches, to hand-build test inputs.</summary>
internal static class Builders
{
    public const ulong SeqNumMax = (1UL << 56) - 1;

    public static void PutUvarint(List<byte> o, ulong v)
    {
        while (v >= 0x80)
        {
            o.Add((byte)(v | 0x80));
            v >>= 7;
        }

        o.Add((byte)v);
    }

    public static void PutBytes(List<byte> o, ReadOnlySpan<byte> b)
    {
        PutUvarint(o, (ulong)b.Length);
        o.AddRange(b);
    }

    public static byte[] InternalKey(ReadOnlySpan<byte> user, ulong seq, byte kind)
    {
        var k = new byte[user.Length + 8];
        user.CopyTo(k);
        BinaryPrimitives.WriteUInt64LittleEndian(k.AsSpan(user.Length), (seq << 8) | kind);
        return k;
    }

    /// <summary>
    /// Frames records as a record log: 32 KiB blocks, records split into FIRST/MIDDLE/LAST chunks at block
    /// boundaries, block tails under 7 bytes zero-filled. With a log number, recyclable chunk types (5-8) are used.
    /// </summary>
    public static byte[] RecordLog(IEnumerable<byte[]> records, uint? logNumber = null)
    {
        const int block = 32 * 1024;
        int header = logNumber is null ? 7 : 11;
        var o = new List<byte>();
        foreach (var rec in records)
        {
            int pos = 0;
            bool first = true;
            do
            {
                int left = block - (o.Count % block);
                if (left < header)
                {
                    o.AddRange(new byte[left]);
                    left = block;
                }

                int n = Math.Min(rec.Length - pos, left - header);
                bool last = pos + n == rec.Length;
                byte type = (byte)(first && last ? 1 : first ? 2 : last ? 4 : 3);
                if (logNumber is not null)
                {
                    type += 4;
                }

                var body = new List<byte> { type };
                if (logNumber is { } ln)
                {
                    body.AddRange(BitConverter.GetBytes(ln));
                }

                body.AddRange(rec.AsSpan(pos, n));
                uint crc = Crc32C.Masked(body.ToArray());
                var hdr = new byte[6];
                BinaryPrimitives.WriteUInt32LittleEndian(hdr, crc);
                BinaryPrimitives.WriteUInt16LittleEndian(hdr.AsSpan(4), (ushort)n);
                o.AddRange(hdr);
                o.AddRange(body);
                pos += n;
                first = false;
            }
            while (pos < rec.Length);
        }

        return o.ToArray();
    }

    /// <summary>A WAL batch: header (seqnum, count) then kind ‖ key ‖ [value] entries.</summary>
    public static byte[] Batch(ulong seq, params (byte Kind, byte[] Key, byte[]? Value)[] entries)
    {
        var o = new List<byte>();
        o.AddRange(BitConverter.GetBytes(seq));
        o.AddRange(BitConverter.GetBytes((uint)entries.Count(e => e.Kind != 3)));
        foreach (var (kind, key, value) in entries)
        {
            o.Add(kind);
            PutBytes(o, key);
            if (value is not null)
            {
                PutBytes(o, value);
            }
        }

        return o.ToArray();
    }

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>An order-sensitive hash of every key/value a scan yields, and their count.</summary>
    public static (ulong Hash, long Count) HashAll(PebbleDatabase db, CancellationToken ct = default)
    {
        var h = new XxHash64();
        long n = 0;
        Span<byte> len = stackalloc byte[4];
        using var c = db.Scan(cancellationToken: ct);
        while (c.MoveNext())
        {
            BinaryPrimitives.WriteInt32LittleEndian(len, c.Key.Length);
            h.Append(len);
            h.Append(c.Key);
            BinaryPrimitives.WriteInt32LittleEndian(len, c.Value.Length);
            h.Append(len);
            h.Append(c.Value);
            n++;
        }

        return (h.GetCurrentHashAsUInt64(), n);
    }
}

/// <summary>Writes one version edit.</summary>
internal sealed class EditBuilder
{
    private readonly List<byte> _o = [];

    public EditBuilder Comparer(string name = "leveldb.BytewiseComparator")
    {
        Builders.PutUvarint(_o, 1);
        Builders.PutBytes(_o, Builders.Utf8(name));
        return this;
    }

    public EditBuilder Counters(ulong logNumber, ulong nextFile, ulong lastSeq)
    {
        Builders.PutUvarint(_o, 2);
        Builders.PutUvarint(_o, logNumber);
        Builders.PutUvarint(_o, 3);
        Builders.PutUvarint(_o, nextFile);
        Builders.PutUvarint(_o, 4);
        Builders.PutUvarint(_o, lastSeq);
        return this;
    }

    public EditBuilder Tag(ulong tag, params ulong[] values)
    {
        Builders.PutUvarint(_o, tag);
        foreach (ulong v in values)
        {
            Builders.PutUvarint(_o, v);
        }

        return this;
    }

    public EditBuilder NewTable(int level, ulong num, ulong size, byte[] smallestIKey, byte[] largestIKey, ulong smallestSeq, ulong largestSeq, ulong? backing = null)
    {
        Builders.PutUvarint(_o, 103);
        Builders.PutUvarint(_o, (ulong)level);
        Builders.PutUvarint(_o, num);
        Builders.PutUvarint(_o, size);
        Builders.PutBytes(_o, smallestIKey);
        Builders.PutBytes(_o, largestIKey);
        Builders.PutUvarint(_o, smallestSeq);
        Builders.PutUvarint(_o, largestSeq);
        // Creation time (a skippable custom field), as Pebble writes it.
        Builders.PutUvarint(_o, 6);
        Builders.PutBytes(_o, [0x80, 0x01]);
        if (backing is { } b)
        {
            Builders.PutUvarint(_o, 66);
            Builders.PutUvarint(_o, b);
        }

        Builders.PutUvarint(_o, 1);
        return this;
    }

    public EditBuilder NewTable(PebbleTableInfo t)
    {
        var s = Builders.InternalKey(t.SmallestUserKey.Span, t.SmallestSeqNum, 1);
        var l = Builders.InternalKey(t.LargestUserKey.Span, t.LargestSeqNum, t.LargestIsExclusive ? (byte)15 : (byte)1);
        return NewTable(t.Level, t.TableNumber, t.Size, s, l, t.MinSeqNum, t.MaxSeqNum, t.IsVirtual ? t.BackingFileNumber : null);
    }

    public EditBuilder CreatedBacking(ulong num, ulong size) => Tag(105, num, size);

    public byte[] Build() => _o.ToArray();
}
