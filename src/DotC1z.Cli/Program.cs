namespace DotC1z.Cli;

/// <summary>Entry point of the <c>c1z</c> tool.</summary>
public static class Program
{
    /// <summary>Runs the command line.</summary>
    /// <param name="args">Arguments.</param>
    /// <returns>The exit code.</returns>
    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Console.Error.WriteLine("c1z: error: no commands are available yet");
        return 2;
    }
}
