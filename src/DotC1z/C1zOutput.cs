using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Format;
using DotC1z.Storage;

namespace DotC1z;

/// <summary>
/// Safe outputs for every writer (the tool's commands and library callers alike): refuse an output that is an input,
/// never replace without permission, build beside the target and swap it in atomically only after success, honour the
/// store lock of a target directory (docs/RELIABILITY.md, --force).
/// </summary>
public static class C1zOutput
{
    /// <summary>
    /// The bulk-load chunk budget of outputs that whole-file operations (compact, diff, expand) stream into: 48 MiB,
    /// so inputs, output and save stay within about 300 MiB together. A load larger than the chunk spills sorted
    /// runs; that costs time (about 0.4 s of CPU per million grants), not memory.
    /// </summary>
    public const long StreamedChunkBytes = 48L << 20;

    /// <summary>Whether an output path names a C1Z3 file (by extension) rather than a store directory.</summary>
    /// <param name="path">The output path.</param>
    /// <returns>True for <c>*.c1z</c>.</returns>
    public static bool IsFileOutput(string path) => path.EndsWith(".c1z", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Checks, before any work starts, that <paramref name="path"/> may be written: absent, or present and
    /// <paramref name="force"/> given and replaceable (a regular file for a <c>*.c1z</c> output, a store
    /// directory not open in another process otherwise), and not one of <paramref name="inputs"/> in a way
    /// that replacing it would destroy an input still being read. Nothing is deleted here: a forced output
    /// is swapped in atomically only after the new one is complete (<see cref="OutputStore.Commit"/>).
    /// </summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output may be replaced.</param>
    /// <param name="inputs">The command's input paths.</param>
    /// <exception cref="C1zArgumentException">The output may not be written.</exception>
    /// <exception cref="Errors.C1zStoreInUseException">The output is a store another process has open.</exception>
    public static void PrepareOutput(string path, bool force, params string[] inputs)
    {
        if (MayReplace(path, force, inputs, fileInputMayBeOutput: true, out string output))
        {
            CheckReplaceable(output, path);
        }
    }

    /// <summary>
    /// The checks every output shares: a non-empty path that is not an input (a file input may be the output only
    /// where the command reads it completely before writing, <paramref name="fileInputMayBeOutput"/>) and does not
    /// contain one; absent, or present with <paramref name="force"/>.
    /// </summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output may be replaced.</param>
    /// <param name="inputs">The command's input paths.</param>
    /// <param name="fileInputMayBeOutput">Whether a file input may also be the output.</param>
    /// <param name="output">The canonical output path.</param>
    /// <returns>True when the output exists and may be replaced, once the caller has checked it is of a replaceable kind.</returns>
    /// <exception cref="C1zArgumentException">The output may not be written.</exception>
    /// <exception cref="C1zOutputExistsException">The output exists and <paramref name="force"/> is false.</exception>
    public static bool MayReplace(string path, bool force, string[] inputs, bool fileInputMayBeOutput, out string output)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new C1zArgumentException("the output path is empty");
        }

        output = OutputPaths.Canonical(path);
        foreach (string input in inputs)
        {
            string canonical = OutputPaths.Canonical(input);
            if (canonical == output && (!fileInputMayBeOutput || Directory.Exists(canonical)))
            {
                throw new C1zArgumentException($"the output {path} is also an input; write to another path");
            }

            if (canonical.StartsWith(output + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new C1zArgumentException($"the output {path} contains the input {input}; write to another path");
            }
        }

        if (!Path.Exists(output))
        {
            return false;
        }

        return force ? true : throw new C1zOutputExistsException(path);
    }

    /// <summary>Whether <paramref name="directory"/> is a RocksDB store directory (the only kind of directory --force replaces).</summary>
    private static bool IsStoreDirectory(string directory) => File.Exists(Path.Combine(directory, "CURRENT"));

