using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Tests.Shared;
using Microsoft.Data.Sqlite;

namespace DotC1z.Engine.Sqlite.Tests;

/// <summary>Runs alone: SQLite's heap is one per process, and other tests' connections would move it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SqliteHeapCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "sqlite-heap";
}

/// <summary><see cref="SqliteSharedMemory"/>: one heap budget for every SQLite connection of the process.</summary>
[Collection(SqliteHeapCollection.Name)]
public sealed class SqliteSharedMemoryTests : IDisposable
{
    private readonly TempDir _dir = new("sqlite-heap");

    public void Dispose()
    {
        SqliteSharedMemory.HeapBytes = SqliteSharedMemory.DefaultHeapBytes;
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    [Fact]
    public void The_budget_bounds_the_page_caches_of_all_pooled_connections_together()
    {
        string db = _dir.Combine("big.sqlite");
        SyncId sync;
        using (var store = SqliteStore.Open(db, new SqliteStoreOptions { Durable = false }))
        {
            Assert.Equal(SqliteSharedMemory.DefaultHeapBytes, SqliteSharedMemory.HeapBytes);
            sync = store.StartSync(SyncType.Full);
            using (var loader = store.BeginBulkLoad(sync))
            {
                for (int i = 0; i < 60_000; i++)
                {
                    loader.Add(StoreContractTests.Grant($"grant-{i:D6}-{new string('x', 120)}", $"ent-{i % 97}", "user", $"u{i}"));
                }

                loader.Complete();
            }

            store.EndSync(sync);
        }

        Assert.True(new FileInfo(db).Length > 24L << 20, $"the database has {new FileInfo(db).Length} bytes");
        long Used(long budget)
        {
            SqliteConnection.ClearAllPools();
            SqliteSharedMemory.HeapBytes = budget;
            using var store = SqliteStore.Open(db, new SqliteStoreOptions { ReadOnly = true });
            // Three scans open at once: each takes its own pooled connection, and each connection caches pages.
            using var a = store.Grants(sync).GetEnumerator();
            using var b = store.GrantsByEntitlement(sync, "ent-1").GetEnumerator();
            using var c = store.Grants(sync).GetEnumerator();
            long n = 0;
            for (bool any = true; any;)
            {
                any = false;
                foreach (var scan in (IEnumerator<GrantRecord>[])[a, b, c])
                {
                    if (scan.MoveNext())
                    {
                        n++;
                        any = true;
                    }
                }
            }

            Assert.Equal(120_000 + 619, n); // ent-1 holds grants 1, 98, 195, … below 60,000
            return SQLitePCL.raw.sqlite3_memory_used();
        }

        long unbounded = Used(0);
        long bounded = Used(8L << 20);
        Assert.True(unbounded > 32L << 20, $"without a budget SQLite held only {unbounded} bytes: the scans did not fill the caches");
        Assert.True(bounded < 20L << 20, $"with an 8 MiB budget SQLite held {bounded} bytes (without one: {unbounded})");
        Assert.Throws<ArgumentOutOfRangeException>(() => SqliteSharedMemory.HeapBytes = -1);
    }
}
