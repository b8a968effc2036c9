using System.Collections.Frozen;
using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Reflection;
using DotC1z.Cli.Commands;
using DotC1z.Cli.Output;
using DotC1z.Errors;
using Google.Protobuf;

namespace DotC1z.Cli;

/// <summary>What every command gets: its output streams, verbosity and cancellation.</summary>
/// <param name="Out">Standard output (results).</param>
/// <param name="Err">Standard error (progress and errors).</param>
/// <param name="Interactive">Whether stderr is a terminal (progress bars instead of plain lines).</param>
/// <param name="Cancellation">Ctrl-C.</param>
public sealed record CliContext(TextWriter Out, TextWriter Err, bool Interactive, CancellationToken Cancellation)
{
    /// <summary>
    /// The width tables are truncated to: the terminal's width when stdout is a terminal, null (no truncation)
    /// when it is redirected (docs/CLI.md §2.2).
    /// </summary>
    public int? OutputWidth { get; init; }
}

/// <summary>A command failed in a way the user can act on; printed as one line, exit code 1.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>Builds the command tree and maps outcomes to exit codes (docs/CLI.md).</summary>
public static class CliApp
{
    /// <summary>Global <c>--verbose</c>: show stack traces of failures.</summary>
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show the full exception on failure.", Recursive = true };

    /// <summary>Arguments and options that name an input store or file (validated and named in error lines).</summary>
    private static readonly FrozenSet<string> InputNames = FrozenSet.Create(StringComparer.Ordinal, "PATH", "--in", "--base", "--applied", "--input", "--compare-file");

    /// <summary>Arguments and options that name a path (input or output): an empty one is a usage error.</summary>
    private static readonly FrozenSet<string> PathNames = FrozenSet.Create(StringComparer.Ordinal, "PATH", "--in", "--out", "--base", "--applied", "--input", "--dir", "--compare-file");

