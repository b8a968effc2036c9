using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Engine.Rocks;

/// <summary>Everything the engine needs to know about one record kind, so reads, writes, bulk loads and the verifier share one definition.</summary>
internal sealed class RecordOps<T>
    where T : class, IMessage<T>, new()
{
    public required RecordKind Kind { get; init; }

    public required DirectCodec<T> Codec { get; init; }

    public required Func<SyncId, T, byte[]> PrimaryKey { get; init; }

    public Func<SyncId, T, IEnumerable<Keyspace.IndexEntry>>? Indexes { get; init; }

    public required Func<T, string> GetSyncId { get; init; }

    public required Action<T, string> SetSyncId { get; init; }

    /// <summary>Throws <see cref="C1zArgumentException"/> when the record's identity is incomplete.</summary>
    public required Action<T> Validate { get; init; }

    /// <summary>The stored value: the record without its sync id (the key carries it). The caller's instance is not modified.</summary>
    public byte[] EncodeValue(T record)
    {
        if (GetSyncId(record).Length == 0)
        {
            return Codec.ToArray(record);
        }

        var copy = record.Clone();
        SetSyncId(copy, string.Empty);
        return Codec.ToArray(copy);
    }

    public T DecodeValue(ReadOnlySpan<byte> value, string syncText)
    {
        var record = Codec.Decode(value);
        SetSyncId(record, syncText);
        return record;
    }

    /// <summary>Decodes like <see cref="DecodeValue(ReadOnlySpan{byte}, string)"/>; grants share repeated ids through a scan's <paramref name="strings"/>.</summary>
    public T DecodeValue(ReadOnlySpan<byte> value, string syncText, Utf8StringTable? strings)
    {
        var record = strings is not null && Codec is GrantRecordCodec grants ? (T)(object)grants.Decode(value, strings) : Codec.Decode(value);
        SetSyncId(record, syncText);
        return record;
    }

    /// <summary>A string table for one scan of this kind, or null for kinds whose decoder does not use one.</summary>
    public Utf8StringTable? NewScanTable() => Kind == RecordKind.Grant ? new Utf8StringTable() : null;
}

/// <summary>The five record kinds' definitions.</summary>
internal static class RecordOps
{
    private static void Require(string? id, string what)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw new C1zArgumentException($"{what} must not be empty");
        }
    }

    public static readonly RecordOps<ResourceTypeRecord> ResourceType = new()
    {
        Kind = RecordKind.ResourceType,
        Codec = CodecRegistry.ResourceType,
        PrimaryKey = Keyspace.PrimaryKey,
        GetSyncId = static r => r.SyncId,
        SetSyncId = static (r, s) => r.SyncId = s,
        Validate = static r => Require(r.ExternalId, "resource type external_id"),
    };

    public static readonly RecordOps<ResourceRecord> Resource = new()
    {
        Kind = RecordKind.Resource,
        Codec = CodecRegistry.Resource,
        PrimaryKey = Keyspace.PrimaryKey,
        Indexes = Keyspace.IndexEntries,
        GetSyncId = static r => r.SyncId,
        SetSyncId = static (r, s) => r.SyncId = s,
        Validate = static r =>
        {
            Require(r.ResourceTypeId, "resource resource_type_id");
            Require(r.ResourceId, "resource resource_id");
        },
    };

    public static readonly RecordOps<EntitlementRecord> Entitlement = new()
    {
        Kind = RecordKind.Entitlement,
        Codec = CodecRegistry.Entitlement,
        PrimaryKey = Keyspace.PrimaryKey,
        Indexes = Keyspace.IndexEntries,
        GetSyncId = static r => r.SyncId,
        SetSyncId = static (r, s) => r.SyncId = s,
        Validate = static r => Require(r.ExternalId, "entitlement external_id"),
    };

    public static readonly RecordOps<GrantRecord> Grant = new()
    {
        Kind = RecordKind.Grant,
        Codec = CodecRegistry.Grant,
        PrimaryKey = Keyspace.PrimaryKey,
        Indexes = Keyspace.IndexEntries,
        GetSyncId = static r => r.SyncId,
        SetSyncId = static (r, s) => r.SyncId = s,
        Validate = static r => Require(r.ExternalId, "grant external_id"),
    };

    public static readonly RecordOps<AssetRecord> Asset = new()
    {
        Kind = RecordKind.Asset,
        Codec = CodecRegistry.Asset,
        PrimaryKey = Keyspace.PrimaryKey,
        GetSyncId = static r => r.SyncId,
        SetSyncId = static (r, s) => r.SyncId = s,
        Validate = static r => Require(r.ExternalId, "asset external_id"),
    };
}
