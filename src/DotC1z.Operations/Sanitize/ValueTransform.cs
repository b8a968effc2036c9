using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations.Sanitize;

/// <summary>
/// The value-level rules shared by records and annotations: identities through the pseudonymiser, timestamps
/// through the shift (noting the latest one seen), structs leaf by leaf, annotations by the allow-list of
/// <see cref="AnnotationRules"/>. Without a pseudonymiser it only observes (the pass that finds the latest timestamp).
/// </summary>
internal sealed class ValueTransform(Pseudonymizer? names, TimestampShift shift)
{
    /// <summary>The latest timestamp passed through <see cref="Time"/> so far.</summary>
    public Timestamp? Latest { get; private set; }

    /// <summary>Annotations dropped: of an unknown type, or of a known type that did not decode.</summary>
    public long DroppedAnnotations { get; private set; }

    /// <summary>Annotations kept (rewritten by their rules).</summary>
    public long KeptAnnotations { get; private set; }

    public string Identity(string value) => names is null ? value : names.Id(value);

    public Timestamp? Time(Timestamp? t)
    {
        if (TimestampShift.Later(t, Latest))
        {
            Latest = t;
        }

        return shift.Apply(t);
    }

    public Struct? Struct(Struct? s)
    {
        if (s is null)
        {
            return null;
        }

        var result = new Struct();
        foreach (var (key, value) in s.Fields)
        {
            // Keys are the connector's schema (field names), as in baton's sanitiser; values are tenant data.
            result.Fields[key] = Value(value);
        }

        return result;
    }

    /// <summary>Rewrites <paramref name="input"/> into <paramref name="output"/>: recognised types sanitised, others dropped.</summary>
    public void Annotations(RepeatedField<Any> input, RepeatedField<Any> output)
    {
        foreach (var a in input)
        {
            if (!AnnotationRules.Known.TryGetValue(a.TypeUrl, out var rules))
            {
                DroppedAnnotations++;
                continue;
            }

            try
            {
                output.Add(new Any { TypeUrl = a.TypeUrl, Value = AnnotationRules.Rewrite(a.Value, rules, this) });
                KeptAnnotations++;
            }
            catch (InvalidProtocolBufferException)
            {
                // A recognised type that does not decode cannot be checked field by field: it goes.
                DroppedAnnotations++;
            }
        }
    }

    private Value Value(Value v) => v.KindCase switch
    {
        Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StringValue => Google.Protobuf.WellKnownTypes.Value.ForString(Identity(v.StringValue)),
        Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StructValue => Google.Protobuf.WellKnownTypes.Value.ForStruct(Struct(v.StructValue)!),
        Google.Protobuf.WellKnownTypes.Value.KindOneofCase.ListValue => Google.Protobuf.WellKnownTypes.Value.ForList([.. v.ListValue.Values.Select(Value)]),
        _ => v.Clone(),
    };
}
