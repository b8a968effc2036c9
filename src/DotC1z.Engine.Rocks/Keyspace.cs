using DotC1z.Codecs;
using DotC1z.Keys;
using DotC1z.Records;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// The key layout of a DotC1z RocksDB store. Every key starts with the format version byte, then a
/// keyspace byte; record and index keys then carry the raw 20-byte binary sync id, so one store
/// holds many syncs and every per-sync range is contiguous.
/// <code>
///  primary record   03 | kind (01..05) | SYNC[20] | 00 | T(id) [ 00 | T(id2) ]            value: record (sync_id cleared)
///  sync run         03 | 06            | SYNC[20]                                          value: SyncRunRecord
///  index entry      03 | 07 | index id | SYNC[20] | 00 | T(e1) 00 T(e2) … 00 T(identity…)  value: see below
///  engine meta      03 | FF | name                                                         value: meta bytes
///
///  index id  name                       elements after SYNC 00                      value
///  01        resource by parent         parent.rt, parent.id, child.rt, child.id    primary key of the child
///  02        entitlement by resource    resource.rt, resource.id, external_id       primary key
///  03        grant by entitlement       entitlement_id, principal.rt, principal.id, external_id   grant record (covering)
///  04        grant by principal         principal.rt, principal.id, external_id     grant record (covering)
///  05        grant needs expansion      external_id                                 primary key
///  06        grant by entitlement resource  entitlement.rt, entitlement.rid, external_id   primary key
/// </code>
/// T(x) is the tuple escaping of <see cref="TupleCodec"/>; SYNC is fixed-width and not escaped, so
/// parsers skip exactly 20 bytes. Resources by type need no index: the resource primary key starts
/// with the resource type, so it is a prefix scan.
/// </summary>
/// <remarks>
/// Why the two grant indexes are covering (value = the grant record): listing by entitlement or by
/// principal is the hot read path, and a key-only index turns every row into a random point lookup
/// (measured here at 3–5 µs a row, slower than SQLite; docs/PERF-ANCHORS.md §5). A covering entry makes a
/// list one sequential range scan, at the cost of storing each grant value three times. The other
/// indexes are rarely scanned and store the primary key, so a lookup needs no tail parsing.
/// </remarks>
internal static class Keyspace
{
    /// <summary>First byte of every key.</summary>
    public const byte Version = 0x03;

    public const byte SyncRun = 0x06;
    public const byte Index = 0x07;
    public const byte Meta = 0xFF;

    public const byte IdxResourceByParent = 0x01;
    public const byte IdxEntitlementByResource = 0x02;
    public const byte IdxGrantByEntitlement = 0x03;
    public const byte IdxGrantByPrincipal = 0x04;
    public const byte IdxGrantNeedsExpansion = 0x05;
    public const byte IdxGrantByEntitlementResource = 0x06;

    /// <summary>Length of <c>03 kind SYNC</c>.</summary>
    public const int RecordHeaderLength = 2 + SyncId.ByteLength;

    /// <summary>Length of <c>03 07 idx SYNC</c>.</summary>
    public const int IndexHeaderLength = 3 + SyncId.ByteLength;

    /// <summary>Upper bound of one escaped id element we accept in a key (ids are short in practice; this keeps stackalloc safe).</summary>
    public const int StackKeyLimit = 512;

    public static readonly byte[] GrantIndexIds = [IdxGrantByEntitlement, IdxGrantByPrincipal, IdxGrantNeedsExpansion, IdxGrantByEntitlementResource];

    public static readonly byte[] AllIndexIds = [IdxResourceByParent, IdxEntitlementByResource, IdxGrantByEntitlement, IdxGrantByPrincipal, IdxGrantNeedsExpansion, IdxGrantByEntitlementResource];

    /// <summary>Keys whose bound (<see cref="MaxKeyLength(int, ReadOnlySpan{string})"/>) is at most this many bytes are built in a stack buffer.</summary>
    private const int StackBuildBytes = 1024;

    /// <summary>Worst-case length of a key holding the given string elements.</summary>
    public static int MaxKeyLength(int headerLength, params ReadOnlySpan<string> elements)
    {
        int n = headerLength;
        foreach (string e in elements)
        {
            n += 1 + TupleCodec.MaxEncodedStringLength(e.Length);
        }

        return n;
    }

    public static void RecordHeader(ref TupleWriter w, byte kind, SyncId sync)
    {
        w.Byte(Version);
        w.Byte(kind);
        w.SyncId(sync);
    }

    public static void IndexHeader(ref TupleWriter w, byte index, SyncId sync)
    {
        w.Byte(Version);
        w.Byte(Index);
        w.Byte(index);
        w.SyncId(sync);
    }

