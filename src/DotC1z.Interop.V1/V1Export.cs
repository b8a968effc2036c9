using DotC1z.Engine.Sqlite;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace DotC1z.Interop.V1;

/// <summary>Options of <see cref="V1Export.Export"/>.</summary>
public sealed record V1ExportOptions
{
    /// <summary>zstd level.</summary>
    public int CompressionLevel { get; init; } = 3;

    /// <summary>Replace an existing output file.</summary>
    public bool Overwrite { get; init; }
}

/// <summary>Writes a store as a legacy v1 file that baton's reader accepts.</summary>
public static class V1Export
{
    /// <summary>
    /// Writes every sync of <paramref name="source"/> into a fresh SQLite database with baton's
    /// current schema, compresses it into one zstd frame (checksum on) behind the <c>C1ZF\0</c> magic,
    /// and atomically renames the result into place (fsynced first). A failure leaves no output.
    /// </summary>
    /// <param name="source">The store.</param>
    /// <param name="outputPath">The v1 file to write.</param>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Stops the export; nothing is written then.</param>
    /// <returns>Per-sync counts written.</returns>
    /// <exception cref="C1zOutputExistsException">The output exists and <see cref="V1ExportOptions.Overwrite"/> is off.</exception>
    /// <exception cref="C1zIOException">Writing failed.</exception>
    public static IReadOnlyList<(SyncId Sync, RecordCounts Counts)> Export(IC1zStore source, string outputPath, V1ExportOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(outputPath);
        options ??= new V1ExportOptions();
        string output = Path.GetFullPath(outputPath);
        if (File.Exists(output) && !options.Overwrite)
        {
            throw new C1zOutputExistsException(output);
        }

        string dir = Path.GetDirectoryName(output)!;
        PrivateDirectory.SweepDeadOwners(dir, [".c1z-export-"]);
        string work = PrivateDirectory.CreateUnique(dir, ".c1z-export-");
        try
        {
            string db = Path.Combine(work, "db.sqlite");
            var counts = new List<(SyncId, RecordCounts)>();
            using (var target = SqliteStore.Open(db, new SqliteStoreOptions { Durable = false }))
            {
                foreach (var run in source.ListSyncRuns())
                {
                    var sync = SyncId.Parse(run.SyncId);
                    counts.Add((sync, StoreCopy.CopySync(source, sync, target, sync, cancellationToken)));
                }
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            CheckpointWal(db);
            string temp = Path.Combine(work, "out.c1z");
            using (var input = new FileStream(db, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                file.Write(V1File.Magic);
                using (var zstd = new CompressionStream(file, options.CompressionLevel, leaveOpen: true))
                {
                    zstd.SetParameter(ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
                    zstd.SetPledgedSrcSize((ulong)input.Length);
                    input.CopyTo(zstd);
                }

                file.Flush(flushToDisk: true);
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (options.Overwrite)
            {
                File.Move(temp, output, overwrite: true);
            }
            else
            {
                // Exclusive: of two exports racing to one path, exactly one wins.
                OutputPaths.MoveNoReplace(temp, output);
            }

            return counts;
        }
        catch (IOException ex)
        {
            throw C1zErrors.IO($"cannot write {output}: {ex.Message}", output, ex);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (C1zErrors.IsDiskFull(ex))
        {
            throw C1zErrors.IO($"cannot write {output}: {ex.Message}", output, ex);
        }
        finally
        {
            V1File.TryDeleteDirectory(work);
        }
    }

    // Folds the WAL back into the main file so the exported database is one self-contained file.
    private static void CheckpointWal(string db)
    {
        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "pragma wal_checkpoint(TRUNCATE); pragma journal_mode=DELETE;";
        cmd.ExecuteNonQuery();
    }
}
