using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using DotC1z.Errors;
using DotC1z.Records;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace DotC1z.Codecs;

/// <summary>
/// Codec over a generated message type: encoding and parsing go straight through the generated
/// code (<c>WriteTo(Span)</c>, <c>ParseFrom(ReadOnlySpan)</c>), with no reflection.
/// </summary>
/// <typeparam name="T">The record type.</typeparam>
public class DirectCodec<T> : IRecordCodec<T>
    where T : class, IMessage<T>, new()
{
    private static readonly MessageParser<T> Parser = new(static () => new T());

    /// <summary>Creates the codec.</summary>
    public DirectCodec()
    {
        Descriptor = new T().Descriptor;
    }

    /// <inheritdoc/>
    public string MessageName => Descriptor.FullName;

    /// <inheritdoc/>
    public MessageDescriptor Descriptor { get; }

    /// <inheritdoc/>
    public int CalculateSize(IMessage message) => Canonical(Cast(message)).CalculateSize();

    /// <summary>Encoded size of a typed record.</summary>
    /// <param name="message">The record.</param>
    /// <returns>Size in bytes.</returns>
    public int CalculateSize(T message) => Canonical(message).CalculateSize();

    /// <inheritdoc/>
    public int Encode(IMessage message, Span<byte> destination) => Encode(Cast(message), destination);

    /// <summary>Encodes a typed record into a caller buffer.</summary>
    /// <param name="message">The record.</param>
    /// <param name="destination">The buffer (at least <see cref="CalculateSize(T)"/> bytes).</param>
    /// <returns>Bytes written.</returns>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public int Encode(T message, Span<byte> destination)
    {
        var canonical = Canonical(message);
        int size = canonical.CalculateSize();
        if (destination.Length < size)
        {
            throw new ArgumentException($"destination needs {size} bytes", nameof(destination));
        }

        canonical.WriteTo(destination[..size]);
        return size;
    }

    /// <inheritdoc/>
    public void Encode(IMessage message, IBufferWriter<byte> writer) => Canonical(Cast(message)).WriteTo(writer);

    /// <summary>Encodes a typed record to a new array.</summary>
    /// <param name="message">The record.</param>
    /// <returns>The encoding.</returns>
    public byte[] ToArray(T message) => Canonical(message).ToByteArray();

    /// <inheritdoc/>
    public T Decode(ReadOnlySpan<byte> value)
    {
        try
        {
            return Parser.ParseFrom(value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new C1zCorruptionException($"stored {MessageName} value does not decode: {ex.Message}", inner: ex);
        }
    }

    /// <inheritdoc/>
    IMessage IRecordCodec.Decode(ReadOnlySpan<byte> value) => Decode(value);

    /// <inheritdoc/>
    public bool TryDecode(ReadOnlySpan<byte> value, [NotNullWhen(true)] out IMessage? message)
    {
        try
        {
            message = Parser.ParseFrom(value);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            message = null;
            return false;
        }
    }

    /// <summary>
    /// Returns a record whose encoding is deterministic. Google.Protobuf writes map entries in
    /// insertion order; stored values must not depend on it, so a map-carrying codec overrides this.
    /// </summary>
    /// <param name="message">The record.</param>
    /// <returns>The record itself or a canonical copy; the caller's instance is never modified.</returns>
    protected virtual T Canonical(T message) => message;

    private T Cast(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message as T ?? throw new C1zCodecTypeMismatchException(MessageName, message.Descriptor.FullName);
    }
}

/// <summary>Grant codec: sorts the <c>sources</c> map by key (ordinal) so equal grants encode to equal bytes.</summary>
public sealed class GrantRecordCodec : DirectCodec<GrantRecord>
{
    /// <inheritdoc/>
    protected override GrantRecord Canonical(GrantRecord message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Sources.Count < 2 || IsSorted(message))
        {
            return message;
        }

        var copy = message.Clone();
        copy.Sources.Clear();
        foreach (var pair in message.Sources.OrderBy(static p => p.Key, Keys.Utf8Ordinal.Instance))
        {
            copy.Sources.Add(pair.Key, pair.Value);
        }

        return copy;
    }

    private static bool IsSorted(GrantRecord message)
    {
        string? previous = null;
        foreach (var pair in message.Sources)
        {
            if (previous is not null && Keys.Utf8Ordinal.Instance.Compare(previous, pair.Key) > 0)
            {
                return false;
            }

            previous = pair.Key;
        }

        return true;
    }
}

/// <summary>Resource codec: sorts the keys of the <c>profile</c> struct (recursively), as deterministic protobuf marshalling does.</summary>
public sealed class ResourceRecordCodec : DirectCodec<ResourceRecord>
{
    /// <inheritdoc/>
    protected override ResourceRecord Canonical(ResourceRecord message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Profile is null || IsSorted(message.Profile))
        {
            return message;
        }

        var copy = message.Clone();
        copy.Profile = Sorted(message.Profile);
        return copy;
    }

    private static bool IsSorted(Google.Protobuf.WellKnownTypes.Struct s)
    {
        string? previous = null;
        foreach (var pair in s.Fields)
        {
            if ((previous is not null && Keys.Utf8Ordinal.Instance.Compare(previous, pair.Key) > 0) || !IsSorted(pair.Value))
            {
                return false;
            }

            previous = pair.Key;
        }

        return true;
    }

    private static bool IsSorted(Google.Protobuf.WellKnownTypes.Value? v) => v?.KindCase switch
    {
        Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StructValue => IsSorted(v.StructValue),
        Google.Protobuf.WellKnownTypes.Value.KindOneofCase.ListValue => v.ListValue.Values.All(IsSorted),
        _ => true,
    };

    private static Google.Protobuf.WellKnownTypes.Struct Sorted(Google.Protobuf.WellKnownTypes.Struct s)
    {
        var result = new Google.Protobuf.WellKnownTypes.Struct();
        foreach (var pair in s.Fields.OrderBy(static p => p.Key, Keys.Utf8Ordinal.Instance))
        {
            result.Fields.Add(pair.Key, Sorted(pair.Value));
        }

        return result;
    }

    private static Google.Protobuf.WellKnownTypes.Value Sorted(Google.Protobuf.WellKnownTypes.Value v)
    {
        switch (v.KindCase)
        {
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.StructValue:
                return new Google.Protobuf.WellKnownTypes.Value { StructValue = Sorted(v.StructValue) };
            case Google.Protobuf.WellKnownTypes.Value.KindOneofCase.ListValue:
                var list = new Google.Protobuf.WellKnownTypes.ListValue();
                list.Values.AddRange(v.ListValue.Values.Select(Sorted));
                return new Google.Protobuf.WellKnownTypes.Value { ListValue = list };
            default:
                return v.Clone();
        }
    }
}
