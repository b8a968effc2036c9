using DotC1z.Engine.Rocks;
using DotC1z.Format;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Tests;

/// <summary>Grant digests (issue 16): written into the manifest at save, checked by verify, equal across kinds.</summary>
public sealed class GrantDigestTests : IDisposable
{
    private readonly TempDir _dir = new("digest");

    public void Dispose() => _dir.Dispose();

    private static GrantRecord Grant(string ent, string pid, params string[] sources)
    {
        var g = new GrantRecord
        {
            ExternalId = $"group:eng:{ent}:user:{pid}",
            Entitlement = new EntitlementRef { ResourceTypeId = "group", ResourceId = "eng", EntitlementId = "group:eng:" + ent },
            Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = pid },
        };
        foreach (string s in sources)
        {
            g.Sources.Add(s, new GrantSourceRecord());
        }

        return g;
    }

    [Fact]
    public void The_content_hash_covers_identity_and_sources_only()
    {
        var a = Grant("member", "alice", "group:x:member", "group:a:member");
        var b = a.Clone();
        b.ExternalId = "another id";
        b.DiscoveredAt = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 5 };
        Assert.Equal(GrantDigest.ContentHash(a), GrantDigest.ContentHash(b));

        // Sources are hashed sorted: insertion order does not matter, membership does.
        Assert.Equal(GrantDigest.ContentHash(a), GrantDigest.ContentHash(Grant("member", "alice", "group:a:member", "group:x:member")));
        Assert.NotEqual(GrantDigest.ContentHash(a), GrantDigest.ContentHash(Grant("member", "alice", "group:a:member")));
        Assert.NotEqual(GrantDigest.ContentHash(a), GrantDigest.ContentHash(Grant("member", "bob", "group:x:member", "group:a:member")));

        // The tuple framing is injective: a NUL inside an id is escaped, not a separator.
        Assert.NotEqual(GrantDigest.ContentHash(Grant("member", "a\0b")), GrantDigest.ContentHash(Grant("member", "a", "b")));

        // XOR folding is order-free and a root is the combination of its parts.
        var one = default(GrantDigest).Add(a).Add(Grant("admin", "carol"));
        var other = default(GrantDigest).Add(Grant("admin", "carol")).Add(a);
        Assert.Equal(one, other);
        Assert.Equal(one, default(GrantDigest).Add(a).Combine(default(GrantDigest).Add(Grant("admin", "carol"))));
    }

    [Fact]
    public void Save_writes_per_sync_digests_and_verify_fails_on_a_planted_single_grant_change()
    {
        string db = _dir.Combine("db");
        string file = _dir.Combine("snap.c1z");
        using var store = RocksStore.Open(db, new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var sync = store.StartSync(SyncType.Full);
        store.PutGrants(sync, [.. Enumerable.Range(0, 200).Select(i => Grant(i % 2 == 0 ? "member" : "admin", "u" + i))]);
        store.EndSync(sync);
        var manifest = C1zFile.Save(store, file);
        var summary = Assert.Single(manifest.SyncRuns);
        Assert.Equal(200, summary.GrantDigest.Count);
        Assert.Equal(GrantDigest.Of(store, sync).XorBytes(), summary.GrantDigest.XorDigest.ToByteArray());
        Assert.Equal(summary.GrantDigest, manifest.GrantDigestRoot);
        var report = C1zVerifier.Verify(file);
        Assert.True(report.IsConsistent, string.Join("; ", report.Problems));

        // One grant gains a source after the manifest was computed: a writer bug or a tampered payload.
        var changed = Grant("member", "u0", "group:eng:admin");
        store.PutGrants(sync, [changed]);
        string tampered = _dir.Combine("tampered.c1z");
        C1zContainer.Write(tampered, new C1zSaveOptions(), checkpoint =>
        {
            store.Checkpoint(checkpoint);
            return manifest.Clone();
        });
        report = C1zVerifier.Verify(tampered);
        Assert.False(report.IsConsistent);
        Assert.Contains(report.Problems, p => p.Contains("grant digest", StringComparison.Ordinal));

        // The per-entitlement digests name the entitlement whose grants changed.
        Assert.Equal(2, summary.EntitlementGrantDigests.Count);
        Assert.Contains(report.Problems, p => p.Contains("the grants of 1 entitlements do not match their digests in the manifest (first: group:eng:member)", StringComparison.Ordinal));
    }

    // Strings with NUL, the escape byte, a colon, multi-byte and surrogate-pair characters.
    private static readonly string[] Alphabet = ["a", "b", ":", "\0", "\u0001", "é", "\U0001F600"];

    private static string RandomText(Random rng, int max)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = rng.Next(max + 1); i > 0; i--)
        {
            sb.Append(System.Text.RegularExpressions.Regex.Unescape(Alphabet[rng.Next(Alphabet.Length)]));
        }

        return sb.ToString();
    }

    [Fact]
    public void Hashing_from_the_three_layout_parts_equals_the_content_hash()
    {
        int seed = Seeds.Get(1621);
        var rng = new Random(seed);
        string Text(int max) => RandomText(rng, max);

        for (int n = 0; n < 2000; n++)
        {
            string rt = Text(2), rid = Text(2);
            var g = new GrantRecord
            {
                Entitlement = rng.Next(20) == 0 ? null : new EntitlementRef { ResourceTypeId = rt, ResourceId = rid, EntitlementId = rng.Next(2) == 0 ? $"{rt}:{rid}:{Text(2)}" : Text(3) },
                Principal = rng.Next(20) == 0 ? null : new PrincipalRef { ResourceTypeId = Text(1), ResourceId = Text(3) },
            };
            for (int i = rng.Next(4); i > 0; i--)
            {
                g.Sources[Text(3)] = new GrantSourceRecord();
            }

            ulong parts = GrantDigest.HashLayout(GrantDigest.EntitlementLayout(g.Entitlement), GrantDigest.PrincipalLayout(g.Principal), GrantDigest.SourcesLayout(g.Sources.Keys));
            Assert.True(parts == GrantDigest.ContentHash(g), $"seed={seed}, grant {n}: {g}");
        }
    }

    [Theory]
    [InlineData(1, 1_000_000, false)]
    [InlineData(2, 7, false)]
    [InlineData(3, 7, true)]
    [InlineData(4, 1_000_000, true)]
    public void The_bulk_loader_folds_the_digests_a_scan_of_the_records_computes(int seedOffset, int chunkRecords, bool shuffled)
    {
        // Strings with NUL, escapes, multi-byte and surrogate-pair characters; sources in random order; duplicate
        // ids (the later grant wins) — loaded in id order (the primary streams) or shuffled (it is merged).
        int seed = Seeds.Get(1616 + seedOffset);
        var rng = new Random(seed);
        string Text(int max) => RandomText(rng, max);

        var grants = Enumerable.Range(0, 300).Select(_ =>
        {
            string rt = Text(2), rid = Text(2);
            var g = new GrantRecord
            {
                ExternalId = "g" + Text(3),
                Entitlement = new EntitlementRef { ResourceTypeId = rt, ResourceId = rid, EntitlementId = rng.Next(2) == 0 ? $"{rt}:{rid}:{Text(2)}" : Text(3) },
                Principal = new PrincipalRef { ResourceTypeId = Text(1), ResourceId = Text(3) },
                NeedsExpansion = rng.Next(5) == 0,
            };
            for (int i = rng.Next(4); i > 0; i--)
            {
                g.Sources[Text(3)] = new GrantSourceRecord();
            }

            return g;
        }).ToList();
        if (!shuffled)
        {
            grants = [.. grants.OrderBy(g => g.ExternalId, Keys.Utf8Ordinal.Instance)];
        }

        using var store = RocksStore.Open(_dir.Combine($"fold{seedOffset}"), new RocksStoreOptions { Durability = RocksDurability.NoSync, BulkChunkRecords = chunkRecords });
        var sync = store.StartSync(SyncType.Full);
        using (var loader = store.BeginBulkLoad(sync))
        {
            grants.ForEach(loader.Add);
            loader.Complete();
        }

        var fromRecords = new GrantDigestBuilder();
        foreach (var g in store.Grants(sync))
        {
            fromRecords.Add(g);
        }

        Assert.True(store.TryGetGrantDigests(sync, out var folded), $"seed={seed}: the load folded no digests");
        Assert.True(fromRecords.ByEntitlement.OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(folded.OrderBy(p => p.Key, StringComparer.Ordinal)), $"seed={seed}: folded digests differ from the records'");

        // Each stored value hashes as its record does; the scan over stored bytes agrees too.
        Assert.True(store.TryOpenEncodedGrants(sync, out var cursor));
        using (cursor)
        {
            while (cursor.MoveNext())
            {
                Assert.True(GrantDigest.TryContentHash(cursor.Value, out ulong hash), $"seed={seed}");
                Assert.Equal(GrantDigest.ContentHash(Codecs.CodecRegistry.Grant.Decode(cursor.Value)), hash);
            }
        }

        Assert.True(GrantDigest.ByEntitlement(store, sync).OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(folded.OrderBy(p => p.Key, StringComparer.Ordinal)), $"seed={seed}");

        // A sync-run write keeps them, so do a write of another record kind and another sync's load and deletion
        // (none changes this sync's grants); a grant write forgets them.
        store.EndSync(sync);
        Assert.True(store.TryGetGrantDigests(sync, out _), $"seed={seed}");
        store.PutEntitlements(sync, [new EntitlementRecord { ExternalId = "e-new", DisplayName = "kept" }]);
        Assert.True(store.TryGetGrantDigests(sync, out _), $"seed={seed}: an entitlement write forgot the grant digests");
        var other = store.StartSync(SyncType.Full);
        using (var loader = store.BeginBulkLoad(other))
        {
            loader.Add(grants[0]);
            loader.Complete();
        }

        Assert.True(store.TryGetGrantDigests(other, out _), $"seed={seed}");
        store.DeleteSync(other);
        Assert.False(store.TryGetGrantDigests(other, out _), $"seed={seed}: a deleted sync kept its digests");
        Assert.True(store.TryGetGrantDigests(sync, out var still), $"seed={seed}: another sync's load or deletion forgot these");
        Assert.True(GrantDigest.ByEntitlement(store, sync).OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(still.OrderBy(p => p.Key, StringComparer.Ordinal)), $"seed={seed}");
        store.PutGrants(sync, [grants[0]]);
        Assert.False(store.TryGetGrantDigests(sync, out _), $"seed={seed}");
    }

    [Fact]
    public void Digests_of_the_same_grants_agree_across_file_kinds()
    {
        // The v1 fixture and baton's Pebble file hold the same sync of the medium connector.
        using var v1 = StoreOpener.Open(TestPaths.RealFixture("medium-unexpanded.c1z"), readOnly: true);
        using var pebble = StoreOpener.Open(TestPaths.RealFixture("medium-unexpanded.pebble2.c1z"), readOnly: true);
        var a = GrantDigest.Of(v1, v1.LatestSync()!.Value);
        var b = GrantDigest.Of(pebble, pebble.LatestSync()!.Value);
        Assert.Equal(66601, a.Count);
        Assert.Equal(a, b);
        var byEntitlement = GrantDigest.ByEntitlement(pebble, pebble.LatestSync()!.Value);
        Assert.Equal(b, GrantDigest.Combine(byEntitlement.Values));
    }
}

