using System.Text;
using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Tests.Shared;

/// <summary>
/// The behaviour every <see cref="IC1zStore"/> engine must show. Each engine's test project derives
/// from this class and supplies a fresh, writable store.
/// </summary>
public abstract class StoreContractTests : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    /// <summary>A fresh writable store; the base class disposes it.</summary>
    protected abstract IC1zStore CreateStore();

    protected IC1zStore NewStore()
    {
        var store = CreateStore();
        _owned.Add(store);
        return store;
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the stores this test created; derived classes then release their own resources.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var d in Enumerable.Reverse(_owned))
            {
                d.Dispose();
            }
        }
    }

    public static GrantRecord Grant(string id, string ent, string prt, string pid, string entRt = "group", string entRid = "eng", bool needsExpansion = false) => new()
    {
        ExternalId = id,
        Entitlement = new EntitlementRef { EntitlementId = ent, ResourceTypeId = entRt, ResourceId = entRid },
        Principal = new PrincipalRef { ResourceTypeId = prt, ResourceId = pid },
        NeedsExpansion = needsExpansion,
        Expansion = needsExpansion ? new GrantExpandableRecord { EntitlementIds = { "src:" + ent } } : null,
    };

    private static List<string> Ids(IEnumerable<GrantRecord> grants) => grants.Select(g => g.ExternalId).ToList();

    [Fact]
    public void Every_listing_follows_the_reference_order_and_resumes_strictly_after_any_position()
    {
        int seed = Seeds.Get(4242);
        var rng = new Random(seed);
        var store = NewStore();
        var sync = store.StartSync(SyncType.Full);

        // Ids with shared prefixes, multi-byte UTF-8 and characters above the surrogate range, so byte order and
        // UTF-16 order differ and a prefix of one id is another id.
        string[] atoms = ["a", "ab", "b", "é", "\uFF21", "\U0001F600", "z", "-", "A"];
        string Id(int parts) => string.Concat(Enumerable.Range(0, 1 + rng.Next(parts)).Select(_ => atoms[rng.Next(atoms.Length)]));
        var types = Enumerable.Range(0, 4).Select(_ => Id(2)).Distinct().ToList();
        store.PutResourceTypes(sync, [.. types.Select(t => new ResourceTypeRecord { ExternalId = t })]);
        var resources = new Dictionary<(string, string), ResourceRecord>();
        for (int i = 0; i < 60; i++)
        {
            var r = new ResourceRecord { ResourceTypeId = types[rng.Next(types.Count)], ResourceId = Id(3) };
            if (resources.Count > 0 && rng.Next(2) == 0)
            {
                var parent = resources.Values.ElementAt(rng.Next(resources.Count));
                r.Parent = new ResourceRef { ResourceTypeId = parent.ResourceTypeId, ResourceId = parent.ResourceId };
            }

            resources[(r.ResourceTypeId, r.ResourceId)] = r;
        }

        store.PutResources(sync, [.. resources.Values]);
        var res = resources.Values.ToList();
        var ents = Enumerable.Range(0, 30).Select(_ => res[rng.Next(res.Count)]).Select(r => new EntitlementRecord
        {
            ExternalId = r.ResourceTypeId + ":" + r.ResourceId + ":" + Id(2),
            Resource = new ResourceRef { ResourceTypeId = r.ResourceTypeId, ResourceId = r.ResourceId },
        }).DistinctBy(e => e.ExternalId).ToList();
        store.PutEntitlements(sync, ents);
        var grants = Enumerable.Range(0, 300).Select(_ =>
        {
            var e = ents[rng.Next(ents.Count)];
            var p = res[rng.Next(res.Count)];
            return Grant(Id(4) + ":" + rng.Next(1000), e.ExternalId, p.ResourceTypeId, p.ResourceId, e.Resource.ResourceTypeId, e.Resource.ResourceId);
        }).DistinctBy(g => g.ExternalId).ToList();
        store.PutGrants(sync, grants);
        store.PutAssets(sync, [.. Enumerable.Range(0, 10).Select(_ => Id(3)).Distinct().Select(id => new AssetRecord { ExternalId = id, ContentType = "text/plain" })]);

        var g0 = grants[0];
        var r0 = res.First(r => r.Parent is not null);
        var e0 = ents[0];
        RecordListing[] listings =
        [
            RecordListing.ResourceTypes(), RecordListing.Resources(), RecordListing.ResourcesByType(r0.ResourceTypeId),
            RecordListing.ResourcesByParent(r0.Parent.ResourceTypeId, r0.Parent.ResourceId), RecordListing.ResourcesByParent(string.Empty, string.Empty),
            RecordListing.Entitlements(), RecordListing.EntitlementsByResource(e0.Resource.ResourceTypeId, e0.Resource.ResourceId),
            RecordListing.Grants(), RecordListing.GrantsByEntitlement(g0.Entitlement.EntitlementId),
            RecordListing.GrantsByPrincipal(g0.Principal.ResourceTypeId, g0.Principal.ResourceId),
            RecordListing.GrantsByResourceType(g0.Entitlement.ResourceTypeId), RecordListing.GrantsByResource(g0.Entitlement.ResourceTypeId, g0.Entitlement.ResourceId),
            RecordListing.Assets(),
        ];
        foreach (var listing in listings)
        {
            var (all, keyed) = listing switch
            {
                RecordListing<ResourceTypeRecord> l => Check(l, store.ResourceTypes(sync)),
                RecordListing<ResourceRecord> l => Check(l, store.Resources(sync)),
                RecordListing<EntitlementRecord> l => Check(l, store.Entitlements(sync)),
                RecordListing<GrantRecord> l => Check(l, store.Grants(sync)),
                RecordListing<AssetRecord> l => Check(l, store.Assets(sync)),
                _ => throw new InvalidOperationException(),
            };
            Assert.True(all > 0, $"seed {seed}: {listing} is empty; the test proves nothing");
            Assert.True(keyed > 0, $"seed {seed}: {listing}: no position was tried");
        }

        (int All, int Positions) Check<T>(RecordListing<T> listing, IEnumerable<T> everything)
            where T : class, Google.Protobuf.IMessage<T>, new()
        {
            var every = everything.ToList();
            var expected = listing.Apply(every, null).Select(listing.SortKey).ToList();
            var actual = store.List(sync, listing).Select(listing.SortKey).ToList();
            Assert.True(expected.Count == actual.Count && expected.Zip(actual).All(p => p.First.SequenceEqual(p.Second)), $"seed {seed}: {listing} differs from the reference order");

            // Resume after every listed position, and after positions that are not records (between and beyond them).
            var positions = actual.Concat(Enumerable.Range(0, 10).Select(_ => Enumerable.Range(0, listing.SortKeyLength).Select(_ => Id(3)).ToArray())).ToList();
            foreach (var after in positions)
            {
                var want = listing.Apply(every, after).Select(listing.SortKey).ToList();
                var got = store.List(sync, listing, after).Select(listing.SortKey).ToList();
                Assert.True(want.Count == got.Count && want.Zip(got).All(p => p.First.SequenceEqual(p.Second)), $"seed {seed}: {listing} after [{string.Join(", ", after)}]: {got.Count} records, expected {want.Count}");
            }

            return (actual.Count, positions.Count);
        }
    }

    [Fact]
    public void Sync_runs_start_end_list_and_resolve()
    {
        var store = NewStore();
        Assert.Null(store.CurrentSync);
        var a = store.StartSync(SyncType.Full);
        Assert.Equal(a, store.CurrentSync);
        Assert.True(store.TryGetSyncRun(a, out var run));
        Assert.Equal(SyncType.Full, run.Type);
        Assert.Null(run.EndedAt);
        store.EndSync(a);
        Assert.Null(store.CurrentSync);
        Assert.True(store.TryGetSyncRun(a, out run));
        Assert.NotNull(run.EndedAt);
        var b = store.StartSync(SyncType.Partial, a);
        Assert.True(store.TryGetSyncRun(b, out var runB));
        Assert.Equal(a.ToString(), runB.ParentSyncId);
        var all = store.ListSyncRuns();
        Assert.Equal(all.Select(r => r.SyncId).Order(StringComparer.Ordinal), all.Select(r => r.SyncId));
        Assert.Contains(all, r => r.SyncId == a.ToString());
        Assert.Contains(all, r => r.SyncId == b.ToString());
        Assert.Equal(a, store.LatestFinishedSync());
        Assert.Equal(a, store.LatestSync());
        Assert.False(store.TryGetSyncRun(SyncId.NewId(), out _));
        Assert.Throws<C1zArgumentException>(() => store.SetCurrentSync(SyncId.NewId()));
        store.SetCurrentSync(a);
        Assert.Equal(a, store.CurrentSync);
    }

    [Fact]
    public void Writing_through_the_current_sync_requires_one()
    {
        var store = NewStore();
        Assert.Throws<C1zNoCurrentSyncException>(() => store.PutGrant(Grant("g", "e", "user", "u")));
        var s = store.StartSync(SyncType.Full);
        store.PutGrant(Grant("g", "e", "user", "u"));
        Assert.True(store.TryGetGrant(s, "g", out var g));
        Assert.Equal(s.ToString(), g.SyncId);
    }

    [Fact]
    public void Grant_change_sets_leave_the_grants_and_every_index_of_deletes_then_puts()
    {
        int seed = Seeds.Get(2020);
        var rng = new Random(seed);
        var store = NewStore();
        var sync = store.StartSync(SyncType.Full);
        string[] ents = ["ent-a", "ent-b", "ent-c"];
        string[] users = ["alice", "bob", "carol", "dave"];
        var model = new Dictionary<string, GrantRecord>(StringComparer.Ordinal);

        // Grants move between entitlements, principals and entitlement resources and toggle needs_expansion,
        // so an index entry of an overwritten or deleted value that stayed behind shows in a listing.
        GrantRecord Random(string id)
        {
            var g = Grant(id, ents[rng.Next(ents.Length)], "user", users[rng.Next(users.Length)], entRid: rng.Next(2) == 0 ? "eng" : "ops", needsExpansion: rng.Next(3) == 0);
            if (rng.Next(3) == 0)
            {
                g.Sources[g.Entitlement.EntitlementId] = new GrantSourceRecord { IsDirect = true };
            }

            return g;
        }

        int deletedSeen = 0, putOverStored = 0, encodedRounds = 0;
        for (int round = 0; round < 40; round++)
        {
            // Four rounds are large change sets (engines may split those across threads, or write them another way:
            // RocksDB ingests a set of 4,096 grants or more as an SST), one for each way of passing committed values;
            // small rounds follow them, so later small writes must win over what was written the large way.
            bool large = round is >= 30 and < 34;
            int pool = large ? 9000 : 30;
            var puts = Enumerable.Range(0, large ? 6000 : rng.Next(12)).Select(_ => Random($"g{rng.Next(pool)}")).ToList();
            var deletes = Enumerable.Range(0, large ? 3000 : rng.Next(8)).Select(_ => $"g{rng.Next(pool)}").ToList();
            var putIds = puts.Select(g => g.ExternalId).ToHashSet(StringComparer.Ordinal);
            int expectedDeleted = deletes.Distinct(StringComparer.Ordinal).Count(id => model.ContainsKey(id) && !putIds.Contains(id));
            putOverStored += putIds.Count(model.ContainsKey);

            // A round in three passes the committed records of about half the ids it touches, and another their stored
            // bytes, as a caller that has just read them would (the other ids the engine reads itself).
            var known = putIds.Concat(deletes).Distinct(StringComparer.Ordinal).Where(id => model.ContainsKey(id) && rng.Next(2) == 0).ToList();
            Dictionary<string, GrantRecord>? committed = round % 3 == 1 ? known.ToDictionary(id => id, id => model[id].Clone(), StringComparer.Ordinal) : null;
            var committedValues = round % 3 == 2 ? StoredValues(store, sync, known) : null;
            foreach (string id in deletes)
            {
                model.Remove(id);
            }

            foreach (var g in puts)
            {
                model[g.ExternalId] = g;
            }

            // Half the rounds that may pass stored bytes (and the large one among them) pass the puts as their stored
            // encoding instead of records.
            bool encodedPuts = round % 3 == 2 && (round == 32 || rng.Next(2) == 0);
            int deleted = committed is not null ? store.WriteGrantChanges(sync, puts, deletes, committed)
                : encodedPuts ? store.WriteEncodedGrantChanges(sync, puts.Select(StoredEncoding).ToList(), deletes, committedValues ?? new Dictionary<string, ReadOnlyMemory<byte>>())
                : committedValues is not null ? store.WriteGrantChanges(sync, puts, deletes, committedValues)
                : store.WriteGrantChanges(sync, puts, deletes);
            encodedRounds += encodedPuts ? 1 : 0;
            deletedSeen += deleted;
            Assert.True(expectedDeleted == deleted, $"seed {seed}, round {round}: {deleted} deletes reported, expected {expectedDeleted}");

            string Canonical(GrantRecord g)
            {
                var c = g.Clone();
                c.SyncId = string.Empty;
                return c.ToString();
            }

            void Same(string what, IEnumerable<GrantRecord> actual, IEnumerable<GrantRecord> expected)
            {
                var a = actual.Select(Canonical).ToList();
                var e = expected.Select(Canonical).ToList();
                Assert.True(a.SequenceEqual(e), $"seed {seed}, round {round}: {what}:\n  got      [{string.Join(", ", a)}]\n  expected [{string.Join(", ", e)}]");
            }

            var all = model.Values.ToList();
            Same("grants", store.Grants(sync), RecordListing.Grants().Apply(all, null));
            Same("needing expansion", store.GrantsNeedingExpansion(sync).OrderBy(g => g.ExternalId, StringComparer.Ordinal), all.Where(g => g.NeedsExpansion).OrderBy(g => g.ExternalId, StringComparer.Ordinal));
            foreach (string e in ents)
            {
                Same($"entitlement {e}", store.GrantsByEntitlement(sync, e), RecordListing.GrantsByEntitlement(e).Apply(all, null));
            }

            foreach (string u in users)
            {
                Same($"principal {u}", store.GrantsByPrincipal(sync, "user", u), RecordListing.GrantsByPrincipal("user", u).Apply(all, null));
            }

            foreach (string r in new[] { "eng", "ops" })
            {
                Same($"resource {r}", store.GrantsByEntitlementResource(sync, "group", r), RecordListing.GrantsByResource("group", r).Apply(all, null));
            }
        }

        Assert.True(deletedSeen > 10 && putOverStored > 10 && encodedRounds > 1, $"seed {seed}: {deletedSeen} deletes, {putOverStored} overwrites, {encodedRounds} encoded rounds; the test proves little");
        Assert.Throws<ArgumentNullException>(() => store.WriteGrantChanges(sync, null!, []));
        Assert.Throws<C1zArgumentException>(() => store.WriteGrantChanges(sync, [], [string.Empty]));
        var noValues = new Dictionary<string, ReadOnlyMemory<byte>>();
        Assert.Throws<C1zArgumentException>(() => store.WriteEncodedGrantChanges(sync, [new byte[] { 0x0A, 0x7F }], [], noValues));
        Assert.Throws<C1zArgumentException>(() => store.WriteEncodedGrantChanges(sync, [StoredEncoding(Grant(string.Empty, "ent-a", "user", "alice"))], [], noValues));
    }

    /// <summary>A grant's stored encoding: the canonical encoding without <c>sync_id</c>.</summary>
    private static ReadOnlyMemory<byte> StoredEncoding(GrantRecord g)
    {
        byte[]? buffer = null;
        Assert.Equal(System.Buffers.OperationStatus.Done, GrantRecordCodec.EncodeCompactPooled(g, ref buffer, out int written, omitSyncId: true));
        byte[] bytes = buffer.AsSpan(0, written).ToArray();
        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        return bytes;
    }

    /// <summary>The stored bytes of some grants, by id, where the store hands them out; null where it does not.</summary>
    private static Dictionary<string, ReadOnlyMemory<byte>>? StoredValues(IC1zStore store, SyncId sync, IReadOnlyCollection<string> ids)
    {
        if (!store.TryOpenEncodedGrants(sync, out var cursor))
        {
            return null;
        }

        var wanted = ids.ToHashSet(StringComparer.Ordinal);
        var values = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        using (cursor)
        {
            while (cursor.MoveNext())
            {
                Assert.True(GrantRow.TryParse(cursor.Value, out var row));
                string id = Encoding.UTF8.GetString(row.ExternalId);
                if (wanted.Contains(id))
                {
                    values[id] = cursor.Value.ToArray();
                }
            }
        }

        Assert.Equal(wanted.Count, values.Count);
        return values;
    }

    [Fact]
    public void Grants_put_get_overwrite_delete_and_every_index()
    {
        var store = NewStore();
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, [
            Grant("g1", "ent-a", "user", "alice"),
            Grant("g2", "ent-a", "user", "bob", needsExpansion: true),
            Grant("g3", "ent-b", "user", "alice", entRt: "app", entRid: "app-1"),
        ]);
        Assert.True(store.TryGetGrant(s, "g2", out var g2));
        Assert.Equal("ent-a", g2.Entitlement.EntitlementId);
        Assert.False(store.TryGetGrant(s, "nope", out _));
        Assert.Equal(["g1", "g2", "g3"], Ids(store.Grants(s)));
        Assert.Equal(["g1", "g2"], Ids(store.GrantsByEntitlement(s, "ent-a")));
        Assert.Equal(["g1", "g3"], Ids(store.GrantsByPrincipal(s, "user", "alice")));
        Assert.Equal(["g2"], Ids(store.GrantsNeedingExpansion(s)));
        Assert.Equal(["g3"], Ids(store.GrantsByEntitlementResource(s, "app", "app-1")));
        Assert.Equal(["g1", "g2"], Ids(store.GrantsByEntitlementResource(s, "group", "eng")));

        // Overwrite moves g1 to another entitlement and principal and sets the expansion flag.
        store.PutGrants(s, [Grant("g1", "ent-b", "user", "carol", needsExpansion: true)]);
        Assert.Equal(["g2"], Ids(store.GrantsByEntitlement(s, "ent-a")));
        Assert.Equal(["g3", "g1"], Ids(store.GrantsByEntitlement(s, "ent-b"))); // ordered by principal, then id
        Assert.Equal(["g3"], Ids(store.GrantsByPrincipal(s, "user", "alice")));
        Assert.Equal(["g1"], Ids(store.GrantsByPrincipal(s, "user", "carol")));
        Assert.Equal(["g1", "g2"], Ids(store.GrantsNeedingExpansion(s)));

        // Clearing the flag removes the needs-expansion entry.
        store.PutGrants(s, [Grant("g2", "ent-a", "user", "bob", needsExpansion: false)]);
        Assert.Equal(["g1"], Ids(store.GrantsNeedingExpansion(s)));

        Assert.True(store.DeleteGrant(s, "g1"));
        Assert.False(store.DeleteGrant(s, "g1"));
        Assert.Empty(store.GrantsByPrincipal(s, "user", "carol"));
        Assert.Empty(store.GrantsNeedingExpansion(s));
        Assert.Equal(["g2", "g3"], Ids(store.Grants(s)));
        Assert.Equal(2, store.Count(s).Grants);
    }

    [Fact]
    public void A_batch_with_the_same_identity_twice_keeps_the_last()
    {
        var store = NewStore();
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, [Grant("g", "ent-a", "user", "alice"), Grant("g", "ent-b", "user", "bob")]);
        Assert.Equal(["g"], Ids(store.Grants(s)));
        Assert.Empty(store.GrantsByEntitlement(s, "ent-a"));
        Assert.Empty(store.GrantsByPrincipal(s, "user", "alice"));
        Assert.Equal(["g"], Ids(store.GrantsByEntitlement(s, "ent-b")));
    }

    [Fact]
    public void Index_prefixes_do_not_leak_into_longer_ids()
    {
        var store = NewStore();
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, [
            Grant("g1", "ent", "user", "al"),
            Grant("g2", "ent-2", "user", "alice"),
            Grant("g3", "ent\0x", "user\0", "al"),
            Grant("g4", "", "", ""),
        ]);
        Assert.Equal(["g1"], Ids(store.GrantsByEntitlement(s, "ent")));
        Assert.Equal(["g3"], Ids(store.GrantsByEntitlement(s, "ent\0x")));
        Assert.Equal(["g1"], Ids(store.GrantsByPrincipal(s, "user", "al")));
        Assert.Equal(["g3"], Ids(store.GrantsByPrincipal(s, "user\0", "al")));
        Assert.Equal(["g4"], Ids(store.GrantsByEntitlement(s, "")));
        Assert.Equal(["g4"], Ids(store.GrantsByPrincipal(s, "", "")));
    }

    [Fact]
    public void Resources_by_type_and_by_parent_follow_overwrites()
    {
        var store = NewStore();
        var s = store.StartSync(SyncType.Full);
        store.PutResourceTypes(s, [new ResourceTypeRecord { ExternalId = "group" }, new ResourceTypeRecord { ExternalId = "user", Traits = { "USER" } }]);
        store.PutResources(s, [
            new ResourceRecord { ResourceTypeId = "org", ResourceId = "acme" },
            new ResourceRecord { ResourceTypeId = "group", ResourceId = "eng", Parent = new ResourceRef { ResourceTypeId = "org", ResourceId = "acme" } },
            new ResourceRecord { ResourceTypeId = "group", ResourceId = "ops", Parent = new ResourceRef { ResourceTypeId = "org", ResourceId = "acme" } },
            new ResourceRecord { ResourceTypeId = "groupx", ResourceId = "a" },
        ]);
        Assert.Equal(["group", "user"], store.ResourceTypes(s).Select(r => r.ExternalId));
        Assert.True(store.TryGetResourceType(s, "user", out var user));
        Assert.Equal(["USER"], user.Traits);
        Assert.Equal(["eng", "ops"], store.ResourcesByType(s, "group").Select(r => r.ResourceId));
        Assert.Equal(["eng", "ops"], store.ResourcesByParent(s, "org", "acme").Select(r => r.ResourceId));
        Assert.Equal(["org/acme", "groupx/a"], store.ResourcesByParent(s, "", "").Select(r => r.ResourceTypeId + "/" + r.ResourceId).Order(StringComparer.Ordinal).Reverse());
        store.PutResources(s, [new ResourceRecord { ResourceTypeId = "group", ResourceId = "ops" }]);
        Assert.Equal(["eng"], store.ResourcesByParent(s, "org", "acme").Select(r => r.ResourceId));
        Assert.True(store.TryGetResource(s, "group", "eng", out var eng));
        Assert.Equal("acme", eng.Parent.ResourceId);
        Assert.True(store.DeleteResource(s, "group", "eng"));
        Assert.Empty(store.ResourcesByParent(s, "org", "acme"));
        Assert.True(store.DeleteResourceType(s, "group"));
        Assert.Equal(["user"], store.ResourceTypes(s).Select(r => r.ExternalId));
        Assert.Equal(new RecordCounts(1, 3, 0, 0, 0), store.Count(s));
    }

    [Fact]
    public void Entitlements_by_resource_and_assets()
    {
        var store = NewStore();
        var s = store.StartSync(SyncType.Full);
        store.PutEntitlements(s, [
            new EntitlementRecord { ExternalId = "group:eng:member", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "eng" }, Slug = "member" },
            new EntitlementRecord { ExternalId = "group:eng:admin", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "eng" } },
            new EntitlementRecord { ExternalId = "group:ops:member", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "ops" } },
        ]);
        Assert.Equal(["group:eng:admin", "group:eng:member"], store.EntitlementsByResource(s, "group", "eng").Select(e => e.ExternalId));
        store.PutEntitlements(s, [new EntitlementRecord { ExternalId = "group:eng:admin", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "ops" } }]);
        Assert.Equal(["group:eng:member"], store.EntitlementsByResource(s, "group", "eng").Select(e => e.ExternalId));
        Assert.True(store.TryGetEntitlement(s, "group:eng:member", out var member));
        Assert.Equal("member", member.Slug);
        Assert.True(store.DeleteEntitlement(s, "group:ops:member"));
        Assert.Equal(["group:eng:admin"], store.EntitlementsByResource(s, "group", "ops").Select(e => e.ExternalId));

        store.PutAssets(s, [new AssetRecord { ExternalId = "icon", ContentType = "image/png", Data = Google.Protobuf.ByteString.CopyFrom(0, 1, 2, 0xFF) }]);
        Assert.True(store.TryGetAsset(s, "icon", out var icon));
        Assert.Equal(new byte[] { 0, 1, 2, 0xFF }, icon.Data.ToByteArray());
        Assert.Equal(["icon"], store.Assets(s).Select(a => a.ExternalId));
        Assert.True(store.DeleteAsset(s, "icon"));
        Assert.False(store.TryGetAsset(s, "icon", out _));
    }

    [Fact]
    public void Syncs_are_isolated_and_deleting_one_removes_all_its_records()
    {
        var store = NewStore();
        var a = store.StartSync(SyncType.Full);
        var b = store.StartSync(SyncType.Full);
        store.PutGrants(a, [Grant("g1", "e", "user", "u")]);
        store.PutGrants(b, [Grant("g1", "f", "user", "v"), Grant("g2", "f", "user", "v")]);
        store.PutResources(b, [new ResourceRecord { ResourceTypeId = "t", ResourceId = "r" }]);
        Assert.Equal(["g1"], Ids(store.Grants(a)));
        Assert.Equal(["g1", "g2"], Ids(store.GrantsByEntitlement(b, "f")));
        Assert.Empty(store.GrantsByEntitlement(a, "f"));
        Assert.True(store.DeleteSync(b));
        Assert.False(store.DeleteSync(b));
        Assert.Empty(store.Grants(b));
        Assert.Empty(store.GrantsByPrincipal(b, "user", "v"));
        Assert.Empty(store.Resources(b));
        Assert.False(store.TryGetSyncRun(b, out _));
        Assert.Equal(["g1"], Ids(store.Grants(a)));
    }

    [Fact]
    public void Empty_identities_are_rejected()
    {
        var store = NewStore();
        var s = store.StartSync(SyncType.Full);
        Assert.Throws<C1zArgumentException>(() => store.PutGrants(s, [Grant("", "e", "u", "v")]));
        Assert.Throws<C1zArgumentException>(() => store.PutResources(s, [new ResourceRecord { ResourceTypeId = "t" }]));
        Assert.Throws<C1zArgumentException>(() => store.PutResourceTypes(s, [new ResourceTypeRecord()]));
        Assert.Throws<C1zArgumentException>(() => store.PutSyncRun(new SyncRunRecord { SyncId = "bad" }));
        Assert.Empty(store.Grants(s));
    }

    [Fact]
    public void Bulk_load_equals_puts_and_last_duplicate_wins()
    {
        var store = NewStore();
        var bulk = store.StartSync(SyncType.Full);
        var puts = store.StartSync(SyncType.Full);
        var grants = new List<GrantRecord>();
        for (int i = 0; i < 300; i++)
        {
            grants.Add(Grant($"grant-{i:D4}", $"ent-{i % 7}", "user", $"user-{i % 11}", needsExpansion: i % 5 == 0));
        }

        grants.Add(Grant("grant-0003", "ent-moved", "user", "moved"));
        using (var loader = store.BeginBulkLoad(bulk))
        {
            foreach (var g in grants)
            {
                loader.Add(g);
            }

            loader.Add(new ResourceRecord { ResourceTypeId = "group", ResourceId = "eng", Parent = new ResourceRef { ResourceTypeId = "org", ResourceId = "o" } });
            loader.Add(new EntitlementRecord { ExternalId = "ent-1", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "eng" } });
            loader.Add(new ResourceTypeRecord { ExternalId = "user" });
            loader.Add(new AssetRecord { ExternalId = "a", Data = Google.Protobuf.ByteString.CopyFromUtf8("x") });
            Assert.Empty(store.Grants(bulk)); // nothing visible before Complete
            loader.Complete();
        }

        store.PutGrants(puts, grants);
        Assert.Equal(Ids(store.Grants(puts)), Ids(store.Grants(bulk)));
        Assert.DoesNotContain(store.GrantsByEntitlement(bulk, "ent-3"), g => g.ExternalId == "grant-0003");
        Assert.Equal(["grant-0003"], Ids(store.GrantsByEntitlement(bulk, "ent-moved")));
        for (int e = 0; e < 7; e++)
        {
            Assert.Equal(Ids(store.GrantsByEntitlement(puts, $"ent-{e}")), Ids(store.GrantsByEntitlement(bulk, $"ent-{e}")));
        }

        for (int p = 0; p < 11; p++)
        {
            Assert.Equal(Ids(store.GrantsByPrincipal(puts, "user", $"user-{p}")), Ids(store.GrantsByPrincipal(bulk, "user", $"user-{p}")));
        }

        Assert.Equal(Ids(store.GrantsNeedingExpansion(puts)), Ids(store.GrantsNeedingExpansion(bulk)));
        Assert.Equal(["eng"], store.ResourcesByParent(bulk, "org", "o").Select(r => r.ResourceId));
        Assert.Equal(["ent-1"], store.EntitlementsByResource(bulk, "group", "eng").Select(r => r.ExternalId));
        Assert.Equal(new RecordCounts(1, 1, 1, 300, 1), store.Count(bulk));
    }

    [Fact]
    public void Disposing_a_bulk_load_without_completing_discards_it()
    {
        var store = NewStore();
        var s = store.StartSync(SyncType.Full);
        using (var loader = store.BeginBulkLoad(s))
        {
            loader.Add(Grant("g", "e", "user", "u"));
        }

        Assert.Empty(store.Grants(s));
        using (var loader = store.BeginBulkLoad(s))
        {
            loader.Add(Grant("g2", "e", "user", "u"));
            loader.Complete();
        }

        Assert.Equal(["g2"], Ids(store.Grants(s)));
    }

    [Fact]
    public void Bulk_load_into_a_sync_with_records_keeps_indexes_exact()
    {
        var store = NewStore();
        var s = store.StartSync(SyncType.Full);
        store.PutGrants(s, [Grant("g1", "ent-a", "user", "alice")]);
        using (var loader = store.BeginBulkLoad(s))
        {
            loader.Add(Grant("g1", "ent-b", "user", "bob"));
            loader.Add(Grant("g2", "ent-a", "user", "alice"));
            loader.Complete();
        }

        Assert.Equal(["g2"], Ids(store.GrantsByEntitlement(s, "ent-a")));
        Assert.Equal(["g1"], Ids(store.GrantsByPrincipal(s, "user", "bob")));
    }
}
