using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z;

/// <summary>A page of a listing and the token of the next page (null after the last page).</summary>
/// <typeparam name="T">The record type.</typeparam>
/// <param name="Items">The records of this page, in the listing's order.</param>
/// <param name="NextPageToken">Pass it to get the next page; null when this page is the last.</param>
public sealed record RecordPage<T>(IReadOnlyList<T> Items, string? NextPageToken);

/// <summary>A page token that is malformed, altered, or belongs to another listing or sync.</summary>
public sealed class C1zInvalidPageTokenException : C1zArgumentException
{
    /// <summary>Creates the error.</summary>
    /// <param name="message">What is wrong with the token.</param>
    /// <param name="inner">The decoding error, if any.</param>
    public C1zInvalidPageTokenException(string message, Exception? inner = null)
        : base("invalid page token: " + message, null, inner)
    {
    }
}

/// <summary>
/// Page tokens (docs/DESIGN.md §5.5): base64url of
/// <c>version · listing kind · sync id · hash of the listing's arguments · position elements · MAC</c>. The position is
/// the last returned record's place in the listing's order, so the next page starts strictly after it: records
/// written or deleted meanwhile never shift a page (no duplicates, no skips of records that stayed). The MAC
/// (HMAC-SHA256, truncated) makes an altered or hand-made token fail loudly instead of listing from an arbitrary place;
/// it is an integrity check, not a secret: a token carries ids the caller has already seen.
/// </summary>
internal static class PageToken
{
    private const byte Version = 1;
    private const int MacLength = 16;

    /// <summary>Upper bound on a token's decoded size (ids are bounded by the store's key limits).</summary>
    private const int MaxDecodedLength = 64 * 1024;

    private static readonly byte[] MacKey = "DotC1z page token v1"u8.ToArray();

    public static string Encode(RecordListing listing, SyncId sync, IReadOnlyList<string> position)
    {
        var body = new List<byte>(64) { Version, (byte)listing.Kind };
        Span<byte> id = stackalloc byte[SyncId.ByteLength];
        sync.WriteBytes(id);
        body.AddRange(id);
        Span<byte> argHash = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(argHash, ArgumentHash(listing));
        body.AddRange(argHash);
        body.Add((byte)position.Count);
        Span<byte> len = stackalloc byte[4];
        foreach (string element in position)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(element);
            BinaryPrimitives.WriteInt32BigEndian(len, utf8.Length);
            body.AddRange(len);
            body.AddRange(utf8);
        }

        byte[] bytes = [.. body];
        byte[] mac = HMACSHA256.HashData(MacKey, bytes).AsSpan(0, MacLength).ToArray();
        return Base64Url.EncodeToString([.. bytes, .. mac]);
    }

    public static string[] Decode(string token, RecordListing listing, SyncId sync)
    {
        byte[] raw;
        try
        {
            raw = Base64Url.DecodeFromChars(token);
        }
        catch (FormatException ex)
        {
            throw new C1zInvalidPageTokenException("not base64url", ex);
        }

        if (raw.Length is < 1 + 1 + SyncId.ByteLength + 8 + 1 + MacLength or > MaxDecodedLength)
        {
            throw new C1zInvalidPageTokenException("wrong length");
        }

        var body = raw.AsSpan(0, raw.Length - MacLength);
        var mac = raw.AsSpan(raw.Length - MacLength);
        if (!CryptographicOperations.FixedTimeEquals(HMACSHA256.HashData(MacKey, body).AsSpan(0, MacLength), mac))
        {
            throw new C1zInvalidPageTokenException("it was altered or not issued by this library");
        }

        if (body[0] != Version)
        {
            throw new C1zInvalidPageTokenException($"version {body[0]} is not supported");
        }

        if (body[1] != (byte)listing.Kind || BinaryPrimitives.ReadUInt64BigEndian(body.Slice(2 + SyncId.ByteLength, 8)) != ArgumentHash(listing))
        {
            throw new C1zInvalidPageTokenException($"it belongs to another listing, not {listing}");
        }

        Span<byte> id = stackalloc byte[SyncId.ByteLength];
        sync.WriteBytes(id);
        if (!body.Slice(2, SyncId.ByteLength).SequenceEqual(id))
        {
            throw new C1zInvalidPageTokenException($"it belongs to another sync, not {sync}");
        }

        int offset = 2 + SyncId.ByteLength + 8;
        int count = body[offset++];
        if (count != listing.SortKeyLength)
        {
            throw new C1zInvalidPageTokenException("wrong position shape");
        }

        var position = new string[count];
        for (int i = 0; i < count; i++)
        {
            if (body.Length - offset < 4)
            {
                throw new C1zInvalidPageTokenException("truncated");
            }

            int len = BinaryPrimitives.ReadInt32BigEndian(body.Slice(offset, 4));
            offset += 4;
            if (len < 0 || len > body.Length - offset)
            {
                throw new C1zInvalidPageTokenException("truncated");
            }

            position[i] = Encoding.UTF8.GetString(body.Slice(offset, len));
            offset += len;
        }

        return offset == body.Length ? position : throw new C1zInvalidPageTokenException("trailing bytes");
    }

    // The arguments are part of the listing's identity: a token of GrantsByEntitlement("a") must not page "b".
    private static ulong ArgumentHash(RecordListing listing)
    {
        byte[] args = Encoding.UTF8.GetBytes(listing.First + "\0" + listing.Second);
        return BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(args));
    }
}
