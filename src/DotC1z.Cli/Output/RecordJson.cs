using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Cli.Output;

/// <summary>
/// Google.Protobuf canonical JSON for stored records, with the c1.connector.v2 annotation types registered.
/// An annotation of a type this build does not know is shown as a string value (its type URL and base64
/// payload) instead of failing the listing; one of a known type whose payload does not decode throws
/// <see cref="InvalidProtocolBufferException"/> (the listing reports it as a bad record).
/// </summary>
internal static class RecordJson
{
    private static readonly TypeRegistry Registry = TypeRegistry.FromFiles(Connector.V2.ConnectorReflection.Descriptor, StructReflection.Descriptor, WrappersReflection.Descriptor);
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(Registry));

    /// <summary>The descriptor registered for an annotation type URL, or null.</summary>
    public static MessageDescriptor? Find(string typeUrl) => Registry.Find(Any.GetTypeName(typeUrl));

    /// <summary>The canonical JSON of a record (one line).</summary>
    public static string Format(IMessage record)
    {
        var field = record.Descriptor.FindFieldByName("annotations");
        if (field is null || field.Accessor.GetValue(record) is not IList<Any> annotations || annotations.All(a => Find(a.TypeUrl) is not null))
        {
            return Formatter.Format(record);
        }

        var copy = record.Descriptor.Parser.ParseFrom(record.ToByteString());
        var list = (IList<Any>)field.Accessor.GetValue(copy);
        for (int i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (Find(a.TypeUrl) is null)
            {
                list[i] = Any.Pack(new StringValue { Value = a.TypeUrl + ";base64," + a.Value.ToBase64() });
            }
        }

        return Formatter.Format(copy);
    }

    /// <summary>What is wrong with a record that could not be shown: the first known annotation that does not decode, else the exception.</summary>
    public static string Problem(IMessage record, Exception ex)
    {
        var field = record.Descriptor.FindFieldByName("annotations");
        if (field?.Accessor.GetValue(record) is IList<Any> annotations)
        {
            foreach (var a in annotations)
            {
                var descriptor = Find(a.TypeUrl);
                if (descriptor is null)
                {
                    continue;
                }

                try
                {
                    _ = descriptor.Parser.ParseFrom(a.Value);
                }
                catch (InvalidProtocolBufferException)
                {
                    return $"annotation {a.TypeUrl} does not decode";
                }
            }
        }

        return ex is InvalidProtocolBufferException ? "record does not decode: " + ex.Message : "record cannot be shown: " + ex.Message;
    }
}
