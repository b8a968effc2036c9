using System.Buffers.Binary;
using System.Collections.Concurrent;
using DotC1z.Errors;
using DotC1z.Tests.Shared;
using Xunit.Abstractions;

namespace DotC1z.Pebble.Tests;

/// <summary>
/// Hostile input that passes the checksums: bytes inside uncompressed blocks (and footers) are changed and
/// the checksum is recomputed, so the parsers themselves meet the garbage. Different output is acceptable
/// here (the bytes really changed); an untyped exception or a hang is not.
/// </summary>
public sealed class ChecksumValidGarbageTests(ITestOutputHelper output)
{
    private const byte Set = 1;

    /// <summary>Generous, so a loaded CI machine does not report slowness as a hang; a real loop never ends.</summary>
    internal static readonly TimeSpan Hang = TimeSpan.FromSeconds(120);

    private static void Mutate(byte[] file, int start, int length, Random rng)
    {
        int at = start + rng.Next(length);
        switch (rng.Next(4))
        {
            case 0:
                file[at] ^= (byte)(1 << rng.Next(8));
                break;
            case 1:
                file[at] = (byte)rng.Next(256);
                break;
            case 2:
                file[at] = rng.Next(2) == 0 ? (byte)0xFF : (byte)0x00;
                break;
            default:
                for (int i = at; i < Math.Min(at + 4, start + length); i++)
                {
                    file[i] = (byte)rng.Next(256);
                }

                break;
        }
    }

