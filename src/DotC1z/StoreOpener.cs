using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Format;
using DotC1z.Interop.V1;
using DotC1z.Storage;

namespace DotC1z;

/// <summary>Opens any kind of input: a C1Z3 file (ours or baton's Pebble files), a legacy v1 file, or a RocksDB store directory.</summary>
public static class StoreOpener
{
    /// <summary>Opens <paramref name="path"/> by sniffing its magic (files) or as a store directory.</summary>
    /// <param name="path">The path.</param>
    /// <param name="readOnly">Open for reading only (legacy v1 and baton files are always read-only).</param>
    /// <returns>The store; the caller disposes it.</returns>
    /// <exception cref="C1zIOException">The path does not exist.</exception>
    /// <exception cref="C1zFormatException">The file is not a c1z file, or a v1 file was opened for writing.</exception>
    public static IC1zStore Open(string path, bool readOnly) => OpenWithKind(path, new C1zOpenOptions { ReadOnly = readOnly }).Store;

    /// <summary>Opens <paramref name="path"/> and says what it was.</summary>
    /// <param name="path">The path.</param>
    /// <param name="options">Options.</param>
    /// <returns>The store (the caller disposes it) and its kind.</returns>
    /// <exception cref="C1zIOException">The path does not exist.</exception>
    /// <exception cref="C1zFormatException">The file is not a c1z file, or a read-only kind was opened for writing.</exception>
    public static (IC1zStore Store, SnapshotKind Kind) OpenWithKind(string path, C1zOpenOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(options);
        if (Directory.Exists(path))
        {
            return (RocksStore.Open(path, options.StoreOptions(new RocksStoreOptions { ReadOnly = options.ReadOnly, CreateIfMissing = false })), SnapshotKind.StoreDirectory);
        }

        if (!File.Exists(path))
        {
            throw new C1zIOException($"no such file or directory: {path}", path);
        }

        // One handle from the sniff on: the file is read through it to the end, so it cannot be swapped for
        // another between the magic check and the reads.
        string full = Path.GetFullPath(path);
        var input = C1zErrors.OpenRead(full);
        Span<byte> header = stackalloc byte[5];
        int n;
        try
        {
            n = input.ReadAtLeast(header, 5, throwOnEndOfStream: false);
        }
        catch
        {
            input.Dispose();
            throw;
        }

        if (n == 5 && C1zEnvelope.HasMagic(header))
        {
            var store = C1zFile.Open(input, full, options, out bool baton);
            return (store, baton ? SnapshotKind.BatonPebble : SnapshotKind.C1z3);
        }

        using (input)
        {
            if (n == 5 && V1File.HasV1Magic(header))
            {
                if (!options.ReadOnly)
                {
                    throw new C1zArchiveException(ArchiveError.LegacyFile, path, "legacy v1 files open read-only; convert with 'c1z import'");
                }

                return (V1File.OpenReadOnly(input, path), SnapshotKind.LegacyV1);
            }
        }

        throw new C1zArchiveException(ArchiveError.InvalidMagic, path, "not a c1z file (unknown magic)");
    }

    /// <summary>Whether <paramref name="path"/> is a file that starts with the C1Z3 magic.</summary>
    /// <param name="path">A path.</param>
    /// <returns>True for a C1Z3 file (ours or baton's).</returns>
    public static bool IsC1z3File(string path)
    {
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            Span<byte> header = stackalloc byte[C1zEnvelope.MagicLength];
            return s.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) == header.Length && C1zEnvelope.HasMagic(header);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
