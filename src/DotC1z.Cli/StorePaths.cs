using DotC1z.Engine.Rocks;
using DotC1z.Storage;

namespace DotC1z.Cli;

/// <summary>Opens the three kinds of PATH the contract accepts and guards outputs.</summary>
public static class StorePaths
{
    /// <summary>
    /// Opens a C1Z3 file, a legacy v1 file (through the importer, read-only) or a RocksDB store directory.
    /// </summary>
    /// <param name="path">The path.</param>
    /// <param name="readOnly">Open for reading only.</param>
    /// <returns>The store; the caller disposes it.</returns>
    /// <exception cref="Errors.C1zException">The path does not exist or is not a c1z store.</exception>
    public static IC1zStore Open(string path, bool readOnly = true) => Format.StoreOpener.Open(path, readOnly);

    /// <summary>Whether an output path names a C1Z3 file (by extension) rather than a store directory.</summary>
    /// <param name="path">The output path.</param>
    /// <returns>True for <c>*.c1z</c>.</returns>
    public static bool IsFileOutput(string path) => path.EndsWith(".c1z", StringComparison.OrdinalIgnoreCase);

    /// <summary>Refuses an existing output unless forced; with force, removes it.</summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether to replace it.</param>
    /// <exception cref="CliException">It exists and <paramref name="force"/> is false.</exception>
    public static void PrepareOutput(string path, bool force)
    {
        bool exists = File.Exists(path) || Directory.Exists(path);
        if (!exists)
        {
            return;
        }

        if (!force)
        {
            throw new CliException($"output already exists: {path} (use --force to replace it)");
        }

        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// Creates a writable output store: a RocksDB directory, or for <c>*.c1z</c> a scratch store that is
    /// saved as a C1Z3 file when <see cref="OutputStore.Commit"/> is called. Without a commit nothing is left behind.
    /// </summary>
    /// <param name="path">The output path.</param>
    /// <param name="durability">Durability of the writes.</param>
    /// <returns>The output.</returns>
    public static OutputStore CreateOutput(string path, RocksDurability durability = RocksDurability.NoSync)
    {
        string full = Path.GetFullPath(path);
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        string scratch = PrivateDirectory.CreateUnique(parent, ".c1z-out-");
        var store = RocksStore.Open(Path.Combine(scratch, "db"), new RocksStoreOptions { Durability = durability });
        return new OutputStore(store, full, scratch, IsFileOutput(full));
    }
}

/// <summary>An output being written: a scratch RocksDB store moved or saved into place on commit.</summary>
public sealed class OutputStore(RocksStore store, string target, string scratch, bool asFile) : IDisposable
{
    private bool _committed;

    /// <summary>The store to write.</summary>
    public RocksStore Store => store;

    /// <summary>Makes the output appear at its path (atomically: a rename of the finished directory, or an atomic C1Z3 save).</summary>
    /// <param name="cancellationToken">Cancels the save.</param>
    public void Commit(CancellationToken cancellationToken = default)
    {
        if (asFile)
        {
            Format.C1zFile.Save(store, target, cancellationToken: cancellationToken);
            store.Dispose();
        }
        else
        {
            string dir = store.Directory;
            store.Dispose();
            Directory.Move(dir, target);
        }

        _committed = true;
        Dispose();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        store.Dispose();
        try
        {
            if (Directory.Exists(scratch))
            {
                Directory.Delete(scratch, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort; the scratch directory name marks it as ours.
        }

        _ = _committed;
    }
}
