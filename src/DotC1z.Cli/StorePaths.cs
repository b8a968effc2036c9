using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Storage;

namespace DotC1z.Cli;

/// <summary>
/// The tool's view of paths: opening any input kind (<see cref="StoreOpener"/>) and guarding outputs
/// (<see cref="C1zOutput"/>, the library's safe-output rules). The library reports a refused output as
/// <see cref="C1zArgumentException"/>; here it becomes a <see cref="CliException"/> so the error line reads
/// exactly as the message says, without an input name in front.
/// </summary>
public static class StorePaths
{
    /// <summary>Opens a C1Z3 file (ours or baton's), a legacy v1 file, or a store directory.</summary>
    /// <param name="path">The path.</param>
    /// <param name="readOnly">Open read-only.</param>
    /// <returns>The store.</returns>
    public static IC1zStore Open(string path, bool readOnly = true) => StoreOpener.Open(path, readOnly);

    /// <summary>Opens an input that a command streams whole (diff, compact): read-only, with a small block cache.</summary>
    /// <param name="path">The path.</param>
    /// <returns>The store.</returns>
    public static IC1zStore OpenStreamed(string path) => StoreOpener.OpenWithKind(path, new C1zOpenOptions { ReadOnly = true, BlockCacheBytes = StreamedBlockCacheBytes }).Store;

    /// <summary>Whether an output path names a C1Z3 file rather than a store directory.</summary>
    /// <param name="path">The output path.</param>
    /// <returns>True for <c>*.c1z</c>.</returns>
    public static bool IsFileOutput(string path) => C1zOutput.IsFileOutput(path);

    /// <summary><see cref="C1zOutput.PrepareOutput"/>, with the tool's error type.</summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output may be replaced.</param>
    /// <param name="inputs">The command's input paths.</param>
    /// <exception cref="CliException">The output may not be written.</exception>
    public static void PrepareOutput(string path, bool force, params string[] inputs) =>
        Refusal(() => C1zOutput.PrepareOutput(path, force, inputs));

    /// <summary><see cref="C1zOutput.MayReplace"/>, with the tool's error type.</summary>
    internal static bool MayReplace(string path, bool force, string[] inputs, bool fileInputMayBeOutput, out string output)
    {
        string canonical = string.Empty;
        bool replace = false;
        Refusal(() => replace = C1zOutput.MayReplace(path, force, inputs, fileInputMayBeOutput, out canonical));
        output = canonical;
        return replace;
    }

    /// <summary><see cref="C1zOutput.CreateOutput"/>.</summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output may be replaced at commit.</param>
    /// <param name="durability">The scratch store's durability.</param>
    /// <returns>The output store.</returns>
    public static OutputStore CreateOutput(string path, bool force = false, RocksDurability durability = RocksDurability.NoSync) =>
        C1zOutput.CreateOutput(path, force, durability);

    /// <summary>
    /// An output for commands that stream whole snapshots into it while reading several inputs (compact, diff, expand): a
    /// smaller bulk-load chunk and block cache, so inputs, output and save stay under the 300 MiB the tool promises.
    /// </summary>
    /// <param name="path">The output path.</param>
    /// <param name="force">Whether an existing output may be replaced at commit.</param>
    /// <returns>The output store.</returns>
    public static OutputStore CreateStreamedOutput(string path, bool force) =>
        C1zOutput.CreateOutput(path, force, RocksDurability.NoSync, bulkChunkBytes: C1zOutput.StreamedChunkBytes, blockCacheBytes: StreamedBlockCacheBytes);

    // Whole-snapshot streams read each block once: a cache only has to hold the blocks in flight.
    private const long StreamedBlockCacheBytes = 8L << 20;


    private static void Refusal(Action check)
    {
        try
        {
            check();
        }
        catch (C1zArgumentException ex)
        {
            throw new CliException(ex.Message);
        }
    }
}
