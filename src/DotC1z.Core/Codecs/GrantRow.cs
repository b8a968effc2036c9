namespace DotC1z.Codecs;

/// <summary>
/// The identifying fields of one stored grant, as UTF-8 spans over its encoded value: no record,
/// no strings, nothing allocated. A row is valid only during the call that hands it out (the bytes
/// belong to the engine's buffers). Absent fields are empty spans, as absent strings are empty in a
/// <see cref="Records.GrantRecord"/>.
/// </summary>
public readonly ref struct GrantRow
{
    /// <summary>Creates a row over already-separated fields.</summary>
    /// <param name="externalId">The grant's id.</param>
    /// <param name="entitlementResourceTypeId">The entitlement's resource type.</param>
    /// <param name="entitlementResourceId">The entitlement's resource.</param>
    /// <param name="entitlementId">The entitlement's id.</param>
    /// <param name="principalResourceTypeId">The principal's resource type.</param>
    /// <param name="principalResourceId">The principal's id.</param>
    /// <param name="needsExpansion">The grant's needs_expansion flag.</param>
    public GrantRow(
        ReadOnlySpan<byte> externalId,
        ReadOnlySpan<byte> entitlementResourceTypeId,
        ReadOnlySpan<byte> entitlementResourceId,
        ReadOnlySpan<byte> entitlementId,
        ReadOnlySpan<byte> principalResourceTypeId,
        ReadOnlySpan<byte> principalResourceId,
        bool needsExpansion)
    {
        ExternalId = externalId;
        EntitlementResourceTypeId = entitlementResourceTypeId;
        EntitlementResourceId = entitlementResourceId;
        EntitlementId = entitlementId;
        PrincipalResourceTypeId = principalResourceTypeId;
        PrincipalResourceId = principalResourceId;
        NeedsExpansion = needsExpansion;
    }

    /// <summary>The grant's <c>external_id</c> (UTF-8).</summary>
    public ReadOnlySpan<byte> ExternalId { get; }

    /// <summary>The entitlement reference's <c>resource_type_id</c> (UTF-8).</summary>
    public ReadOnlySpan<byte> EntitlementResourceTypeId { get; }

    /// <summary>The entitlement reference's <c>resource_id</c> (UTF-8).</summary>
    public ReadOnlySpan<byte> EntitlementResourceId { get; }

    /// <summary>The entitlement reference's <c>entitlement_id</c> (UTF-8).</summary>
    public ReadOnlySpan<byte> EntitlementId { get; }

    /// <summary>The principal reference's <c>resource_type_id</c> (UTF-8).</summary>
    public ReadOnlySpan<byte> PrincipalResourceTypeId { get; }

    /// <summary>The principal reference's <c>resource_id</c> (UTF-8).</summary>
    public ReadOnlySpan<byte> PrincipalResourceId { get; }

    /// <summary>The grant's <c>needs_expansion</c> flag.</summary>
    public bool NeedsExpansion { get; }

    /// <summary>
    /// Whether two rows reference the same entitlement (and its resource) and principal and carry the same
    /// <c>needs_expansion</c> flag: the fields every grant index is keyed by. Rows that differ here are different
    /// grants whatever their other fields hold.
    /// </summary>
    /// <param name="a">A row.</param>
    /// <param name="b">Another row.</param>
    /// <returns>True when all of those fields are equal.</returns>
    public static bool SameReferences(in GrantRow a, in GrantRow b) =>
        a.NeedsExpansion == b.NeedsExpansion
        && a.EntitlementId.SequenceEqual(b.EntitlementId)
        && a.EntitlementResourceTypeId.SequenceEqual(b.EntitlementResourceTypeId)
        && a.EntitlementResourceId.SequenceEqual(b.EntitlementResourceId)
        && a.PrincipalResourceTypeId.SequenceEqual(b.PrincipalResourceTypeId)
        && a.PrincipalResourceId.SequenceEqual(b.PrincipalResourceId);

    /// <summary>
    /// Finds the fields of an encoded <c>GrantRecord</c> in one pass, with protobuf's rules: a field seen
    /// twice keeps its last value, a message field seen twice merges, unknown fields (and a known field
    /// number with another wire type, which the generated parser also keeps as unknown) are skipped.
    /// </summary>
    /// <param name="value">The encoded grant.</param>
    /// <param name="row">The row, over <paramref name="value"/>.</param>
    /// <returns>False when the bytes are not a well-formed protobuf message (groups included, which no grant field uses).</returns>
    public static bool TryParse(ReadOnlySpan<byte> value, out GrantRow row) => TryParse(value, default, out row, out _, out _);

    /// <summary>
    /// Reads only the <c>discovered_at</c> of an encoded <c>GrantRecord</c> (protobuf's rules: a message field
    /// seen twice merges, so each of seconds and nanos keeps its last value).
    /// </summary>
    /// <param name="value">The encoded grant.</param>
    /// <param name="present">Whether the grant carries a discovery time.</param>
    /// <param name="seconds">Its seconds (0 when absent).</param>
    /// <param name="nanos">Its nanos (0 when absent).</param>
    /// <returns>False when the bytes are not a well-formed protobuf message.</returns>
    public static bool TryReadDiscoveredAt(ReadOnlySpan<byte> value, out bool present, out long seconds, out int nanos)
    {
        present = false;
        seconds = 0;
        nanos = 0;
        int pos = 0;
        while (pos < value.Length)
        {
            if (!TryField(value, ref pos, out uint field, out uint wireType, out _, out int start, out int length))
            {
                return false;
            }

            if (field != 5 || wireType != 2)
            {
                continue;
            }

            present = true;
            var body = value.Slice(start, length);
            int inner = 0;
            while (inner < body.Length)
            {
                if (!TryField(body, ref inner, out uint f, out uint w, out ulong varint, out _, out _))
                {
                    return false;
                }

                if (w == 0 && f == 1)
                {
                    seconds = (long)varint;
                }
                else if (w == 0 && f == 2)
                {
                    nanos = (int)varint;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// <see cref="TryParse(ReadOnlySpan{byte}, out GrantRow)"/> in the same single pass, plus the two marks
    /// of an encoded <c>GrantRecord</c> that grant expansion leaves or reads: whether one of its annotations
    /// (<c>google.protobuf.Any</c>, field 8) has the type URL <paramref name="annotationTypeUrl"/>, and
    /// whether it carries an expansion annotation (field 6). For scans that must tell derived grants from
    /// original ones without decoding millions of records.
    /// </summary>
    /// <param name="value">The encoded grant.</param>
    /// <param name="annotationTypeUrl">The annotation type URL looked for (UTF-8); empty: annotations are skipped unread.</param>
    /// <param name="row">The row, over <paramref name="value"/>.</param>
    /// <param name="hasAnnotation">Whether an annotation has that type URL (an <c>Any</c> seen twice keeps its last <c>type_url</c>).</param>
    /// <param name="hasExpansion">Whether the expansion field is present.</param>
    /// <returns>False when the bytes are not a well-formed protobuf message.</returns>
    public static bool TryParse(ReadOnlySpan<byte> value, ReadOnlySpan<byte> annotationTypeUrl, out GrantRow row, out bool hasAnnotation, out bool hasExpansion)
    {
        ReadOnlySpan<byte> id = default, entRt = default, entRid = default, ent = default, prRt = default, prRid = default, unused = default;
        bool needsExpansion = false;
        row = default;
        hasAnnotation = false;
        hasExpansion = false;
        int pos = 0;
        while (pos < value.Length)
        {
            if (!TryField(value, ref pos, out uint field, out uint wireType, out ulong varint, out int start, out int length))
            {
                return false;
            }

            switch ((field, wireType))
            {
                case (2, 2):
                    id = value.Slice(start, length);
                    break;
                case (3, 2):
                    if (!TryRef(value.Slice(start, length), ref entRt, ref entRid, ref ent))
                    {
                        return false;
                    }

                    break;
                case (4, 2):
                    if (!TryRef(value.Slice(start, length), ref prRt, ref prRid, ref unused))
                    {
                        return false;
                    }

                    break;
                case (6, 2):
                    hasExpansion = true;
                    break;
                case (7, 0):
                    needsExpansion = varint != 0;
                    break;
                case (8, 2) when !hasAnnotation && !annotationTypeUrl.IsEmpty:
                    ReadOnlySpan<byte> typeUrl = default, anyValue = default, none = default;
                    if (!TryRef(value.Slice(start, length), ref typeUrl, ref anyValue, ref none))
                    {
                        return false;
                    }

                    hasAnnotation = typeUrl.SequenceEqual(annotationTypeUrl);
                    break;
            }
        }

        row = new GrantRow(id, entRt, entRid, ent, prRt, prRid, needsExpansion);
        return true;
    }

    /// <summary>
    /// What a holding is made of, read from an encoded <c>GrantRecord</c> without decoding it: its entitlement id,
    /// whether it has a principal, and whether it holds the entitlement directly — it has no sources, or a source
    /// keyed by its own entitlement (docs/INTEROP-V1.md §5.2). For readers that reduce many grants to holdings
    /// (incremental expansion). Protobuf's rules as in <see cref="TryParse(ReadOnlySpan{byte}, out GrantRow)"/>: a
    /// map entry without a key has the empty key.
    /// </summary>
    /// <param name="value">The encoded grant.</param>
    /// <param name="entitlementId">The entitlement reference's <c>entitlement_id</c> (UTF-8, over <paramref name="value"/>).</param>
    /// <param name="hasPrincipal">Whether the principal field is present.</param>
    /// <param name="direct">Whether the grant has no sources or a source keyed by <paramref name="entitlementId"/>.</param>
    /// <returns>False when the bytes are not a well-formed protobuf message.</returns>
    public static bool TryReadHolding(ReadOnlySpan<byte> value, out ReadOnlySpan<byte> entitlementId, out bool hasPrincipal, out bool direct)
    {
        ReadOnlySpan<byte> entRt = default, entRid = default, ent = default;
        entitlementId = default;
        hasPrincipal = false;
        direct = false;
        bool hasSources = false;
        int pos = 0;
        while (pos < value.Length)
        {
            if (!TryField(value, ref pos, out uint field, out uint wireType, out _, out int start, out int length))
            {
                return false;
            }

            switch ((field, wireType))
            {
                case (3, 2):
                    if (!TryRef(value.Slice(start, length), ref entRt, ref entRid, ref ent))
                    {
                        return false;
                    }

                    break;
                case (4, 2):
                    hasPrincipal = true;
                    break;
                case (9, 2):
                    hasSources = true;
                    break;
            }
        }

        entitlementId = ent;
        if (!hasSources)
        {
            direct = true;
            return true;
        }

        // The entitlement is known only after the whole message (a field may repeat), so the sources' keys are a second pass.
        pos = 0;
        while (pos < value.Length)
        {
            TryField(value, ref pos, out uint field, out uint wireType, out _, out int start, out int length);
            if (field != 9 || wireType != 2)
            {
                continue;
            }

            ReadOnlySpan<byte> key = default, unusedValue = default, none = default;
            if (!TryRef(value.Slice(start, length), ref key, ref unusedValue, ref none))
            {
                return false;
            }

            if (key.SequenceEqual(ent))
            {
                direct = true;
                return true;
            }
        }

        return true;
    }

    // EntitlementRef (1 resource_type_id, 2 resource_id, 3 entitlement_id) or PrincipalRef (1, 2): strings, last wins.
    internal static bool TryRef(ReadOnlySpan<byte> body, ref ReadOnlySpan<byte> first, ref ReadOnlySpan<byte> second, ref ReadOnlySpan<byte> third)
    {
        int pos = 0;
        while (pos < body.Length)
        {
            if (!TryField(body, ref pos, out uint field, out uint wireType, out _, out int start, out int length))
            {
                return false;
            }

            if (wireType != 2)
            {
                continue;
            }

            switch (field)
            {
                case 1:
                    first = body.Slice(start, length);
                    break;
                case 2:
                    second = body.Slice(start, length);
                    break;
                case 3:
                    third = body.Slice(start, length);
                    break;
            }
        }

        return true;
    }

    // One field at pos: its number, wire type, and its varint (wire type 0) or the offset and length of
    // its bytes (wire type 2); fixed-width values are skipped. Offsets, not spans, keep the caller's span the only source.
    internal static bool TryField(ReadOnlySpan<byte> value, ref int pos, out uint field, out uint wireType, out ulong varint, out int start, out int length)
    {
        varint = 0;
        start = 0;
        length = 0;
        wireType = 0;
        field = 0;
        if (!TryVarint(value, ref pos, out ulong tag) || tag > uint.MaxValue || (tag >> 3) == 0)
        {
            return false;
        }

        field = (uint)(tag >> 3);
        wireType = (uint)(tag & 7);
        switch (wireType)
        {
            case 0:
                return TryVarint(value, ref pos, out varint);
            case 1:
                return TrySkip(value, ref pos, 8);
            case 2:
                if (!TryVarint(value, ref pos, out ulong size) || size > (ulong)(value.Length - pos))
                {
                    return false;
                }

                start = pos;
                length = (int)size;
                pos += length;
                return true;
            case 5:
                return TrySkip(value, ref pos, 4);
            default:
                return false;
        }
    }

    private static bool TrySkip(ReadOnlySpan<byte> value, ref int pos, int count)
    {
        if (value.Length - pos < count)
        {
            return false;
        }

        pos += count;
        return true;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool TryVarint(ReadOnlySpan<byte> value, ref int pos, out ulong result)
    {
        // Tags and lengths of a grant are almost always one byte.
        if ((uint)pos < (uint)value.Length && value[pos] < 0x80)
        {
            result = value[pos++];
            return true;
        }

        return TryLongVarint(value, ref pos, out result);
    }

    private static bool TryLongVarint(ReadOnlySpan<byte> value, ref int pos, out ulong result)
    {
        result = 0;
        for (int i = pos, shift = 0; i < value.Length && shift < 70; i++, shift += 7)
        {
            byte b = value[i];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                pos = i + 1;
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// Receives grant rows from <see cref="Storage.IC1zReader.VisitGrants{TVisitor}"/>. A struct visitor is
/// called without boxing or a delegate, so a scan that needs only ids allocates nothing per row.
/// </summary>
public interface IGrantRowVisitor
{
    /// <summary>Called once per grant, in the listing's order.</summary>
    /// <param name="row">The grant's fields, valid only during this call.</param>
    /// <returns>True to continue, false to stop the scan.</returns>
    bool Visit(in GrantRow row);
}
