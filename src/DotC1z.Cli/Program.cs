namespace DotC1z.Cli;

/// <summary>Entry point of the <c>c1z</c> tool.</summary>
public static class Program
{
    /// <summary>SQLite releases cache memory above this (bytes).</summary>
    public const long SqliteSoftHeapLimit = 256L << 20;

    /// <summary>SQLite fails an allocation above this (bytes) with an out-of-memory error, reported as a typed error.</summary>
    public const long SqliteHardHeapLimit = 1L << 30;

    /// <summary>Runs the command line against the process console; Ctrl-C cancels the running command cleanly.</summary>
    /// <param name="args">Arguments.</param>
    /// <returns>The exit code: 0 success, 1 failure, 2 usage error.</returns>
    public static int Main(string[] args)
    {
        // SQLite's heap limits are process-wide, so the library leaves them alone and the tool sets them: a
        // hostile v1 file cannot make SQLite grow without bound (docs/RELIABILITY.md, hostile v1 inputs).
        SQLitePCL.Batteries_V2.Init();
        SQLitePCL.raw.sqlite3_soft_heap_limit64(SqliteSoftHeapLimit);
        SQLitePCL.raw.sqlite3_hard_heap_limit64(SqliteHardHeapLimit);
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true; // let the command unwind, clean its temp files and exit
            cts.Cancel();
        };

        // SIGTERM (a service manager, `kill`, a container stop) unwinds like Ctrl-C, so scratch files go too.
        using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            cts.Cancel();
        });
        // Console.Out writes through a 256-character buffer: a listing's 64 KiB flushes became hundreds of
        // write(2) calls each, most of a million-row JSON listing's time. This writer still flushes after
        // every write (so output appears as before), in one call for up to 64 KiB.
        using var stdout = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), StdoutBufferChars, leaveOpen: false) { AutoFlush = true };
        return CliApp.Run(args, TextWriter.Synchronized(stdout), Console.Error, cts.Token, interactive: !Console.IsErrorRedirected, outputWidth: TerminalWidth());
    }

    private const int StdoutBufferChars = 64 * 1024;

    /// <summary>The terminal's width when stdout is a terminal, else null (tables are not truncated).</summary>
    private static int? TerminalWidth()
    {
        if (Console.IsOutputRedirected)
        {
            return null;
        }

        try
        {
            int width = Console.WindowWidth;
            return width > 0 ? width : null;
        }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException or InvalidOperationException)
        {
            return null;
        }
    }
}
