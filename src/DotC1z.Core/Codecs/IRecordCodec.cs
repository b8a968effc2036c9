using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace DotC1z.Codecs;

/// <summary>
/// Encodes and decodes one record type's stored value (deterministic protobuf bytes).
/// Passing a message of another type is a <see cref="C1zCodecTypeMismatchException"/>, never a crash;
/// undecodable bytes are a <see cref="Errors.C1zCorruptionException"/> or a <see langword="false"/> from <see cref="TryDecode"/>.
/// </summary>
public interface IRecordCodec
{
    /// <summary>Full protobuf name of the message this codec handles (e.g. <c>c1.storage.v3.GrantRecord</c>).</summary>
    string MessageName { get; }

    /// <summary>The message descriptor.</summary>
    MessageDescriptor Descriptor { get; }

    /// <summary>Encoded size of <paramref name="message"/>.</summary>
    /// <param name="message">The record.</param>
    /// <returns>Size in bytes.</returns>
    /// <exception cref="C1zCodecTypeMismatchException">The message is of another type.</exception>
    int CalculateSize(IMessage message);

    /// <summary>Encodes into a caller buffer of at least <see cref="CalculateSize"/> bytes.</summary>
    /// <param name="message">The record.</param>
    /// <param name="destination">The buffer.</param>
    /// <returns>Bytes written.</returns>
    /// <exception cref="C1zCodecTypeMismatchException">The message is of another type.</exception>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    int Encode(IMessage message, Span<byte> destination);

    /// <summary>Encodes into a buffer writer.</summary>
    /// <param name="message">The record.</param>
    /// <param name="writer">The writer.</param>
    /// <exception cref="C1zCodecTypeMismatchException">The message is of another type.</exception>
    void Encode(IMessage message, IBufferWriter<byte> writer);

    /// <summary>Decodes a stored value.</summary>
    /// <param name="value">The bytes.</param>
    /// <returns>The record.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The bytes are not a valid encoding.</exception>
    IMessage Decode(ReadOnlySpan<byte> value);

    /// <summary>Decodes a stored value, reporting failure as a value.</summary>
    /// <param name="value">The bytes.</param>
    /// <param name="message">The record on success.</param>
    /// <returns>Whether the bytes decoded.</returns>
    bool TryDecode(ReadOnlySpan<byte> value, [NotNullWhen(true)] out IMessage? message);
}

/// <summary>A codec bound to one generated message type.</summary>
/// <typeparam name="T">The record type.</typeparam>
public interface IRecordCodec<T> : IRecordCodec
    where T : class, IMessage<T>
{
    /// <summary>Decodes a stored value into a typed record.</summary>
    /// <param name="value">The bytes.</param>
    /// <returns>The record.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The bytes are not a valid encoding.</exception>
    new T Decode(ReadOnlySpan<byte> value);
}

/// <summary>A message of the wrong type was handed to a codec.</summary>
public sealed class C1zCodecTypeMismatchException : Errors.C1zArgumentException
{
    /// <summary>Creates the error.</summary>
    /// <param name="expected">The codec's message name.</param>
    /// <param name="actual">The message name that was passed.</param>
    public C1zCodecTypeMismatchException(string expected, string actual)
        : base($"codec type mismatch: want {expected}, got {actual}")
    {
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The codec's message name.</summary>
    public string Expected { get; }

    /// <summary>The message name that was passed.</summary>
    public string Actual { get; }
}
