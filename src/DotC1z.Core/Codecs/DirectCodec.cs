using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
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
    // The generated parser: it builds messages with their constructor, where a parser over `new T()`
    // would go through Activator for every record (measured: ≈3 % of a full scan).
    private static readonly MessageParser<T> Parser = (MessageParser<T>)new T().Descriptor.Parser;

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
            return ParseCommonShape(value) ?? Parser.ParseFrom(value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new C1zCorruptionException($"stored {MessageName} value does not decode: {ex.Message}", inner: ex);
        }
    }

    /// <inheritdoc/>
    IMessage IRecordCodec.Decode(ReadOnlySpan<byte> value) => Decode(value);

    /// <summary>Parses with the generated parser only (for a subclass whose own fast parse declined).</summary>
    /// <param name="value">The encoding.</param>
    /// <returns>The message.</returns>
    /// <exception cref="C1zCorruptionException">The bytes do not decode.</exception>
    protected T ParseGenerated(ReadOnlySpan<byte> value)
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
    public bool TryDecode(ReadOnlySpan<byte> value, [NotNullWhen(true)] out IMessage? message)
    {
        try
        {
            message = ParseCommonShape(value) ?? Parser.ParseFrom(value);
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

    /// <summary>
    /// A faster parse for a codec's most common encoding, or null to use the generated parser (which
    /// must then produce an equal message; anything unusual or malformed returns null).
    /// </summary>
    /// <param name="value">The encoding.</param>
    /// <returns>The message, or null.</returns>
    protected virtual T? ParseCommonShape(ReadOnlySpan<byte> value) => null;

    private T Cast(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message as T ?? throw new C1zCodecTypeMismatchException(MessageName, message.Descriptor.FullName);
    }
}

/// <summary>Grant codec: sorts the <c>sources</c> map by key (ordinal) so equal grants encode to equal bytes.</summary>
public sealed class GrantRecordCodec : DirectCodec<GrantRecord>
{
    // Wire tags (field number << 3 | wire type) of the fields the compact encoder writes.
    private const byte TagSyncId = (1 << 3) | 2, TagExternalId = (2 << 3) | 2, TagEntitlement = (3 << 3) | 2,
        TagPrincipal = (4 << 3) | 2, TagDiscoveredAt = (5 << 3) | 2, TagExpansion = (6 << 3) | 2, TagNeedsExpansion = 7 << 3,
        TagAnnotation = (8 << 3) | 2, TagSource = (9 << 3) | 2, TagSourceScopeKey = (10 << 3) | 2;

    // Bulk loads encode millions of grants; Google.Protobuf measures every string of a grant three
    // times (CalculateSize, then again for each sub-message length while writing), which made the
    // encoding about half of the per-grant cost of a load. The common shape (ids, refs, a flag) is
    // written here in one pass instead, and so are the expanded shapes (sources, annotations such as
    // GrantImmutable, the expandable declaration) that expansion writes by the million; only unknown
    // fields go through the generated code.
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unknownFields")]
    private static extern ref UnknownFieldSet? UnknownFields(GrantRecord record);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unknownFields")]
    private static extern ref UnknownFieldSet? UnknownFields(EntitlementRef reference);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unknownFields")]
    private static extern ref UnknownFieldSet? UnknownFields(PrincipalRef reference);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unknownFields")]
    private static extern ref UnknownFieldSet? UnknownFields(Google.Protobuf.WellKnownTypes.Timestamp timestamp);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unknownFields")]
    private static extern ref UnknownFieldSet? UnknownFields(Google.Protobuf.WellKnownTypes.Any annotation);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unknownFields")]
    private static extern ref UnknownFieldSet? UnknownFields(GrantSourceRecord source);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unknownFields")]
    private static extern ref UnknownFieldSet? UnknownFields(GrantExpandableRecord expansion);

    // Orders source entries as Canonical does (UTF-8 byte order of the keys).
    private static readonly Comparison<KeyValuePair<string, GrantSourceRecord>> SourceOrder =
        static (a, b) => Keys.Utf8Ordinal.Instance.Compare(a.Key, b.Key);

    /// <summary>The first buffer <see cref="EncodeCompactPooled"/> rents: larger than a derived grant with a few dozen sources.</summary>
    private const int PooledFirstBytes = 4096;

    /// <summary>
    /// <see cref="EncodeCompact"/> into a buffer rented from <see cref="ArrayPool{T}.Shared"/>: rented on first use,
    /// and replaced by a larger rented one when the grant does not fit. The caller returns the buffer to the pool.
    /// </summary>
    /// <param name="message">The grant.</param>
    /// <param name="buffer">The rented buffer (null to rent one); may be replaced.</param>
    /// <param name="written">Bytes written when <see cref="OperationStatus.Done"/>; 0 otherwise.</param>
    /// <param name="omitSyncId">Encode as if <c>sync_id</c> were empty, as stored values are.</param>
    /// <returns><see cref="OperationStatus.Done"/>, or <see cref="OperationStatus.InvalidData"/> when the grant carries unknown fields (encode it the usual way).</returns>
    public static OperationStatus EncodeCompactPooled(GrantRecord message, [NotNull] ref byte[]? buffer, out int written, bool omitSyncId = false)
    {
        buffer ??= ArrayPool<byte>.Shared.Rent(PooledFirstBytes);
        var status = EncodeCompact(message, buffer, out written, omitSyncId);
        if (status == OperationStatus.DestinationTooSmall)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent(written);
            status = EncodeCompact(message, buffer, out written, omitSyncId);
        }

        return status;
    }

    /// <summary>
    /// Encodes a grant in one pass, byte for byte as <see cref="DirectCodec{T}.Encode(T, Span{byte})"/> would
    /// (sources in key order, as the canonical encoding sorts them): ids, refs, the flag, a discovery
    /// time, the expandable declaration, annotations and sources. A grant, ref, timestamp, annotation,
    /// source or declaration carrying unknown fields is declined.
    /// </summary>
    /// <param name="message">The grant.</param>
    /// <param name="destination">The buffer.</param>
    /// <param name="written">
    /// Bytes written when <see cref="OperationStatus.Done"/>; the size to provide (<see cref="CompactBound"/>)
    /// when <see cref="OperationStatus.DestinationTooSmall"/>; 0 otherwise.
    /// </param>
    /// <param name="omitSyncId">Encode as if <c>sync_id</c> were empty (stored values never carry it; this spares a copy of the record).</param>
    /// <returns>
    /// <see cref="OperationStatus.Done"/>; <see cref="OperationStatus.DestinationTooSmall"/> (grow the
    /// buffer to <paramref name="written"/> bytes and call again); or <see cref="OperationStatus.InvalidData"/>
    /// when the grant carries unknown fields, which the caller encodes the usual way.
    /// </returns>
    public static OperationStatus EncodeCompact(GrantRecord message, Span<byte> destination, out int written, bool omitSyncId = false)
    {
        ArgumentNullException.ThrowIfNull(message);
        written = 0;
        var ent = message.Entitlement;
        var principal = message.Principal;
        var discovered = message.DiscoveredAt;
        var expansion = message.Expansion;
        if (UnknownFields(message) is not null
            || (ent is not null && UnknownFields(ent) is not null) || (principal is not null && UnknownFields(principal) is not null)
            || (discovered is not null && UnknownFields(discovered) is not null)
            || (expansion is not null && UnknownFields(expansion) is not null))
        {
            return OperationStatus.InvalidData;
        }

        var annotations = message.Annotations;
        for (int i = 0; i < annotations.Count; i++)
        {
            if (UnknownFields(annotations[i]) is not null)
            {
                return OperationStatus.InvalidData;
            }
        }

        // The map is enumerated once (each enumeration of a MapField allocates a boxed enumerator):
        // its pairs are copied to a per-thread scratch array, checked, measured and sorted there.
        var sources = TakeSources(message.Sources);
        foreach (var pair in sources)
        {
            if (UnknownFields(pair.Value) is not null)
            {
                return OperationStatus.InvalidData;
            }
        }

        int bound = BoundOf(message, sources);
        if (destination.Length < bound)
        {
            written = bound;
            return OperationStatus.DestinationTooSmall;
        }

        int n = 0;
        if (!omitSyncId)
        {
            WriteString(destination, ref n, TagSyncId, message.SyncId);
        }

        WriteString(destination, ref n, TagExternalId, message.ExternalId);
        if (ent is not null)
        {
            int start = BeginMessage(destination, ref n, TagEntitlement);
            WriteString(destination, ref n, 1 << 3 | 2, ent.ResourceTypeId);
            WriteString(destination, ref n, 2 << 3 | 2, ent.ResourceId);
            WriteString(destination, ref n, 3 << 3 | 2, ent.EntitlementId);
            EndMessage(destination, ref n, start);
        }

        if (principal is not null)
        {
            int start = BeginMessage(destination, ref n, TagPrincipal);
            WriteString(destination, ref n, 1 << 3 | 2, principal.ResourceTypeId);
            WriteString(destination, ref n, 2 << 3 | 2, principal.ResourceId);
            EndMessage(destination, ref n, start);
        }

        if (discovered is not null)
        {
            // google.protobuf.Timestamp: seconds (int64) and nanos (int32) as varints, zero values left out;
            // a negative int32 is sign-extended to ten bytes, as the generated code writes it.
            destination[n++] = TagDiscoveredAt;
            int lengthAt = n++;
            if (discovered.Seconds != 0)
            {
                destination[n++] = 1 << 3;
                n += WriteVarint(destination[n..], (ulong)discovered.Seconds);
            }

            if (discovered.Nanos != 0)
            {
                destination[n++] = 2 << 3;
                n += WriteVarint(destination[n..], (ulong)(long)discovered.Nanos);
            }

            destination[lengthAt] = (byte)(n - lengthAt - 1); // at most 22 bytes: always a one-byte length
        }

        if (expansion is not null)
        {
            // Repeated strings are written element by element, empty ones included.
            int start = BeginMessage(destination, ref n, TagExpansion);
            foreach (string id in expansion.EntitlementIds)
            {
                WriteStringAlways(destination, ref n, 1 << 3 | 2, id);
            }

            if (expansion.Shallow)
            {
                destination[n++] = 2 << 3;
                destination[n++] = 1;
            }

            foreach (string type in expansion.ResourceTypeIds)
            {
                WriteStringAlways(destination, ref n, 3 << 3 | 2, type);
            }

            EndMessage(destination, ref n, start);
        }

        if (message.NeedsExpansion)
        {
            destination[n++] = TagNeedsExpansion;
            destination[n++] = 1;
        }

        for (int i = 0; i < annotations.Count; i++)
        {
            // google.protobuf.Any: type_url (string) and value (bytes), empty ones left out.
            var annotation = annotations[i];
            int start = BeginMessage(destination, ref n, TagAnnotation);
            WriteString(destination, ref n, 1 << 3 | 2, annotation.TypeUrl);
            var value = annotation.Value.Span;
            if (!value.IsEmpty)
            {
                destination[n++] = 2 << 3 | 2;
                n += WriteVarint(destination[n..], (ulong)value.Length);
                value.CopyTo(destination[n..]);
                n += value.Length;
            }

            EndMessage(destination, ref n, start);
        }

        if (!sources.IsEmpty)
        {
            if (!IsSorted(sources))
            {
                sources.Sort(SourceOrder);
            }

            foreach (var pair in sources)
            {
                WriteSource(destination, ref n, pair.Key, pair.Value);
            }
        }

        WriteString(destination, ref n, TagSourceScopeKey, message.SourceScopeKey);
        written = n;
        return OperationStatus.Done;
    }

    [ThreadStatic]
    private static KeyValuePair<string, GrantSourceRecord>[]? _sourceScratch;

    // The map's pairs in insertion order, in a per-thread array valid until the next call on this thread.
    private static Span<KeyValuePair<string, GrantSourceRecord>> TakeSources(Google.Protobuf.Collections.MapField<string, GrantSourceRecord> map)
    {
        int count = map.Count;
        if (count == 0)
        {
            return [];
        }

        var scratch = _sourceScratch;
        if (scratch is null || scratch.Length < count)
        {
            _sourceScratch = scratch = new KeyValuePair<string, GrantSourceRecord>[Math.Max(count, 16)];
        }

        int n = 0;
        foreach (var pair in map)
        {
            scratch[n++] = pair;
        }

        return scratch.AsSpan(0, n);
    }

    private static bool IsSorted(ReadOnlySpan<KeyValuePair<string, GrantSourceRecord>> pairs)
    {
        for (int i = 1; i < pairs.Length; i++)
        {
            if (Keys.Utf8Ordinal.Instance.Compare(pairs[i - 1].Key, pairs[i].Key) > 0)
            {
                return false;
            }
        }

        return true;
    }

    // map<string, GrantSourceRecord>: one length-delimited entry per pair, key (field 1, left out when
    // empty) then value (field 2, always present: map values are never null), in key order.
    private static void WriteSource(Span<byte> destination, ref int n, string key, GrantSourceRecord value)
    {
        int entry = BeginMessage(destination, ref n, TagSource);
        WriteString(destination, ref n, 1 << 3 | 2, key);
        int body = BeginMessage(destination, ref n, 2 << 3 | 2);
        WriteString(destination, ref n, 1 << 3 | 2, value.ResourceTypeId);
        WriteString(destination, ref n, 2 << 3 | 2, value.ResourceId);
        WriteString(destination, ref n, 3 << 3 | 2, value.EntitlementId);
        if (value.IsDirect)
        {
            destination[n++] = 4 << 3;
            destination[n++] = 1;
        }

        EndMessage(destination, ref n, body);
        EndMessage(destination, ref n, entry);
    }

    /// <summary>
    /// Parses what <see cref="EncodeCompact"/> writes (each field at most once, one-byte lengths or
    /// longer varints, booleans as 0 or 1) without Google.Protobuf's general machinery; anything else,
    /// malformed input included, returns null and goes to the generated parser.
    /// </summary>
    /// <param name="value">The encoding.</param>
    /// <returns>An equal message to the generated parser's, or null.</returns>
    protected override GrantRecord? ParseCommonShape(ReadOnlySpan<byte> value) => ParseCommon(value, null);

    /// <summary>
    /// Decodes a stored grant like <see cref="DirectCodec{T}.Decode(ReadOnlySpan{byte})"/>, taking the reference ids
    /// (entitlement and principal) from <paramref name="strings"/>: a scan passes one table, so ids that
    /// repeat from row to row are decoded and allocated once.
    /// </summary>
    /// <param name="value">The encoding.</param>
    /// <param name="strings">The scan's string table, or null.</param>
    /// <returns>The grant.</returns>
    /// <exception cref="C1zCorruptionException">The bytes do not decode.</exception>
    public GrantRecord Decode(ReadOnlySpan<byte> value, Utf8StringTable? strings) => ParseCommon(value, strings) ?? ParseGenerated(value);

    private static GrantRecord? ParseCommon(ReadOnlySpan<byte> value, Utf8StringTable? strings)
    {
        var g = new GrantRecord();
        int seen = 0;
        while (!value.IsEmpty)
        {
            byte tag = value[0];
            value = value[1..];
            int bit = 1 << (tag >> 3);
            if ((seen & bit) != 0)
            {
                return null;
            }

            seen |= bit;
            switch (tag)
            {
                case TagSyncId when TryTakeString(ref value, out string? sync):
                    g.SyncId = sync;
                    break;
                case TagExternalId when TryTakeString(ref value, out string? id):
                    g.ExternalId = id;
                    break;
                case TagEntitlement when TryTakeLengthDelimited(ref value, out var body) && TryParseEntitlement(body, strings, out var ent):
                    g.Entitlement = ent;
                    break;
                case TagPrincipal when TryTakeLengthDelimited(ref value, out var body) && TryParsePrincipal(body, strings, out var principal):
                    g.Principal = principal;
                    break;
                case TagDiscoveredAt when TryTakeLengthDelimited(ref value, out var body) && TryParseTimestamp(body, out var discovered):
                    g.DiscoveredAt = discovered;
                    break;
                case TagNeedsExpansion when !value.IsEmpty && value[0] <= 1:
                    g.NeedsExpansion = value[0] == 1;
                    value = value[1..];
                    break;
                case TagSourceScopeKey when TryTakeString(ref value, out string? scope):
                    g.SourceScopeKey = scope;
                    break;
                default:
                    return null;
            }
        }

        return g;
    }

    // The string fields 1..3 of a small message (EntitlementRef, PrincipalRef), each at most once.
    private struct StringFields
    {
        public string? F1;
        public string? F2;
        public string? F3;
    }

    // google.protobuf.Timestamp as EncodeCompact writes it: seconds (1) and nanos (2) as varints, each at most once.
    private static bool TryParseTimestamp(ReadOnlySpan<byte> body, [NotNullWhen(true)] out Google.Protobuf.WellKnownTypes.Timestamp? timestamp)
    {
        timestamp = null;
        long seconds = 0;
        int nanos = 0;
        int seen = 0;
        while (!body.IsEmpty)
        {
            byte tag = body[0];
            body = body[1..];
            int bit = tag == 1 << 3 ? 1 : tag == 2 << 3 ? 2 : 0;
            if (bit == 0 || (seen & bit) != 0 || !TryTakeVarint(ref body, out ulong v))
            {
                return false;
            }

            seen |= bit;
            if (bit == 1)
            {
                seconds = (long)v;
            }
            else
            {
                // An int32 is written sign-extended to 64 bits; the generated parser keeps the low 32 bits.
                nanos = (int)v;
            }
        }

        timestamp = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = seconds, Nanos = nanos };
        return true;
    }

    private static bool TryTakeVarint(ref ReadOnlySpan<byte> value, out ulong result)
    {
        result = 0;
        for (int i = 0; i < 10 && i < value.Length; i++)
        {
            byte b = value[i];
            result |= (ulong)(b & 0x7F) << (7 * i);
            if (b < 0x80)
            {
                value = value[(i + 1)..];
                return true;
            }
        }

        return false;
    }

    private static bool TryParseStringFields(ReadOnlySpan<byte> body, int count, Utf8StringTable? strings, out StringFields fields)
    {
        fields = default;
        int seen = 0;
        while (!body.IsEmpty)
        {
            byte tag = body[0];
            body = body[1..];
            int field = tag >> 3;
            if ((tag & 7) != 2 || field < 1 || field > count || (seen & (1 << field)) != 0 || !TryTakeString(ref body, strings, out string? text))
            {
                return false;
            }

            seen |= 1 << field;
            switch (field)
            {
                case 1:
                    fields.F1 = text;
                    break;
                case 2:
                    fields.F2 = text;
                    break;
                default:
                    fields.F3 = text;
                    break;
            }
        }

        return true;
    }

    private static bool TryParseEntitlement(ReadOnlySpan<byte> body, Utf8StringTable? strings, [NotNullWhen(true)] out EntitlementRef? reference)
    {
        reference = TryParseStringFields(body, 3, strings, out var f)
            ? new EntitlementRef { ResourceTypeId = f.F1 ?? string.Empty, ResourceId = f.F2 ?? string.Empty, EntitlementId = f.F3 ?? string.Empty }
            : null;
        return reference is not null;
    }

    private static bool TryParsePrincipal(ReadOnlySpan<byte> body, Utf8StringTable? strings, [NotNullWhen(true)] out PrincipalRef? reference)
    {
        reference = TryParseStringFields(body, 2, strings, out var f)
            ? new PrincipalRef { ResourceTypeId = f.F1 ?? string.Empty, ResourceId = f.F2 ?? string.Empty }
            : null;
        return reference is not null;
    }

    private static bool TryTakeString(ref ReadOnlySpan<byte> value, [NotNullWhen(true)] out string? text) => TryTakeString(ref value, null, out text);

    private static bool TryTakeString(ref ReadOnlySpan<byte> value, Utf8StringTable? strings, [NotNullWhen(true)] out string? text)
    {
        if (!TryTakeLengthDelimited(ref value, out var bytes))
        {
            text = null;
            return false;
        }

        if (bytes.IsEmpty)
        {
            text = string.Empty;
            return true;
        }

        // Ids are ASCII in practice: one validating pass and a widening copy, or a shared string from the scan's table.
        text = strings is not null ? strings.TryGetAscii(bytes) : Utf8StringTable.AsciiString(bytes);
        if (text is not null)
        {
            return true;
        }

        // Google.Protobuf rejects invalid UTF-8 when it parses (while it writes lone surrogates as
        // U+FFFD): such a value goes to the generated parser, which reports it.
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
        {
            text = null;
            return false;
        }

        text = System.Text.Encoding.UTF8.GetString(bytes);
        return true;
    }

    private static bool TryTakeLengthDelimited(ref ReadOnlySpan<byte> value, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        uint length = 0;
        int shift = 0;
        int i = 0;
        while (true)
        {
            if (i >= value.Length || i == 5)
            {
                return false;
            }

            byte b = value[i++];
            length |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                break;
            }

            shift += 7;
        }

        if (length > (uint)(value.Length - i))
        {
            return false;
        }

        bytes = value.Slice(i, (int)length);
        value = value[(i + (int)length)..];
        return true;
    }

    /// <summary>A buffer size that always fits <see cref="EncodeCompact"/>'s output for <paramref name="message"/>.</summary>
    /// <param name="message">The grant.</param>
    /// <returns>The bound in bytes (UTF-8 takes at most 3 bytes per UTF-16 unit; tags and lengths at most 6 per field).</returns>
    public static int CompactBound(GrantRecord message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return BoundOf(message, TakeSources(message.Sources));
    }

    private static int BoundOf(GrantRecord message, ReadOnlySpan<KeyValuePair<string, GrantSourceRecord>> sources)
    {
        long chars = message.SyncId.Length + message.ExternalId.Length + message.SourceScopeKey.Length;
        long fields = 12, bytes = 0;
        if (message.Entitlement is { } e)
        {
            chars += e.ResourceTypeId.Length + e.ResourceId.Length + e.EntitlementId.Length;
        }

        if (message.Principal is { } p)
        {
            chars += p.ResourceTypeId.Length + p.ResourceId.Length;
        }

        if (message.Expansion is { } x)
        {
            fields += 2 + x.EntitlementIds.Count + x.ResourceTypeIds.Count;
            foreach (string id in x.EntitlementIds)
            {
                chars += id.Length;
            }

            foreach (string type in x.ResourceTypeIds)
            {
                chars += type.Length;
            }
        }

        var annotations = message.Annotations;
        for (int i = 0; i < annotations.Count; i++)
        {
            fields += 3;
            chars += annotations[i].TypeUrl.Length;
            bytes += annotations[i].Value.Length;
        }

        foreach (var pair in sources)
        {
            // The entry, its key, its value message and the value's four fields.
            fields += 7;
            chars += pair.Key.Length + pair.Value.ResourceTypeId.Length + pair.Value.ResourceId.Length + pair.Value.EntitlementId.Length;
        }

        // The discovery time adds at most 24 bytes: tag, length and two tagged ten-byte varints.
        return (int)Math.Min(int.MaxValue, (chars * 3) + bytes + (fields * 6) + 24);
    }

    /// <summary>Writes a protobuf base-128 varint (for callers that put a grant together from pre-encoded fields).</summary>
    /// <param name="destination">At least 10 bytes, or as many as the value needs.</param>
    /// <param name="value">The value.</param>
    /// <returns>Bytes written.</returns>
    public static int WriteVarint(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    private static void WriteString(Span<byte> destination, ref int n, byte tag, string value)
    {
        if (value.Length == 0)
        {
            return;
        }

        destination[n++] = tag;
        // Short values (all ids in practice) need a one-byte length: encode after it, then fix up.
        int length = System.Text.Encoding.UTF8.GetBytes(value, destination[(n + 1)..]);
        n += WriteLengthBefore(destination, n, length);
    }

    private static void WriteStringAlways(Span<byte> destination, ref int n, byte tag, string value)
    {
        destination[n++] = tag;
        int length = System.Text.Encoding.UTF8.GetBytes(value, destination[(n + 1)..]);
        n += WriteLengthBefore(destination, n, length);
    }

    private static int BeginMessage(Span<byte> destination, ref int n, byte tag)
    {
        destination[n++] = tag;
        return n++;
    }

    private static void EndMessage(Span<byte> destination, ref int n, int lengthAt)
    {
        int length = n - lengthAt - 1;
        n = lengthAt + WriteLengthBefore(destination, lengthAt, length);
    }

    // The body of `length` bytes starts at at + 1; writes its varint length at `at`, moving the body
    // when the varint needs more than one byte; returns the bytes used by varint and body.
    private static int WriteLengthBefore(Span<byte> destination, int at, int length)
    {
        if (length < 0x80)
        {
            destination[at] = (byte)length;
            return 1 + length;
        }

        int varint = 1;
        for (uint v = (uint)length >> 7; v != 0; v >>= 7)
        {
            varint++;
        }

        destination.Slice(at + 1, length).CopyTo(destination[(at + varint)..]);
        uint rest = (uint)length;
        for (int i = 0; i < varint - 1; i++)
        {
            destination[at + i] = (byte)(rest | 0x80);
            rest >>= 7;
        }

        destination[at + varint - 1] = (byte)rest;
        return varint + length;
    }

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
