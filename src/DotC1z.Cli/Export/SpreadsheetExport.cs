using System.Globalization;
using System.Text;
using DotC1z.Cli.Output;
using DotC1z.Keys;
using DotC1z.Storage;
using SpreadCheetah;
using SpreadCheetah.Worksheets;

namespace DotC1z.Cli.Export;

/// <summary>
/// Writes one sync as CSV files or one XLSX workbook, table by table (<see cref="ExportTables"/>), each row
/// written as it is read: memory stays bounded whatever the number of records.
/// </summary>
internal static class SpreadsheetExport
{
    /// <summary>Rows per sheet including the header: Excel's limit. Larger tables continue on "NAME (2)", "NAME (3)"….</summary>
    internal const int MaxSheetRows = 1_048_576;

    /// <summary>Characters per cell: Excel's limit (a longer cell makes Excel refuse the file).</summary>
    internal const int MaxCellChars = 32_767;

    private const string Truncated = "…[truncated]";

    /// <summary>Writes <c>NAME.csv</c> per table into <paramref name="directory"/>, cells escaped by <see cref="Printable.Csv"/>.</summary>
    /// <param name="store">The source.</param>
    /// <param name="sync">The sync.</param>
    /// <param name="directory">An existing, empty directory.</param>
    /// <param name="cancellationToken">Stops the export.</param>
    /// <returns>Rows written per table.</returns>
    public static IReadOnlyList<(string Table, long Rows)> WriteCsv(IC1zStore store, SyncId sync, string directory, CancellationToken cancellationToken)
    {
        var counts = new List<(string, long)>();
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        foreach (var table in ExportTables.All)
        {
            long rows = 0;
            using (var file = new FileStream(Path.Combine(directory, table.Name + ".csv"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                using (var writer = new StreamWriter(file, utf8, 1 << 16, leaveOpen: true) { NewLine = "\n" })
                {
                    writer.WriteLine(string.Join(',', table.Columns));
                    foreach (var row in table.Rows(store, sync))
                    {
                        for (int i = 0; i < row.Length; i++)
                        {
                            if (i > 0)
                            {
                                writer.Write(',');
                            }

                            writer.Write(Printable.Csv(row[i]));
                        }

                        writer.WriteLine();
                        if ((++rows & 0x3FFF) == 0)
                        {
                            cancellationToken.ThrowIfCancellationRequested();
                        }
                    }
                }

                file.Flush(flushToDisk: true);
            }

            counts.Add((table.Name, rows));
        }

        return counts;
    }

    /// <summary>
    /// Writes one workbook with a sheet per table (header row frozen). Every cell is a plain string or number,
    /// never a formula, so <c>=cmd|' /C calc'!A0</c> is shown as text; characters XML 1.0 forbids are written
    /// as visible escapes (<see cref="CellText"/>).
    /// </summary>
    /// <param name="store">The source.</param>
    /// <param name="sync">The sync.</param>
    /// <param name="path">The file to create.</param>
    /// <param name="cancellationToken">Stops the export.</param>
    /// <returns>Rows written per table.</returns>
    public static async Task<IReadOnlyList<(string Table, long Rows)>> WriteXlsxAsync(IC1zStore store, SyncId sync, string path, CancellationToken cancellationToken)
    {
        var counts = new List<(string, long)>();
        await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            await using (var workbook = await Spreadsheet.CreateNewAsync(file, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                foreach (var table in ExportTables.All)
                {
                    var cells = new DataCell[table.Columns.Length];
                    var numeric = new bool[table.Columns.Length];
                    foreach (int i in table.NumericColumns)
                    {
                        numeric[i] = true;
                    }

                    int part = 1;
                    await StartSheetAsync(workbook, table, part, cancellationToken).ConfigureAwait(false);
                    int sheetRows = 1;
                    long rows = 0;
                    foreach (var row in table.Rows(store, sync))
                    {
                        if (sheetRows == MaxSheetRows)
                        {
                            await StartSheetAsync(workbook, table, ++part, cancellationToken).ConfigureAwait(false);
                            sheetRows = 1;
                        }

                        for (int i = 0; i < cells.Length; i++)
                        {
                            cells[i] = numeric[i] && long.TryParse(row[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? new DataCell(n) : new DataCell(CellText(row[i]));
                        }

                        await workbook.AddRowAsync(cells, cancellationToken).ConfigureAwait(false);
                        sheetRows++;
                        rows++;
                    }

                    counts.Add((table.Name, rows));
                }

                await workbook.FinishAsync(cancellationToken).ConfigureAwait(false);
            }

            file.Flush(flushToDisk: true);
        }

        return counts;
    }

    /// <summary>
    /// A cell's text: every character XML 1.0 forbids (C0 controls other than tab, LF and CR; lone surrogates;
    /// U+FFFE, U+FFFF) becomes a visible <c>\xHH</c> or <c>\uHHHH</c> escape, so the file is well-formed and the
    /// reader sees that something was there; text longer than Excel's cell limit is cut with a marker.
    /// </summary>
    /// <param name="text">Untrusted text.</param>
    /// <returns>Text safe for an XLSX cell.</returns>
    internal static string CellText(string text)
    {
        StringBuilder? sb = null;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb?.Append(c).Append(text[i + 1]);
                i++;
                continue;
            }

            bool forbidden = (c < '\u0020' && c is not ('\t' or '\n' or '\r')) || char.IsSurrogate(c) || c is '\uFFFE' or '\uFFFF';
            if (forbidden)
            {
                sb ??= new StringBuilder(text.Length + 16).Append(text, 0, i);
                sb.Append(c <= '\u00ff' ? string.Create(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}") : string.Create(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"));
            }
            else
            {
                sb?.Append(c);
            }
        }

        string result = sb?.ToString() ?? text;
        if (result.Length <= MaxCellChars)
        {
            return result;
        }

        int cut = MaxCellChars - Truncated.Length;
        if (char.IsHighSurrogate(result[cut - 1]))
        {
            cut--; // never split a surrogate pair
        }

        return string.Concat(result.AsSpan(0, cut), Truncated);
    }

    private static async ValueTask StartSheetAsync(Spreadsheet workbook, ExportTable table, int part, CancellationToken cancellationToken)
    {
        string name = part == 1 ? table.Name : string.Create(CultureInfo.InvariantCulture, $"{table.Name} ({part})");
        await workbook.StartWorksheetAsync(name, new WorksheetOptions { FrozenRows = 1 }, cancellationToken).ConfigureAwait(false);
        await workbook.AddHeaderRowAsync(table.Columns, null, cancellationToken).ConfigureAwait(false);
    }
}
