using DotC1z.Engine.Sqlite;
using DotC1z.Errors;
using DotC1z.Storage;
using ZstdSharp.Unsafe;

namespace DotC1z.Interop.V1;

/// <summary>Limits applied when decompressing an untrusted v1 file.</summary>
public sealed record V1ReadOptions
{
    /// <summary>Largest decoded database accepted (default 10 GiB or 100× the file size, whichever is larger, like baton).</summary>
    public long? MaxDecodedBytes { get; init; }

    /// <summary>Largest zstd window accepted, as a log2 (27 = 128 MiB, baton's default).</summary>
    public int MaxWindowLog { get; init; } = 27;

    /// <summary>Directory for the private temporary database (default: the system temp directory).</summary>
    public string? TempDirectory { get; init; }

    /// <summary>
    /// The longest one SQLite statement over the (untrusted) database may run without producing its next
    /// row; past it the statement is interrupted and the file refused with a <see cref="V1FormatException"/>.
    /// </summary>
    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The largest single value (blob or text) or row accepted from the database; larger ones are refused.</summary>
    public int MaxValueBytes { get; init; } = 64 << 20;
}

/// <summary>A v1 file is not readable: wrong magic, bad zstd frame, limits exceeded, or a database that is not baton's.</summary>
public sealed class V1FormatException : C1zFormatException
{
    /// <summary>Creates the error.</summary>
    /// <param name="message">What is wrong, naming the file.</param>
    /// <param name="path">The file.</param>
    /// <param name="inner">The cause.</param>
    public V1FormatException(string message, string path, Exception? inner = null)
        : base(message, path, inner)
    {
    }
}

/// <summary>
/// Baton's legacy v1 container (docs/INTEROP-V1.md §1): the 5 bytes <c>C1ZF\0</c>, then one zstd
/// frame holding a whole SQLite database.
/// </summary>
public static class V1File
{
    /// <summary>Length of the magic.</summary>
    public const int MagicLength = 5;

    /// <summary>The magic bytes <c>C1ZF\0</c>.</summary>
    public static ReadOnlySpan<byte> Magic => "C1ZF\0"u8;

    /// <summary>Whether <paramref name="header"/> starts with the v1 magic.</summary>
    /// <param name="header">The first bytes of a file.</param>
    /// <returns>Whether it is a v1 file.</returns>
    public static bool HasV1Magic(ReadOnlySpan<byte> header) => header.StartsWith(Magic);

    /// <summary>Whether the file at <paramref name="path"/> starts with the v1 magic.</summary>
    /// <param name="path">A file.</param>
    /// <returns>Whether it is a v1 file.</returns>
    public static bool IsV1File(string path)
    {
        Span<byte> header = stackalloc byte[MagicLength];
        using var s = File.OpenRead(path);
        return s.ReadAtLeast(header, MagicLength, throwOnEndOfStream: false) == MagicLength && HasV1Magic(header);
    }

    /// <summary>
    /// Decompresses the database of a v1 file into <paramref name="databasePath"/> (created new), under the
    /// decoded-size and window limits, with the zstd frame checksum verified and nothing after the frame.
    /// </summary>
    /// <param name="path">The v1 file.</param>
    /// <param name="databasePath">Where the SQLite file is written; removed again on failure.</param>
    /// <param name="options">Limits.</param>
    /// <param name="cancellationToken">Stops the copy.</param>
    /// <exception cref="V1FormatException">Wrong magic, a damaged or truncated frame, trailing data, or a limit exceeded.</exception>
    /// <exception cref="C1zIOException">The file cannot be read or the database written.</exception>
    public static void Decompress(string path, string databasePath, V1ReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new V1ReadOptions();
        using var input = C1zErrors.OpenRead(path, 1);
        Decompress(input, path, databasePath, options, cancellationToken);
    }

    /// <summary>
    /// <see cref="Decompress(string, string, V1ReadOptions?, CancellationToken)"/> from an open file, read from its start
    /// (so a caller that sniffed the magic reads the very same file).
    /// </summary>
    /// <param name="input">The open v1 file.</param>
    /// <param name="path">Its path, for messages.</param>
    /// <param name="databasePath">Where the SQLite file is written; removed again on failure.</param>
    /// <param name="options">Limits.</param>
    /// <param name="cancellationToken">Stops the copy.</param>
    /// <exception cref="V1FormatException">Wrong magic, a damaged or truncated frame, trailing data, or a limit exceeded.</exception>
    /// <exception cref="C1zIOException">The file cannot be read or the database written.</exception>
    public static void Decompress(FileStream input, string path, string databasePath, V1ReadOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        try
        {
            input.Position = 0;
            Span<byte> header = stackalloc byte[MagicLength];
            if (input.ReadAtLeast(header, MagicLength, throwOnEndOfStream: false) != MagicLength)
            {
                throw new V1FormatException($"{path}: file is truncated (no v1 header)", path);
            }

            if (!HasV1Magic(header))
            {
                throw new V1FormatException($"{path}: not a v1 c1z file (wrong magic)", path);
            }

            long budget = options.MaxDecodedBytes ?? Math.Max(10L << 30, input.Length * 100);
            using var output = new FileStream(databasePath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1);
            long total = DecodeOneFrame(path, input, output, budget, options.MaxWindowLog, cancellationToken);
            if (total == 0)
            {
                throw new V1FormatException($"{path}: the zstd frame holds no database", path);
            }
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            TryDelete(databasePath);
            throw C1zErrors.IO($"{path}: {ex.Message}", path, ex);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new C1zIOException($"{path}: file not found", path, ex);
        }
        catch
        {
            TryDelete(databasePath);
            throw;
        }
    }

