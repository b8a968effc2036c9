using DotC1z.Engine.Rocks;
using DotC1z.Engine.Sqlite;
using DotC1z.Interop.V1;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Bench;

/// <summary>One engine under benchmark: how to create, reopen, checkpoint and round-trip its stores.</summary>
public abstract class BenchEngine : IDisposable
{
    /// <summary>Creates the engine's workspace.</summary>
    /// <param name="workDir">A private directory for this engine.</param>
    protected BenchEngine(string workDir)
    {
        WorkDir = workDir;
        Directory.CreateDirectory(workDir);
    }

    /// <summary>Engine name as printed (<c>rocks</c> or <c>sqlite</c>).</summary>
    public abstract string Name { get; }

    /// <summary>The workspace.</summary>
    public string WorkDir { get; }

    /// <summary>The store the read benchmarks use.</summary>
    public IC1zStore Store { get; protected set; } = null!;

    /// <summary>Creates the main store (empty).</summary>
    public abstract void CreateMain();

    /// <summary>Closes the main store and deletes it (between G1 repetitions).</summary>
    public abstract void DropMain();

    /// <summary>
    /// Closes the main store while the other engine is measured (untimed): an open store keeps its caches and
    /// connections, and one process runs both engines, so each figure would otherwise carry the other engine's
    /// memory. <see cref="Resume"/> reopens it. Nothing happens before the store exists or when it is closed already.
    /// </summary>
    public void Suspend()
    {
        if (Store is null || _suspended)
        {
            return;
        }

        Store.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _suspended = true;
    }

    /// <summary>Reopens the main store <see cref="Suspend"/> closed (untimed).</summary>
    public void Resume()
    {
        if (_suspended)
        {
            Store = OpenMain();
            _suspended = false;
        }
    }

    private bool _suspended;

    /// <summary>Opens the existing main store again.</summary>
    /// <returns>The store.</returns>
    protected abstract IC1zStore OpenMain();

    /// <summary>Opens a throwaway store in the workspace (for the untimed warm-up).</summary>
    /// <param name="name">A name unique within the workspace.</param>
    /// <returns>The store; the caller disposes it.</returns>
    protected abstract IC1zStore OpenScratch(string name);

    /// <summary>
    /// Untimed warm-up before G1: a small bulk load into a throwaway store, so G1 measures the write
    /// path and not the JIT compiling it (which is most of a 200k-grant run otherwise). Both engines
    /// get the same warm-up.
    /// </summary>
    /// <param name="grants">The (few) grants to load.</param>
    public void WarmUp(IEnumerable<Records.GrantRecord> grants)
    {
        ArgumentNullException.ThrowIfNull(grants);
        using (var scratch = OpenScratch("warmup"))
        {
            var sync = scratch.StartSync(Records.SyncType.Full);
            BenchRunner.BulkLoad(scratch, sync, grants);
            scratch.EndSync(sync);
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(WorkDir, "warmup*"))
        {
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
        }
    }

    /// <summary>G6: closes the main store, opens it cold and checkpoints it into a fresh directory (removed again).</summary>
    /// <param name="iteration">Iteration number (names the checkpoint).</param>
    public abstract void ReopenAndCheckpoint(int iteration);

    /// <summary>G9: saves the store to a file, opens the file and reads every grant of <paramref name="sync"/>.</summary>
    /// <param name="sync">The sync to read back.</param>
    /// <returns>Grants read.</returns>
    public abstract long SaveOpenRead(SyncId sync);

    /// <summary>Saves the main store as the engine's file: C1Z3 for rocks, a v1 file (zstd of the database) for SQLite.</summary>
    /// <param name="file">The file to write (replaced when it exists).</param>
    public abstract void SaveFile(string file);

    /// <summary>G10: makes <paramref name="count"/> independent copies of the main store (not timed).</summary>
    /// <param name="count">How many.</param>
    /// <returns>Their paths.</returns>
    public abstract IReadOnlyList<string> MakeCopies(int count);