    /// <summary>Builds <c>header 00 T(e1) 00 T(e2) …</c> (a full key: no trailing separator).</summary>
    public static byte[] RecordKey(byte kind, SyncId sync, params ReadOnlySpan<string> ids)
    {
        // Built on the stack up to a bound, then copied out at its length: one allocation per key, not two.
        int max = MaxKeyLength(RecordHeaderLength, ids);
        var w = new TupleWriter(max <= StackBuildBytes ? stackalloc byte[StackBuildBytes] : new byte[max]);
        RecordHeader(ref w, kind, sync);
        foreach (string id in ids)
        {
            w.Separator();
            w.String(id);
        }

        return w.Written.ToArray();
    }

    /// <summary>Writes <c>header 00 T(e1) 00 T(e2) …</c> into a caller buffer of at least <see cref="MaxKeyLength(int, ReadOnlySpan{string})"/> bytes; returns its length.</summary>
    public static int WriteRecordKey(Span<byte> destination, byte kind, SyncId sync, scoped ReadOnlySpan<string> ids)
    {
        var w = new TupleWriter(destination);
        RecordHeader(ref w, kind, sync);
        foreach (string id in ids)
        {
            w.Separator();
            w.String(id);
        }

        return w.Length;
    }

    /// <summary>Builds an index key (full key or, with <paramref name="trailingSeparator"/>, a by-value scan prefix).</summary>
    public static byte[] IndexKey(byte index, SyncId sync, bool trailingSeparator, params ReadOnlySpan<string> elements)
    {
        int max = MaxKeyLength(IndexHeaderLength, elements) + 1;
        var w = new TupleWriter(max <= StackBuildBytes ? stackalloc byte[StackBuildBytes] : new byte[max]);
        IndexHeader(ref w, index, sync);
        foreach (string e in elements)
        {
            w.Separator();
            w.String(e);
        }

        if (trailingSeparator)
        {
            w.Separator();
        }

        return w.Written.ToArray();
    }

    /// <summary>Prefix of every record of one kind in one sync (<c>03 kind SYNC</c>: fixed width, no separator needed).</summary>
    public static byte[] RecordSyncPrefix(byte kind, SyncId sync)
    {
        var buffer = new byte[RecordHeaderLength];
        var w = new TupleWriter(buffer);
        RecordHeader(ref w, kind, sync);
        return buffer;
    }

    /// <summary>Prefix of one index in one sync.</summary>
    public static byte[] IndexSyncPrefix(byte index, SyncId sync)
    {
        var buffer = new byte[IndexHeaderLength];
        var w = new TupleWriter(buffer);
        IndexHeader(ref w, index, sync);
        return buffer;
    }

    public static byte[] SyncRunKey(SyncId sync) => RecordSyncPrefix(SyncRun, sync);

    public static byte[] SyncRunPrefix() => [Version, SyncRun];

    // ------------------------------------------------------------------ identities

    public static byte[] PrimaryKey(SyncId sync, ResourceTypeRecord r) => RecordKey((byte)Storage.RecordKind.ResourceType, sync, r.ExternalId);

    public static byte[] PrimaryKey(SyncId sync, ResourceRecord r) => RecordKey((byte)Storage.RecordKind.Resource, sync, r.ResourceTypeId, r.ResourceId);

    public static byte[] PrimaryKey(SyncId sync, EntitlementRecord r) => RecordKey((byte)Storage.RecordKind.Entitlement, sync, r.ExternalId);

    public static byte[] PrimaryKey(SyncId sync, GrantRecord r) => RecordKey((byte)Storage.RecordKind.Grant, sync, r.ExternalId);

    public static byte[] PrimaryKey(SyncId sync, AssetRecord r) => RecordKey((byte)Storage.RecordKind.Asset, sync, r.ExternalId);

    // ------------------------------------------------------------------ index entries of a record

    /// <summary>One index entry: its key, and whether its value is the record itself (covering) or the primary key.</summary>
    public readonly record struct IndexEntry(byte[] Key, bool Covering);

    public static IEnumerable<IndexEntry> IndexEntries(SyncId sync, ResourceRecord r)
    {
        yield return new(IndexKey(IdxResourceByParent, sync, false, r.Parent?.ResourceTypeId ?? string.Empty, r.Parent?.ResourceId ?? string.Empty, r.ResourceTypeId, r.ResourceId), false);
    }

    public static IEnumerable<IndexEntry> IndexEntries(SyncId sync, EntitlementRecord r)
    {
        yield return new(IndexKey(IdxEntitlementByResource, sync, false, r.Resource?.ResourceTypeId ?? string.Empty, r.Resource?.ResourceId ?? string.Empty, r.ExternalId), false);
    }

