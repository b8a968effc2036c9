using System.Globalization;
using System.Text;
using DotC1z.Records;

namespace DotC1z.Cli.Output;

/// <summary>
/// The JSON line of a grant, text for text what <see cref="RecordJson.Format"/> (Google.Protobuf's
/// JsonFormatter) prints, written directly for the common shape: ids, references, discovery time, the
/// flag and the scope key. The formatter walks descriptors and boxes every field, about 10 µs a grant
/// here; a listing of a million grants spent most of its time in it. Anything else (expansion,
/// annotations, sources, a string the formatter would escape, a time out of its range) goes to the
/// formatter, so the two can never disagree.
/// </summary>
internal static class GrantJson
{
    [ThreadStatic]
    private static StringBuilder? t_builder;

    /// <summary>The grant's JSON line.</summary>
    public static string Format(GrantRecord grant) => TryFormat(grant) ?? RecordJson.Format(grant);

    /// <summary>The grant's JSON line when it has the common shape, else null.</summary>
    internal static string? TryFormat(GrantRecord g)
    {
        if (g.Expansion is not null || g.Annotations.Count != 0 || g.Sources.Count != 0)
        {
            return null;
        }

        var sb = t_builder ??= new StringBuilder(512);
        sb.Clear();
        sb.Append('{');
        bool first = true;
        if (!Field(sb, ref first, "syncId", g.SyncId) || !Field(sb, ref first, "externalId", g.ExternalId))
        {
            return null;
        }

        if (g.Entitlement is { } e)
        {
            Name(sb, ref first, "entitlement");
            sb.Append('{');
            bool inner = true;
            if (!Field(sb, ref inner, "resourceTypeId", e.ResourceTypeId) || !Field(sb, ref inner, "resourceId", e.ResourceId) || !Field(sb, ref inner, "entitlementId", e.EntitlementId))
            {
                return null;
            }

            sb.Append(" }");
        }

        if (g.Principal is { } p)
        {
            Name(sb, ref first, "principal");
            sb.Append('{');
            bool inner = true;
            if (!Field(sb, ref inner, "resourceTypeId", p.ResourceTypeId) || !Field(sb, ref inner, "resourceId", p.ResourceId))
            {
                return null;
            }

            sb.Append(" }");
        }

        if (g.DiscoveredAt is { } t)
        {
            if (!TryTimestamp(t.Seconds, t.Nanos, out string? text))
            {
                return null;
            }

            Name(sb, ref first, "discoveredAt");
            sb.Append('"').Append(text).Append('"');
        }

        if (g.NeedsExpansion)
        {
            Name(sb, ref first, "needsExpansion");
            sb.Append("true");
        }

        if (!Field(sb, ref first, "sourceScopeKey", g.SourceScopeKey))
        {
            return null;
        }

        sb.Append(" }");
        return sb.ToString();
    }

    // The formatter's layout: "{ " before the first field, ", " between fields, " }" at the end (so "{ }" when empty).
    private static void Name(StringBuilder sb, ref bool first, string name)
    {
        sb.Append(first ? " \"" : ", \"").Append(name).Append("\": ");
        first = false;
    }

    // A string field, left out when empty (proto3 defaults are not printed); false when the formatter would escape a character.
    private static bool Field(StringBuilder sb, ref bool first, string name, string value)
    {
        if (value.Length == 0)
        {
            return true;
        }

        foreach (char c in value)
        {
            // Printable ASCII except what JsonFormatter escapes: " \ and the HTML-sensitive & ' < = >.
            if (c < 0x20 || c > 0x7E || c is '"' or '\\' or '&' or '\'' or '<' or '=' or '>')
            {
                return false;
            }
        }

        Name(sb, ref first, name);
        sb.Append('"').Append(value).Append('"');
        return true;
    }

    // RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, as the formatter writes a Timestamp; false outside its valid range.
    private static bool TryTimestamp(long seconds, int nanos, out string? text)
    {
        text = null;
        const long MinSeconds = -62135596800L, MaxSeconds = 253402300799L;
        if (seconds < MinSeconds || seconds > MaxSeconds || nanos < 0 || nanos > 999_999_999)
        {
            return false;
        }

        var time = DateTime.UnixEpoch.AddSeconds(seconds);
        string fraction = nanos == 0 ? string.Empty
            : nanos % 1_000_000 == 0 ? "." + (nanos / 1_000_000).ToString("D3", CultureInfo.InvariantCulture)
            : nanos % 1_000 == 0 ? "." + (nanos / 1_000).ToString("D6", CultureInfo.InvariantCulture)
            : "." + nanos.ToString("D9", CultureInfo.InvariantCulture);
        text = time.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss", CultureInfo.InvariantCulture) + fraction + "Z";
        return true;
    }
}
