using System.Diagnostics;
using DotC1z.Connector.V2;
using DotC1z.Engine.Sqlite;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Tests.Shared;
using Google.Protobuf;
using Microsoft.Data.Sqlite;

namespace DotC1z.Interop.V1.Tests;

/// <summary>
/// Hostile v1 files built in the test (docs/RELIABILITY.md "Hostile v1 (SQLite) inputs"): the SQLite
/// database inside is data, never code; ids are never altered; nothing may follow the zstd frame; and
/// errors name the user's file, not the private temporary copy.
/// </summary>
public sealed class HostileV1Tests : IDisposable
{
    private static readonly string Sync = SyncId.NewId(new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero), new Random(7)).ToString();

    private readonly TempDir _dir = new("v1-hostile");
    private readonly string _tempRoot;

    public HostileV1Tests()
    {
        _tempRoot = _dir.Combine("scratch");
        Directory.CreateDirectory(_tempRoot);
    }

    public void Dispose() => _dir.Dispose();

    private V1ReadOptions Read => new() { TempDirectory = _tempRoot };

    private static void Exec(SqliteConnection c, string sql, params (string Name, object Value)[] args)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in args)
        {
            cmd.Parameters.AddWithValue(n, v);
        }

        cmd.ExecuteNonQuery();
    }

    /// <summary>Baton's schema, one finished sync, one resource type, one entitlement and three grants; <paramref name="edit"/> then changes it.</summary>
    private string Build(string name, Action<SqliteConnection>? edit = null, byte[]? trailing = null)
    {
        string db = _dir.Combine(name + ".sqlite");
        using (var c = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            c.Open();
            Exec(c, V1Schema.CreateAll);
            Exec(c, "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token) values ($s, '2025-01-02 03:04:05', '2025-01-02 03:05:00', '')", ("$s", Sync));
            Exec(c, "insert into v1_resource_types (external_id, data, sync_id, discovered_at) values ('group', $d, $s, '2025-01-02 03:04:05')",
                ("$d", new ResourceType { Id = "group", DisplayName = "Group" }.ToByteArray()), ("$s", Sync));
            Exec(c, "insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) values ('group', 'eng', 'group:eng:member', $d, $s, '2025-01-02 03:04:05')",
                ("$d", new Entitlement { Id = "group:eng:member", Resource = new Resource { Id = new ResourceId { ResourceType = "group", Resource = "eng" } } }.ToByteArray()), ("$s", Sync));
            foreach (string p in new[] { "alice", "bob", "carol" })
            {
                AddGrant(c, System.Text.Encoding.UTF8.GetBytes("group:eng:member:user:" + p), p);
            }

            edit?.Invoke(c);
        }

        string file = _dir.Combine(name + ".c1z");
        byte[] payload = new ZstdSharp.Compressor().Wrap(File.ReadAllBytes(db)).ToArray();
        File.WriteAllBytes(file, [.. V1File.Magic, .. payload, .. trailing ?? []]);
        return file;
    }

    /// <summary>A grant whose <c>external_id</c> column holds exactly <paramref name="externalId"/> as TEXT (invalid UTF-8 included).</summary>
    private static void AddGrant(SqliteConnection c, byte[] externalId, string principal)
    {
        var blob = new Grant
        {
            Id = "grant-" + principal,
            Entitlement = new Entitlement { Id = "group:eng:member", Resource = new Resource { Id = new ResourceId { ResourceType = "group", Resource = "eng" } } },
            Principal = new Resource { Id = new ResourceId { ResourceType = "user", Resource = principal } },
        }.ToByteArray();
        Exec(c, """
            insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, data, sync_id, discovered_at)
            values ('group', 'eng', 'group:eng:member', 'user', $p, cast($ext as text), $d, $s, '2025-01-02 03:04:05')
            """, ("$p", principal), ("$ext", externalId), ("$d", blob), ("$s", Sync));
    }

    /// <summary>Runs <paramref name="action"/> on a worker and requires it to finish within <paramref name="seconds"/> (a runaway never blocks the test run).</summary>
    private static Exception? Within(double seconds, Action action)
    {
        var task = Task.Run(() => Record.Exception(action));
        Assert.True(task.Wait(TimeSpan.FromSeconds(seconds)), $"did not finish within {seconds} s");
        return task.Result;
    }

    private void AssertTyped<T>(Exception? ex, string file, params string[] mentions)
        where T : Exception
    {
        Assert.True(ex is T, $"expected {typeof(T).Name}, got {ex?.GetType().Name}: {ex?.Message}");
        Assert.Contains(file, ex!.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_tempRoot, ex.Message, StringComparison.Ordinal);
        Assert.Equal(file, ((C1zException)ex).Path);
        foreach (string m in mentions)
        {
            Assert.Contains(m, ex.Message, StringComparison.Ordinal);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(_tempRoot));
    }

    private const string RecursiveRows = "with recursive r(n) as (select 1 union all select n + 1 from r) select n as id, printf('%020d', n) as external_id, 'x' as content_type, zeroblob(1000) as data";

    [Fact]
    public void A_recursive_cte_view_named_like_an_expected_table_is_refused_fast()
    {
        string file = Build("view-assets", c =>
        {
            Exec(c, "drop table v1_assets");
            Exec(c, $"create view V1_ASSETS as {RecursiveRows}, '{Sync}' as sync_id, '' as discovered_at from r");
            Exec(c, "drop table v1_connector_sessions");
            Exec(c, $"create view v1_connector_sessions as {RecursiveRows}, '{Sync}' as sync_id, 'k' as key, x'00' as value from r");
        });
        var sw = Stopwatch.StartNew();
        var ex = Within(20, () => V1Import.Import(file, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read }));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
        AssertTyped<V1FormatException>(ex, file, "V1_ASSETS", "view");
        AssertTyped<V1FormatException>(Within(20, () => V1File.OpenReadOnly(file, Read).Dispose()), file, "view");
    }

    [Fact]
    public void A_view_shadowing_the_grants_table_is_refused_by_name()
    {
        string file = Build("view-grants", c =>
        {
            Exec(c, "alter table v1_grants rename to real_grants");
            Exec(c, $"create view v1_grants as select * from real_grants union all select * from (with recursive r(n) as (select 1 union all select n + 1 from r) select n, 'g', 'e', 'eid', 'user', 'u', printf('%d', n), null, 0, x'', '{Sync}', '' from r)");
        });
        AssertTyped<V1FormatException>(Within(20, () => V1Import.Import(file, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read })), file, "v1_grants", "view");
    }

    [Fact]
    public void A_virtual_table_or_generated_column_under_an_expected_name_is_refused()
    {
        string rtree = Build("virtual", c =>
        {
            Exec(c, "drop table v1_assets");
            Exec(c, "create virtual table v1_assets using rtree(id, minx, maxx)");
        });
        AssertTyped<V1FormatException>(Within(20, () => V1File.OpenReadOnly(rtree, Read).Dispose()), rtree, "v1_assets", "virtual table");

        string generated = Build("generated", c =>
        {
            Exec(c, "drop table v1_assets");
            Exec(c, "create table v1_assets (id integer primary key, external_id text not null, content_type text not null, data blob not null, sync_id text not null, discovered_at datetime not null, big blob generated always as (zeroblob(2000000000)) virtual)");
        });
        AssertTyped<V1FormatException>(Within(20, () => V1File.OpenReadOnly(generated, Read).Dispose()), generated, "v1_assets.big", "generated");
    }

    [Fact]
    public void Triggers_on_expected_tables_never_run_and_the_rows_import()
    {
        string file = Build("trigger", c =>
        {
            Exec(c, "create table log (n integer)");
            Exec(c, "create trigger t_grants after update on v1_grants begin insert into log values (1); end");
            Exec(c, "create trigger t_assets before delete on v1_assets begin select raise(abort, 'trigger ran'); end");
        });
        var store = new Equivalence.MemoryStore();
        var summary = V1Import.Import(file, store, new V1ImportOptions { Read = Read });
        Assert.Equal(3, summary.Syncs.Single().Counts.Grants);
        Assert.Equal(3, store.Count(summary.Syncs.Single().Sync).Grants);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_tempRoot));
    }

    [Fact]
    public void A_statement_past_the_query_budget_is_interrupted_as_a_typed_error()
    {
        // No index on (external_id, sync_id): listing resource types sorts every row before the first one.
        string file = Build("slow", c =>
        {
            Exec(c, "drop index idx_resource_types_external_sync_v1");
            Exec(c, "begin");
            for (int i = 0; i < 5000; i++)
            {
                Exec(c, "insert into v1_resource_types (external_id, data, sync_id, discovered_at) values ($e, x'', $s, '')", ("$e", $"rt-{i:D5}"), ("$s", Sync));
            }

            Exec(c, "commit");
        });
        var fast = new V1ReadOptions { TempDirectory = _tempRoot, QueryTimeout = TimeSpan.Zero };
        AssertTyped<V1FormatException>(Within(20, () => V1Import.Import(file, new Equivalence.MemoryStore(), new V1ImportOptions { Read = fast })), file, "time budget");

        // The same file within the default budget imports.
        Assert.Equal(5001, V1Import.Import(file, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read }).Syncs.Single().Counts.ResourceTypes);
    }

    [Fact]
    public void A_value_over_the_size_limit_is_refused()
    {
        string file = Build("big-asset", c =>
            Exec(c, "insert into v1_assets (external_id, content_type, data, sync_id, discovered_at) values ('icon', 'image/png', zeroblob(3000000), $s, '')", ("$s", Sync)));
        var small = new V1ReadOptions { TempDirectory = _tempRoot, MaxValueBytes = 1 << 20 };
        AssertTyped<V1FormatException>(Within(20, () => V1Import.Import(file, new Equivalence.MemoryStore(), new V1ImportOptions { Read = small })), file, "size limit");
        Assert.Equal(1, V1Import.Import(file, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read }).Syncs.Single().Counts.Assets);
    }

    [Fact]
    public void Invalid_utf8_grant_ids_are_refused_naming_the_row_never_merged()
    {
        string file = Build("utf8", c =>
        {
            Exec(c, "delete from v1_grants");
            AddGrant(c, [0x67, 0xFF], "alice");
            AddGrant(c, [0x67, 0xFE], "bob");
            AddGrant(c, [0x67, 0xC0, 0x80], "carol");
        });
        var store = new Equivalence.MemoryStore();
        var ex = Record.Exception(() => V1Import.Import(file, store, new V1ImportOptions { Read = Read }));
        AssertTyped<V1FormatException>(ex, file, "v1_grants row ", "external_id", "UTF-8");
        Assert.Empty(store.ListSyncRuns()); // nothing of the sync was loaded
    }

    [Fact]
    public void Invalid_utf8_in_resource_and_sync_id_columns_is_refused()
    {
        string resource = Build("utf8-resource", c =>
            Exec(c, "insert into v1_resources (resource_type_id, external_id, data, sync_id, discovered_at) values (cast(x'75FF' as text), cast(x'75FF3A31' as text), $d, $s, '')",
                ("$d", new Resource { Id = new ResourceId { ResourceType = "u", Resource = "1" } }.ToByteArray()), ("$s", Sync)));
        AssertTyped<V1FormatException>(Record.Exception(() => V1Import.Import(resource, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read })), resource, "v1_resources row 1", "resource_type_id");

        string run = Build("utf8-sync", c =>
            Exec(c, "insert into v1_sync_runs (sync_id, started_at, sync_token, parent_sync_id) values ('other', '2025-01-02 03:04:05', '', cast(x'67C080' as text))"));
        AssertTyped<V1FormatException>(Record.Exception(() => V1Import.Import(run, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read })), run, "v1_sync_runs row 2", "parent_sync_id");
    }

    [Fact]
    public void Valid_non_ascii_ids_including_a_real_replacement_character_import_every_row()
    {
        string[] ids = ["g\uFFFD", "g\u00FF", "g\u00FE", "g\u0100\U0001F600"];
        string file = Build("utf8-valid", c =>
        {
            Exec(c, "delete from v1_grants");
            foreach (string id in ids)
            {
                AddGrant(c, System.Text.Encoding.UTF8.GetBytes(id), "p" + id.Length + id[^1]);
            }
        });
        var store = new Equivalence.MemoryStore();
        var summary = V1Import.Import(file, store, new V1ImportOptions { Read = Read });
        var sync = summary.Syncs.Single().Sync;
        Assert.Equal(ids.Length, summary.Syncs.Single().Counts.Grants);
        Assert.Equal(ids.Order(StringComparer.Ordinal), store.Grants(sync).Select(g => g.ExternalId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Data_after_the_zstd_frame_is_refused()
    {
        string clean = Build("clean");
        Assert.Equal(3, V1Import.Import(clean, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read }).Syncs.Single().Counts.Grants);

        byte[] secondFrame = new ZstdSharp.Compressor().Wrap("second frame"u8.ToArray()).ToArray();
        byte[] skippable = [0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4];
        foreach (var (name, trailing) in new[] { ("second-frame", secondFrame), ("skippable", skippable), ("one-zero", new byte[] { 0 }) })
        {
            string file = Build("trailing-" + name, trailing: trailing);
            AssertTyped<V1FormatException>(Record.Exception(() => V1Import.Import(file, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read })), file, "trailing data");
            string db = _dir.Combine(name + "-decompressed.sqlite");
            Assert.IsType<V1FormatException>(Record.Exception(() => V1File.Decompress(file, db)));
            Assert.False(File.Exists(db));
        }
    }

    [Fact]
    public void Sqlite_errors_name_the_users_file_not_the_temporary_copy()
    {
        // A grant blob that is not protobuf: decoding fails while the store reads the temporary copy.
        string file = Build("bad-blob", c => Exec(c, "update v1_grants set data = x'FFFFFFFF' where id = 2"));
        var ex = Record.Exception(() => V1Import.Import(file, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read }));
        AssertTyped<V1FormatException>(ex, file, "v1_grants row 2");

        // An unknown collation in the schema: SQLite's own error, reported against the user's file.
        string collation = Build("collation", c =>
        {
            Exec(c, "drop table v1_assets");
            Exec(c, "create table v1_assets (id integer primary key, external_id text not null, content_type text not null, data blob not null, sync_id text not null, discovered_at datetime not null)");
            Exec(c, "pragma writable_schema=on");
            Exec(c, "update sqlite_master set sql = replace(sql, 'external_id text not null', 'external_id text collate hostile not null') where name = 'v1_assets'");
        });
        var sqliteError = Record.Exception(() => V1Import.Import(collation, new Equivalence.MemoryStore(), new V1ImportOptions { Read = Read }));
        AssertTyped<V1FormatException>(sqliteError, collation);

        // Through an open store too (verify, expand, diff and export read this way).
        using var store = V1File.OpenReadOnly(file, Read);
        var lazy = Record.Exception(() => store.Grants(SyncId.Parse(Sync)).ToList());
        Assert.True(lazy is C1zException, $"got {lazy?.GetType().Name}");
        Assert.Contains(file, lazy!.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_tempRoot, lazy.Message, StringComparison.Ordinal);
    }
}
