using System.Collections.Frozen;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations.Sanitize;

/// <summary>What the sanitiser does with one field of a recognised annotation message.</summary>
internal enum FieldAction
{
    /// <summary>Copied as it is (enums, booleans, numbers, connector-defined type ids).</summary>
    Keep,

    /// <summary>A string naming a person or system: replaced by its pseudonym.</summary>
    Identity,

    /// <summary>A URL: replaced by a fixed placeholder when present.</summary>
    Url,

    /// <summary>A <c>google.protobuf.Timestamp</c>: shifted.</summary>
    Time,

    /// <summary>A <c>google.protobuf.Struct</c>: every string leaf pseudonymised, keys, numbers and booleans kept.</summary>
    Struct,

    /// <summary>A nested message with its own rules.</summary>
    Message,
}

/// <summary>The rules of one message: field number → action; fields not listed are dropped.</summary>
internal sealed class MessageRules(IReadOnlyDictionary<int, (FieldAction Action, MessageRules? Nested)> fields)
{
    public bool TryGet(int field, out (FieldAction Action, MessageRules? Nested) rule) => fields.TryGetValue(field, out rule);
}

/// <summary>
/// The annotation types the sanitiser recognises (docs/SANITIZE.md §4), described by field number as in
/// baton-sdk's <c>c1.connector.v2</c> protos, and the wire-level rewrite that applies them. Working on the wire
/// format, with an allow-list per message, means a field this table does not list (a newer baton field, or
/// anything a hostile file adds) is dropped rather than copied.
/// </summary>
internal static class AnnotationRules
{
    /// <summary>Placeholder for URLs (baton's sanitiser uses the same host).</summary>
    public const string UrlPlaceholder = "https://sanitized.example/help";

    private const string Prefix = "type.googleapis.com/c1.connector.v2.";

    private const FieldAction Keep = FieldAction.Keep;
    private const FieldAction Identity = FieldAction.Identity;
    private const FieldAction Time = FieldAction.Time;
    private const FieldAction Struct = FieldAction.Struct;
    private const FieldAction Message = FieldAction.Message;

    private static readonly MessageRules AssetRef = Rules((1, Identity, null));
    private static readonly MessageRules ResourceId = Rules((1, Keep, null), (2, Identity, null), (3, Keep, null));

    /// <summary>Type URL → rules of that message.</summary>
    public static FrozenDictionary<string, MessageRules> Known { get; } = new Dictionary<string, MessageRules>(StringComparer.Ordinal)
    {
        [Prefix + "UserTrait"] = Rules(
            (1, Message, Rules((1, Identity, null), (2, Keep, null))), // emails { address, is_primary }
            (2, Message, Rules((1, Keep, null), (2, Identity, null))), // status { status, details }
            (3, Struct, null), // profile
            (4, Message, AssetRef), // icon
            (5, Keep, null), // account_type
            (6, Identity, null), // login
            (7, Identity, null), // login_aliases
            (8, Time, null), // created_at
            (9, Time, null), // last_login
            (10, Message, Rules((1, Keep, null))), // mfa_status
            (11, Message, Rules((1, Keep, null)))), // sso_status
        [Prefix + "GroupTrait"] = Rules((1, Message, AssetRef), (2, Struct, null)),
        [Prefix + "RoleTrait"] = Rules((1, Struct, null)),
        [Prefix + "AppTrait"] = Rules((1, FieldAction.Url, null), (2, Message, AssetRef), (3, Message, AssetRef), (4, Struct, null), (5, Keep, null)),
        [Prefix + "SecretTrait"] = Rules((1, Struct, null), (2, Time, null), (3, Time, null), (4, Time, null), (5, Message, ResourceId)),
        [Prefix + "GrantExpandable"] = Rules((1, Identity, null), (2, Keep, null), (3, Keep, null)),
        [Prefix + "GrantImmutable"] = Rules((1, Identity, null), (2, Struct, null)),
        [Prefix + "GrantMetadata"] = Rules((1, Struct, null)),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Rewrites one message by its rules.</summary>
    /// <param name="input">The encoded message.</param>
    /// <param name="rules">Its rules.</param>
    /// <param name="values">How identities, timestamps and structs are transformed.</param>
    /// <returns>The encoded, sanitised message.</returns>
    /// <exception cref="InvalidProtocolBufferException">The input does not decode.</exception>
    public static ByteString Rewrite(ByteString input, MessageRules rules, ValueTransform values)
    {
        var reader = new CodedInputStream(input.ToByteArray());
        using var buffer = new MemoryStream();
        var writer = new CodedOutputStream(buffer);
        uint tag;
        while ((tag = reader.ReadTag()) != 0)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            var wire = WireFormat.GetTagWireType(tag);
            if (!rules.TryGet(field, out var rule) || (rule.Action != FieldAction.Keep && wire != WireFormat.WireType.LengthDelimited))
            {
                reader.SkipLastField();
                continue;
            }

            switch (rule.Action)
            {
                case FieldAction.Keep:
                    CopyField(reader, writer, tag, wire);
                    break;
                case FieldAction.Identity:
                    writer.WriteTag(tag);
                    writer.WriteString(values.Identity(reader.ReadString()));
                    break;
                case FieldAction.Url:
                    writer.WriteTag(tag);
                    writer.WriteString(reader.ReadString().Length == 0 ? string.Empty : UrlPlaceholder);
                    break;
                case FieldAction.Time:
                    var time = values.Time(Timestamp.Parser.ParseFrom(reader.ReadBytes()))!;
                    writer.WriteTag(tag);
                    writer.WriteBytes(time.ToByteString());
                    break;
                case FieldAction.Struct:
                    var s = values.Struct(Google.Protobuf.WellKnownTypes.Struct.Parser.ParseFrom(reader.ReadBytes()))!;
                    writer.WriteTag(tag);
                    writer.WriteBytes(s.ToByteString());
                    break;
                default:
                    var nested = Rewrite(reader.ReadBytes(), rule.Nested!, values);
                    writer.WriteTag(tag);
                    writer.WriteBytes(nested);
                    break;
            }
        }

        writer.Flush();
        return ByteString.CopyFrom(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void CopyField(CodedInputStream reader, CodedOutputStream writer, uint tag, WireFormat.WireType wire)
    {
        switch (wire)
        {
            case WireFormat.WireType.Varint:
                writer.WriteTag(tag);
                writer.WriteUInt64(reader.ReadUInt64());
                break;
            case WireFormat.WireType.Fixed32:
                writer.WriteTag(tag);
                writer.WriteFixed32(reader.ReadFixed32());
                break;
            case WireFormat.WireType.Fixed64:
                writer.WriteTag(tag);
                writer.WriteFixed64(reader.ReadFixed64());
                break;
            case WireFormat.WireType.LengthDelimited:
                writer.WriteTag(tag);
                writer.WriteBytes(reader.ReadBytes());
                break;
            default:
                reader.SkipLastField(); // groups: no recognised message uses them
                break;
        }
    }

    private static MessageRules Rules(params (int Field, FieldAction Action, MessageRules? Nested)[] fields) =>
        new(fields.ToDictionary(f => f.Field, f => (f.Action, f.Nested)));
}
