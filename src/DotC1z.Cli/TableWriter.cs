using DotC1z.Cli.Output;
using Spectre.Console;

namespace DotC1z.Cli;

/// <summary>
/// Renders rows as a Spectre.Console table into the command's output writer (no colour when redirected).
/// Every header and cell goes through <see cref="Printable.Escape"/>: control and bidi characters from
/// untrusted ids are shown as visible escapes and can neither drive the terminal nor split a row.
/// </summary>
public static class TableWriter
{
    /// <summary>Writes a table.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <param name="headers">Column headers.</param>
    /// <param name="rows">Rows of cells.</param>
    public static void Write(CliContext ctx, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(ctx.Out),
            Ansi = ctx.Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ctx.Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!ctx.Interactive)
        {
            console.Profile.Width = 240; // redirected output: never wrap cells
        }

        var table = new Table().Border(ctx.Interactive ? TableBorder.Rounded : TableBorder.Simple);
        foreach (string h in headers)
        {
            table.AddColumn(Markup.Escape(Printable.Escape(h)));
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(cell => Markup.Escape(Printable.Escape(cell))).ToArray());
        }

        console.Write(table);
    }

    /// <summary>
    /// One CSV field: control characters escaped visibly, formula injection neutralised and RFC 4180 quoting
    /// (see <see cref="Printable.Csv"/>).
    /// </summary>
    /// <param name="field">The field.</param>
    /// <returns>The CSV text.</returns>
    public static string Csv(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return Printable.Csv(field);
    }
}