/// <summary>The facade's streaming diff and compaction: a diff saved as a file and compacted onto its base gives the applied snapshot.</summary>
public sealed class SnapshotDiffCompactTests : IDisposable
{
    private readonly TempDir _dir = new("snap-diff");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Diff_then_compact_reproduces_the_applied_snapshot()
    {
        using var before = C1zSnapshot.Open(TestPaths.RealFixture("small-unexpanded.c1z"));
        using var after = C1zSnapshot.Open(TestPaths.RealFixture("small-expanded.c1z"));
        var (changes, summary) = C1zSnapshot.Diff(before, after);
        using (changes)
        {
            Assert.Equal(12072 + 1199, summary.AddedCounts.Grants);
            string path = _dir.Combine("changes.c1z");
            changes.SaveAs(path);
            using var saved = C1zSnapshot.Open(path);
            var (compacted, result) = C1zSnapshot.Compact([before, saved]);
            using (compacted)
            {
                Assert.Equal(SyncType.Full, result.Type);
                Assert.Equal(14981, result.Counts.Grants);
                var expected = after.Store.Grants(after.DefaultSync()).Select(g => Equivalence.EquivalenceRunner.Canonical(g));
                var actual = compacted.Store.Grants(result.Output).Select(g => Equivalence.EquivalenceRunner.Canonical(g));
                Assert.Equal(expected, actual);
            }
        }
    }
}
