using System.Buffers;
using DotC1z.Errors;

namespace DotC1z.Keys;

/// <summary>
/// Builds a tuple-encoded key into a caller-owned buffer. Separators are explicit
/// (<see cref="Separator"/>), so a scan prefix can end with one and a full key without.
/// </summary>
/// <remarks>Writing past the end throws <see cref="ArgumentException"/>: buffers are sized by the caller from <see cref="TupleCodec.MaxEncodedStringLength"/>.</remarks>
public ref struct TupleWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    /// <summary>Starts writing at the beginning of <paramref name="buffer"/>.</summary>
    /// <param name="buffer">Destination buffer.</param>
    public TupleWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    /// <summary>Bytes written so far.</summary>
    public readonly int Length => _position;

    /// <summary>The bytes written so far.</summary>
    public readonly ReadOnlySpan<byte> Written => _buffer[.._position];

    /// <summary>Appends raw bytes without escaping (discriminators, fixed-width fields such as a binary sync id).</summary>
    /// <param name="bytes">The bytes.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void Raw(scoped ReadOnlySpan<byte> bytes)
    {
        EnsureRoom(bytes.Length);
        bytes.CopyTo(_buffer[_position..]);
        _position += bytes.Length;
    }

    /// <summary>Appends one raw byte.</summary>
    /// <param name="value">The byte.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void Byte(byte value)
    {
        EnsureRoom(1);
        _buffer[_position++] = value;
    }

    /// <summary>Appends the 20-byte binary sync id (fixed width, not escaped).</summary>
    /// <param name="syncId">The sync id.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void SyncId(SyncId syncId)
    {
        EnsureRoom(Keys.SyncId.ByteLength);
        syncId.WriteBytes(_buffer[_position..]);
        _position += Keys.SyncId.ByteLength;
    }

    /// <summary>Appends the element separator (0x00).</summary>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void Separator() => Byte(TupleCodec.Separator);

    /// <summary>Appends an escaped string element (UTF-8).</summary>
    /// <param name="value">The string.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void String(scoped ReadOnlySpan<char> value)
    {
        if (TupleCodec.EncodeString(value, _buffer[_position..], out int written) != OperationStatus.Done)
        {
            throw new ArgumentException("key buffer too small for string element");
        }

        _position += written;
    }

    /// <summary>Appends an escaped bytes element.</summary>
    /// <param name="value">The raw bytes.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void Bytes(scoped ReadOnlySpan<byte> value)
    {
        if (TupleCodec.EncodeBytes(value, _buffer[_position..], out int written) != OperationStatus.Done)
        {
            throw new ArgumentException("key buffer too small for bytes element");
        }

        _position += written;
    }

    /// <summary>Appends a sign-flipped big-endian 32-bit integer.</summary>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void Int32(int value)
    {
        EnsureRoom(4);
        TupleCodec.WriteInt32(_buffer[_position..], value);
        _position += 4;
    }

    /// <summary>Appends a sign-flipped big-endian 64-bit integer.</summary>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void Int64(long value)
    {
        EnsureRoom(8);
        TupleCodec.WriteInt64(_buffer[_position..], value);
        _position += 8;
    }

    /// <summary>Appends a big-endian unsigned 32-bit integer.</summary>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void UInt32(uint value)
    {
        EnsureRoom(4);
        TupleCodec.WriteUInt32(_buffer[_position..], value);
        _position += 4;
    }

    /// <summary>Appends a big-endian unsigned 64-bit integer.</summary>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void UInt64(ulong value)
    {
        EnsureRoom(8);
        TupleCodec.WriteUInt64(_buffer[_position..], value);
        _position += 8;
    }

    /// <summary>Appends a bool (0x27 true, 0x26 false).</summary>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">The buffer is too small.</exception>
    public void Bool(bool value) => Byte(value ? TupleCodec.True : TupleCodec.False);

    private readonly void EnsureRoom(int count)
    {
        if (_position + count > _buffer.Length)
        {
            throw new ArgumentException("key buffer too small");
        }
    }
}