    /// <summary>Recomputes the trailer checksum of the block at [offset, offset+length).</summary>
    private static void FixBlock(byte[] file, int offset, int length) =>
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(offset + length + 1), Crc32C.Masked(file.AsSpan(offset, length + 1)));

    private static void FixFooter(byte[] file)
    {
        var f = file.AsSpan(file.Length - 61);
        BinaryPrimitives.WriteUInt32LittleEndian(f[45..], Crc32C.Mask(Crc32C.Compute(f[..45], f[49..])));
    }

    private static void Classify(Action run, string label, ConcurrentBag<string> failures, ref int typed, ref int clean)
    {
        try
        {
            run();
            Interlocked.Increment(ref clean);
        }
        catch (Exception e) when (e is C1zCorruptionException or C1zFormatException)
        {
            if (e.InnerException is { } inner && inner is not C1zException)
            {
                failures.Add($"{label}: unchecked {inner.GetType().Name}: {inner.Message}");
            }
            else
            {
                Interlocked.Increment(ref typed);
            }
        }
        catch (OperationCanceledException)
        {
            failures.Add($"{label}: did not finish within {Hang.TotalSeconds} s");
        }
        catch (Exception e)
        {
            failures.Add($"{label}: {e.GetType().Name}: {e.Message}");
        }
    }

    [Fact]
    public void Written_table_blocks_with_valid_checksums_never_escape_untyped()
    {
        int seed = Seeds.Get(4242);
        var w = new TestTableWriter { RowsPerBlock = 9, TwoLevelFanout = 3, AllUncompressed = true };
        for (int i = 0; i < 150; i++)
        {
            w.Add($"key-{i:D4}", (ulong)(i + 1), Set, $"value-{i}", inValueBlock: i % 4 == 0);
        }

        byte[] sst = w.Build();
        var blocks = w.Blocks.ToArray();
        var first = w.Rows[0];
        var last = w.Rows[^1];
        var edit = new EditBuilder().Comparer().Counters(30, 100, 1000)
            .NewTable(6, 50, (ulong)sst.Length, Builders.InternalKey(first.Key, first.Seq, Set), Builders.InternalKey(last.Key, last.Seq, Set), 1, 150);
        var files = FixtureFiles.Medium.Shared()
            .With("MANIFEST-000090", Builders.RecordLog([edit.Build()]))
            .With("marker.manifest.000002.MANIFEST-000090", []);
        using (var db = PebbleDatabase.Open(files.With("000050.sst", sst)))
        {
            Assert.Equal(150, Builders.HashAll(db).Count);
        }

        const int mutants = 1_000;
        var failures = new ConcurrentBag<string>();
        int typed = 0, clean = 0;
        Parallel.For(0, mutants, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var rng = new Random(HashCode.Combine(seed, i));
            byte[] m = (byte[])sst.Clone();
            string where;
            if (rng.Next(10) == 0)
            {
                Mutate(m, m.Length - 61, 45, rng);
                FixFooter(m);
                where = "footer";
            }
            else
            {
                var (off, len) = blocks[rng.Next(blocks.Length)];
                Mutate(m, off, len, rng);
                FixBlock(m, off, len);
                where = $"block at {off}";
            }

            string label = $"seed {seed} mutant {i} ({where})";
            Classify(() =>
            {
                using var cts = new CancellationTokenSource(Hang);
                using var db = PebbleDatabase.Open(files.With("000050.sst", m), cancellationToken: cts.Token);
                Builders.HashAll(db, cts.Token);
                db.TryGet("key-0077"u8, out _);
            }, label, failures, ref typed, ref clean);
        });

        output.WriteLine($"seed {seed}: {mutants} mutants: {typed} typed errors, {clean} clean reads, {failures.Count} failures");
        Assert.True(failures.IsEmpty, $"seed {seed} (set DOTC1Z_TEST_SEED to replay):\n" + string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void Real_uncompressed_blocks_with_valid_checksums_never_escape_untyped()
    {
        int seed = Seeds.Get(777);
        var files = FixtureFiles.Medium;
        var options = PebbleReadOptions.Default;
        // Every uncompressed block of every table: metaindex, index, range-del and some data blocks.
        var targets = new List<(string Name, int Offset, int Length)>();
        foreach (string name in files.FileNames.Where(n => n.EndsWith(".sst", StringComparison.Ordinal)))
        {
            byte[] data = files.Files[name];
            var t = TableFile.Load(name, data, options, new DecodeBudget(options));
            var r = new SpanReader(data.AsSpan(data.Length - 60, 40), name, "footer");
            var handles = new List<(int, int)> { ((int)r.Uvarint("o"), (int)r.Uvarint("l")), (t.IndexHandle.Offset, t.IndexHandle.Length) };
            if (t.RangeDelHandle is { } rd)
            {
                handles.Add((rd.Offset, rd.Length));
            }

            for (int i = 0; i < t.TopIndex.Rows; i++)
            {
                var h = t.TopIndex.Handle(t, i, "index");
                handles.Add((h.Offset, h.Length));
            }

            targets.AddRange(handles.Where(h => data[h.Item1 + h.Item2] == 0).Select(h => (name, h.Item1, h.Item2)));
        }

        Assert.Contains(targets, t => t.Name == "000031.sst");
        const int mutants = 1_000;
        var failures = new ConcurrentBag<string>();
        int typed = 0, clean = 0;
        Parallel.For(0, mutants, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var rng = new Random(HashCode.Combine(seed, i));
            var (name, off, len) = targets[rng.Next(targets.Count)];
            byte[] m = (byte[])files.Files[name].Clone();
            Mutate(m, off, len, rng);
            FixBlock(m, off, len);
            Classify(() =>
            {
                var budget = new DecodeBudget(options);
                var table = TableFile.Load(name, m, options, budget);
                var meta = new TableMeta { SmallestUserKey = [], LargestUserKey = [0xFF, 0xFF], TableNumber = 1, BackingFileNumber = 1, LargestSeq = Kinds.SeqNumMax };
                table.ReadRangeDels(meta, budget, [], [0xFF, 0xFF]);
                using var it = new TableIterator(table, meta, default, budget, default);
                while (it.Next())
                {
                    it.ResolveValue();
                    _ = it.Value.Length;
                }
            }, $"seed {seed} mutant {i} ({name} block at {off})", failures, ref typed, ref clean);
        });

        output.WriteLine($"seed {seed}: {mutants} mutants over {targets.Count} blocks: {typed} typed errors, {clean} clean reads, {failures.Count} failures");
        Assert.True(failures.IsEmpty, $"seed {seed} (set DOTC1Z_TEST_SEED to replay):\n" + string.Join("\n", failures.Take(20)));
    }
    [Fact]
    public void Manifest_edits_and_wal_batches_with_valid_framing_never_escape_untyped()
    {
        int seed = Seeds.Get(99);
        var files = FixtureFiles.Medium.Shared();
        var reader = new RecordLogReader(files.Files["MANIFEST-000021"], "m", strict: true, 21);
        var edits = new List<byte[]>();
        while (reader.TryNext(out var rec))
        {
            edits.Add(rec.ToArray());
        }

        Assert.Equal(7, edits.Count);
        byte[] key = [3, 0xFF, .. "wal"u8];
        var batches = new List<byte[]>
        {
            Builders.Batch(41, (1, key, "v"u8.ToArray()), (0, [3, 6], null)),
            Builders.Batch(43, (15, [3, 2], [3, 3]), (3, "log"u8.ToArray(), null), (1, [3, 2, 0, 1], "x"u8.ToArray())),
            Builders.Batch(45, (23, [3, 1, 0], [7]), (7, [3, 4], null)),
        };

        const int mutants = 400;
        var failures = new ConcurrentBag<string>();
        int typed = 0, clean = 0;
        int? only = int.TryParse(Environment.GetEnvironmentVariable("DOTC1Z_TEST_MUTANT"), out int o) ? o : null;
        Parallel.For(0, mutants, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            if (only is not null && i != only)
            {
                return;
            }

            var rng = new Random(HashCode.Combine(seed, i));
            FixtureFiles mutated;
            string label;
            if (i % 2 == 0)
            {
                var copy = edits.Select(e => (byte[])e.Clone()).ToList();
                int which = rng.Next(copy.Count);
                if (rng.Next(8) == 0)
                {
                    copy[which] = copy[which].AsSpan(0, rng.Next(copy[which].Length)).ToArray();
                }
                else
                {
                    Mutate(copy[which], 0, copy[which].Length, rng);
                }

                mutated = files.With("MANIFEST-000021", Builders.RecordLog(copy));
                label = $"seed {seed} mutant {i} (MANIFEST edit {which})";
            }
            else
            {
                var copy = batches.Select(b => (byte[])b.Clone()).ToList();
                int which = rng.Next(copy.Count);
                Mutate(copy[which], 0, copy[which].Length, rng);
                mutated = files.With("000030.log", Builders.RecordLog(copy, logNumber: 30));
                label = $"seed {seed} mutant {i} (WAL batch {which})";
            }

            Classify(() =>
            {
                using var cts = new CancellationTokenSource(Hang);
                using var db = PebbleDatabase.Open(mutated, cancellationToken: cts.Token);
                Builders.HashAll(db, cts.Token);
                db.TryGet(key, out _);
            }, label, failures, ref typed, ref clean);
        });

        output.WriteLine($"seed {seed}: {mutants} mutants: {typed} typed errors, {clean} clean reads, {failures.Count} failures");
        Assert.True(failures.IsEmpty, $"seed {seed} (set DOTC1Z_TEST_SEED to replay):\n" + string.Join("\n", failures.Take(20)));
    }
}
