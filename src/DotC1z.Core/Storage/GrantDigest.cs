using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using DotC1z.Keys;
using DotC1z.Records;

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

        // The entitlement's structural identity: flag "1" with the rest as tail when the id is "rt:rid:rest".
        bool structured = id.Length >= rt.Length + rid.Length + 2
            && id.StartsWith(rt, StringComparison.Ordinal)
            && id[rt.Length] == ':'
            && string.CompareOrdinal(id, rt.Length + 1, rid, 0, rid.Length) == 0
            && id[rt.Length + 1 + rid.Length] == ':';
        ReadOnlySpan<char> tail = structured ? id.AsSpan(rt.Length + rid.Length + 2) : id;
        string prt = grant.Principal?.ResourceTypeId ?? string.Empty;
        string pid = grant.Principal?.ResourceId ?? string.Empty;

        int bound = TupleCodec.MaxEncodedStringLength(rt.Length) + TupleCodec.MaxEncodedStringLength(rid.Length) + 2
            + TupleCodec.MaxEncodedStringLength(tail.Length) + TupleCodec.MaxEncodedStringLength(prt.Length)
            + TupleCodec.MaxEncodedStringLength(pid.Length) + 5;
        string[]? sources = null;
        if (grant.Sources.Count > 0)
        {
            sources = [.. grant.Sources.Keys];
            Array.Sort(sources, Utf8Ordinal.Instance);
            foreach (string s in sources)
            {
                bound += TupleCodec.MaxEncodedStringLength(s.Length) + 1;
            }
        }

        byte[]? rented = null;
        Span<byte> buffer = bound <= StackBufferBytes ? stackalloc byte[StackBufferBytes] : (rented = ArrayPool<byte>.Shared.Rent(bound));
        try
        {
            int n = 0;
            n += Element(rt, buffer[n..]);
            buffer[n++] = TupleCodec.Separator;
            n += Element(rid, buffer[n..]);
            buffer[n++] = TupleCodec.Separator;
            buffer[n++] = structured ? (byte)'1' : (byte)'0';
            buffer[n++] = TupleCodec.Separator;
            n += Element(tail, buffer[n..]);
            buffer[n++] = TupleCodec.Separator;
            n += Element(prt, buffer[n..]);
            buffer[n++] = TupleCodec.Separator;
            n += Element(pid, buffer[n..]);
            if (sources is not null)
            {
                foreach (string s in sources)
                {
                    buffer[n++] = TupleCodec.Separator;
                    n += Element(s, buffer[n..]);
                }
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
        var digests = new Dictionary<string, GrantDigest>(StringComparer.Ordinal);
        long n = 0;
        foreach (var grant in reader.Grants(sync))
        {
            string key = grant.Entitlement?.EntitlementId ?? string.Empty;
            digests[key] = digests.GetValueOrDefault(key).Add(grant);
            if ((++n & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        return digests;
    }

    private static int Element(ReadOnlySpan<char> value, Span<byte> destination)
    {
        // The bound computed above makes DestinationTooSmall impossible.
        _ = TupleCodec.EncodeString(value, destination, out int written);
        return written;
    }
}
