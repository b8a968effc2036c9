using System.Globalization;
using System.Text;

namespace DotC1z.Cli.Output;

/// <summary>
/// The one escaper for human-facing output (table cells, CSV cells, the <c>c1z: error:</c> line,
/// warnings and progress lines). Record ids and other strings from c1z files are untrusted: a raw
/// <c>ESC ] 0 ; … BEL</c> retitles the terminal, <c>ESC [ 2 J</c> clears it, a CR or newline forges
/// or splits lines, and a bidi override reorders what the reader sees. Every such character is shown
/// visibly instead: <c>\n</c>, <c>\r</c>, <c>\t</c>, <c>\xHH</c> for the other C0 controls, DEL and the
/// C1 controls, and <c>\uHHHH</c> for bidi controls, line/paragraph separators and lone surrogates.
/// Backslashes are left as they are (ids such as <c>DOMAIN\user</c> stay readable); the exact bytes
/// of a record are available through <c>--format json</c>. See docs/RELIABILITY.md, "Terminal and CSV injection".
/// </summary>
public static class Printable
{
    /// <summary>Whether a character must not reach a terminal raw.</summary>
    /// <param name="c">The character.</param>
    /// <returns>True for C0 controls, DEL, C1 controls, bidi embedding/override/isolate controls, LRM/RLM/ALM, U+2028/U+2029 and surrogates.</returns>
    public static bool NeedsEscape(char c) => c switch
    {
        < '\u0020' => true,
        >= '\u007f' and <= '\u009f' => true,
        '\u061c' or '\u200e' or '\u200f' => true, // ALM, LRM, RLM
        >= '\u2028' and <= '\u202e' => true, // line/paragraph separators, LRE RLE PDF LRO RLO
        >= '\u2066' and <= '\u2069' => true, // LRI RLI FSI PDI
        >= '\ud800' and <= '\udfff' => true, // checked pairwise in Escape: only lone surrogates are escaped
        _ => false,
    };

    /// <summary>The text with every control, bidi and unpaired surrogate character replaced by a visible escape.</summary>
    /// <param name="text">Untrusted text (null gives an empty string).</param>
    /// <returns>Text safe to write to a terminal on one line; the same instance when nothing needed escaping.</returns>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        int first = FirstToEscape(text, 0);
        if (first < 0)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length + 16);
        sb.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(c).Append(text[i + 1]);
                i++;
                continue;
            }

            if (!NeedsEscape(c))
            {
                sb.Append(c);
                continue;
            }

            switch (c)
            {
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case <= '\u00ff':
                    sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    break;
                default:
                    sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// One CSV field: escaped like every human-facing cell, neutralised against formula injection the way
    /// spreadsheet exporters do (a <c>'</c> is put before a field starting with <c>=</c>, <c>+</c>, <c>-</c>,
    /// <c>@</c>, tab or CR), then quoted per RFC 4180 when it holds a comma, a quote or a space at either end.
    /// </summary>
    /// <param name="field">The raw field.</param>
    /// <returns>The CSV text of the field (never holding a raw CR, LF or other control character).</returns>
    public static string Csv(string? field)
    {
        if (string.IsNullOrEmpty(field))
        {
            return string.Empty;
        }

        string text = Escape(field);
        bool formula = field[0] is '=' or '+' or '-' or '@' or '\t' or '\r';
        if (formula)
        {
            text = "'" + text;
        }

        bool quote = text.AsSpan().IndexOfAny(",\"") >= 0 || text[0] == ' ' || text[^1] == ' ';
        return quote ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
    }

    /// <summary>
    /// A JSON text made terminal-safe without changing its value: every character <see cref="NeedsEscape"/>
    /// flags (a valid JSON text can hold them only inside strings, and serializers already escape C0) is
    /// rewritten as the equivalent <c>\uHHHH</c> escape, so a parser reads back exactly the original string.
    /// </summary>
    /// <param name="json">A JSON text.</param>
    /// <returns>The same JSON value with no raw control or bidi character; the same instance when none was present.</returns>
    public static string Json(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        int first = FirstToEscape(json, 0);
        if (first < 0)
        {
            return json;
        }

        var sb = new StringBuilder(json.Length + 16);
        sb.Append(json, 0, first);
        for (int i = first; i < json.Length; i++)
        {
            char c = json[i];
            if (char.IsHighSurrogate(c) && i + 1 < json.Length && char.IsLowSurrogate(json[i + 1]))
            {
                sb.Append(c).Append(json[i + 1]);
                i++;
            }
            else if (NeedsEscape(c))
            {
                sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    private static int FirstToEscape(string text, int start)
    {
        // Printable ASCII never needs escaping: a vectorised search skips to the first other character
        // (most lines have none), and only from there is each character classified.
        int other = text.AsSpan(start).IndexOfAnyExceptInRange('\u0020', '\u007e');
        if (other < 0)
        {
            return -1;
        }

        for (int i = start + other; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            if (NeedsEscape(c))
            {
                return i;
            }
        }

        return -1;
    }
}
