using System.Buffers.Binary;
using System.Text;

namespace DotC1z.Pebble;

/// <summary>Internal key kinds (the low byte of a trailer). See docs/PEBBLE.md.</summary>
internal static class Kinds
{
    public const byte Delete = 0;
    public const byte Set = 1;
    public const byte Merge = 2;
    public const byte LogData = 3;
    public const byte SingleDelete = 7;
    public const byte RangeDelete = 15;
    public const byte Separator = 17;
    public const byte SetWithDelete = 18;
    public const byte RangeKeyDelete = 19;
    public const byte RangeKeyUnset = 20;
    public const byte RangeKeySet = 21;
    public const byte IngestSst = 22;
    public const byte DeleteSized = 23;
    public const byte Excise = 24;

    public const ulong SeqNumMax = (1UL << 56) - 1;

    public static bool IsPoint(byte kind) => kind is Delete or Set or Merge or SingleDelete or SetWithDelete or DeleteSized;
}

/// <summary>One live table of the final version.</summary>
internal sealed class TableMeta
{
    public int Level { get; init; }

    public ulong TableNumber { get; init; }

    public ulong Size { get; init; }

    public required byte[] SmallestUserKey { get; init; }

    public ulong SmallestTrailer { get; init; }

    public required byte[] LargestUserKey { get; init; }

    public ulong LargestTrailer { get; init; }

    public ulong SmallestSeq { get; init; }

    public ulong LargestSeq { get; init; }

    public bool IsVirtual { get; init; }

    /// <summary>The disk file the table reads: itself, or its backing when virtual.</summary>
    public ulong BackingFileNumber { get; init; }

    /// <summary>
    /// True when the largest key is an exclusive sentinel (SeqNumMax with a range kind), so the table's
    /// user keys stop strictly before <see cref="LargestUserKey"/>.
    /// </summary>
    public bool LargestExclusive => (LargestTrailer >> 8) == Kinds.SeqNumMax
        && (byte)LargestTrailer is Kinds.RangeDelete or Kinds.RangeKeyDelete or Kinds.RangeKeyUnset or Kinds.RangeKeySet;

    /// <summary>When smallest seq equals largest seq every key of the table takes that seqnum (ingested tables are written with 0).</summary>
    public bool HasSyntheticSeq => SmallestSeq == LargestSeq;

    public string FileName => TableFileName(BackingFileNumber);

    public static string TableFileName(ulong n) => n.ToString("D6", System.Globalization.CultureInfo.InvariantCulture) + ".sst";
}

/// <summary>The result of replaying a MANIFEST: the live tables and the log/file/seqnum counters.</summary>
internal sealed class ManifestState
{
    public ulong LogNumber { get; set; }

    public ulong NextFileNumber { get; set; }

    public ulong LastSequence { get; set; }

    public List<TableMeta> Tables { get; } = [];

    public Dictionary<ulong, ulong> Backings { get; } = [];

    public int EditCount { get; set; }
}

/// <summary>Decodes version edits and replays them into the final set of live tables.</summary>
internal static class ManifestReplay
{
    private const string Bytewise = "leveldb.BytewiseComparator";
    private const int NumLevels = 7;

