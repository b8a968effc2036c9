namespace DotC1z.Cli;

/// <summary>Entry point of the <c>c1z</c> tool.</summary>
public static class Program
{
    /// <summary>Runs the command line against the process console; Ctrl-C cancels the running command cleanly.</summary>
    /// <param name="args">Arguments.</param>
    /// <returns>The exit code: 0 success, 1 failure, 2 usage error.</returns>
    public static int Main(string[] args)
    {
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
        return CliApp.Run(args, Console.Out, Console.Error, cts.Token, interactive: !Console.IsErrorRedirected);
    }
}
