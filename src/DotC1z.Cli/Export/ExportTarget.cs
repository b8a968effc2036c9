using DotC1z.Storage;

namespace DotC1z.Cli.Export;

/// <summary>
/// The output of a CSV (directory) or XLSX (file) export, with the guarantees of every writing command
/// (docs/CLI.md): never overwrite without --force, build beside the target in a private scratch directory,
/// move it in atomically only after success (an atomic exchange when replacing), and leave nothing behind on
/// failure. <see cref="StorePaths.PrepareOutput"/> and <see cref="StorePaths.CreateOutput"/> give these for stores
/// and <c>.c1z</c> files; these outputs are neither, so this class applies the same rules with the same
/// primitives (<see cref="OutputPaths"/>, <see cref="PrivateDirectory"/>).
/// </summary>
internal sealed class ExportTarget : IDisposable
{
    /// <summary>Scratch prefix: one the leftover sweep (<c>c1z gc</c>) already knows.</summary>
    private const string ScratchPrefix = ".c1z-export-";

    private readonly string _target;
    private readonly string _scratch;
    private readonly bool _directory;
    private readonly bool _force;

    private ExportTarget(string target, string scratch, bool directory, bool force)
    {
        _target = target;
        _scratch = scratch;
        _directory = directory;
        _force = force;
        WorkPath = Path.Combine(scratch, "out");
        if (directory)
        {
            Directory.CreateDirectory(WorkPath);
        }
    }

    /// <summary>Where to write: a file (XLSX) or a directory (CSV) inside the scratch directory.</summary>
    public string WorkPath { get; }

    /// <summary>
    /// Checks before any work that the output may be written: not an input and not holding one, absent or (with
    /// --force) replaceable: a regular file for a file output, a directory holding only the files a CSV export
    /// writes for a directory output.
    /// </summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output may be replaced.</param>
    /// <param name="directory">A directory output (CSV) rather than a file (XLSX).</param>
    /// <param name="inputs">The input paths.</param>
    /// <exception cref="CliException">The output may not be written.</exception>
    public static void Prepare(string path, bool force, bool directory, params string[] inputs)
    {
        if (StorePaths.MayReplace(path, force, inputs, fileInputMayBeOutput: false, out string output))
        {
            CheckReplaceable(output, path, directory);
        }
    }

    /// <summary>Creates the scratch directory beside <paramref name="path"/>.</summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output is replaced at commit.</param>
    /// <param name="directory">A directory output (CSV) rather than a file (XLSX).</param>
    /// <returns>The target.</returns>
    public static ExportTarget Create(string path, bool force, bool directory)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        string parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        PrivateDirectory.SweepDeadOwners(parent, [ScratchPrefix]);
        return new ExportTarget(full, PrivateDirectory.CreateUnique(parent, ScratchPrefix), directory, force);
    }

    /// <summary>Moves the finished output into place: exclusively, or with --force by an atomic exchange.</summary>
    public void Commit()
    {
        if (!_force || !Path.Exists(_target))
        {
            OutputPaths.MoveNoReplace(WorkPath, _target);
        }
        else
        {
            CheckReplaceable(_target, _target, _directory);
            OutputPaths.Exchange(WorkPath, _target);
        }

        Dispose(); // WorkPath now holds the replaced output, if any: it goes with the scratch directory
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            if (Directory.Exists(_scratch))
            {
                Directory.Delete(_scratch, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort; the scratch name carries our pid, so a later run's sweep removes it.
        }
    }

    private static void CheckReplaceable(string output, string shown, bool directory)
    {
        if (!directory)
        {
            if (Directory.Exists(output))
            {
                throw new CliException($"refusing to replace {shown}: it is a directory, not a file");
            }

            return;
        }

        if (!Directory.Exists(output))
        {
            throw new CliException($"refusing to replace the file {shown} with a directory of CSV files");
        }

        foreach (string entry in Directory.EnumerateFileSystemEntries(output))
        {
            if (!File.Exists(entry) || !ExportTables.CsvFileNames.Contains(Path.GetFileName(entry)))
            {
                throw new CliException($"refusing to replace {shown}: it holds {Path.GetFileName(entry)}, which a CSV export does not write");
            }
        }
    }
}