    /// <summary>Checks that an existing output is of a kind that may be replaced (and, for a store, not open elsewhere).</summary>
    /// <param name="output">The canonical output path.</param>
    /// <param name="shown">The path as the user gave it, for messages.</param>
    /// <exception cref="C1zArgumentException">The output may not be replaced.</exception>
    /// <exception cref="C1zStoreInUseException">The output is a store another process has open.</exception>
    public static void CheckReplaceable(string output, string shown)
    {
        if (IsFileOutput(output))
        {
            if (Directory.Exists(output))
            {
                throw new C1zArgumentException($"refusing to replace {shown}: it is a directory, not a c1z file");
            }

            return;
        }

        if (!Directory.Exists(output))
        {
            throw new C1zArgumentException($"refusing to replace the file {shown} with a store directory (name a .c1z output to write a file)");
        }

        if (!IsStoreDirectory(output))
        {
            throw new C1zArgumentException($"refusing to replace {shown}: it is a directory but not a c1z store");
        }

        using var held = OutputPaths.LockStore(output);
    }

    /// <summary>
    /// Creates a writable output store: a RocksDB directory, or for <c>*.c1z</c> a scratch store that is
    /// saved as a C1Z3 file when <see cref="OutputStore.Commit"/> is called. Without a commit nothing is left behind.
    /// </summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output is replaced at commit (atomically); otherwise the commit fails if one appeared.</param>
    /// <param name="durability">Durability of the writes.</param>
    /// <param name="bulkChunkBytes">Memory budget of a bulk load's in-memory chunk (null: the engine's default, tuned for load speed).</param>
    /// <param name="blockCacheBytes">The output store's block cache (null: the engine's default).</param>
    /// <returns>The output.</returns>
    public static OutputStore CreateOutput(string path, bool force = false, RocksDurability durability = RocksDurability.NoSync, long? bulkChunkBytes = null, long? blockCacheBytes = null)
    {
        string full = Path.GetFullPath(path);
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        PrivateDirectory.SweepDeadOwners(parent, [".c1z-out-", ".c1z-export-"]);
        string scratch = PrivateDirectory.CreateUnique(parent, ".c1z-out-");
        var options = new RocksStoreOptions { Durability = durability };
        if (bulkChunkBytes is long budget)
        {
            options = options with { BulkChunkBytes = budget };
        }

        if (blockCacheBytes is long cache)
        {
            options = options with { BlockCacheBytes = cache };
        }

        var store = RocksStore.Open(Path.Combine(scratch, "db"), options);
        return new OutputStore(store, full, scratch, IsFileOutput(full), force);
    }

    /// <summary>Puts a finished store directory at <paramref name="target"/>: exclusively, or replacing a store (under its lock).</summary>
    internal static void PlaceDirectory(string finished, string target, bool force)
    {
        if (!force || !Path.Exists(target))
        {
            OutputPaths.MoveNoReplace(finished, target);
            return;
        }

        CheckReplaceable(target, target);
        using (OutputPaths.LockStore(target))
        {
            OutputPaths.Exchange(finished, target);
        }

        // `finished` now holds the replaced store.
        Directory.Delete(finished, recursive: true);
    }
}

/// <summary>An output being written: a scratch RocksDB store moved or saved into place on commit.</summary>
public sealed class OutputStore(RocksStore store, string target, string scratch, bool asFile, bool replace) : IDisposable
{
    private bool _committed;

    /// <summary>The store to write.</summary>
    public RocksStore Store => store;

    /// <summary>
    /// Makes the output appear at its path atomically: an exclusive move of the finished directory or C1Z3
    /// file, or with replacement an atomic exchange (directories, under the old store's lock) or rename (files).
    /// </summary>
    /// <param name="cancellationToken">Cancels the save.</param>
    public void Commit(CancellationToken cancellationToken = default)
    {
        if (asFile)
        {
            C1zFile.Save(store, target, new C1zSaveOptions { ReplaceExisting = replace }, cancellationToken);
            store.Dispose();
        }
        else
        {
            string dir = store.Directory;
            store.Dispose();
            C1zOutput.PlaceDirectory(dir, target, replace);
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