    public static IEnumerable<IndexEntry> IndexEntries(SyncId sync, GrantRecord r)
    {
        string ent = r.Entitlement?.EntitlementId ?? string.Empty;
        string prt = r.Principal?.ResourceTypeId ?? string.Empty;
        string pid = r.Principal?.ResourceId ?? string.Empty;
        yield return new(IndexKey(IdxGrantByEntitlement, sync, false, ent, prt, pid, r.ExternalId), true);
        yield return new(IndexKey(IdxGrantByPrincipal, sync, false, prt, pid, r.ExternalId), true);
        if (r.NeedsExpansion)
        {
            yield return new(IndexKey(IdxGrantNeedsExpansion, sync, false, r.ExternalId), false);
        }

        yield return new(IndexKey(IdxGrantByEntitlementResource, sync, false, r.Entitlement?.ResourceTypeId ?? string.Empty, r.Entitlement?.ResourceId ?? string.Empty, r.ExternalId), false);
    }

    /// <summary>
    /// The index entries of an encoded grant, from its fields read in place: byte for byte those
    /// <see cref="IndexEntries(SyncId, GrantRecord)"/> gives the record it encodes (a string element is its UTF-8 bytes, escaped).
    /// </summary>
    public static IndexEntry[] IndexEntries(SyncId sync, in GrantRow r)
    {
        var byEntitlement = new IndexEntry(IndexKey(IdxGrantByEntitlement, sync, r.EntitlementId, r.PrincipalResourceTypeId, r.PrincipalResourceId, r.ExternalId, 4), true);
        var byPrincipal = new IndexEntry(IndexKey(IdxGrantByPrincipal, sync, r.PrincipalResourceTypeId, r.PrincipalResourceId, r.ExternalId, default, 3), true);
        var byResource = new IndexEntry(IndexKey(IdxGrantByEntitlementResource, sync, r.EntitlementResourceTypeId, r.EntitlementResourceId, r.ExternalId, default, 3), false);
        return r.NeedsExpansion
            ? [byEntitlement, byPrincipal, new(IndexKey(IdxGrantNeedsExpansion, sync, r.ExternalId, default, default, default, 1), false), byResource]
            : [byEntitlement, byPrincipal, byResource];
    }

    /// <summary>An index key of up to four UTF-8 elements (the first <paramref name="count"/>), as <see cref="IndexKey(byte, SyncId, bool, ReadOnlySpan{string})"/> builds it from strings.</summary>
    private static byte[] IndexKey(byte index, SyncId sync, ReadOnlySpan<byte> e1, ReadOnlySpan<byte> e2, ReadOnlySpan<byte> e3, ReadOnlySpan<byte> e4, int count)
    {
        Span<byte> header = stackalloc byte[IndexHeaderLength];
        var w = new TupleWriter(header);
        IndexHeader(ref w, index, sync);
        int max = MaxKeyLength(IndexHeaderLength, e1.Length + e2.Length + e3.Length + e4.Length, count);
        Span<byte> key = max <= StackBuildBytes ? stackalloc byte[StackBuildBytes] : new byte[max];
        return key[..WriteKey(key, header, e1, e2, e3, e4, count)].ToArray();
    }

    /// <summary>The most bytes <see cref="WriteKey"/> writes for a header, <paramref name="count"/> elements and their raw bytes.</summary>
    public static int MaxKeyLength(int headerLength, int elementBytes, int count) => headerLength + count + TupleCodec.MaxEncodedLength(elementBytes);

    /// <summary>
    /// Writes <c>header 00 T(e1) 00 T(e2) …</c> (the first <paramref name="count"/> UTF-8 elements, escaped) into
    /// <paramref name="destination"/> (at least <see cref="MaxKeyLength(int, int, int)"/> bytes); returns its length. Byte for
    /// byte what the string builders write for the same text.
    /// </summary>
    public static int WriteKey(Span<byte> destination, ReadOnlySpan<byte> header, ReadOnlySpan<byte> e1, ReadOnlySpan<byte> e2, ReadOnlySpan<byte> e3, ReadOnlySpan<byte> e4, int count)
    {
        header.CopyTo(destination);
        int n = header.Length;
        Append(destination, ref n, e1);
        if (count > 1)
        {
            Append(destination, ref n, e2);
        }

        if (count > 2)
        {
            Append(destination, ref n, e3);
        }

        if (count > 3)
        {
            Append(destination, ref n, e4);
        }

        return n;

        static void Append(Span<byte> span, ref int n, ReadOnlySpan<byte> element)
        {
            span[n++] = TupleCodec.Separator;
            if (TupleCodec.EncodeBytes(element, span[n..], out int written) != System.Buffers.OperationStatus.Done)
            {
                throw new InvalidOperationException("a key element does not fit its reserved space");
            }

            n += written;
        }
    }
}
