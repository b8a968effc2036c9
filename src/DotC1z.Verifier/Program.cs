using DotC1z.Engine.Rocks;
using DotC1z.Errors;

namespace DotC1z.Verifier;

/// <summary>
/// Entry point of <c>c1z-verify-store DIR</c>. The exit code is the whole protocol with the parent:
/// <see cref="VerifierExit"/>. On failure one line goes to stderr; the parent quotes it.
/// </summary>
public static class Program
{
    /// <summary>Runs the check.</summary>
    /// <param name="args">Exactly one argument: the store directory.</param>
    /// <returns>A <see cref="VerifierExit"/> value.</returns>
    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: c1z-verify-store DIR");
            return (int)VerifierExit.Usage;
        }

        try
        {
            RocksStore.VerifyUntrusted(args[0]);
            return (int)VerifierExit.Sound;
        }
        catch (C1zCorruptionException ex)
        {
            Console.Error.WriteLine(OneLine(ex.Message));
            return (int)VerifierExit.Corrupt;
        }
        catch (C1zException ex)
        {
            Console.Error.WriteLine(OneLine(ex.Message));
            return (int)VerifierExit.Failed;
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