    /// <summary>
    /// Decodes exactly one zstd frame from <paramref name="input"/> into <paramref name="output"/>
    /// (checksum verified by zstd when present) and then requires the end of the file: a second frame,
    /// a skippable frame or any other byte after it is trailing data (docs/INTEROP-V1.md §1.1).
    /// </summary>
    private static unsafe long DecodeOneFrame(string path, FileStream input, FileStream output, long budget, int maxWindowLog, CancellationToken cancellationToken)
    {
        byte[] inBuf = new byte[1 << 17];
        byte[] outBuf = new byte[1 << 17];
        var dctx = Methods.ZSTD_createDCtx();
        if (dctx == null)
        {
            throw new C1zIOException($"{path}: cannot allocate a zstd decompression context", path);
        }

        try
        {
            Check(path, Methods.ZSTD_DCtx_setParameter(dctx, ZSTD_dParameter.ZSTD_d_windowLogMax, maxWindowLog));
            long total = 0;
            int inLen = 0, inPos = 0;
            bool outputFull = false;
            fixed (byte* pIn = inBuf)
            fixed (byte* pOut = outBuf)
            {
                while (true)
                {
                    if (inPos == inLen && !outputFull)
                    {
                        inLen = input.Read(inBuf, 0, inBuf.Length);
                        inPos = 0;
                        if (inLen == 0)
                        {
                            throw new V1FormatException($"{path}: damaged zstd payload: the frame is truncated", path);
                        }
                    }

                    var inb = new ZSTD_inBuffer_s { src = pIn, size = (nuint)inLen, pos = (nuint)inPos };
                    var outb = new ZSTD_outBuffer_s { dst = pOut, size = (nuint)outBuf.Length, pos = 0 };
                    nuint ret = Methods.ZSTD_decompressStream(dctx, &outb, &inb);
                    Check(path, ret);
                    inPos = (int)inb.pos;
                    int n = (int)outb.pos;
                    outputFull = n == outBuf.Length;
                    if (n > 0)
                    {
                        total += n;
                        if (total > budget)
                        {
                            throw new V1FormatException($"{path}: decoded database exceeds the limit of {budget} bytes", path);
                        }

                        output.Write(outBuf, 0, n);
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    if (ret == 0)
                    {
                        break; // the frame is complete and fully flushed
                    }
                }
            }

            long frameEnd = input.Position - (inLen - inPos);
            if (inPos < inLen || input.Read(inBuf, 0, 1) > 0)
            {
                throw new V1FormatException($"{path}: trailing data after the zstd frame (at offset {frameEnd}); a v1 file holds exactly one frame", path);
            }

            return total;
        }
        finally
        {
            Methods.ZSTD_freeDCtx(dctx);
        }
    }

    private static void Check(string path, nuint code)
    {
        if (Methods.ZSTD_isError(code))
        {
            throw new V1FormatException($"{path}: damaged zstd payload: {Methods.ZSTD_getErrorName(code)}", path);
        }
    }

    /// <summary>
    /// Opens a v1 file read-only: its database is decompressed to a private temporary file that is
    /// deleted when the returned store is disposed (and on every failure).
    /// </summary>
    /// <param name="path">The v1 file.</param>
    /// <param name="options">Limits.</param>
    /// <returns>A read-only store over the file's syncs.</returns>
    /// <exception cref="V1FormatException">The file is not a readable v1 file.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static IC1zStore OpenReadOnly(string path, V1ReadOptions? options = null) => OpenReadOnly(null, path, options);

    /// <summary><see cref="OpenReadOnly(string, V1ReadOptions?)"/> from an open file (not taken over), read from its start.</summary>
    /// <param name="input">The open v1 file, or null to open <paramref name="path"/>.</param>
    /// <param name="path">The v1 file's path.</param>
    /// <param name="options">Limits.</param>
    /// <returns>A read-only store over the file's syncs.</returns>
    /// <exception cref="V1FormatException">The file is not a readable v1 file.</exception>
    /// <exception cref="C1zIOException">The file cannot be read.</exception>
    public static IC1zStore OpenReadOnly(FileStream? input, string path, V1ReadOptions? options = null)
    {
        options ??= new V1ReadOptions();
        string root = options.TempDirectory ?? Path.GetTempPath();
        PrivateDirectory.SweepDeadOwners(root, [ScratchNames.Prefix]);
        string dir = ScratchNames.Create(root);
        try
        {
            string db = Path.Combine(dir, "db.sqlite");
            if (input is null)
            {
                Decompress(path, db, options);
            }
            else
            {
                Decompress(input, path, db, options);
            }

            SqliteStore store;
            try
            {
                // Untrusted: the database is data, never code (docs/RELIABILITY.md "Hostile v1 (SQLite) inputs").
                // Errors name the user's file, not the private copy.
                store = SqliteStore.Open(db, new SqliteStoreOptions
                {
                    ReadOnly = true,
                    Untrusted = true,
                    DisplayPath = path,
                    StatementTimeout = options.QueryTimeout,
                    MaxValueBytes = options.MaxValueBytes,
                });
            }
            catch (C1zException ex) when (ex is not C1zIOException and not V1FormatException)
            {
                throw new V1FormatException($"{path}: the database is not baton's v1 schema: {ex.Message}", path, ex);
            }

            return new TempStore(store, dir);
        }
        catch
        {
            ScratchNames.Delete(dir);
            throw;
        }
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    internal static void TryDeleteDirectory(string dir)
    {
        try
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
