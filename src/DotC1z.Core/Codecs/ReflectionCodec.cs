using System.Buffers;
using System.Collections;
using System.Diagnostics.CodeAnalysis;
using DotC1z.Errors;
using DotC1z.Keys;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace DotC1z.Codecs;

/// <summary>
/// Codec for any protobuf message, driven only by its <see cref="MessageDescriptor"/>: fields are
/// read through descriptor accessors and written in field-number order with map entries sorted by
/// key, which gives the same deterministic bytes as the direct codecs. It is the fallback for
/// message types no direct codec is registered for, and the baseline the benchmark compares against.
/// </summary>
public sealed class ReflectionCodec : IRecordCodec
{
    private readonly FieldDescriptor[] _fields;

    /// <summary>Creates a codec for a descriptor.</summary>
    /// <param name="descriptor">The message descriptor; it must belong to a generated type (it carries a parser).</param>
    /// <exception cref="ArgumentException">The descriptor has no parser.</exception>
    public ReflectionCodec(MessageDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (descriptor.Parser is null)
        {
            throw new ArgumentException($"descriptor {descriptor.FullName} has no parser", nameof(descriptor));
        }

        Descriptor = descriptor;
        _fields = [.. descriptor.Fields.InFieldNumberOrder()];
    }

    /// <inheritdoc/>
    public string MessageName => Descriptor.FullName;

    /// <inheritdoc/>
    public MessageDescriptor Descriptor { get; }

    /// <inheritdoc/>
    public int CalculateSize(IMessage message) => SizeOf(Check(message), _fields);

    /// <inheritdoc/>
    public int Encode(IMessage message, Span<byte> destination)
    {
        var m = Check(message);
        int size = SizeOf(m, _fields);
        if (destination.Length < size)
        {
            throw new ArgumentException($"destination needs {size} bytes", nameof(destination));
        }

        // CodedOutputStream cannot wrap a span; the fallback codec pays one copy for it.
        byte[] rented = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var output = new CodedOutputStream(rented);
            Write(output, m, _fields);
            output.Flush();
            rented.AsSpan(0, size).CopyTo(destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return size;
    }

    /// <inheritdoc/>
    public void Encode(IMessage message, IBufferWriter<byte> writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var m = Check(message);
        int size = SizeOf(m, _fields);
        Encode(m, writer.GetSpan(size));
        writer.Advance(size);
    }

    /// <inheritdoc/>
    public IMessage Decode(ReadOnlySpan<byte> value)
    {
        try
        {
            return Descriptor.Parser.ParseFrom(value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new C1zCorruptionException($"stored {MessageName} value does not decode: {ex.Message}", inner: ex);
        }
    }

    /// <inheritdoc/>
    public bool TryDecode(ReadOnlySpan<byte> value, [NotNullWhen(true)] out IMessage? message)
    {
        try
        {
            message = Decode(value);
            return true;
        }
        catch (C1zCorruptionException)
        {
            message = null;
            return false;
        }
    }

    private IMessage Check(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Descriptor.FullName != Descriptor.FullName)
        {
            throw new C1zCodecTypeMismatchException(Descriptor.FullName, message.Descriptor.FullName);
        }

        return message;
    }

    // ------------------------------------------------------------------ sizing

    private static int SizeOf(IMessage message, IList<FieldDescriptor> fields)
    {
        int size = 0;
        foreach (var field in fields)
        {
            object? value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                var entryFields = field.MessageType.Fields.InFieldNumberOrder();
                foreach (DictionaryEntry entry in (IDictionary)value!)
                {
                    int entrySize = SingularSize(entryFields[0], entry.Key) + SingularSize(entryFields[1], entry.Value);
                    size += CodedOutputStream.ComputeTagSize(field.FieldNumber) + CodedOutputStream.ComputeLengthSize(entrySize) + entrySize;
                }
            }
            else if (field.IsRepeated)
            {
                var list = (IList)value!;
                if (list.Count == 0)
                {
                    continue;
                }

                if (IsPackable(field))
                {
                    int payload = 0;
                    foreach (object item in list)
                    {
                        payload += ScalarSize(field.FieldType, item);
                    }

                    size += CodedOutputStream.ComputeTagSize(field.FieldNumber) + CodedOutputStream.ComputeLengthSize(payload) + payload;
                }
                else
                {
                    foreach (object item in list)
                    {
                        size += CodedOutputStream.ComputeTagSize(field.FieldNumber) + ValueSize(field, item);
                    }
                }
            }
            else if (IsPresent(field, message, value))
            {
                size += CodedOutputStream.ComputeTagSize(field.FieldNumber) + ValueSize(field, value!);
            }
        }

        return size;
    }

