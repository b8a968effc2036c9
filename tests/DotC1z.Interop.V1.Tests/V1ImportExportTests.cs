using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using Microsoft.Data.Sqlite;

namespace DotC1z.Interop.V1.Tests;

public sealed class V1ImportExportTests : IDisposable
{
    private readonly TempDir _dir = new("v1");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Fixtures => new() { "small-unexpanded.c1z", "small-expanded.c1z", "sync-in-progress.c1z" };

    /// <summary>Plain SQL over the decompressed fixture: the independent oracle.</summary>
    private static Dictionary<string, long> Sql(string db, string query)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        using var c = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = query;
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            result[r.GetString(0)] = r.GetInt64(1);
        }

        return result;
    }

    private string Decompressed(string fixture)
    {
        string db = _dir.Combine(Guid.NewGuid().ToString("N") + ".sqlite");
        V1File.Decompress(TestPaths.RealFixture(fixture), db);
        return db;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Import_counts_match_plain_sql_on_the_decompressed_database(string fixture)
    {
        string db = Decompressed(fixture);
        using var store = RocksStore.Open(_dir.Combine("store-" + fixture), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var summary = V1Import.Import(TestPaths.RealFixture(fixture), store);
        var runs = Sql(db, "select sync_id, 1 from v1_sync_runs");
        Assert.Equal(runs.Keys.Order(StringComparer.Ordinal), summary.Syncs.Select(s => s.Sync.ToString()).Order(StringComparer.Ordinal));
        foreach (var (sync, counts) in summary.Syncs)
        {
            string where = $"where sync_id='{sync}'";
            Assert.Equal(Sql(db, $"select 'n', count(*) from v1_resource_types {where}")["n"], store.Count(sync).ResourceTypes);
            Assert.Equal(Sql(db, $"select 'n', count(*) from v1_resources {where}")["n"], store.Count(sync).Resources);
            Assert.Equal(Sql(db, $"select 'n', count(*) from v1_entitlements {where}")["n"], store.Count(sync).Entitlements);
            Assert.Equal(Sql(db, $"select 'n', count(*) from v1_grants {where}")["n"], store.Count(sync).Grants);
            Assert.Equal(counts, store.Count(sync));

            var byEntitlement = Sql(db, $"select entitlement_id, count(*) from v1_grants {where} group by entitlement_id");
            foreach (var (ent, n) in byEntitlement)
            {
                Assert.True(n == store.GrantsByEntitlement(sync, ent).Count(), $"{fixture}: entitlement {ent}");
            }

            var byPrincipal = Sql(db, $"select principal_resource_type_id || char(0) || principal_resource_id, count(*) from v1_grants {where} group by 1");
            foreach (var (key, n) in byPrincipal)
            {
                var parts = key.Split('\0');
                Assert.True(n == store.GrantsByPrincipal(sync, parts[0], parts[1]).Count(), $"{fixture}: principal {key}");
            }

            Assert.True(store.VerifyConsistency().IsConsistent);
        }
    }

    [Fact]
    public void Imported_records_match_the_decoded_blobs_field_by_field()
    {
        string db = Decompressed("small-unexpanded.c1z");
        using var store = RocksStore.Open(_dir.Combine("fields"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var sync = V1Import.Import(TestPaths.RealFixture("small-unexpanded.c1z"), store).Syncs.Single().Sync;
        using var c = new SqliteConnection($"Data Source={db};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "select external_id, data, entitlement_id, principal_resource_type_id, principal_resource_id from v1_grants order by id limit 200";
        using var r = cmd.ExecuteReader();
        int checkedRows = 0;
        while (r.Read())
        {
            var blob = Connector.V2.Grant.Parser.ParseFrom((byte[])r.GetValue(1));
            Assert.True(store.TryGetGrant(sync, r.GetString(0), out var g));
            Assert.Equal(blob.Id, g.ExternalId);
            Assert.Equal(r.GetString(2), g.Entitlement.EntitlementId);
            Assert.Equal(blob.Entitlement.Resource.Id.ResourceType, g.Entitlement.ResourceTypeId);
            Assert.Equal(blob.Entitlement.Resource.Id.Resource, g.Entitlement.ResourceId);
            Assert.Equal(r.GetString(3), g.Principal.ResourceTypeId);
            Assert.Equal(r.GetString(4), g.Principal.ResourceId);
            Assert.Equal((blob.Sources?.Sources.Keys ?? Enumerable.Empty<string>()).Order(StringComparer.Ordinal), g.Sources.Keys.Order(StringComparer.Ordinal));
            bool blobExpandable = blob.Annotations.Any(a => a.TypeUrl.EndsWith("GrantExpandable", StringComparison.Ordinal));
            Assert.Equal(blobExpandable, g.Expansion is not null);
            Assert.Equal(blobExpandable, g.NeedsExpansion);
            checkedRows++;
        }

        Assert.Equal(200, checkedRows);
        Assert.True(store.TryGetResourceType(sync, "user", out var user));
        Assert.Contains("USER", user.Traits);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Import_export_import_round_trips_and_export_keeps_baton_counts(string fixture)
    {
        string original = Decompressed(fixture);
        var first = new Equivalence.MemoryStore();
        V1Import.Import(TestPaths.RealFixture(fixture), first);
        string exported = _dir.Combine("export-" + fixture);
        V1Export.Export(first, exported);
        Assert.True(V1File.IsV1File(exported));
        var second = new Equivalence.MemoryStore();
        V1Import.Import(exported, second);
        foreach (var run in first.ListSyncRuns())
        {
            var s = SyncId.Parse(run.SyncId);
            Assert.Equal(first.Grants(s).ToList(), second.Grants(s).ToList());
            Assert.Equal(first.Resources(s).ToList(), second.Resources(s).ToList());
            Assert.Equal(first.Entitlements(s).ToList(), second.Entitlements(s).ToList());
            Assert.Equal(first.ResourceTypes(s).ToList(), second.ResourceTypes(s).ToList());
            Assert.True(second.TryGetSyncRun(s, out var run2));
            Assert.Equal(run.EndedAt is null, run2.EndedAt is null);
        }

        string roundDb = _dir.Combine("round.sqlite");
        V1File.Decompress(exported, roundDb);
        foreach (string table in new[] { "v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_sync_runs" })
        {
            Assert.Equal(Sql(original, $"select external_id, 1 from {(table == "v1_sync_runs" ? "(select sync_id as external_id from v1_sync_runs)" : table)}").Keys.Order(StringComparer.Ordinal),
                Sql(roundDb, $"select external_id, 1 from {(table == "v1_sync_runs" ? "(select sync_id as external_id from v1_sync_runs)" : table)}").Keys.Order(StringComparer.Ordinal));
        }

        Assert.Equal(Sql(original, "select entitlement_id, count(*) from v1_grants group by 1"), Sql(roundDb, "select entitlement_id, count(*) from v1_grants group by 1"));
        Assert.Equal(Sql(original, "select principal_resource_type_id || '/' || principal_resource_id, count(*) from v1_grants group by 1"), Sql(roundDb, "select principal_resource_type_id || '/' || principal_resource_id, count(*) from v1_grants group by 1"));
    }

    [Fact]
    public void Bad_files_are_typed_errors_naming_the_file_and_leave_nothing_behind()
    {
        string real = TestPaths.RealFixture("sync-in-progress.c1z");
        byte[] bytes = File.ReadAllBytes(real);
        var cases = new Dictionary<string, byte[]>
        {
            ["empty"] = [],
            ["wrong-magic"] = [.. "C1Z3\0"u8, .. bytes[5..]],
            ["truncated"] = bytes[..(bytes.Length / 2)],
            ["bitflip"] = Flip(bytes, bytes.Length / 2),
            ["trailing-garbage"] = [.. bytes, 1, 2, 3, 4],
            ["not-sqlite"] = [.. "C1ZF\0"u8, .. new ZstdSharp.Compressor().Wrap("this is not a database, just text"u8.ToArray()).ToArray()],
        };
        string tempRoot = _dir.Combine("tmp");
        Directory.CreateDirectory(tempRoot);
        foreach (var (name, content) in cases)
        {
            string path = _dir.Combine(name + ".c1z");
            File.WriteAllBytes(path, content);
            var ex = Record.Exception(() => V1Import.Import(path, new Equivalence.MemoryStore(), new V1ImportOptions { Read = new V1ReadOptions { TempDirectory = tempRoot } }));
            Assert.True(ex is V1FormatException, $"{name}: got {ex?.GetType().Name}: {ex?.Message}");
            Assert.Contains(path, ex!.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(tempRoot));
        }

        var bomb = _dir.Combine("bomb.c1z");
        File.WriteAllBytes(bomb, [.. "C1ZF\0"u8, .. new ZstdSharp.Compressor().Wrap(new byte[4 << 20]).ToArray()]);
        var limit = Record.Exception(() => V1File.OpenReadOnly(bomb, new V1ReadOptions { MaxDecodedBytes = 1 << 20, TempDirectory = tempRoot }));
        Assert.IsType<V1FormatException>(limit);
        Assert.Contains("limit", limit.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tempRoot));
        Assert.Throws<C1zIOException>(() => V1File.OpenReadOnly(_dir.Combine("missing.c1z")));
    }

    private static byte[] Flip(byte[] source, int at)
    {
        var copy = (byte[])source.Clone();
        copy[at] ^= 0x40;
        return copy;
    }

    [Fact]
    public void Opening_read_only_removes_its_temp_database_on_dispose()
    {
        string tempRoot = _dir.Combine("ro");
        Directory.CreateDirectory(tempRoot);
        using (var store = V1File.OpenReadOnly(TestPaths.RealFixture("small-unexpanded.c1z"), new V1ReadOptions { TempDirectory = tempRoot }))
        {
            Assert.True(store.IsReadOnly);
            Assert.Equal(2909, store.Count(store.LatestSync()!.Value).Grants);
            Assert.Throws<C1zReadOnlyException>(() => store.StartSync(Records.SyncType.Full));
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(tempRoot));
    }
}
