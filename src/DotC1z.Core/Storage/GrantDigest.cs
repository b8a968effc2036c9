using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using DotC1z.Keys;
using DotC1z.Records;
using Google.Protobuf;

namespace DotC1z.Storage;

/// <summary>
/// A grant-set digest: the number of grants and the XOR of their 64-bit content hashes. XOR makes it
/// order-free and mergeable (the digest of a union of disjoint sets is the XOR of their digests), so
/// per-entitlement digests fold into a sync's root, and one changed grant changes the root.
/// </summary>
/// <param name="Count">Grants folded in.</param>
/// <param name="Xor">XOR of their content hashes.</param>
public readonly record struct GrantDigest(long Count, ulong Xor)
{
    /// <summary>
    /// The version of the content-hash definition (<see cref="ContentHash"/>), the same as baton's
    /// <c>GrantDigestABIVersion</c>: digests are comparable only under the same version.
    /// </summary>
    public const uint AbiVersion = 1;

    // Element buffers up to this size live on the stack; longer grants rent from the pool.
    private const int StackBufferBytes = 1024;

    /// <summary>The digest with one more grant folded in.</summary>
    /// <param name="grant">The grant.</param>
    /// <returns>The new digest.</returns>
    public GrantDigest Add(GrantRecord grant) => new(Count + 1, Xor ^ ContentHash(grant));

    /// <summary>The digest of the union of two disjoint grant sets.</summary>
    /// <param name="other">The other digest.</param>
    /// <returns>The combined digest.</returns>
    public GrantDigest Combine(GrantDigest other) => new(Count + other.Count, Xor ^ other.Xor);

    /// <summary>The digest of the union of disjoint grant sets, e.g. a sync's root from its per-entitlement digests.</summary>
    /// <param name="parts">The parts' digests.</param>
    /// <returns>The combined digest.</returns>
    public static GrantDigest Combine(IEnumerable<GrantDigest> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var all = default(GrantDigest);
        foreach (var part in parts)
        {
            all = all.Combine(part);
        }

        return all;
    }

    /// <summary>The XOR as the 8 big-endian bytes a manifest stores.</summary>
    /// <returns>8 bytes.</returns>
    public byte[] XorBytes()
    {
        byte[] bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, Xor);
        return bytes;
    }

    /// <summary>
    /// The content hash of one grant (docs/FORMAT.md, "Grant digests"): XXH64 (seed 0) of the grant's structural
    /// identity — entitlement resource type, resource id, a flag, the entitlement id's tail, principal resource type
    /// and id, each tuple-escaped and joined by <c>00</c> — followed by <c>00</c> and the escaped key of each entry of
    /// its sources map in UTF-8 byte order. Identity and provenance only: ids, timestamps and annotations do not count,
    /// so the same membership hashes the same in every file, ours or baton's.
    /// </summary>
    /// <param name="grant">The grant.</param>
    /// <returns>The hash.</returns>
    public static ulong ContentHash(GrantRecord grant)
    {
        ArgumentNullException.ThrowIfNull(grant);
        string rt = grant.Entitlement?.ResourceTypeId ?? string.Empty;
        string rid = grant.Entitlement?.ResourceId ?? string.Empty;
        string id = grant.Entitlement?.EntitlementId ?? string.Empty;

        bool structured = Structured(id, rt, rid);
        ReadOnlySpan<char> tail = structured ? id.AsSpan(rt.Length + rid.Length + 2) : id;
        string prt = grant.Principal?.ResourceTypeId ?? string.Empty;
        string pid = grant.Principal?.ResourceId ?? string.Empty;
        string[] sources = [.. grant.Sources.Keys];
        Array.Sort(sources, Utf8Ordinal.Instance);

        // The elements as UTF-8, one after another (invalid UTF-16 becomes U+FFFD, as protobuf writes it).
        var utf8 = System.Text.Encoding.UTF8;
        int bound = utf8.GetMaxByteCount(rt.Length) + utf8.GetMaxByteCount(rid.Length) + utf8.GetMaxByteCount(tail.Length)
            + utf8.GetMaxByteCount(prt.Length) + utf8.GetMaxByteCount(pid.Length);
        foreach (string key in sources)
        {
            bound += utf8.GetMaxByteCount(key.Length);
        }

        byte[]? rented = null;
        Span<byte> text = bound <= StackBufferBytes ? stackalloc byte[StackBufferBytes] : (rented = ArrayPool<byte>.Shared.Rent(bound));
        Span<(int Start, int Length)> keys = sources.Length <= MaxStackSources ? stackalloc (int, int)[MaxStackSources] : new (int, int)[sources.Length];
        try
        {
            int n = 0;
            (int Start, int Length) Put(ReadOnlySpan<char> value, Span<byte> text)
            {
                int written = utf8.GetBytes(value, text[n..]);
                n += written;
                return (n - written, written);
            }

            var rtAt = Put(rt, text);
            var ridAt = Put(rid, text);
            var tailAt = Put(tail, text);
            var prtAt = Put(prt, text);
            var pidAt = Put(pid, text);
            for (int i = 0; i < sources.Length; i++)
            {
                keys[i] = Put(sources[i], text);
            }

            return HashLayout(Slice(text, rtAt), Slice(text, ridAt), structured, Slice(text, tailAt), Slice(text, prtAt), Slice(text, pidAt), text, keys[..sources.Length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // The entitlement's structural identity: flag "1" with the rest as tail when the id is "rt:rid:rest".
    private static bool Structured(string id, string rt, string rid) =>
        id.Length >= rt.Length + rid.Length + 2
            && id.StartsWith(rt, StringComparison.Ordinal)
            && id[rt.Length] == ':'
            && string.CompareOrdinal(id, rt.Length + 1, rid, 0, rid.Length) == 0
            && id[rt.Length + 1 + rid.Length] == ':';

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> text, (int Start, int Length) at) => text.Slice(at.Start, at.Length);

    /// <summary>
    /// The entitlement's part of the hashed layout (<see cref="ContentHash(GrantRecord)"/>): <c>rt 00 rid 00 flag 00 tail 00</c>,
    /// elements escaped. With <see cref="PrincipalLayout"/> and <see cref="SourcesLayout"/> it lets a producer of many
    /// grants from shared parts (an expansion's derived grants) hash each from three pieces (<see cref="HashLayout(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>).
    /// </summary>
    /// <param name="entitlement">The grant's entitlement (null: all empty).</param>
    /// <returns>The bytes.</returns>
    public static byte[] EntitlementLayout(EntitlementRef? entitlement)
    {
        string rt = entitlement?.ResourceTypeId ?? string.Empty;
        string rid = entitlement?.ResourceId ?? string.Empty;
        string id = entitlement?.EntitlementId ?? string.Empty;
        bool structured = Structured(id, rt, rid);
        byte[] rt8 = Utf8(rt), rid8 = Utf8(rid), tail8 = Utf8(structured ? id[(rt.Length + rid.Length + 2)..] : id);
        var part = new byte[TupleCodec.MaxEncodedLength(rt8.Length + rid8.Length + tail8.Length) + 5];
        return part[..WriteEntitlementPart(part, rt8, rid8, structured, tail8)];
    }

    /// <summary>The principal's part of the hashed layout: <c>prt 00 pid</c>, escaped (see <see cref="EntitlementLayout"/>).</summary>
    /// <param name="principal">The grant's principal (null: both empty).</param>
    /// <returns>The bytes.</returns>
    public static byte[] PrincipalLayout(PrincipalRef? principal)
    {
        byte[] prt = Utf8(principal?.ResourceTypeId ?? string.Empty), pid = Utf8(principal?.ResourceId ?? string.Empty);
        var part = new byte[TupleCodec.MaxEncodedLength(prt.Length + pid.Length) + 1];
        return part[..WritePrincipalPart(part, prt, pid)];
    }

    /// <summary>The sources' part of the hashed layout: <c>00 key</c> per key of the sources map, escaped, in UTF-8 byte order (see <see cref="EntitlementLayout"/>).</summary>
    /// <param name="sourceKeys">The keys of the grant's sources map.</param>
    /// <returns>The bytes.</returns>
    public static byte[] SourcesLayout(IEnumerable<string> sourceKeys)
    {
        string[] keys = [.. sourceKeys];
        Array.Sort(keys, Utf8Ordinal.Instance);
        byte[][] keys8 = [.. keys.Select(Utf8)];
        var part = new byte[keys8.Sum(k => TupleCodec.MaxEncodedLength(k.Length) + 1)];
        int n = 0;
        foreach (byte[] key in keys8)
        {
            n += WriteSourcePart(part.AsSpan(n), key);
        }

        return part[..n];
    }

    /// <summary>The content hash of a grant from its three layout parts (<see cref="EntitlementLayout"/>, <see cref="PrincipalLayout"/>, <see cref="SourcesLayout"/>): equal to <see cref="ContentHash(GrantRecord)"/>.</summary>
    /// <param name="entitlement">The entitlement's part.</param>
    /// <param name="principal">The principal's part.</param>
    /// <param name="sources">The sources' part.</param>
    /// <returns>The hash.</returns>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    public static ulong HashLayout(ReadOnlySpan<byte> entitlement, ReadOnlySpan<byte> principal, ReadOnlySpan<byte> sources)
    {
        int length = entitlement.Length + principal.Length + sources.Length;
        byte[]? rented = null;
        Span<byte> buffer = length <= StackBufferBytes ? stackalloc byte[StackBufferBytes] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            entitlement.CopyTo(buffer);
            principal.CopyTo(buffer[entitlement.Length..]);
            sources.CopyTo(buffer[(entitlement.Length + principal.Length)..]);
            return XxHash64.HashToUInt64(buffer[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // Invalid UTF-16 becomes U+FFFD, as protobuf writes it.
    private static byte[] Utf8(string text) => System.Text.Encoding.UTF8.GetBytes(text);

    // The three parts of the hashed layout, every element escaped: "rt 00 rid 00 flag 00 tail 00", "prt 00 pid" and, per
    // source key, "00 key". Each writes into a destination of at least its elements' escaped bound plus its separators.
    private static int WriteEntitlementPart(Span<byte> destination, ReadOnlySpan<byte> rt, ReadOnlySpan<byte> rid, bool structured, ReadOnlySpan<byte> tail)
    {
        int n = Escaped(rt, destination);
        destination[n++] = TupleCodec.Separator;
        n += Escaped(rid, destination[n..]);
        destination[n++] = TupleCodec.Separator;
        destination[n++] = structured ? (byte)'1' : (byte)'0';
        destination[n++] = TupleCodec.Separator;
        n += Escaped(tail, destination[n..]);
        destination[n++] = TupleCodec.Separator;
        return n;
    }

    private static int WritePrincipalPart(Span<byte> destination, ReadOnlySpan<byte> prt, ReadOnlySpan<byte> pid)
    {
        int n = Escaped(prt, destination);
        destination[n++] = TupleCodec.Separator;
        return n + Escaped(pid, destination[n..]);
    }

    private static int WriteSourcePart(Span<byte> destination, ReadOnlySpan<byte> key)
    {
        destination[0] = TupleCodec.Separator;
        return 1 + Escaped(key, destination[1..]);
    }

    /// <summary>
    /// XXH64 of the hashed layout (docs/FORMAT.md, "Grant digests") from UTF-8 elements: rt 00 rid 00 flag 00 tail 00
    /// prt 00 pid, then 00 and each source key (slices of <paramref name="text"/>) in the order given, every element
    /// tuple-escaped. Both roads (records, stored bytes) end here, so the layout is written once.
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    private static ulong HashLayout(
        ReadOnlySpan<byte> rt,
        ReadOnlySpan<byte> rid,
        bool structured,
        ReadOnlySpan<byte> tail,
        ReadOnlySpan<byte> prt,
        ReadOnlySpan<byte> pid,
        ReadOnlySpan<byte> text,
        ReadOnlySpan<(int Start, int Length)> sources)
    {
        int bound = TupleCodec.MaxEncodedLength(rt.Length + rid.Length + tail.Length + prt.Length + pid.Length) + 8;
        foreach (var k in sources)
        {
            bound += TupleCodec.MaxEncodedLength(k.Length) + 1;
        }

        byte[]? rented = null;
        Span<byte> buffer = bound <= StackBufferBytes ? stackalloc byte[StackBufferBytes] : (rented = ArrayPool<byte>.Shared.Rent(bound));
        try
        {
            int n = WriteEntitlementPart(buffer, rt, rid, structured, tail);
            n += WritePrincipalPart(buffer[n..], prt, pid);
            foreach (var k in sources)
            {
                n += WriteSourcePart(buffer[n..], Slice(text, k));
            }

            return XxHash64.HashToUInt64(buffer[..n]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// <see cref="ContentHash(GrantRecord)"/> of a grant in its stored encoding (a protobuf <c>GrantRecord</c>), read
    /// straight from the bytes: equal to the record's hash whenever the strings are valid UTF-8.
    /// </summary>
    /// <param name="value">The encoded grant.</param>
    /// <param name="hash">The hash.</param>
    /// <returns>False when the bytes are not a well-formed grant or hold invalid UTF-8 (decode the record instead).</returns>
    public static bool TryContentHash(ReadOnlySpan<byte> value, out ulong hash) => TryContentHash(value, out hash, out _);

    /// <summary>As <see cref="TryContentHash(ReadOnlySpan{byte}, out ulong)"/>, also giving the entitlement id (UTF-8, over <paramref name="value"/>).</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    internal static bool TryContentHash(ReadOnlySpan<byte> value, out ulong hash, out ReadOnlySpan<byte> entitlementId)
    {
        hash = 0;
        entitlementId = default;

        // One pass over the top-level fields (protobuf's rules as GrantRow's: last wins, a repeated message merges),
        // collecting the identity's spans and the sources map's keys (field 9 entries, key = field 1) as offsets.
        ReadOnlySpan<byte> rt = default, rid = default, id = default, prt = default, pid = default, unused = default;
        Span<(int Start, int Length)> keys = stackalloc (int, int)[MaxStackSources];
        int sources = 0;
        int pos = 0;
        while (pos < value.Length)
        {
            if (!Codecs.GrantRow.TryField(value, ref pos, out uint field, out uint wireType, out _, out int start, out int length))
            {
                return false;
            }

            if (wireType != 2)
            {
                continue;
            }

            if (field == 3)
            {
                if (!Codecs.GrantRow.TryRef(value.Slice(start, length), ref rt, ref rid, ref id))
                {
                    return false;
                }
            }
            else if (field == 4)
            {
                if (!Codecs.GrantRow.TryRef(value.Slice(start, length), ref prt, ref pid, ref unused))
                {
                    return false;
                }
            }
            else if (field == 9)
            {
                (int Start, int Length) key = (start, 0);
                var entry = value.Slice(start, length);
                int inner = 0;
                while (inner < entry.Length)
                {
                    if (!Codecs.GrantRow.TryField(entry, ref inner, out uint f, out uint w, out _, out int keyStart, out int keyLength))
                    {
                        return false;
                    }

                    if (f == 1 && w == 2)
                    {
                        key = (start + keyStart, keyLength);
                    }
                }

                if (!System.Text.Unicode.Utf8.IsValid(value.Slice(key.Start, key.Length)))
                {
                    return false;
                }

                if (sources == keys.Length)
                {
                    var more = new (int, int)[keys.Length * 2];
                    keys.CopyTo(more);
                    keys = more;
                }

                keys[sources++] = key;
            }
        }

        if (!System.Text.Unicode.Utf8.IsValid(rt) || !System.Text.Unicode.Utf8.IsValid(rid) || !System.Text.Unicode.Utf8.IsValid(id)
            || !System.Text.Unicode.Utf8.IsValid(prt) || !System.Text.Unicode.Utf8.IsValid(pid))
        {
            return false;
        }

        entitlementId = id;

        // Map keys in UTF-8 byte order.
        var sorted = keys[..sources];
        for (int i = 1; i < sorted.Length; i++)
        {
            var k = sorted[i];
            int j = i - 1;
            while (j >= 0 && value.Slice(sorted[j].Start, sorted[j].Length).SequenceCompareTo(value.Slice(k.Start, k.Length)) > 0)
            {
                sorted[j + 1] = sorted[j];
                j--;
            }

            sorted[j + 1] = k;
        }

        // A repeated map key is one map entry (the last wins; the key is the same): hash it once.
        int distinct = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            if (distinct == 0 || !value.Slice(sorted[i].Start, sorted[i].Length).SequenceEqual(value.Slice(sorted[distinct - 1].Start, sorted[distinct - 1].Length)))
            {
                sorted[distinct++] = sorted[i];
            }
        }

        bool structured = id.Length >= rt.Length + rid.Length + 2
            && id.StartsWith(rt)
            && id[rt.Length] == (byte)':'
            && id.Slice(rt.Length + 1, rid.Length).SequenceEqual(rid)
            && id[rt.Length + 1 + rid.Length] == (byte)':';
        var tail = structured ? id[(rt.Length + rid.Length + 2)..] : id;
        hash = HashLayout(rt, rid, structured, tail, prt, pid, value, sorted[..distinct]);
        return true;
    }

    // Sources of one grant kept on the stack before the list moves to the heap.
    private const int MaxStackSources = 16;

    private static int Escaped(ReadOnlySpan<byte> utf8, Span<byte> destination)
    {
        // The bound computed above makes DestinationTooSmall impossible.
        _ = TupleCodec.EncodeBytes(utf8, destination, out int written);
        return written;
    }

    /// <summary>The digest of every grant of a sync.</summary>
    /// <param name="reader">The store.</param>
    /// <param name="sync">The sync.</param>
    /// <param name="cancellationToken">Stops the scan.</param>
    /// <returns>The sync's root digest.</returns>
    public static GrantDigest Of(IC1zReader reader, SyncId sync, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var digest = default(GrantDigest);
        foreach (var grant in reader.Grants(sync))
        {
            digest = digest.Add(grant);
            if ((digest.Count & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        return digest;
    }

    /// <summary>Per-entitlement digests of a sync (their <see cref="Combine(IEnumerable{GrantDigest})"/> is <see cref="Of"/>), keyed by entitlement id.</summary>
    /// <param name="reader">The store.</param>
    /// <param name="sync">The sync.</param>
    /// <param name="cancellationToken">Stops the scan.</param>
    /// <returns>One digest per entitlement that has grants (memory grows with entitlements, not grants).</returns>
    public static IReadOnlyDictionary<string, GrantDigest> ByEntitlement(IC1zReader reader, SyncId sync, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var builder = new GrantDigestBuilder();
        long n = 0;
        if (reader.TryOpenEncodedGrants(sync, out var cursor))
        {
            // Stores that hand out stored bytes are hashed from them: no record is decoded.
            using (cursor)
            {
                while (cursor.MoveNext())
                {
                    builder.AddEncoded(cursor.Value);
                    if ((++n & 0xFFFF) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                }
            }

            return builder.ByEntitlement;
        }

        foreach (var grant in reader.Grants(sync))
        {
            builder.Add(grant);
            if ((++n & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        return builder.ByEntitlement;
    }

}

/// <summary>
/// Folds grants into per-entitlement digests as they go by — from records, or from their stored bytes, which
/// writers see anyway (the RocksDB bulk loader folds every grant it writes, so a save needs no scan). Not
/// thread-safe: one builder per thread, joined with <see cref="Merge"/>.
/// </summary>
public sealed class GrantDigestBuilder
{
    // Per-entitlement digests in first-seen order, found by entitlement id (the record road) or by its UTF-8 bytes
    // (the stored-bytes road: no string per grant, the index's last lookup answering runs of one entitlement).
    private readonly List<(string Key, GrantDigest Digest)> _entries = [];
    private readonly Dictionary<string, int> _byKey = new(StringComparer.Ordinal);
    private readonly Codecs.Utf8Index _utf8 = new();
    private readonly List<int> _entryOfUtf8 = [];

    /// <summary>Per-entitlement digests so far, keyed by entitlement id.</summary>
    public IReadOnlyDictionary<string, GrantDigest> ByEntitlement
    {
        get
        {
            var result = new Dictionary<string, GrantDigest>(_entries.Count, StringComparer.Ordinal);
            foreach (var (key, digest) in _entries)
            {
                result[key] = digest;
            }

            return result;
        }
    }

    /// <summary>Folds in one grant.</summary>
    /// <param name="grant">The grant.</param>
    public void Add(GrantRecord grant)
    {
        ArgumentNullException.ThrowIfNull(grant);
        Fold(EntryOf(grant.Entitlement?.EntitlementId ?? string.Empty), GrantDigest.ContentHash(grant));
    }

    /// <summary>Folds in one grant in its stored encoding.</summary>
    /// <param name="value">A protobuf <c>GrantRecord</c>.</param>
    /// <exception cref="Errors.C1zCorruptionException">The bytes are not a grant.</exception>
    public void AddEncoded(ReadOnlySpan<byte> value)
    {
        if (!GrantDigest.TryContentHash(value, out ulong hash, out var entitlement))
        {
            // Invalid UTF-8 hashes as the record it decodes to (U+FFFD replacements); malformed bytes fail there.
            GrantRecord grant;
            try
            {
                grant = Codecs.CodecRegistry.Grant.Decode(value);
            }
            catch (Exception ex) when (ex is InvalidProtocolBufferException or Errors.C1zException)
            {
                throw new Errors.C1zCorruptionException("a stored grant does not decode: " + ex.Message, null, ex);
            }

            Add(grant);
            return;
        }

        int index = _utf8.GetOrAdd(entitlement, out bool added);
        if (added)
        {
            // Valid UTF-8 here, so the string round-trips to these bytes.
            _entryOfUtf8.Add(EntryOf(System.Text.Encoding.UTF8.GetString(entitlement)));
        }

        Fold(_entryOfUtf8[index], hash);
    }

    /// <summary>Folds in the digest of grants of one entitlement (disjoint from this builder's).</summary>
    /// <param name="entitlementId">The entitlement.</param>
    /// <param name="digest">Their digest.</param>
    public void Add(string entitlementId, GrantDigest digest)
    {
        ArgumentNullException.ThrowIfNull(entitlementId);
        int index = EntryOf(entitlementId);
        ref var e = ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_entries)[index];
        e.Digest = e.Digest.Combine(digest);
    }

    /// <summary>Folds in another builder's grants (disjoint from this one's).</summary>
    /// <param name="other">The other builder.</param>
    public void Merge(GrantDigestBuilder other)
    {
        ArgumentNullException.ThrowIfNull(other);
        foreach (var (key, digest) in other._entries)
        {
            // The entry first: adding it may move the list's storage.
            int index = EntryOf(key);
            ref var e = ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_entries)[index];
            e.Digest = e.Digest.Combine(digest);
        }
    }

    private int EntryOf(string key)
    {
        ref int slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_byKey, key, out bool exists);
        if (!exists)
        {
            slot = _entries.Count;
            _entries.Add((key, default));
        }

        return slot;
    }

    private void Fold(int index, ulong hash)
    {
        ref var e = ref System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_entries)[index];
        e.Digest = new GrantDigest(e.Digest.Count + 1, e.Digest.Xor ^ hash);
    }
}
