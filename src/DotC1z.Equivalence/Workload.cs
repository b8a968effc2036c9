using System.Text.Json;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Equivalence;

/// <summary>What an operation does.</summary>
public enum OpKind
{
    /// <summary>Put (insert or overwrite) one record.</summary>
    Put,

    /// <summary>Delete one record by identity.</summary>
    Delete,
}

/// <summary>
/// One operation of a workload. <see cref="Sync"/> is an index into the workload's syncs (each engine
/// mints its own sync ids, so workloads never name them). For deletes, <see cref="Record"/> carries
/// only the identity fields.
/// </summary>
/// <param name="Kind">Put or delete.</param>
/// <param name="Sync">Sync index (0-based).</param>
/// <param name="Record">The record (for deletes, its identity).</param>
public sealed record Op(OpKind Kind, int Sync, IMessage Record)
{
    /// <summary>The record kind.</summary>
    public RecordKind RecordKind => Record switch
    {
        ResourceTypeRecord => RecordKind.ResourceType,
        ResourceRecord => RecordKind.Resource,
        EntitlementRecord => RecordKind.Entitlement,
        GrantRecord => RecordKind.Grant,
        AssetRecord => RecordKind.Asset,
        _ => throw new InvalidOperationException($"unsupported record {Record.Descriptor.FullName}"),
    };
}

/// <summary>A named, replayable list of operations over a number of syncs.</summary>
/// <param name="Name">Name (for messages).</param>
/// <param name="Syncs">How many syncs the workload uses (at least 1).</param>
/// <param name="Ops">The operations, in order.</param>
public sealed record Workload(string Name, int Syncs, IReadOnlyList<Op> Ops)
{
    /// <summary>Writes the workload as JSON (records as base64 protobuf), so a failing case can be replayed by a test.</summary>
    /// <param name="path">The file.</param>
    public void Save(string path)
    {
        var doc = new ReplayDocument
        {
            Name = Name,
            Syncs = Syncs,
            Ops = Ops.Select(o => new ReplayOp { Kind = o.Kind.ToString(), Sync = o.Sync, Type = o.Record.Descriptor.Name, Data = Convert.ToBase64String(o.Record.ToByteArray()) }).ToList(),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Reads a workload written by <see cref="Save"/>.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The workload.</returns>
    /// <exception cref="InvalidDataException">The file is not a replay file.</exception>
    public static Workload Load(string path)
    {
        var doc = JsonSerializer.Deserialize<ReplayDocument>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} is not a replay file");
        var ops = doc.Ops.Select(o => new Op(Enum.Parse<OpKind>(o.Kind), o.Sync, Parse(o.Type, Convert.FromBase64String(o.Data)))).ToList();
        return new Workload(doc.Name, doc.Syncs, ops);
    }

    private static IMessage Parse(string type, byte[] data) => type switch
    {
        nameof(ResourceTypeRecord) => ResourceTypeRecord.Parser.ParseFrom(data),
        nameof(ResourceRecord) => ResourceRecord.Parser.ParseFrom(data),
        nameof(EntitlementRecord) => EntitlementRecord.Parser.ParseFrom(data),
        nameof(GrantRecord) => GrantRecord.Parser.ParseFrom(data),
        nameof(AssetRecord) => AssetRecord.Parser.ParseFrom(data),
        _ => throw new InvalidDataException($"unknown record type {type}"),
    };

    private sealed class ReplayDocument
    {
        public string Name { get; set; } = string.Empty;

        public int Syncs { get; set; }

        public List<ReplayOp> Ops { get; set; } = [];
    }

    private sealed class ReplayOp
    {
        public string Kind { get; set; } = string.Empty;

        public int Sync { get; set; }

        public string Type { get; set; } = string.Empty;

        public string Data { get; set; } = string.Empty;
    }
}
