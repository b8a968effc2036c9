using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using Google.Protobuf;

namespace DotC1z.Tests;

/// <summary>The entry point on every kind of input, its listings, and explicit save.</summary>
public sealed class SnapshotTests : IDisposable
{
    private const string V1Twin = "medium-unexpanded.c1z";
    private const string PebbleTwin = "medium-unexpanded.pebble2.c1z";
    private readonly TempDir _dir = new("snapshot");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Opens_every_kind_and_says_which()
    {
        using (var v1 = C1zSnapshot.Open(TestPaths.RealFixture(V1Twin)))
        {
            Assert.Equal(SnapshotKind.LegacyV1, v1.Kind);
            Assert.True(v1.IsReadOnly);
            v1.SaveAs(_dir.Combine("ours.c1z"));
        }

        using (var pebble = C1zSnapshot.Open(TestPaths.RealFixture(PebbleTwin)))
        {
            Assert.Equal(SnapshotKind.BatonPebble, pebble.Kind);
            Assert.Equal(66_601, pebble.Count().Grants);
        }

        using (var ours = C1zSnapshot.Open(_dir.Combine("ours.c1z")))
        {
            Assert.Equal(SnapshotKind.C1z3, ours.Kind);
            Assert.Equal(66_601, ours.Count().Grants);
        }

        using var created = C1zSnapshot.Create(_dir.Path);
        Assert.Equal(SnapshotKind.New, created.Kind);
        var sync = created.Store.StartSync(SyncType.Full);
        created.Store.PutGrants(sync, [StoreContractTests.Grant("g", "e", "user", "u")]);
        created.Store.EndSync(sync);
        created.SaveAs(_dir.Combine("dir-source.c1z"));
        Assert.Equal(_dir.Combine("dir-source.c1z"), created.Path);

        var ex = Assert.Throws<C1zIOException>(() => C1zSnapshot.Open(_dir.Combine("missing.c1z")));
        Assert.Contains("missing.c1z", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_listing_pages_to_the_streamed_result_and_both_engines_agree_on_order()
    {
        // The same sync as a v1 file (SQLite engine) and as baton's Pebble file (loaded into RocksDB).
        using var v1 = C1zSnapshot.Open(TestPaths.RealFixture(V1Twin));
        using var rocks = C1zSnapshot.Open(TestPaths.RealFixture(PebbleTwin));
        var grant = v1.List(RecordListing.Grants()).Skip(1234).First();
        var resource = v1.List(RecordListing.Resources()).Skip(77).First();
        var entitlement = v1.List(RecordListing.Entitlements()).Skip(10).First();
        RecordListing[] listings =
        [
            RecordListing.ResourceTypes(),
            RecordListing.Resources(),
            RecordListing.ResourcesByType(resource.ResourceTypeId),
            RecordListing.ResourcesByParent(resource.ResourceTypeId, resource.ResourceId),
            RecordListing.ResourcesByParent(string.Empty, string.Empty),
            RecordListing.Entitlements(),
            RecordListing.EntitlementsByResource(entitlement.Resource.ResourceTypeId, entitlement.Resource.ResourceId),
            RecordListing.Grants(),
            RecordListing.GrantsByEntitlement(grant.Entitlement.EntitlementId),
            RecordListing.GrantsByPrincipal(grant.Principal.ResourceTypeId, grant.Principal.ResourceId),
            RecordListing.GrantsByResourceType(grant.Entitlement.ResourceTypeId),
            RecordListing.GrantsByResource(grant.Entitlement.ResourceTypeId, grant.Entitlement.ResourceId),
            RecordListing.Assets(),
        ];
        foreach (var listing in listings)
        {
            var fromV1 = Ids(v1, listing);
            var fromRocks = Ids(rocks, listing);
            Assert.True(fromV1.SequenceEqual(fromRocks), $"{listing}: the engines list different records or orders ({fromV1.Count} vs {fromRocks.Count})");
            // This sync has no assets and no child resources: those two listings are checked empty on both engines.
            bool mayBeEmpty = listing.Kind == ListingKind.Assets || (listing.Kind == ListingKind.ResourcesByParent && listing.First.Length > 0);
            Assert.True(mayBeEmpty || fromV1.Count > 0, $"{listing} is empty: the test would prove nothing");

            // Paged, at sizes 1 (small listings only), 7 and the maximum: exactly the streamed sequence.
            foreach (int size in fromV1.Count <= 300 ? new[] { 1, 7, C1zSnapshot.MaxPageSize } : [7_777, C1zSnapshot.MaxPageSize])
            {
                Assert.True(fromV1.SequenceEqual(PagedIds(rocks, listing, size)), $"{listing}, page size {size}: pages differ from the stream");
            }
        }

        Assert.True(fromV1Count(v1, RecordListing.Grants()) > C1zSnapshot.MaxPageSize, "the largest listing must span several maximal pages");

        static int fromV1Count(C1zSnapshot s, RecordListing<GrantRecord> l) => s.List(l).Count();
    }

    [Fact]
    public void Page_size_larger_than_the_maximum_is_served_in_maximal_pages_and_zero_is_refused()
    {
        using var rocks = C1zSnapshot.Open(TestPaths.RealFixture(PebbleTwin));
        var page = rocks.Page(RecordListing.Grants(), pageSize: int.MaxValue);
        Assert.Equal(C1zSnapshot.MaxPageSize, page.Items.Count);
        Assert.NotNull(page.NextPageToken);
        Assert.Throws<C1zArgumentException>(() => rocks.Page(RecordListing.Grants(), pageSize: 0));
        Assert.Throws<C1zArgumentException>(() => rocks.Page(RecordListing.Grants(), pageSize: -5));
    }

    [Fact]
    public void Forged_foreign_and_malformed_tokens_are_refused_with_a_typed_error()
    {
        using var rocks = C1zSnapshot.Open(TestPaths.RealFixture(PebbleTwin));
        var g = rocks.List(RecordListing.Grants()).First();
        var byEnt = RecordListing.GrantsByEntitlement(g.Entitlement.EntitlementId);
        string token = rocks.Page(byEnt, pageSize: 1).NextPageToken!;
        Assert.NotNull(token);

        // Every single-character change of the token is caught (MAC, framing or base64).
        var rng = new Random(Seeds.Get(20261129));
        for (int i = 0; i < 200; i++)
        {
            char[] chars = token.ToCharArray();
            int at = rng.Next(chars.Length);
            char replacement = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[rng.Next(64)];
            if (chars[at] == replacement)
            {
                continue;
            }

            chars[at] = replacement;
            Assert.Throws<C1zInvalidPageTokenException>(() => rocks.Page(byEnt, new string(chars), 10));
        }

        Assert.Throws<C1zInvalidPageTokenException>(() => rocks.Page(RecordListing.GrantsByEntitlement(g.Entitlement.EntitlementId + "x"), token, 10));
        Assert.Throws<C1zInvalidPageTokenException>(() => rocks.Page(RecordListing.Grants(), token, 10));
        Assert.Throws<C1zInvalidPageTokenException>(() => rocks.Page(byEnt, token, 10, SyncId.NewId()));
        Assert.Throws<C1zInvalidPageTokenException>(() => rocks.Page(byEnt, "%%% not a token %%%", 10));
        Assert.Throws<C1zInvalidPageTokenException>(() => rocks.Page(byEnt, string.Empty, 10));
        Assert.Throws<C1zInvalidPageTokenException>(() => rocks.Page(byEnt, token[..^4], 10));

        // A token of the same listing from another file of the same sync is accepted: it is a position, not a session.
        using var v1 = C1zSnapshot.Open(TestPaths.RealFixture(V1Twin));
        Assert.Equal(rocks.Page(byEnt, token, 5).Items.Select(x => x.ExternalId), v1.Page(byEnt, token, 5).Items.Select(x => x.ExternalId));
    }

    [Fact]
    public async Task Tokens_stay_exact_while_another_thread_writes()
    {
        int seed = Seeds.Get(7);
        string store = _dir.Combine("live");
        SyncId sync;
        using (var create = C1zSnapshot.Create(_dir.Path))
        {
            sync = create.Store.StartSync(SyncType.Full);
            create.Store.PutGrants(sync, [.. Enumerable.Range(0, 2000).Select(i => StoreContractTests.Grant($"stable-{i:D5}", "ent", "user", $"u{i % 97:D3}"))]);
            create.Store.EndSync(sync);
            create.SaveAs(_dir.Combine("live.c1z"));
        }

        using var snapshot = C1zSnapshot.Open(_dir.Combine("live.c1z"), new C1zOpenOptions { ReadOnly = false, TempDirectory = _dir.Path });
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(
            () =>
            {
                var rng = new Random(seed);
                int n = 0;
                while (!stop.IsCancellationRequested)
                {
                    // Churn: new grants anywhere in the order (before, between and after the stable ones), then delete them.
                    string id = $"churn-{rng.Next(100_000):D6}";
                    snapshot.Store.PutGrants(sync, [StoreContractTests.Grant(id, "ent", "user", $"u{rng.Next(97):D3}")]);
                    if (++n % 3 == 0)
                    {
                        snapshot.Store.DeleteGrant(sync, id);
                    }
                }
            },
            CancellationToken.None);

        var listing = RecordListing.GrantsByEntitlement("ent");
        var seen = new List<GrantRecord>();
        string? token = null;
        do
        {
            var page = snapshot.Page(listing, token, 13, sync);
            seen.AddRange(page.Items);
            token = page.NextPageToken;
        }
        while (token is not null);

        stop.Cancel();
        await writer;
        var stable = seen.Where(g => g.ExternalId.StartsWith("stable-", StringComparison.Ordinal)).Select(g => g.ExternalId).ToList();
        Assert.True(stable.Count == 2000, $"seed {seed}: {stable.Count} of 2000 stable grants listed");
        Assert.True(stable.Distinct().Count() == 2000, $"seed {seed}: a stable grant was listed twice");
        var keys = seen.Select(listing.SortKey).ToList();
        for (int i = 1; i < keys.Count; i++)
        {
            Assert.True(RecordListing.IsAfter(keys[i], keys[i - 1]), $"seed {seed}: position {i} does not follow {i - 1}");
        }
    }

    [Fact]
    public async Task Streaming_forms_honour_cancellation()
    {
        using var rocks = C1zSnapshot.Open(TestPaths.RealFixture(PebbleTwin));
        using var cts = new CancellationTokenSource();
        int n = 0;
        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (var unused in rocks.List(RecordListing.Grants(), cancellationToken: cts.Token))
            {
                if (++n == 100)
                {
                    cts.Cancel();
                }
            }
        });
        Assert.Equal(100, n);

        using var cts2 = new CancellationTokenSource();
        int m = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var unused in rocks.ListAsync(RecordListing.Grants(), cancellationToken: cts2.Token))
            {
                if (++m == 2000)
                {
                    await cts2.CancelAsync();
                }
            }
        });
        Assert.Equal(2000, m);
        Assert.Equal(66_601, await rocks.ListAsync(RecordListing.Grants(), cancellationToken: CancellationToken.None).CountAsync(CancellationToken.None));
    }

    [Fact]
    public void Dispose_never_writes_save_does_and_read_only_kinds_refuse()
    {
        string file = _dir.Combine("rw.c1z");
        using (var v1 = C1zSnapshot.Open(TestPaths.RealFixture("small-unexpanded.c1z")))
        {
            v1.SaveAs(file);
            Assert.Throws<C1zOutputExistsException>(() => v1.SaveAs(file));
            Assert.Throws<C1zReadOnlyException>(() => v1.Save());
        }

        byte[] before = File.ReadAllBytes(file);
        SyncId sync;
        using (var rw = C1zSnapshot.Open(file, new C1zOpenOptions { ReadOnly = false, TempDirectory = _dir.Path }))
        {
            sync = rw.DefaultSync();
            rw.Store.PutGrants(sync, [StoreContractTests.Grant("added-by-test", "e", "user", "u")]);
        }

        Assert.Equal(before, File.ReadAllBytes(file));
        using (var rw = C1zSnapshot.Open(file, new C1zOpenOptions { ReadOnly = false, TempDirectory = _dir.Path }))
        {
            rw.Store.PutGrants(sync, [StoreContractTests.Grant("added-by-test", "e", "user", "u")]);
            rw.Save(CancellationToken.None);
        }

        using var again = C1zSnapshot.Open(file);
        Assert.True(again.Store.TryGetGrant(sync, "added-by-test", out _));
        Assert.Empty(Directory.EnumerateDirectories(_dir.Path, "c1z-open-*"));
    }

    [Fact]
    public void Diff_of_two_snapshots_matches_the_records_that_differ()
    {
        using var a = C1zSnapshot.Open(TestPaths.RealFixture("small-unexpanded.c1z"));
        using var b = C1zSnapshot.Open(TestPaths.RealFixture("small-expanded.c1z"));
        var (changes, summary) = C1zSnapshot.Diff(a, b);
        using (changes)
        {
            var bGrants = b.List(RecordListing.Grants()).ToDictionary(g => g.ExternalId, g => g.ToByteString());
            var aGrants = a.List(RecordListing.Grants()).ToDictionary(g => g.ExternalId, g => g.ToByteString());
            int changedOrNew = bGrants.Count(kv => !aGrants.TryGetValue(kv.Key, out var old) || !Normalise(old).Equals(Normalise(kv.Value)));
            Assert.True(summary.AddedCounts.Grants > 0);
            Assert.Equal(aGrants.Keys.Except(bGrants.Keys).Count(), summary.DeletedCounts.Grants);
            Assert.Equal(summary.AddedCounts.Grants, changes.Store.Count(summary.Additions).Grants);
            Assert.True(changedOrNew >= summary.AddedCounts.Grants - 0, "additions are a subset of the changed or new grants");
        }

        // The sync id inside a record is the sync it was read from; compare the rest.
        static ByteString Normalise(ByteString bytes)
        {
            var g = GrantRecord.Parser.ParseFrom(bytes);
            g.SyncId = string.Empty;
            return g.ToByteString();
        }
    }

    private static List<string> Ids(C1zSnapshot s, RecordListing listing) => listing switch
    {
        RecordListing<ResourceTypeRecord> l => s.List(l).Select(r => r.ExternalId).ToList(),
        RecordListing<ResourceRecord> l => s.List(l).Select(r => r.ResourceTypeId + "/" + r.ResourceId).ToList(),
        RecordListing<EntitlementRecord> l => s.List(l).Select(r => r.ExternalId).ToList(),
        RecordListing<GrantRecord> l => s.List(l).Select(r => r.ExternalId).ToList(),
        RecordListing<AssetRecord> l => s.List(l).Select(r => r.ExternalId).ToList(),
        _ => throw new ArgumentException("unknown listing"),
    };

    private static List<string> PagedIds(C1zSnapshot s, RecordListing listing, int size) => listing switch
    {
        RecordListing<ResourceTypeRecord> l => Pages(s, l, size, r => r.ExternalId),
        RecordListing<ResourceRecord> l => Pages(s, l, size, r => r.ResourceTypeId + "/" + r.ResourceId),
        RecordListing<EntitlementRecord> l => Pages(s, l, size, r => r.ExternalId),
        RecordListing<GrantRecord> l => Pages(s, l, size, r => r.ExternalId),
        RecordListing<AssetRecord> l => Pages(s, l, size, r => r.ExternalId),
        _ => throw new ArgumentException("unknown listing"),
    };

    private static List<string> Pages<T>(C1zSnapshot s, RecordListing<T> listing, int size, Func<T, string> id)
        where T : class, IMessage<T>, new()
    {
        var ids = new List<string>();
        string? token = null;
        do
        {
            var page = s.Page(listing, token, size);
            Assert.True(page.Items.Count <= size);
            Assert.True(page.NextPageToken is null || page.Items.Count == Math.Min(size, C1zSnapshot.MaxPageSize), "a page before the last is full");
            ids.AddRange(page.Items.Select(id));
            token = page.NextPageToken;
        }
        while (token is not null);

        return ids;
    }
}
