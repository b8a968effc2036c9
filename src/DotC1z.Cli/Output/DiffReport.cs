using System.Globalization;
using System.Text;
using System.Text.Json;
using DotC1z.Engine.Sqlite;
using DotC1z.Operations;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Cli.Output;

/// <summary>
/// <c>c1z diff --format json</c>: baton's <c>C1ZDiffOutput</c> shape (docs/CLI.md, "diff"): <c>resources</c>,
/// <c>entitlements</c> and <c>grants</c>, each with <c>created</c>, <c>deleted</c> and <c>modified</c> lists of
/// c1.connector.v2 messages in protobuf canonical JSON (a modified record shows its applied version). Beyond baton:
/// <c>resourceTypes</c> (v2 ResourceType) and <c>assets</c> (storage records) in the same shape, and
/// <c>modifiedFields</c>: per record type, each modified record's identity and the fields (JSON names) that changed.
/// Lists are spilled to temporary files as the merge produces them, so memory stays bounded at any size.
/// </summary>
internal sealed class DiffJsonReport : IDiffVisitor, IDisposable
{
    // Top-level keys in output order: baton's three first.
    private static readonly string[] Keys = ["resources", "entitlements", "grants", "resourceTypes", "assets"];

    private readonly Dictionary<string, Lists> _lists = Keys.ToDictionary(k => k, _ => new Lists(), StringComparer.Ordinal);

    public void Created<T>(RecordKindInfo<T> kind, T record)
        where T : class, IMessage<T>, new()
    {
        // Modified records reach us with their sync ids cleared; created and deleted ones match them.
        kind.ClearSync(record);
        _lists[Key(kind)].Created.Add(Json(record));
    }

    public void Deleted<T>(RecordKindInfo<T> kind, T record)
        where T : class, IMessage<T>, new()
    {
        kind.ClearSync(record);
        _lists[Key(kind)].Deleted.Add(Json(record));
    }

    public void Modified<T>(RecordKindInfo<T> kind, T before, T after, IReadOnlyList<string> changedFields)
        where T : class, IMessage<T>, new()
    {
        var lists = _lists[Key(kind)];
        lists.Modified.Add(Json(after));
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", Identity(after));
            w.WriteStartArray("fields");
            foreach (string name in changedFields)
            {
                w.WriteStringValue(after.Descriptor.FindFieldByName(name)?.JsonName ?? name);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        lists.Fields.Add(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>Writes the whole report as one JSON document (one line) and a newline.</summary>
    public void WriteTo(TextWriter output)
    {
        // The elements are JSON already (one per spilled line); only the frame around them is written here.
        output.Write('{');
        foreach (string key in Keys)
        {
            output.Write($"\"{key}\":{{");
            _lists[key].Created.WriteArray(output, "created");
            output.Write(',');
            _lists[key].Deleted.WriteArray(output, "deleted");
            output.Write(',');
            _lists[key].Modified.WriteArray(output, "modified");
            output.Write("},");
        }

        output.Write("\"modifiedFields\":{");
        for (int i = 0; i < Keys.Length; i++)
        {
            _lists[Keys[i]].Fields.WriteArray(output, Keys[i]);
            output.Write(i + 1 < Keys.Length ? "," : "}");
        }

        output.WriteLine('}');
        output.Flush();
    }

    public void Dispose()
    {
        foreach (var lists in _lists.Values)
        {
            lists.Dispose();
        }
    }

    private static string Key(RecordKindInfo kind) => kind.Kind switch
    {
        RecordKind.ResourceType => "resourceTypes",
        RecordKind.Resource => "resources",
        RecordKind.Entitlement => "entitlements",
        RecordKind.Grant => "grants",
        _ => "assets",
    };

    /// <summary>baton's message for a record (connector v2), assets as stored.</summary>
    private static string Json(IMessage record) => RecordJson.Format(record switch
    {
        ResourceTypeRecord r => V2Translation.ToV2(r),
        ResourceRecord r => V2Translation.ToV2(r),
        EntitlementRecord r => V2Translation.ToV2(r),
        GrantRecord r => V2Translation.ToV2(r),
        _ => record,
    });

    /// <summary>A record's identity as one string: the resource's "type/id", otherwise the external id.</summary>
    internal static string Identity(IMessage record) => record switch
    {
        ResourceRecord r => r.ResourceTypeId + "/" + r.ResourceId,
        ResourceTypeRecord r => r.ExternalId,
        EntitlementRecord r => r.ExternalId,
        GrantRecord r => r.ExternalId,
        AssetRecord r => r.ExternalId,
        _ => string.Empty,
    };

    private sealed class Lists : IDisposable
    {
        public JsonSpill Created { get; } = new();

        public JsonSpill Deleted { get; } = new();

        public JsonSpill Modified { get; } = new();

        public JsonSpill Fields { get; } = new();

        public void Dispose()
        {
            Created.Dispose();
            Deleted.Dispose();
            Modified.Dispose();
            Fields.Dispose();
        }
    }

    /// <summary>One JSON array's elements, one per line, in a temporary file created on first use (deleted on close).</summary>
    private sealed class JsonSpill : IDisposable
    {
        private FileStream? _file;

        public void Add(string json)
        {
            _file ??= new FileStream(Path.Combine(Path.GetTempPath(), "dotc1z-diff-" + Guid.NewGuid().ToString("N")), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose);
            byte[] bytes = Encoding.UTF8.GetBytes(json);
            _file.Write(bytes);
            _file.WriteByte((byte)'\n');
        }

        public void WriteArray(TextWriter output, string name)
        {
            output.Write($"\"{name}\":[");
            if (_file is not null)
            {
                _file.Flush();
                _file.Position = 0;
                using var reader = new StreamReader(_file, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true);
                bool first = true;
                while (reader.ReadLine() is { } line)
                {
                    if (!first)
                    {
                        output.Write(',');
                    }

                    first = false;
                    output.Write(line);
                }
            }

            output.Write(']');
        }

        public void Dispose() => _file?.Dispose();
    }
}

/// <summary>The <c>--format summary</c> lines of <c>c1z diff</c>: per record type, created / deleted / modified and the fields that changed most.</summary>
internal static class DiffSummary
{
    public static void Write(TextWriter output, IReadOnlyList<KindChanges> changes)
    {
        foreach (var c in changes)
        {
            var line = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"{c.Kind.Name}: {c.Created} created, {c.Deleted} deleted, {c.Modified} modified"));
            if (c.ChangedFields.Count > 0)
            {
                line.Append(" (changed fields: ");
                line.AppendJoin(", ", c.ChangedFields.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value}")));
                line.Append(')');
            }

            output.WriteLine(line.ToString());
        }
    }
}
