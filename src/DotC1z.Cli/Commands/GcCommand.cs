using System.CommandLine;
using System.Globalization;
using DotC1z.Storage;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z gc</c>: removes scratch files that processes which no longer run left behind.</summary>
public static class GcCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var dirs = new Argument<string[]>("DIR") { Description = "Directories to sweep besides TMPDIR (for example where outputs are written).", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("gc", "Remove leftovers of c1z runs that were killed (scratch stores beside outputs, extraction and import directories in TMPDIR). Only entries whose owning process no longer runs are removed; every run also sweeps the places it writes to.\n\nExample:\n  c1z gc ~/snapshots") { dirs };
        command.SetAction(parse =>
        {
            long count = 0;
            foreach (string dir in new[] { Path.GetTempPath() }.Concat(parse.GetValue(dirs) ?? []))
            {
                if (!Directory.Exists(dir))
                {
                    throw new CliException($"no such directory: {dir}");
                }

                foreach (string removed in PrivateDirectory.SweepDeadOwners(dir, PrivateDirectory.KnownPrefixes.Concat(SavePrefixes(dir))))
                {
                    ctx.Out.WriteLine("removed " + removed);
                    count++;
                }
            }

            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done: {count} leftovers removed"));
            return 0;
        });
        return command;
    }

    /// <summary>The per-output save prefixes (<c>.NAME.save-</c>) present in a directory.</summary>
    private static IEnumerable<string> SavePrefixes(string dir) =>
        Directory.EnumerateFileSystemEntries(dir, ".*.save-*")
            .Select(Path.GetFileName)
            .Select(n => n![..(n!.LastIndexOf(".save-", StringComparison.Ordinal) + ".save-".Length)])
            .Distinct(StringComparer.Ordinal);
}