/// <summary>
/// Reads a tuple-encoded key element by element. Malformed input surfaces as a
/// <see langword="false"/> return (Try methods) or a <see cref="C1zCorruptionException"/>, never as an index error.
/// </summary>
public ref struct TupleReader
{
    private readonly ReadOnlySpan<byte> _source;
    private int _position;

    /// <summary>Starts reading at the beginning of <paramref name="source"/>.</summary>
    /// <param name="source">Encoded bytes.</param>
    public TupleReader(ReadOnlySpan<byte> source)
    {
        _source = source;
        _position = 0;
    }

    /// <summary>Whether every byte has been consumed.</summary>
    public readonly bool End => _position >= _source.Length;

    /// <summary>The bytes not yet consumed.</summary>
    public readonly ReadOnlySpan<byte> Remaining => _source[_position..];

    /// <summary>Skips <paramref name="count"/> raw bytes (discriminators, a binary sync id).</summary>
    /// <param name="count">Bytes to skip.</param>
    /// <returns>Whether enough bytes were left.</returns>
    public bool TrySkip(int count)
    {
        if (count < 0 || _source.Length - _position < count)
        {
            return false;
        }

        _position += count;
        return true;
    }

    /// <summary>Reads a 20-byte binary sync id.</summary>
    /// <param name="syncId">The id on success.</param>
    /// <returns>Whether 20 bytes were left.</returns>
    public bool TryReadSyncId(out SyncId syncId)
    {
        if (_source.Length - _position < Keys.SyncId.ByteLength)
        {
            syncId = default;
            return false;
        }

        syncId = Keys.SyncId.FromBytes(_source.Slice(_position, Keys.SyncId.ByteLength));
        _position += Keys.SyncId.ByteLength;
        return true;
    }

    /// <summary>Consumes one separator byte.</summary>
    /// <returns>Whether the next byte was a separator.</returns>
    public bool TryReadSeparator()
    {
        if (_position < _source.Length && _source[_position] == TupleCodec.Separator)
        {
            _position++;
            return true;
        }

        return false;
    }

    /// <summary>Decodes the next escaped element into <paramref name="destination"/> (and consumes a following separator, if any).</summary>
    /// <param name="destination">Receives the raw element.</param>
    /// <param name="written">Raw bytes written.</param>
    /// <returns>The codec status; on anything but <see cref="OperationStatus.Done"/> the reader does not move.</returns>
    public OperationStatus ReadElement(Span<byte> destination, out int written)
    {
        var status = TupleCodec.DecodeElement(_source[_position..], destination, out int consumed, out written);
        if (status == OperationStatus.Done)
        {
            _position += consumed;
            TryReadSeparator();
        }

        return status;
    }

    /// <summary>Decodes the next escaped element as a UTF-8 string.</summary>
    /// <returns>The string.</returns>
    /// <exception cref="C1zCorruptionException">The element is not validly escaped.</exception>
    public string ReadString()
    {
        var encoded = _source[_position..];
        int length = TupleCodec.ElementLength(encoded);
        var elementBytes = encoded[..length];
        string result;
        if (elementBytes.IndexOf(TupleCodec.Escape) < 0)
        {
            result = System.Text.Encoding.UTF8.GetString(elementBytes);
        }
        else
        {
            byte[] rented = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                if (TupleCodec.DecodeElement(elementBytes, rented, out _, out int written) != OperationStatus.Done)
                {
                    throw new C1zCorruptionException("malformed tuple element: bad escape sequence");
                }

                result = System.Text.Encoding.UTF8.GetString(rented, 0, written);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        _position += length;
        TryReadSeparator();
        return result;
    }
}

/// <summary>Key-range helpers shared by every scan.</summary>
public static class KeyRange
{
    /// <summary>
    /// The exclusive upper bound of all keys starting with <paramref name="prefix"/>: the prefix with its
    /// last byte below 0xFF incremented and everything after it dropped (<c>03 ff ff → 04</c>;
    /// a by-value prefix ending in 0x00 ends in 0x01).
    /// </summary>
    /// <param name="prefix">The scan prefix.</param>
    /// <param name="destination">Receives the bound; at least <c>prefix.Length</c> bytes.</param>
    /// <param name="written">Length of the bound; 0 when no finite bound exists.</param>
    /// <returns><see langword="false"/> when the prefix is empty or all 0xFF: then every key from the prefix on matches and the scan needs no upper bound.</returns>
    /// <exception cref="ArgumentException">The destination is too small.</exception>
    public static bool TryUpperBound(ReadOnlySpan<byte> prefix, Span<byte> destination, out int written)
    {
        written = 0;
        int i = prefix.LastIndexOfAnyExcept((byte)0xFF);
        if (i < 0)
        {
            return false;
        }

        if (destination.Length < i + 1)
        {
            throw new ArgumentException("destination too small for upper bound", nameof(destination));
        }

        prefix[..i].CopyTo(destination);
        destination[i] = (byte)(prefix[i] + 1);
        written = i + 1;
        return true;
    }

    /// <summary>Allocating form of <see cref="TryUpperBound"/>.</summary>
    /// <param name="prefix">The scan prefix.</param>
    /// <returns>The bound, or <see langword="null"/> when the prefix has no finite successor (empty or all 0xFF).</returns>
    public static byte[]? UpperBound(ReadOnlySpan<byte> prefix)
    {
        var buffer = new byte[prefix.Length];
        return TryUpperBound(prefix, buffer, out int written) ? buffer.AsSpan(0, written).ToArray() : null;
    }
}
