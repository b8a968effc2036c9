using System.Text;

namespace DotC1z.Cli.Output;

/// <summary>
/// Streaming output of a listing in one of the three formats (docs/CLI.md §2.2): <c>table</c> (aligned
/// columns, every cell escaped by <see cref="Printable.Escape"/>, truncated to the terminal width when
/// stdout is a terminal), <c>json</c> (one JSON text per line, made terminal-safe by
/// <see cref="Printable.Json"/>) and <c>csv</c> (a header line, then RFC 4180 rows through
/// <see cref="Printable.Csv"/>). Rows are buffered in memory only up to <see cref="FlushBytes"/>
/// (and, for a table, the first <see cref="TableSampleRows"/> rows that fix the column widths), so the
/// first rows appear before the whole listing is read and a million rows use bounded memory.
/// </summary>
internal sealed class RowOutput
{
    /// <summary>Rows a table reads before it fixes its column widths.</summary>
    public const int TableSampleRows = 100;

    /// <summary>Buffered output is written out once it passes this many characters.</summary>
    public const int FlushBytes = 64 * 1024;

    /// <summary>The narrowest a column is truncated to.</summary>
    public const int MinColumnWidth = 4;

    private readonly CliContext _ctx;
    private readonly string _format;
    private readonly string[] _headers;
    private readonly StringBuilder _buffer = new();
    private readonly List<string[]> _sample = [];
    private int[]? _widths;
    private bool _started;

    /// <summary>Creates the output.</summary>
    /// <param name="ctx">The CLI context (its <see cref="CliContext.OutputWidth"/> bounds tables).</param>
    /// <param name="format"><c>table</c>, <c>json</c> or <c>csv</c>.</param>
    /// <param name="tableHeaders">Column headers of the table.</param>
    /// <param name="csvHeaders">Column names of the CSV header line.</param>
    public RowOutput(CliContext ctx, string format, IReadOnlyList<string> tableHeaders, IReadOnlyList<string> csvHeaders)
    {
        _ctx = ctx;
        _format = format;
        _headers = format == "csv" ? [.. csvHeaders] : [.. tableHeaders.Select(Printable.Escape)];
    }

    /// <summary>Whether rows are JSON texts (<see cref="Json"/>) rather than cells (<see cref="Cells"/>).</summary>
    public bool IsJson => _format == "json";

    /// <summary>Adds one row of cells (table or CSV).</summary>
    /// <param name="cells">Raw cell values; escaped here.</param>
    public void Cells(IReadOnlyList<string> cells)
    {
        Start();
        if (_format == "csv")
        {
            _buffer.AppendJoin(',', cells.Select(Printable.Csv)).Append('\n');
            MaybeFlush();
            return;
        }

        string[] escaped = [.. cells.Select(Printable.Escape)];
        if (_widths is null)
        {
            _sample.Add(escaped);
            if (_sample.Count >= TableSampleRows)
            {
                FixWidths();
            }

            return;
        }

        AppendLine(escaped);
        MaybeFlush();
    }

    /// <summary>Adds one JSON row.</summary>
    /// <param name="json">A JSON text on one line.</param>
    public void Json(string json)
    {
        _buffer.Append(Printable.Json(json)).Append('\n');
        MaybeFlush();
    }

    /// <summary>Writes what is buffered (a table still sampling its widths keeps its rows).</summary>
    public void Flush()
    {
        if (_buffer.Length > 0)
        {
            // Chunk by chunk: a 64 KiB ToString per flush was a large-object-heap string each time.
            foreach (var chunk in _buffer.GetChunks())
            {
                _ctx.Out.Write(chunk.Span);
            }

            _buffer.Clear();
        }

        _ctx.Out.Flush();
    }

    /// <summary>Ends the output: a table with fewer rows than its sample is laid out now; an empty table or CSV still gets its header.</summary>
    public void Finish()
    {
        Start();
        if (_format == "table" && _widths is null)
        {
            FixWidths();
        }

        Flush();
    }

    private void Start()
    {
        if (_started)
        {
            return;
        }

        _started = true;
        if (_format == "csv")
        {
            _buffer.AppendJoin(',', _headers).Append('\n');
        }
    }

    private void MaybeFlush()
    {
        if (_buffer.Length >= FlushBytes)
        {
            Flush();
        }
    }

    private void FixWidths()
    {
        int n = _headers.Length;
        var widths = new int[n];
        for (int i = 0; i < n; i++)
        {
            widths[i] = _headers[i].Length;
            foreach (var row in _sample)
            {
                widths[i] = Math.Max(widths[i], i < row.Length ? row[i].Length : 0);
            }
        }

        if (_ctx.OutputWidth is int max)
        {
            // Narrow the widest column one character at a time until the row fits the terminal.
            int total = widths.Sum() + (2 * (n - 1));
            while (total > max)
            {
                int widest = Array.IndexOf(widths, widths.Max());
                if (widths[widest] <= MinColumnWidth)
                {
                    break;
                }

                widths[widest]--;
                total--;
            }
        }

        _widths = widths;
        AppendLine(_headers);
        AppendLine([.. widths.Select(w => new string('-', w))]);
        foreach (var row in _sample)
        {
            AppendLine(row);
        }

        _sample.Clear();
        Flush();
    }

    private void AppendLine(string[] cells)
    {
        var widths = _widths!;
        var line = new StringBuilder();
        for (int i = 0; i < widths.Length; i++)
        {
            string cell = i < cells.Length ? cells[i] : string.Empty;
            if (_ctx.OutputWidth is not null)
            {
                cell = Truncate(cell, widths[i]);
            }

            if (i > 0)
            {
                line.Append("  ");
            }

            line.Append(cell);
            if (i < widths.Length - 1 && cell.Length < widths[i])
            {
                line.Append(' ', widths[i] - cell.Length);
            }
        }

        _buffer.Append(line).Append('\n');
    }

    /// <summary>A cell cut to <paramref name="width"/> characters, the last one an ellipsis; never splits a surrogate pair.</summary>
    internal static string Truncate(string cell, int width)
    {
        if (cell.Length <= width)
        {
            return cell;
        }

        int keep = Math.Max(0, width - 1);
        if (keep > 0 && char.IsHighSurrogate(cell[keep - 1]))
        {
            keep--;
        }

        return string.Concat(cell.AsSpan(0, keep), "…");
    }
}