    public static ManifestState Replay(byte[] manifest, string file, ulong manifestNumber, PebbleReadOptions options, CancellationToken ct)
    {
        var reader = new RecordLogReader(manifest, file, strict: true, manifestNumber);
        var levels = new Dictionary<ulong, TableMeta>[NumLevels];
        for (int i = 0; i < NumLevels; i++)
        {
            levels[i] = [];
        }

        var state = new ManifestState();
        bool haveLog = false, haveNext = false, haveSeq = false;
        int liveCount = 0;
        while (reader.TryNext(out var record))
        {
            ct.ThrowIfCancellationRequested();
            state.EditCount++;
            var edit = Decode(record.Span, file, state.EditCount, options);
            if (edit.LogNumber is { } ln)
            {
                state.LogNumber = ln;
                haveLog = true;
            }

            if (edit.NextFileNumber is { } nf)
            {
                state.NextFileNumber = nf;
                haveNext = true;
            }

            if (edit.LastSequence is { } ls)
            {
                state.LastSequence = ls;
                haveSeq = true;
            }

            foreach (var (level, num) in edit.Deleted)
            {
                if (!levels[level].Remove(num))
                {
                    Fail.Corrupt(file, $"version edit {state.EditCount} deletes table {num} which is not live in L{level}");
                }

                liveCount--;
            }

            foreach (var (num, size) in edit.CreatedBackings)
            {
                if (!state.Backings.TryAdd(num, size))
                {
                    Fail.Corrupt(file, $"version edit {state.EditCount} creates backing {num} twice");
                }
            }

            foreach (var t in edit.Added)
            {
                for (int l = 0; l < NumLevels; l++)
                {
                    if (levels[l].ContainsKey(t.TableNumber))
                    {
                        Fail.Corrupt(file, $"version edit {state.EditCount} adds table {t.TableNumber} which is already live in L{l}");
                    }
                }

                levels[t.Level][t.TableNumber] = t;
                if (++liveCount > options.MaxTables)
                {
                    Fail.Unsupported(file, $"more than {options.MaxTables} live tables (MaxTables)");
                }
            }

            foreach (ulong num in edit.RemovedBackings)
            {
                if (!state.Backings.Remove(num))
                {
                    Fail.Corrupt(file, $"version edit {state.EditCount} removes unknown backing {num}");
                }
            }
        }

        if (state.EditCount == 0 || !haveLog || !haveNext || !haveSeq)
        {
            Fail.Corrupt(file, "the MANIFEST lacks a log number, next file number or last sequence");
        }

        for (int l = 0; l < NumLevels; l++)
        {
            foreach (var t in levels[l].Values.OrderBy(t => t.TableNumber))
            {
                if (t.LargestSeq > state.LastSequence)
                {
                    Fail.Corrupt(file, $"table {t.TableNumber} has seqnum {t.LargestSeq} beyond the last sequence {state.LastSequence}");
                }

                if (t.TableNumber >= state.NextFileNumber || t.BackingFileNumber >= state.NextFileNumber)
                {
                    Fail.Corrupt(file, $"table {t.TableNumber} is numbered at or beyond the next file number {state.NextFileNumber}");
                }

                if (t.IsVirtual && !state.Backings.ContainsKey(t.BackingFileNumber))
                {
                    Fail.Corrupt(file, $"virtual table {t.TableNumber} references backing {t.BackingFileNumber} that no edit created");
                }

                state.Tables.Add(t);
            }
        }

        return state;
    }

    private sealed class Edit
    {
        public ulong? LogNumber;
        public ulong? NextFileNumber;
        public ulong? LastSequence;
        public readonly List<(int Level, ulong Num)> Deleted = [];
        public readonly List<TableMeta> Added = [];
        public readonly List<(ulong Num, ulong Size)> CreatedBackings = [];
        public readonly List<ulong> RemovedBackings = [];
    }

    private static Edit Decode(ReadOnlySpan<byte> rec, string file, int index, PebbleReadOptions options)
    {
        var r = new SpanReader(rec, file, $"version edit {index}");
        var edit = new Edit();
        while (!r.AtEnd)
        {
            ulong tag = r.Uvarint("tag");
            switch (tag)
            {
                case 1:
                    {
                        string name = Encoding.UTF8.GetString(r.LengthPrefixed("comparer", 1024));
                        if (name != Bytewise)
                        {
                            Fail.Unsupported(file, $"comparer '{name}' is not supported (only {Bytewise})");
                        }

                        break;
                    }

                case 2:
                    edit.LogNumber = r.Uvarint("log number");
                    break;
                case 3:
                    edit.NextFileNumber = r.Uvarint("next file number");
                    break;
                case 4:
                    edit.LastSequence = r.Uvarint("last sequence");
                    if (edit.LastSequence > Kinds.SeqNumMax)
                    {
                        Fail.Corrupt(file, $"version edit {index}: last sequence {edit.LastSequence} exceeds 2^56-1");
                    }

                    break;
                case 5:
                    // Compaction pointer: a level and an internal key; irrelevant to reads.
                    ReadLevel(ref r, file, index);
                    r.LengthPrefixed("compaction pointer", options.MaxKeyBytes + 8);
                    break;
                case 6:
                    {
                        int level = ReadLevel(ref r, file, index);
                        edit.Deleted.Add((level, r.Uvarint("deleted table number")));
                        break;
                    }

                case 9:
                    // Previous log number: obsolete, ignored by Pebble too.
                    r.Uvarint("previous log number");
                    break;
                case 103:
                    edit.Added.Add(ReadNewTable(ref r, file, index, options));
                    break;
                case 105:
                    {
                        ulong num = r.Uvarint("backing file number");
                        edit.CreatedBackings.Add((num, r.Uvarint("backing size")));
                        break;
                    }

                case 106:
                    edit.RemovedBackings.Add(r.Uvarint("removed backing file number"));
                    break;
                case 7 or 100 or 102:
                    Fail.Unsupported(file, $"version edit {index}: tag {tag} (an old new-table form) is not supported");
                    break;
                case 104:
                    Fail.Unsupported(file, $"version edit {index}: tag 104 (a table with range keys) is not supported");
                    break;
                case 107 or 108:
                    Fail.Unsupported(file, $"version edit {index}: tag {tag} (blob files) is not supported");
                    break;
                default:
                    Fail.Corrupt(file, $"version edit {index}: unknown tag {tag}");
                    break;
            }
        }

        return edit;
    }