    // Size of a map key/value, which is always written (map entries have explicit presence in practice
    // but protobuf writers emit both fields; default values are written too).
    private static int SingularSize(FieldDescriptor field, object? value) =>
        CodedOutputStream.ComputeTagSize(field.FieldNumber) + ValueSize(field, value ?? DefaultOf(field));

    private static int ValueSize(FieldDescriptor field, object value)
    {
        if (field.FieldType == FieldType.Message)
        {
            int inner = SizeOf((IMessage)value, field.MessageType.Fields.InFieldNumberOrder());
            return CodedOutputStream.ComputeLengthSize(inner) + inner;
        }

        return ScalarSize(field.FieldType, value);
    }

    private static int ScalarSize(FieldType type, object value) => type switch
    {
        FieldType.Double => 8,
        FieldType.Float => 4,
        FieldType.Int64 => CodedOutputStream.ComputeInt64Size((long)value),
        FieldType.UInt64 => CodedOutputStream.ComputeUInt64Size((ulong)value),
        FieldType.Int32 => CodedOutputStream.ComputeInt32Size((int)value),
        FieldType.Fixed64 => 8,
        FieldType.Fixed32 => 4,
        FieldType.Bool => 1,
        FieldType.String => CodedOutputStream.ComputeStringSize((string)value),
        FieldType.Bytes => CodedOutputStream.ComputeBytesSize((ByteString)value),
        FieldType.UInt32 => CodedOutputStream.ComputeUInt32Size((uint)value),
        FieldType.SFixed32 => 4,
        FieldType.SFixed64 => 8,
        FieldType.SInt32 => CodedOutputStream.ComputeSInt32Size((int)value),
        FieldType.SInt64 => CodedOutputStream.ComputeSInt64Size((long)value),
        FieldType.Enum => CodedOutputStream.ComputeEnumSize(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)),
        _ => throw new NotSupportedException($"field type {type} is not supported by the reflection codec"),
    };

    // ------------------------------------------------------------------ writing

    private static void Write(CodedOutputStream output, IMessage message, IList<FieldDescriptor> fields)
    {
        foreach (var field in fields)
        {
            object? value = field.Accessor.GetValue(message);
            if (field.IsMap)
            {
                var entryFields = field.MessageType.Fields.InFieldNumberOrder();
                var entries = new List<DictionaryEntry>();
                foreach (DictionaryEntry entry in (IDictionary)value!)
                {
                    entries.Add(entry);
                }

                // Deterministic order: by key (strings in UTF-8 byte order, numbers numerically).
                entries.Sort(static (a, b) => a.Key is string sa && b.Key is string sb
                    ? Utf8Ordinal.Instance.Compare(sa, sb)
                    : Comparer.Default.Compare(a.Key, b.Key));
                foreach (var entry in entries)
                {
                    int entrySize = SingularSize(entryFields[0], entry.Key) + SingularSize(entryFields[1], entry.Value);
                    output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                    output.WriteLength(entrySize);
                    WriteTagged(output, entryFields[0], entry.Key ?? DefaultOf(entryFields[0]));
                    WriteTagged(output, entryFields[1], entry.Value ?? DefaultOf(entryFields[1]));
                }
            }
            else if (field.IsRepeated)
            {
                var list = (IList)value!;
                if (list.Count == 0)
                {
                    continue;
                }

                if (IsPackable(field))
                {
                    int payload = 0;
                    foreach (object item in list)
                    {
                        payload += ScalarSize(field.FieldType, item);
                    }

                    output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                    output.WriteLength(payload);
                    foreach (object item in list)
                    {
                        WriteScalar(output, field.FieldType, item);
                    }
                }
                else
                {
                    foreach (object item in list)
                    {
                        WriteTagged(output, field, item);
                    }
                }
            }
            else if (IsPresent(field, message, value))
            {
                WriteTagged(output, field, value!);
            }
        }
    }

    private static void WriteTagged(CodedOutputStream output, FieldDescriptor field, object value)
    {
        output.WriteTag(field.FieldNumber, WireTypeOf(field.FieldType));
        if (field.FieldType == FieldType.Message)
        {
            var inner = (IMessage)value;
            var innerFields = field.MessageType.Fields.InFieldNumberOrder();
            output.WriteLength(SizeOf(inner, innerFields));
            Write(output, inner, innerFields);
        }
        else
        {
            WriteScalar(output, field.FieldType, value);
        }
    }

    private static void WriteScalar(CodedOutputStream output, FieldType type, object value)
    {
        switch (type)
        {
            case FieldType.Double: output.WriteDouble((double)value); break;
            case FieldType.Float: output.WriteFloat((float)value); break;
            case FieldType.Int64: output.WriteInt64((long)value); break;
            case FieldType.UInt64: output.WriteUInt64((ulong)value); break;
            case FieldType.Int32: output.WriteInt32((int)value); break;
            case FieldType.Fixed64: output.WriteFixed64((ulong)value); break;
            case FieldType.Fixed32: output.WriteFixed32((uint)value); break;
            case FieldType.Bool: output.WriteBool((bool)value); break;
            case FieldType.String: output.WriteString((string)value); break;
            case FieldType.Bytes: output.WriteBytes((ByteString)value); break;
            case FieldType.UInt32: output.WriteUInt32((uint)value); break;
            case FieldType.SFixed32: output.WriteSFixed32((int)value); break;
            case FieldType.SFixed64: output.WriteSFixed64((long)value); break;
            case FieldType.SInt32: output.WriteSInt32((int)value); break;
            case FieldType.SInt64: output.WriteSInt64((long)value); break;
            case FieldType.Enum: output.WriteEnum(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture)); break;
            default: throw new NotSupportedException($"field type {type} is not supported by the reflection codec");
        }
    }

    private static WireFormat.WireType WireTypeOf(FieldType type) => type switch
    {
        FieldType.Double or FieldType.Fixed64 or FieldType.SFixed64 => WireFormat.WireType.Fixed64,
        FieldType.Float or FieldType.Fixed32 or FieldType.SFixed32 => WireFormat.WireType.Fixed32,
        FieldType.String or FieldType.Bytes or FieldType.Message => WireFormat.WireType.LengthDelimited,
        _ => WireFormat.WireType.Varint,
    };

    // ------------------------------------------------------------------ presence

    private static bool IsPresent(FieldDescriptor field, IMessage message, object? value)
    {
        if (field.FieldType == FieldType.Message)
        {
            return value is not null;
        }

        if (field.HasPresence)
        {
            return field.Accessor.HasValue(message);
        }

        // proto3 implicit presence: default values are not written.
        return value switch
        {
            null => false,
            string s => s.Length != 0,
            ByteString b => b.Length != 0,
            bool b => b,
            int i => i != 0,
            long l => l != 0,
            uint u => u != 0,
            ulong u => u != 0,
            float f => BitConverter.SingleToInt32Bits(f) != 0,
            double d => BitConverter.DoubleToInt64Bits(d) != 0,
            Enum e => Convert.ToInt32(e, System.Globalization.CultureInfo.InvariantCulture) != 0,
            _ => true,
        };
    }

    // Descriptor.IsPacked reports proto3's default for every repeated field; only scalar numeric
    // kinds can actually be packed on the wire.
    private static bool IsPackable(FieldDescriptor field) => field.IsPacked && field.FieldType is not (FieldType.String or FieldType.Bytes or FieldType.Message or FieldType.Group);

    private static object DefaultOf(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.String => string.Empty,
        FieldType.Bytes => ByteString.Empty,
        FieldType.Bool => false,
        FieldType.Double => 0d,
        FieldType.Float => 0f,
        FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64 => 0L,
        FieldType.UInt64 or FieldType.Fixed64 => 0UL,
        FieldType.UInt32 or FieldType.Fixed32 => 0U,
        FieldType.Message => field.MessageType.Parser.ParseFrom(ByteString.Empty),
        _ => 0,
    };
}
