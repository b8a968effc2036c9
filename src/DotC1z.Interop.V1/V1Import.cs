using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Interop.V1;

/// <summary>Options of <see cref="V1Import.Import"/>.</summary>
public sealed record V1ImportOptions
{
    /// <summary>Decompression limits.</summary>
    public V1ReadOptions Read { get; init; } = new();
}

/// <summary>What an import copied.</summary>
/// <param name="Syncs">Per sync: its id and record counts.</param>
public sealed record V1ImportSummary(IReadOnlyList<(SyncId Sync, RecordCounts Counts)> Syncs)
{
    /// <summary>All records over all syncs.</summary>
    public long TotalRecords => Syncs.Sum(s => s.Counts.Total);
}

/// <summary>Imports legacy v1 files into any store.</summary>
public static class V1Import
{
    /// <summary>
    /// Copies every sync of a v1 file (runs, resource types, resources, entitlements, grants, assets)
    /// into <paramref name="target"/>, keeping sync ids. Each sync is loaded through the target's bulk
    /// path, so a failed sync leaves no records of its own behind.
    /// </summary>
    /// <param name="v1Path">The v1 file.</param>
    /// <param name="target">The store to fill.</param>
    /// <param name="options">Options.</param>
    /// <param name="cancellationToken">Stops the import.</param>
    /// <returns>What was copied.</returns>
    /// <exception cref="V1FormatException">The file is not a readable v1 file, or a row does not decode.</exception>
    /// <exception cref="C1zIOException">The file cannot be read or the target written.</exception>
    public static V1ImportSummary Import(string v1Path, IC1zStore target, V1ImportOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        options ??= new V1ImportOptions();
        using var source = V1File.OpenReadOnly(v1Path, options.Read);
        var result = new List<(SyncId, RecordCounts)>();
        try
        {
            foreach (var run in source.ListSyncRuns())
            {
                if (!SyncId.TryParse(run.SyncId, out var sync))
                {
                    throw new V1FormatException($"{v1Path}: v1_sync_runs has an invalid sync id \"{run.SyncId}\"", v1Path);
                }

                result.Add((sync, StoreCopy.CopySync(source, sync, target, sync, cancellationToken)));
            }
        }
        catch (C1zException ex) when (ex is C1zCorruptionException || (ex is C1zFormatException && ex is not V1FormatException && ex.Path == v1Path))
        {
            // Rows that do not decode, ids that are not UTF-8, values over the size limit, interrupted
            // statements: the engine already names the user's file, the table and the row.
            throw new V1FormatException(ex.Message, v1Path, ex);
        }

        return new V1ImportSummary(result);
    }
}