    private static int ReadLevel(ref SpanReader r, string file, int index)
    {
        ulong level = r.Uvarint("level");
        if (level >= NumLevels)
        {
            Fail.Corrupt(file, $"version edit {index}: level {level} out of range");
        }

        return (int)level;
    }

    private static TableMeta ReadNewTable(ref SpanReader r, string file, int index, PebbleReadOptions options)
    {
        int level = ReadLevel(ref r, file, index);
        ulong num = r.Uvarint("table number");
        ulong size = r.Uvarint("table size");
        var smallest = r.LengthPrefixed("smallest key", options.MaxKeyBytes + 8);
        var largest = r.LengthPrefixed("largest key", options.MaxKeyBytes + 8);
        ulong smallestSeq = r.Uvarint("smallest seqnum");
        ulong largestSeq = r.Uvarint("largest seqnum");
        if (smallest.Length < 8 || largest.Length < 8)
        {
            Fail.Corrupt(file, $"version edit {index}: table {num} has a bound shorter than an internal key trailer");
        }

        if (smallestSeq > largestSeq || largestSeq > Kinds.SeqNumMax)
        {
            Fail.Corrupt(file, $"version edit {index}: table {num} has seqnum range {smallestSeq}..{largestSeq}");
        }

        bool isVirtual = false;
        ulong backing = num;
        while (true)
        {
            ulong ctag = r.Uvarint("custom tag");
            if (ctag == 1)
            {
                break;
            }

            switch (ctag)
            {
                case 66:
                    isVirtual = true;
                    backing = r.Uvarint("backing file number");
                    break;
                case 67 or 68:
                    if (r.LengthPrefixed(ctag == 67 ? "synthetic prefix" : "synthetic suffix", options.MaxKeyBytes).Length != 0)
                    {
                        Fail.Unsupported(file, $"version edit {index}: table {num} has a synthetic {(ctag == 67 ? "prefix" : "suffix")}, which is not supported");
                    }

                    break;
                case 69:
                    {
                        r.Uvarint("blob reference depth");
                        ulong n = r.Uvarint("blob reference count");
                        if (n != 0)
                        {
                            Fail.Unsupported(file, $"version edit {index}: table {num} references blob files, which are not supported");
                        }

                        break;
                    }

                case 65:
                    Fail.Unsupported(file, $"version edit {index}: table {num} has a path id, which is not supported");
                    break;
                case < 64:
                    // Tags below 64 are safe to ignore by design (marked-for-compaction, creation time, ...).
                    r.LengthPrefixed($"custom field {ctag}", int.MaxValue);
                    break;
                default:
                    Fail.Corrupt(file, $"version edit {index}: table {num} has unknown custom tag {ctag}");
                    break;
            }
        }

        var meta = new TableMeta
        {
            Level = level,
            TableNumber = num,
            Size = size,
            SmallestUserKey = smallest[..^8].ToArray(),
            SmallestTrailer = BinaryPrimitives.ReadUInt64LittleEndian(smallest[^8..]),
            LargestUserKey = largest[..^8].ToArray(),
            LargestTrailer = BinaryPrimitives.ReadUInt64LittleEndian(largest[^8..]),
            SmallestSeq = smallestSeq,
            LargestSeq = largestSeq,
            IsVirtual = isVirtual,
            BackingFileNumber = backing,
        };
        int cmp = meta.SmallestUserKey.AsSpan().SequenceCompareTo(meta.LargestUserKey);
        if (cmp > 0 || (cmp == 0 && meta.LargestExclusive))
        {
            Fail.Corrupt(file, $"version edit {index}: table {num} has smallest key above its largest");
        }

        return meta;
    }
}
