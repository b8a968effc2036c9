using System.CommandLine;
using System.Reflection;
using DotC1z.Cli.Commands;
using DotC1z.Errors;

namespace DotC1z.Cli;

/// <summary>What every command gets: its output streams, verbosity and cancellation.</summary>
/// <param name="Out">Standard output (results).</param>
/// <param name="Err">Standard error (progress and errors).</param>
/// <param name="Interactive">Whether stderr is a terminal (progress bars instead of plain lines).</param>
/// <param name="Cancellation">Ctrl-C.</param>
public sealed record CliContext(TextWriter Out, TextWriter Err, bool Interactive, CancellationToken Cancellation);

/// <summary>A command failed in a way the user can act on; printed as one line, exit code 1.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>Builds the command tree and maps outcomes to exit codes (docs/CLI.md).</summary>
public static class CliApp
{
    /// <summary>Global <c>--verbose</c>: show stack traces of failures.</summary>
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show the full exception on failure.", Recursive = true };

    /// <summary>Runs one command line.</summary>
    /// <param name="args">Arguments.</param>
    /// <param name="stdout">Result output.</param>
    /// <param name="stderr">Progress and error output.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <param name="interactive">Whether stderr is a terminal.</param>
    /// <returns>0 success, 1 failure, 2 usage error.</returns>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default, bool interactive = false)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var ctx = new CliContext(stdout, stderr, interactive, cancellationToken);
        var root = BuildRoot(ctx);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            stderr.WriteLine($"c1z: error: {string.Join("; ", parse.Errors.Select(e => e.Message))} (see c1z --help)");
            return 2;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (ex is OperationCanceledException)
        {
            stderr.WriteLine("c1z: error: cancelled");
            return 1;
        }
        catch (Exception ex)
        {
            bool verbose = parse.GetValue(Verbose);
            string message = ex switch
            {
                C1zOutputExistsException => ex.Message + " (use --force to replace it)",
                C1zException or CliException => ex.Message,
                UnauthorizedAccessException or IOException => ex.Message,
                _ => $"unexpected {ex.GetType().Name}: {ex.Message}",
            };
            stderr.WriteLine($"c1z: error: {message.ReplaceLineEndings(" ")}");
            if (verbose)
            {
                stderr.WriteLine(ex.ToString());
            }

            return 1;
        }
    }

    /// <summary>The tool version (assembly informational version).</summary>
    public static string Version => typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    private static RootCommand BuildRoot(CliContext ctx)
    {
        var root = new RootCommand("c1z — write, query, compact, diff, expand, verify and benchmark c1z access snapshots.");
        root.Options.Add(Verbose);
        foreach (var command in new[]
        {
            FixtureGenCommand.Create(ctx),
            BenchCommand.Create(ctx),
            ImportCommand.Create(ctx),
            ExportCommand.Create(ctx),
            StatsCommand.Create(ctx),
            GrantsCommand.Create(ctx),
            VerifyCommand.Create(ctx),
            CompactCommand.Create(ctx),
            DiffCommand.Create(ctx),
            EquivCommand.Create(ctx),
            ExpandCommand.Create(ctx),
            AckWriterCommand.Create(ctx),
        })
        {
            root.Subcommands.Add(command);
        }

        return root;
    }
}