    /// <summary>Runs one command line.</summary>
    /// <param name="args">Arguments.</param>
    /// <param name="stdout">Result output.</param>
    /// <param name="stderr">Progress and error output.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <param name="interactive">Whether stderr is a terminal.</param>
    /// <param name="outputWidth">The terminal width when stdout is a terminal (tables are truncated to it), else null.</param>
    /// <returns>0 success, 1 failure, 2 usage error.</returns>
    /// <remarks>
    /// Every failure is exactly one <c>c1z: error: </c> line on stderr, escaped by <see cref="Printable.Escape"/>
    /// (messages may carry ids and strings from untrusted files), naming the input when the message does not,
    /// and never the exception type; <c>--verbose</c> adds the escaped exception text after it.
    /// </remarks>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default, bool interactive = false, int? outputWidth = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var ctx = new CliContext(stdout, stderr, interactive, cancellationToken) { OutputWidth = outputWidth };
        var root = BuildRoot(ctx);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            stderr.WriteLine($"c1z: error: {Printable.Escape(string.Join("; ", parse.Errors.Select(e => OneLine(e.Message)).Distinct(StringComparer.Ordinal)))} (see c1z --help)");
            return 2;
        }

        List<(string Name, string Value)> inputs = [];
        try
        {
            inputs = Inputs(parse);
            CheckInputs(inputs);
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (ex is OperationCanceledException)
        {
            stderr.WriteLine("c1z: error: cancelled");
            return 1;
        }
        catch (Exception ex)
        {
            stderr.WriteLine($"c1z: error: {Printable.Escape(OneLine(Describe(ex, inputs)))}");
            if (parse.GetValue(Verbose))
            {
                foreach (string line in ex.ToString().Split('\n'))
                {
                    stderr.WriteLine(Printable.Escape(line.TrimEnd('\r')));
                }
            }

            return 1;
        }
    }

    /// <summary>Writes one <c>c1z: warning: </c> line (escaped) on stderr.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <param name="message">The warning; may hold untrusted text.</param>
    public static void Warn(CliContext ctx, string message)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ctx.Err.WriteLine($"c1z: warning: {Printable.Escape(OneLine(message))}");
    }

    /// <summary>
    /// The one-line message for a failure: what went wrong in words (never the exception type), with the
    /// input named when the message does not name it already.
    /// </summary>
    internal static string Describe(Exception ex, IReadOnlyList<(string Name, string Value)> inputs)
    {
        ArgumentNullException.ThrowIfNull(ex);
        ArgumentNullException.ThrowIfNull(inputs);
        int more = 0;
        while (true)
        {
            if (ex is AggregateException { InnerExceptions: { Count: > 0 } inner })
            {
                more += inner.Count - 1;
                ex = inner[0];
            }
            else if (ex is TargetInvocationException { InnerException: { } ti })
            {
                ex = ti;
            }
            else
            {
                break;
            }
        }

        string message = ex switch
        {
            C1zOutputExistsException => ex.Message + " (use --force to replace it)",
            C1zException or CliException => ex.Message,
            UnauthorizedAccessException => "permission denied: " + ex.Message,
            FileNotFoundException or DirectoryNotFoundException => "not found: " + ex.Message,
            PathTooLongException => "path too long: " + ex.Message,
            InvalidProtocolBufferException => "record does not decode: " + ex.Message,
            InvalidDataException or EndOfStreamException => "invalid data: " + ex.Message,
            IOException => ex.Message,
            ArgumentOutOfRangeException a => "value out of range: " + ArgumentMessage(a),
            ArgumentException a => "invalid argument: " + ArgumentMessage(a),
            FormatException or OverflowException => "invalid value: " + ex.Message,
            NotSupportedException => "not supported: " + ex.Message,
            InvalidOperationException => "cannot continue: " + ex.Message,
            OutOfMemoryException => "out of memory",
            InsufficientExecutionStackException => "input nests too deeply",
            _ => "failed: " + ex.Message,
        };
        if (more > 0)
        {
            message += string.Create(CultureInfo.InvariantCulture, $" (and {more} more error(s))");
        }

        // Our own messages say which path they are about; others get the input named.
        if (ex is CliException or C1zIOException || inputs.Count == 0 || inputs.Any(i => Mentions(message, i.Value)))
        {
            return message;
        }

        return inputs.Count == 1
            ? $"{inputs[0].Value}: {message}"
            : $"{message} (inputs: {string.Join(", ", inputs.Select(i => $"{i.Name} {i.Value}"))})";
    }

    /// <summary>The input paths of the parsed command: the PATH argument and the input options given.</summary>
    private static List<(string Name, string Value)> Inputs(ParseResult parse)
    {
        List<(string, string)> list = [];
        foreach (var child in parse.CommandResult.Children)
        {
            (string? name, string? value) = child switch
            {
                ArgumentResult { Argument: Argument<string> a, Tokens.Count: > 0 } when InputNames.Contains(a.Name) => (a.Name, parse.GetValue(a)),
                OptionResult { Option: Option<string> o, Tokens.Count: > 0 } when InputNames.Contains(o.Name) => (o.Name, parse.GetValue(o)),
                _ => (null, null),
            };
            if (name is not null && !string.IsNullOrEmpty(value))
            {
                list.Add((name, value));
            }
        }

        return list;
    }

    /// <summary>
    /// Refuses inputs that cannot be read as a c1z: a pipe or device (<c>/dev/stdin</c> fed by a pipe), which
    /// the readers cannot seek in. Existing non-directory inputs are opened once to ask (the size a pipe
    /// reports is the data buffered in it, so it cannot tell).
    /// </summary>
    private static void CheckInputs(List<(string Name, string Value)> inputs)
    {
        foreach (var (_, value) in inputs)
        {
            bool file;
            try
            {
                file = File.Exists(value);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                continue; // the command reports it
            }

            if (file && !IsSeekable(value))
            {
                throw new CliException($"{value}: is a pipe or device, not a file; c1z reads files and store directories only (save the data to a file first)");
            }
        }
    }

    private static bool IsSeekable(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            return stream.CanSeek;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return true; // not our question: the command opens it and reports the failure
        }
    }

    private static bool Mentions(string message, string path)
    {
        if (message.Contains(path, StringComparison.Ordinal))
        {
            return true;
        }

        try
        {
            return message.Contains(Path.GetFullPath(path), StringComparison.Ordinal);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return false;
        }
    }

    /// <summary>An argument exception's message without the " (Parameter 'x')" suffix .NET appends.</summary>
    private static string ArgumentMessage(ArgumentException a)
    {
        string m = a.Message;
        string suffix = $" (Parameter '{a.ParamName}')";
        return a.ParamName is not null && m.EndsWith(suffix, StringComparison.Ordinal) ? m[..^suffix.Length] : m;
    }

    /// <summary>
    /// Folds System.CommandLine's layout ("Must be one of:\n\t'a'\n\t'b'") and other line breaks of our own
    /// messages onto one line; whatever control characters remain are escaped by the caller.
    /// </summary>
    private static string OneLine(string message)
    {
        string m = message.Replace("'\r\n\t'", "', '", StringComparison.Ordinal).Replace("'\n\t'", "', '", StringComparison.Ordinal);
        m = m.Replace(":\r\n\t", ": ", StringComparison.Ordinal).Replace(":\n\t", ": ", StringComparison.Ordinal);
        return m.TrimEnd('\r', '\n');
    }

    /// <summary>
    /// Adds the checks every command shares: path arguments and options must not be empty or hold a NUL
    /// character, and counts (numeric options other than <c>--seed</c>) must not be negative. Failures are
    /// usage errors (exit code 2).
    /// </summary>
    private static void AddValidators(Command command, HashSet<Symbol> seen)
    {
        foreach (var argument in command.Arguments)
        {
            if (argument is Argument<string> a && PathNames.Contains(a.Name) && seen.Add(a))
            {
                a.Validators.Add(r => CheckPath(r, a.Name, Value<string>(r)));
            }
        }

        foreach (var option in command.Options)
        {
            if (!seen.Add(option))
            {
                continue;
            }

            switch (option)
            {
                case Option<string> o when PathNames.Contains(o.Name):
                    o.Validators.Add(r => CheckPath(r, o.Name, Value<string>(r)));
                    break;
                case Option<int> o when o.Name != "--seed":
                    o.Validators.Add(r => CheckCount(r, o.Name, Value<int>(r)));
                    break;
                case Option<long> o when o.Name != "--seed":
                    o.Validators.Add(r => CheckCount(r, o.Name, Value<long>(r)));
                    break;
                case Option<double> o:
                    o.Validators.Add(r =>
                    {
                        double v = Value<double>(r);
                        if (v < 0 || !double.IsFinite(v))
                        {
                            r.AddError(string.Create(CultureInfo.InvariantCulture, $"{o.Name} must be a non-negative number, got {v}"));
                        }
                    });
                    break;
                default:
                    break;
            }
        }

        foreach (var sub in command.Subcommands)
        {
            AddValidators(sub, seen);
        }

        static T? Value<T>(SymbolResult r)
        {
            try
            {
                return r switch
                {
                    OptionResult o => o.GetValueOrDefault<T>(),
                    ArgumentResult a => a.GetValueOrDefault<T>(),
                    _ => default,
                };
            }
            catch (InvalidOperationException)
            {
                return default; // conversion failed: System.CommandLine reports that itself
            }
        }

        static void CheckCount(SymbolResult r, string name, long value)
        {
            if (value < 0)
            {
                r.AddError(string.Create(CultureInfo.InvariantCulture, $"{name} must not be negative, got {value}"));
            }
        }

        static void CheckPath(SymbolResult r, string name, string? value)
        {
            if (value is null || r.Tokens.Count == 0)
            {
                return;
            }

            if (value.Length == 0)
            {
                r.AddError($"{name} is empty: name a c1z file or store directory");
            }
            else if (value.Contains('\0', StringComparison.Ordinal))
            {
                r.AddError($"{name} \"{value}\" holds a NUL character, which no path can contain");
            }
        }
    }

    /// <summary>The tool version (assembly informational version: the version, then <c>+</c> and the git commit when the build knew it).</summary>
    public static string Version => typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>The line <c>c1z --version</c> prints: <c>c1z VERSION (commit SHA)</c>, or <c>(commit unknown)</c> for a build outside a git checkout.</summary>
    public static string VersionLine
    {
        get
        {
            string v = Version;
            int plus = v.IndexOf('+', StringComparison.Ordinal);
            return plus < 0 ? $"c1z {v} (commit unknown)" : $"c1z {v[..plus]} (commit {v[(plus + 1)..]})";
        }
    }

    /// <summary>Prints <see cref="VersionLine"/>.</summary>
    private sealed class VersionAction(CliContext ctx) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            ctx.Out.WriteLine(VersionLine);
            return 0;
        }
    }

    private static RootCommand BuildRoot(CliContext ctx)
    {
        var root = new RootCommand(
            "c1z — read, write, query, compact, diff, expand, verify and benchmark c1z access snapshots.\n\n"
            + "Example:\n  c1z resources snapshot.c1z -t user\n  c1z access snapshot.c1z -t user -r alice\n  c1z grants snapshot.c1z -e group:eng:member --format csv > grants.csv");
        root.Options.Add(Verbose);
        foreach (var option in root.Options)
        {
            if (option is VersionOption version)
            {
                version.Action = new VersionAction(ctx);
            }
        }

        foreach (var command in new[]
        {
            FixtureGenCommand.Create(ctx),
            BenchCommand.Create(ctx),
            ImportCommand.Create(ctx),
            ExportCommand.Create(ctx),
            StatsCommand.Create(ctx),
            SyncsCommand.Create(ctx),
            ResourceTypesCommand.Create(ctx),
            ResourcesCommand.Create(ctx),
            EntitlementsCommand.Create(ctx),
            GrantsCommand.Create(ctx),
            PrincipalsCommand.Create(ctx),
            AccessCommand.Create(ctx),
            VerifyCommand.Create(ctx),
            CompactCommand.Create(ctx),
            DiffCommand.Create(ctx),
            EquivCommand.Create(ctx),
            ExpandCommand.Create(ctx),
            SanitizeCommand.Create(ctx),
            GcCommand.Create(ctx),
        })
        {
            root.Subcommands.Add(command);
        }

        AddValidators(root, []);
        return root;
    }
}
