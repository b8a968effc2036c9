using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Tests.Shared;
using Microsoft.Data.Sqlite;

namespace DotC1z.Engine.Sqlite.Tests;

/// <summary><see cref="SqliteStoreOptions.Untrusted"/>: a database from elsewhere is data, never code.</summary>
public sealed class SqliteUntrustedTests : IDisposable
{
    private const string UserFile = "/home/user/Downloads/snapshot.c1z";

    private readonly TempDir _dir = new("sqlite-untrusted");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private static SqliteStoreOptions Untrusted => new() { ReadOnly = true, Untrusted = true, DisplayPath = UserFile };

    /// <summary>A database written by the engine with one sync and two grants, then changed by <paramref name="sql"/>.</summary>
    private (string Db, SyncId Sync) Create(string name, string? sql = null)
    {
        string db = _dir.Combine(name + ".sqlite");
        SyncId sync;
        using (var store = SqliteStore.Open(db, new SqliteStoreOptions { Durable = false }))
        {
            sync = store.StartSync(SyncType.Full);
            store.PutGrants(sync, [StoreContractTests.Grant("g1", "ent", "user", "alice"), StoreContractTests.Grant("g2", "ent", "user", "bob")]);
            store.EndSync(sync);
        }

        SqliteConnection.ClearAllPools();
        if (sql is not null)
        {
            using var c = new SqliteConnection($"Data Source={db};Pooling=False");
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            cmd.ExecuteNonQuery();
        }

        return (db, sync);
    }

    [Fact]
    public void An_untrusted_store_reads_normally_and_names_the_display_path()
    {
        var (db, sync) = Create("plain");
        using var store = SqliteStore.Open(db, Untrusted);
        Assert.Equal(2, store.Grants(sync).Count());
        Assert.Equal(2, store.Count(sync).Grants);
        var write = Assert.Throws<C1zReadOnlyException>(() => store.PutGrants(sync, [StoreContractTests.Grant("g3", "ent", "user", "carol")]));
        Assert.Equal(UserFile, write.Path);
        Assert.Throws<C1zArgumentException>(() => SqliteStore.Open(db, new SqliteStoreOptions { Untrusted = true }));
    }

    [Theory]
    [InlineData("drop table v1_assets; create view v1_assets as with recursive r(n) as (select 1 union all select n + 1 from r) select n as id, n as external_id, '' as content_type, x'' as data, '' as sync_id, '' as discovered_at from r", "view")]
    [InlineData("drop table v1_connector_sessions; create view \"V1_Connector_Sessions\" as select 1 as id", "view")]
    [InlineData("drop table v1_assets; create table other (x); create index v1_assets on other (x)", "index")]
    [InlineData("drop table v1_assets; create table v1_assets (id integer primary key, external_id text, content_type text, data blob, sync_id text, discovered_at text, g text as (upper(external_id)))", "generated")]
    public void Schema_objects_posing_as_v1_tables_are_refused_by_name(string sql, string what)
    {
        var (db, _) = Create("posing-" + what + sql.Length, sql);
        var ex = Assert.ThrowsAny<C1zFormatException>(() => SqliteStore.Open(db, Untrusted));
        Assert.Contains(what, ex.Message, StringComparison.Ordinal);
        Assert.Contains(UserFile, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(db, ex.Message, StringComparison.Ordinal);
        Assert.Equal(UserFile, ex.Path);
    }

    [Fact]
    public void Untrusted_settings_never_leak_to_trusted_connections_of_the_same_file()
    {
        var (db, sync) = Create("pool", "insert into v1_assets (external_id, content_type, data, sync_id, discovered_at) select 'icon', 'image/png', zeroblob(5000), sync_id, '' from v1_sync_runs");
        using var untrusted = SqliteStore.Open(db, Untrusted with { MaxValueBytes = 1000 });
        Assert.Equal(2, untrusted.Grants(sync).Count()); // its reader connection goes back to the pool
        var tooBig = Assert.ThrowsAny<C1zFormatException>(() => untrusted.Assets(sync).ToList());
        Assert.Contains("size limit", tooBig.Message, StringComparison.Ordinal);
        using var trusted = SqliteStore.Open(db, new SqliteStoreOptions { ReadOnly = true });
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(5000, trusted.Assets(sync).Single().Data.Length); // no size limit on the caller's own file
        }
    }

    [Fact]
    public void Invalid_utf8_ids_are_refused_by_every_open_mode_naming_table_and_row()
    {
        var (db, sync) = Create("utf8", "update v1_grants set external_id = cast(x'67FF' as text) where external_id = 'g2'");
        foreach (var options in new[] { Untrusted, new SqliteStoreOptions { ReadOnly = true } })
        {
            using var store = SqliteStore.Open(db, options);
            var ex = Assert.ThrowsAny<C1zFormatException>(() => store.Grants(sync).ToList());
            Assert.Contains("v1_grants row 2", ex.Message, StringComparison.Ordinal);
            Assert.Contains("UTF-8", ex.Message, StringComparison.Ordinal);
        }
    }
}
