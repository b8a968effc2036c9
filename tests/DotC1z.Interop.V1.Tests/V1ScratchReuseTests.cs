using System.Collections;
using System.Reflection;
using DotC1z.Engine.Sqlite;
using DotC1z.Tests.Shared;
using Microsoft.Data.Sqlite;

namespace DotC1z.Interop.V1.Tests;

/// <summary>
/// A process that opens many v1 files must not leave one Microsoft.Data.Sqlite pool group per file behind: the
/// library's pruning removes retired groups with a quadratic loop under the lock every new connection needs, so
/// tens of thousands of them stalled every SQLite open for seconds about five minutes into a v1 fuzz campaign
/// (docs/RELIABILITY.md, "Coverage-guided fuzzing"). Fix: the private scratch directory names, and so the
/// connection strings, are reused (ScratchNames).
/// </summary>
public sealed class V1ScratchReuseTests : IDisposable
{
    private readonly TempDir _dir = new("v1-scratch-reuse");
    private readonly string _tempRoot;

    public V1ScratchReuseTests()
    {
        _tempRoot = _dir.Combine("scratch");
        Directory.CreateDirectory(_tempRoot);
    }

    public void Dispose() => _dir.Dispose();

    private string V1(string name, byte[] database)
    {
        string file = _dir.Combine(name);
        File.WriteAllBytes(file, [.. V1File.Magic, .. new ZstdSharp.Compressor().Wrap(database).ToArray()]);
        return file;
    }

    /// <summary>The connection strings Microsoft.Data.Sqlite keeps a pool group for that name a path under <paramref name="root"/>.</summary>
    private static List<string> PoolGroupsUnder(string root)
    {
        var factoryType = typeof(SqliteConnection).Assembly.GetType("Microsoft.Data.Sqlite.SqliteConnectionFactory");
        object? factory = factoryType?.GetField("Instance", BindingFlags.Static | BindingFlags.Public)?.GetValue(null);
        var groupsField = factoryType?.GetField("_poolGroups", BindingFlags.Instance | BindingFlags.NonPublic);
        var lockField = factoryType?.GetField("_lock", BindingFlags.Instance | BindingFlags.NonPublic);
        Assert.True(
            factory is not null && groupsField is not null && lockField?.GetValue(factory) is ReaderWriterLockSlim,
            "Microsoft.Data.Sqlite's connection factory changed (SqliteConnectionFactory.Instance._poolGroups/_lock): re-check whether it still keeps a pool group per connection string (docs/RELIABILITY.md, Coverage-guided fuzzing)");
        var gate = (ReaderWriterLockSlim)lockField!.GetValue(factory)!;
        gate.EnterReadLock();
        try
        {
            return ((IDictionary)groupsField!.GetValue(factory)!).Keys.Cast<string>().Where(k => k.Contains(root, StringComparison.Ordinal)).ToList();
        }
        finally
        {
            gate.ExitReadLock();
        }
    }

    [Fact]
    public void Opening_many_v1_files_one_after_another_keeps_one_scratch_name_and_one_sqlite_pool_group()
    {
        string dbPath = _dir.Combine("good.sqlite");
        using (var c = new SqliteConnection($"Data Source={dbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = V1Schema.CreateAll;
            cmd.ExecuteNonQuery();
        }

        string good = V1(dbPath + ".c1z", File.ReadAllBytes(dbPath));
        string notADatabase = V1("garbage.c1z", [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 31))]);
        string noTables = V1("empty-schema.c1z", File.ReadAllBytes(dbPath).AsSpan(0, 512).ToArray());
        var read = new V1ReadOptions { TempDirectory = _tempRoot };
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < 150; i++)
        {
            using (var store = V1File.OpenReadOnly(good, read))
            {
                Assert.Empty(store.ListSyncRuns());
                names.UnionWith(Directory.EnumerateDirectories(_tempRoot).Select(Path.GetFileName)!);
            }

            Assert.IsType<V1FormatException>(Record.Exception(() => V1File.OpenReadOnly(notADatabase, read).Dispose()), exactMatch: false);
            Assert.IsType<V1FormatException>(Record.Exception(() => V1File.OpenReadOnly(noTables, read).Dispose()), exactMatch: false);
            Assert.Empty(Directory.EnumerateFileSystemEntries(_tempRoot));
        }

        if (OperatingSystem.IsLinux())
        {
            // Before the fix: 150 names and 450 pool groups (one per open, kept until pruned minutes later).
            Assert.Single(names);
            Assert.Single(PoolGroupsUnder(_tempRoot));
        }
    }

    [Fact]
    public void A_reused_name_that_someone_else_created_meanwhile_is_never_adopted()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        string dbPath = _dir.Combine("good.sqlite");
        using (var c = new SqliteConnection($"Data Source={dbPath};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = V1Schema.CreateAll;
            cmd.ExecuteNonQuery();
        }

        string good = V1("good.c1z", File.ReadAllBytes(dbPath));
        var read = new V1ReadOptions { TempDirectory = _tempRoot };
        string first;
        using (V1File.OpenReadOnly(good, read))
        {
            first = Assert.Single(Directory.EnumerateDirectories(_tempRoot));
        }

        // Another party takes the freed name (in a shared temp directory it could have seen it listed).
        Directory.CreateDirectory(first);
        File.WriteAllText(Path.Combine(first, "planted"), "x");
        using (V1File.OpenReadOnly(good, read))
        {
            var now = Directory.EnumerateDirectories(_tempRoot).ToList();
            Assert.Equal(2, now.Count);
            Assert.Equal(["planted"], Directory.EnumerateFileSystemEntries(first).Select(Path.GetFileName));
        }

        Assert.Equal([first], Directory.EnumerateDirectories(_tempRoot));
    }
}
