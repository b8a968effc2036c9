using System.Buffers.Binary;

namespace DotC1z.Pebble;

/// <summary>One replayed WAL entry.</summary>
internal sealed record MemEntry(byte[] Key, ulong Seq, byte Kind, byte[] Value);

/// <summary>
/// The unflushed writes found in the WAL files, sorted into internal-key order: Pebble's memtable as it
/// would be rebuilt on open.
/// </summary>
internal sealed class MemTable
{
    public List<MemEntry> Points { get; } = [];

    public List<RangeTombstone> RangeDels { get; } = [];

    public void Sort()
    {
        Points.Sort(static (x, y) =>
        {
            int c = x.Key.AsSpan().SequenceCompareTo(y.Key);
            return c != 0 ? c : y.Seq.CompareTo(x.Seq);
        });
    }
}

/// <summary>Replays WAL files (record-log framed batches) into a <see cref="MemTable"/>. See docs/PEBBLE.md.</summary>
internal static class WalReplay
{
    private const int BatchHeader = 12;

    public static void ReplayLog(byte[] data, string file, ulong logNumber, PebbleReadOptions options, MemTable into, CancellationToken ct)
    {
        var reader = new RecordLogReader(data, file, strict: false, logNumber);
        while (reader.TryNext(out var record))
        {
            ct.ThrowIfCancellationRequested();
            DecodeBatch(record.Span, file, options, into);
        }
    }

    private static void DecodeBatch(ReadOnlySpan<byte> batch, string file, PebbleReadOptions options, MemTable into)
    {
        if (batch.Length < BatchHeader)
        {
            Fail.Corrupt(file, $"WAL batch of {batch.Length} bytes is shorter than its header");
        }

        ulong seq = BinaryPrimitives.ReadUInt64LittleEndian(batch);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(batch[8..]);
        if (seq > Kinds.SeqNumMax || count > Kinds.SeqNumMax - seq)
        {
            Fail.Corrupt(file, $"WAL batch seqnums {seq}+{count} overflow");
        }

        var r = new SpanReader(batch[BatchHeader..], file, "WAL batch");
        uint seen = 0;
        while (!r.AtEnd)
        {
            byte kind = r.Byte("kind");
            var key = r.LengthPrefixed("key", options.MaxKeyBytes);
            bool hasValue = kind is Kinds.Set or Kinds.Merge or Kinds.RangeDelete or Kinds.RangeKeySet
                or Kinds.RangeKeyUnset or Kinds.RangeKeyDelete or Kinds.DeleteSized or Kinds.Excise;
            ReadOnlySpan<byte> value = hasValue ? r.LengthPrefixed("value", options.MaxValueBytes) : default;
            if (kind == Kinds.LogData)
            {
                continue;
            }

            if (seen >= count)
            {
                Fail.Corrupt(file, $"WAL batch at seqnum {seq} holds more entries than its count {count}");
            }

            ulong s = seq + seen;
            seen++;
            switch (kind)
            {
                case Kinds.Set or Kinds.Merge or Kinds.Delete or Kinds.SingleDelete or Kinds.DeleteSized:
                    into.Points.Add(new MemEntry(key.ToArray(), s, kind, value.ToArray()));
                    break;
                case Kinds.RangeDelete:
                    if (key.SequenceCompareTo(value) < 0)
                    {
                        into.RangeDels.Add(new RangeTombstone(key.ToArray(), value.ToArray(), s));
                    }

                    break;
                case Kinds.RangeKeySet or Kinds.RangeKeyUnset or Kinds.RangeKeyDelete:
                    // Range keys live in their own keyspace and never hide point keys.
                    break;
                case Kinds.IngestSst:
                    Fail.Unsupported(file, "WAL ingest records are not supported");
                    break;
                case Kinds.Excise:
                    Fail.Unsupported(file, "WAL excise records are not supported");
                    break;
                default:
                    Fail.Corrupt(file, $"WAL batch holds an entry of kind {kind}");
                    break;
            }
        }

        if (seen != count)
        {
            Fail.Corrupt(file, $"WAL batch at seqnum {seq} holds {seen} entries, its header says {count}");
        }
    }
}

/// <summary>Iterates the sorted WAL entries from a lower bound.</summary>
internal sealed class MemTableSource : PointSource
{
    private readonly List<MemEntry> _entries;
    private int _i;

    public MemTableSource(MemTable mem, ReadOnlySpan<byte> lower)
    {
        _entries = mem.Points;
        int lo = 0, hi = _entries.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_entries[mid].Key.AsSpan().SequenceCompareTo(lower) < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        _i = lo - 1;
    }

    public override bool Next()
    {
        if (++_i >= _entries.Count)
        {
            return false;
        }

        var e = _entries[_i];
        KeyBuf = e.Key;
        KeyLen = e.Key.Length;
        Seq = e.Seq;
        Kind = e.Kind;
        ValArr = e.Value;
        ValStart = 0;
        ValLen = e.Value.Length;
        return true;
    }
}