    /// <summary>G10: opens one copy read-only.</summary>
    /// <param name="path">A copy.</param>
    /// <returns>The store.</returns>
    public abstract IC1zStore OpenCopy(string path);

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the store and removes the workspace.</summary>
    /// <param name="disposing">From <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (!_suspended)
            {
                Store?.Dispose();
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(WorkDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>The RocksDB engine, saved as C1Z3.</summary>
/// <param name="workDir">Workspace.</param>
public sealed class RocksBenchEngine(string workDir) : BenchEngine(workDir)
{
    private string MainDir => Path.Combine(WorkDir, "main");

    /// <inheritdoc/>
    public override string Name => "rocks";

    /// <inheritdoc/>
    public override void CreateMain() => Store = OpenMain();

    /// <inheritdoc/>
    protected override IC1zStore OpenMain() => RocksStore.Open(MainDir, new RocksStoreOptions { Durability = RocksDurability.Sync });

    /// <inheritdoc/>
    public override void DropMain()
    {
        Store.Dispose();
        Directory.Delete(MainDir, recursive: true);
    }

    /// <inheritdoc/>
    protected override IC1zStore OpenScratch(string name) => RocksStore.Open(Path.Combine(WorkDir, name), new RocksStoreOptions { Durability = RocksDurability.NoSync });

    /// <inheritdoc/>
    public override void ReopenAndCheckpoint(int iteration)
    {
        Store.Dispose();
        Store = OpenMain();
        string cp = Path.Combine(WorkDir, $"cp-{iteration}");
        ((RocksStore)Store).Checkpoint(cp);
        Directory.Delete(cp, recursive: true);
    }

    /// <inheritdoc/>
    public override long SaveOpenRead(SyncId sync)
    {
        string file = Path.Combine(WorkDir, "roundtrip.c1z");
        SaveFile(file);
        long rows = 0;
        using (var opened = C1zFile.Open(file, new C1zOpenOptions { ReadOnly = true, TempDirectory = WorkDir }))
        {
            rows = opened.Grants(sync).LongCount();
        }

        File.Delete(file);
        return rows;
    }

    /// <inheritdoc/>
    public override void SaveFile(string file) => C1zFile.Save((RocksStore)Store, file);

    /// <inheritdoc/>
    public override IReadOnlyList<string> MakeCopies(int count)
    {
        var paths = new List<string>();
        for (int i = 0; i < count; i++)
        {
            string p = Path.Combine(WorkDir, $"copy-{i}");
            ((RocksStore)Store).Checkpoint(p);
            paths.Add(p);
        }

        return paths;
    }

    /// <inheritdoc/>
    public override IC1zStore OpenCopy(string path) => RocksStore.Open(path, new RocksStoreOptions { ReadOnly = true });
}

/// <summary>The SQLite engine over baton's v1 schema, saved as a v1 file (zstd of the database).</summary>
/// <param name="workDir">Workspace.</param>
public sealed class SqliteBenchEngine(string workDir) : BenchEngine(workDir)
{
    private string MainDb => Path.Combine(WorkDir, "main.sqlite");

    /// <inheritdoc/>
    public override string Name => "sqlite";

    /// <inheritdoc/>
    public override void CreateMain() => Store = OpenMain();

    /// <inheritdoc/>
    protected override IC1zStore OpenMain() => SqliteStore.Open(MainDb);

    /// <inheritdoc/>
    public override void DropMain()
    {
        Store.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string suffix in (string[])["", "-wal", "-shm"])
        {
            File.Delete(MainDb + suffix);
        }
    }

    /// <inheritdoc/>
    protected override IC1zStore OpenScratch(string name) => SqliteStore.Open(Path.Combine(WorkDir, name + ".sqlite"));

    /// <inheritdoc/>
    public override void ReopenAndCheckpoint(int iteration)
    {
        Store.Dispose();
        Store = OpenMain();
        _ = Store.ListSyncRuns();

        // SQLite's checkpoint analogue: fold the WAL into the database, then copy the file.
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={MainDb}"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "pragma wal_checkpoint(PASSIVE)";
            cmd.ExecuteNonQuery();
        }

        string copy = Path.Combine(WorkDir, $"cp-{iteration}.sqlite");
        File.Copy(MainDb, copy);
        File.Delete(copy);
    }

    /// <inheritdoc/>
    public override long SaveOpenRead(SyncId sync)
    {
        string file = Path.Combine(WorkDir, "roundtrip-v1.c1z");
        SaveFile(file);
        long rows;
        using (var opened = V1File.OpenReadOnly(file, new V1ReadOptions { TempDirectory = WorkDir }))
        {
            rows = opened.Grants(sync).LongCount();
        }

        File.Delete(file);
        return rows;
    }

    /// <inheritdoc/>
    public override void SaveFile(string file) => V1Export.Export(Store, file, new V1ExportOptions { Overwrite = true });

    /// <inheritdoc/>
    public override IReadOnlyList<string> MakeCopies(int count)
    {
        Store.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var paths = new List<string>();
        for (int i = 0; i < count; i++)
        {
            string p = Path.Combine(WorkDir, $"copy-{i}.sqlite");
            File.Copy(MainDb, p);
            paths.Add(p);
        }

        Store = SqliteStore.Open(MainDb);
        return paths;
    }

    /// <inheritdoc/>
    public override IC1zStore OpenCopy(string path) => SqliteStore.Open(path, new SqliteStoreOptions { ReadOnly = true, CacheMiB = 2 });
}
