using DotC1z.Engine.Rocks.Tables;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Engine.Rocks.Tests;

/// <summary>
/// Scans read straight from the table files (docs/DESIGN.md §6.4) against RocksDB's own iterator over the same
/// range, and the table reader's refusal of damaged bytes.
/// </summary>
public sealed class TableScanTests() : StoreDirectoryTests("table-scan")
{
    private static List<(byte[] Key, byte[] Value)> Drain(IKvScan scan)
    {
        var entries = new List<(byte[], byte[])>();
        using (scan)
        {
            while (scan.MoveNext())
            {
                entries.Add((scan.Key.ToArray(), scan.Value.ToArray()));
            }
        }

        return entries;
    }

    // Every grant range of a sync: the primary keyspace and the four grant indexes, whole and cut at a random key.
    private static IEnumerable<(byte[] Lower, byte[]? Upper)> Ranges(SyncId sync, Random rng, IReadOnlyList<GrantRecord> grants)
    {
        var prefixes = new List<byte[]> { Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, sync) };
        prefixes.AddRange(Keyspace.GrantIndexIds.Select(id => Keyspace.IndexSyncPrefix(id, sync)));
        foreach (byte[] prefix in prefixes)
        {
            byte[] upper = KeyRange.UpperBound(prefix)!;
            yield return (prefix, upper);
            if (grants.Count > 0)
            {
                // A cut inside the range, at a grant's id (escaped like the keys' elements) and at a raw byte string.
                string id = grants[rng.Next(grants.Count)].ExternalId;
                byte[] cut = [.. prefix, TupleCodec.Separator, .. System.Text.Encoding.UTF8.GetBytes(id)];
                yield return (prefix, cut);
                yield return (cut, upper);
                yield return ([.. prefix, (byte)rng.Next(256)], null);
            }
        }
    }

    [Fact]
    public void Direct_table_scans_return_exactly_what_RocksDB_iterates_and_step_aside_when_they_cannot()
    {
        int seed = Seeds.Get(6404);
        var rng = new Random(seed);
        int direct = 0, fellBack = 0, withDeletes = 0;
        for (int round = 0; round < 12; round++)
        {
            string name = $"r{round}";
            var syncs = new List<(SyncId Sync, List<GrantRecord> Grants, bool Deleted)>();
            using (var store = Open(name, chunk: rng.Next(300, 3000)))
            {
                for (int s = 0; s < 2; s++)
                {
                    var sync = store.StartSync(SyncType.Full);
                    var grants = Enumerable.Range(0, rng.Next(0, 5000))
                        .Select(i => StoreContractTests.Grant($"g{rng.Next(1_000_000):D7}-{i}", "e" + rng.Next(40), "user", "u" + rng.Next(300), needsExpansion: rng.Next(8) == 0))
                        .ToList();
                    bool deleted = false;
                    switch (rng.Next(4))
                    {
                        case 0:
                        case 1:
                            // Bulk loads in small chunks: several ingested tables per keyspace.
                            using (var loader = store.BeginBulkLoad(sync))
                            {
                                grants.ForEach(loader.Add);
                                loader.Complete();
                            }

                            break;
                        case 2:
                            // Puts left in the memtable, or flushed, some then overwritten: with new index keys (which
                            // deletes the old entries) or the same ones, while a snapshot is held or not.
                            store.PutGrants(sync, grants);
                            if (rng.Next(2) == 0)
                            {
                                store.Flush();
                            }

                            if (grants.Count > 0)
                            {
                                bool moved = rng.Next(2) == 0;
                                var changed = grants.Take(rng.Next(grants.Count))
                                    .Select(g => moved ? StoreContractTests.Grant(g.ExternalId, "e" + rng.Next(40), "user", "v" + rng.Next(30)) : Rewritten(g.Clone()))
                                    .ToList();
                                var prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, sync);
                                using (rng.Next(2) == 0 ? new RocksStore.Scan(store, prefix) : null)
                                {
                                    store.PutGrants(sync, changed);
                                    if (rng.Next(2) == 0)
                                    {
                                        store.Flush();
                                    }
                                }

                                var byId = changed.ToDictionary(g => g.ExternalId);
                                grants = [.. grants.Select(g => byId.GetValueOrDefault(g.ExternalId, g))];
                            }

                            break;
                        default:
                            // Deletions: tombstones in the files of the range.
                            store.PutGrants(sync, grants);
                            store.Flush();
                            foreach (var g in grants.Where(_ => rng.Next(5) == 0).ToList())
                            {
                                Assert.True(store.DeleteGrant(sync, g.ExternalId), $"seed={seed}");
                                grants.Remove(g);
                                deleted = true;
                            }

                            break;
                    }

                    store.EndSync(sync);
                    syncs.Add((sync, grants, deleted));
                }

                Compare(store, "writable");
            }

            // Read-only: a memtable replayed from the log cannot be flushed, so such a range falls back.
            using (var reopened = Open(name, readOnly: true))
            {
                Compare(reopened, "read-only");
            }

            void Compare(RocksStore store, string how)
            {
                foreach (var (sync, grants, deleted) in syncs)
                {
                    foreach (var (lower, upper) in Ranges(sync, rng, grants))
                    {
                        var expected = Drain(new RocksStore.Scan(store, lower, upper, IntPtr.Zero, fillCache: false));
                        var table = store.TryOpenTableScan(lower, upper);
                        if (table is null)
                        {
                            fellBack++;
                            continue;
                        }

                        direct++;
                        withDeletes += deleted ? 1 : 0;
                        var actual = Drain(table);
                        Assert.True(expected.Count == actual.Count, $"seed={seed} round={round} {how}: {actual.Count} entries read from the tables, RocksDB iterates {expected.Count}");
                        for (int i = 0; i < expected.Count; i++)
                        {
                            Assert.True(expected[i].Key.AsSpan().SequenceEqual(actual[i].Key) && expected[i].Value.AsSpan().SequenceEqual(actual[i].Value), $"seed={seed} round={round} {how}: entry {i} differs");
                        }
                    }
                }
            }
        }

        // Both roads ran, and a range whose files hold tombstones was never read directly.
        Assert.True(direct > 50 && fellBack > 0, $"seed={seed}: direct {direct}, fell back {fellBack}");
        Assert.True(withDeletes == 0 || direct > withDeletes, $"seed={seed}");
    }

    [Fact]
    public void A_range_with_deleted_keys_is_left_to_RocksDB()
    {
        using var store = Open("deletes");
        var sync = store.StartSync(SyncType.Full);
        store.PutGrants(sync, [.. Enumerable.Range(0, 100).Select(i => StoreContractTests.Grant($"g{i:D3}", "e", "user", "u"))]);
        store.Flush();
        var prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, sync);
        using (var before = store.TryOpenTableScan(prefix, KeyRange.UpperBound(prefix)))
        {
            Assert.NotNull(before);
        }

        Assert.True(store.DeleteGrant(sync, "g050"));
        store.Flush();
        Assert.Null(store.TryOpenTableScan(prefix, KeyRange.UpperBound(prefix)));
        Assert.Equal(99, Drain(store.OpenRangeScan(prefix, KeyRange.UpperBound(prefix))).Count);
    }

    private static GrantRecord Rewritten(GrantRecord grant)
    {
        grant.SourceScopeKey = "rewritten";
        return grant;
    }

    [Fact]
    public void An_older_version_a_snapshot_kept_in_the_same_table_is_passed_over()
    {
        using var store = Open("versions");
        var sync = store.StartSync(SyncType.Full);
        var prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, sync);
        store.PutGrants(sync, [.. Enumerable.Range(0, 300).Select(i => StoreContractTests.Grant($"g{i:D3}", "e", "user", "u"))]);

        // A scan holds a snapshot while every third grant is rewritten (its index keys unchanged, so no entry is
        // deleted) and the memtable flushed: the one table then holds both versions of those keys, the newer first.
        using (new RocksStore.Scan(store, prefix))
        {
            store.PutGrants(sync, [.. Enumerable.Range(0, 300).Where(i => i % 3 == 0).Select(i => Rewritten(StoreContractTests.Grant($"g{i:D3}", "e", "user", "u")))]);
            store.Flush();
        }

        var table = store.TryOpenTableScan(prefix, KeyRange.UpperBound(prefix));
        Assert.NotNull(table);
        var direct = Drain(table);
        var iterated = Drain(new RocksStore.Scan(store, prefix, KeyRange.UpperBound(prefix), IntPtr.Zero, fillCache: false));
        Assert.Equal(300, direct.Count);
        Assert.Equal(iterated.Select(e => Convert.ToHexString(e.Key) + "=" + Convert.ToHexString(e.Value)), direct.Select(e => Convert.ToHexString(e.Key) + "=" + Convert.ToHexString(e.Value)));
    }

    [Fact]
    public void A_damaged_data_block_is_a_corruption_error_not_wrong_data()
    {
        string path = Dir.Combine("damaged");
        SyncId sync;
        using (var store = Open("damaged"))
        {
            sync = store.StartSync(SyncType.Full);
            using (var loader = store.BeginBulkLoad(sync))
            {
                for (int i = 0; i < 5000; i++)
                {
                    loader.Add(StoreContractTests.Grant($"grant-{i:D5}", "e" + (i % 7), "user", "u" + (i % 300)));
                }

                loader.Complete();
            }

            store.EndSync(sync);
            store.Flush();
        }

        // One byte inside the first data block of every grant table (blocks start at offset 0; the small table of sync
        // runs is left alone, so the store still opens).
        foreach (string sst in Directory.GetFiles(path, "*.sst").Where(f => new FileInfo(f).Length > 16 * 1024))
        {
            using var file = File.Open(sst, FileMode.Open, FileAccess.ReadWrite);
            file.Position = 40;
            int b = file.ReadByte();
            file.Position = 40;
            file.WriteByte((byte)(b ^ 0x5A));
        }

        using var reopened = Open("damaged", readOnly: true);
        var prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, sync);
        var scan = reopened.TryOpenTableScan(prefix, KeyRange.UpperBound(prefix));
        Assert.NotNull(scan);
        Assert.Throws<C1zCorruptionException>(() => Drain(scan));
    }

    [Fact]
    public void A_flipped_byte_anywhere_in_a_table_reads_as_before_or_is_a_corruption_error()
    {
        // The tables are read with our reader alone (RocksDB's own parser is not exposed to the damage).
        int seed = Seeds.Get(6405);
        var rng = new Random(seed);
        using (var store = Open("flips"))
        {
            var sync = store.StartSync(SyncType.Full);
            using (var loader = store.BeginBulkLoad(sync))
            {
                for (int i = 0; i < 3000; i++)
                {
                    loader.Add(StoreContractTests.Grant($"grant-{i:D5}", "e" + (i % 7), "user", "u" + (i % 300), needsExpansion: i % 5 == 0));
                }

                loader.Complete();
            }

            store.EndSync(sync);
        }

        using var host = Open("host");
        List<(byte[] Key, byte[] Value)> ReadAll(string path)
        {
            if (BlockTable.TryOpen(path) is not { } table)
            {
                throw new InvalidOperationException("the reader declined an undamaged table");
            }

            Assert.True(host.TryLease());
            return Drain(new TableRangeScan(host, [table], [], null));
        }

        var tables = Directory.GetFiles(Dir.Combine("flips"), "*.sst").Order(StringComparer.Ordinal).ToArray();
        var originals = tables.ToDictionary(t => t, ReadAll);
        Assert.True(originals.Values.Sum(e => e.Count) > 3000, $"seed={seed}");
        string copy = Dir.Combine("flipped.sst");
        int same = 0, refused = 0;
        for (int round = 0; round < 400; round++)
        {
            string source = tables[rng.Next(tables.Length)];
            byte[] bytes = File.ReadAllBytes(source);
            int at = rng.Next(bytes.Length);
            bytes[at] ^= (byte)rng.Next(1, 256);
            File.WriteAllBytes(copy, bytes);
            try
            {
                var entries = ReadAll(copy);
                Assert.True(entries.Count == originals[source].Count && entries.Zip(originals[source]).All(p => p.First.Key.AsSpan().SequenceEqual(p.Second.Key) && p.First.Value.AsSpan().SequenceEqual(p.Second.Value)),
                    $"seed={seed} round={round}: a flip at {at} of {Path.GetFileName(source)} changed what was read without an error");
                same++;
            }
            catch (C1zCorruptionException)
            {
                refused++;
            }
            catch (InvalidOperationException)
            {
                // The flip made the table look like one the reader leaves to RocksDB (a property or the magic).
                refused++;
            }
        }

        Assert.True(refused > 100, $"seed={seed}: only {refused} of 400 flips were refused ({same} read as before)");
    }

    [Fact]
    public void Lz4_blocks_decode_and_malformed_ones_are_refused_without_reading_out_of_bounds()
    {
        // "abc", then a 9-byte match at offset 3 (overlapping: it repeats the pattern), then the literal "x".
        byte[] block = [0x35, (byte)'a', (byte)'b', (byte)'c', 0x03, 0x00, 0x10, (byte)'x'];
        byte[] output = new byte[13];
        Assert.True(Lz4Block.TryDecode(block, output));
        Assert.Equal("abcabcabcabcx", System.Text.Encoding.ASCII.GetString(output));

        // A destination of the wrong size, an offset before the start, a truncated block: refused.
        Assert.False(Lz4Block.TryDecode(block, new byte[12]));
        Assert.False(Lz4Block.TryDecode(block, new byte[14]));
        Assert.False(Lz4Block.TryDecode([0x35, (byte)'a', (byte)'b', (byte)'c', 0x04, 0x00, 0x10, (byte)'x'], new byte[13]));
        Assert.False(Lz4Block.TryDecode(block.AsSpan(0, 5), new byte[13]));

        // Random bytes: any answer, but never an exception (the decoder checks every length against both buffers).
        int seed = Seeds.Get(404);
        var rng = new Random(seed);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] input = new byte[rng.Next(0, 64)];
            rng.NextBytes(input);
            byte[] into = new byte[rng.Next(0, 300)];
            var ex = Record.Exception(() => Lz4Block.TryDecode(input, into));
            Assert.True(ex is null, $"seed={seed} input={Convert.ToHexString(input)}: {ex}");
        }
    }
}
