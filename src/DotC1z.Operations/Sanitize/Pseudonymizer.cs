using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using DotC1z.Keys;

namespace DotC1z.Operations.Sanitize;

/// <summary>
/// Keyed pseudonyms (docs/SANITIZE.md §2): HMAC-SHA256 of the UTF-8 input under a per-run secret,
/// truncated to 96 bits and written as 20 lowercase base32 characters. The same input always gives the
/// same pseudonym under one secret (so references between records keep matching), and nothing about the
/// input can be recovered or correlated across files without the secret. Email-shaped inputs keep their
/// shape (<c>local@domain.invalid</c>) with both parts pseudonymised separately.
/// </summary>
/// <remarks>Not thread-safe: one instance per sanitising run (it reuses one HMAC state and a bounded cache).</remarks>
public sealed class Pseudonymizer : IDisposable
{
    /// <summary>Shortest secret accepted, as baton's sanitiser requires (32 random bytes are recommended).</summary>
    public const int MinSecretBytes = 32;

    /// <summary>HMAC bytes kept: 96 bits keeps the collision chance negligible for any real tenant (about 10^-17 for a million ids).</summary>
    private const int TruncatedBytes = 12;

    /// <summary>Entries kept before the cache is cleared: bounds memory while still catching the ids that repeat in every grant.</summary>
    private const int CacheLimit = 1 << 17;

    private const string Base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    private readonly IncrementalHash _hmac;
    private readonly Dictionary<string, string> _cache = new(StringComparer.Ordinal);
    private byte[] _utf8 = new byte[256];

    /// <summary>Creates a pseudonymiser.</summary>
    /// <param name="secret">The per-run secret (at least <see cref="MinSecretBytes"/> bytes).</param>
    /// <exception cref="ArgumentException">The secret is too short.</exception>
    public Pseudonymizer(ReadOnlySpan<byte> secret)
    {
        if (secret.Length < MinSecretBytes)
        {
            throw new ArgumentException($"the secret is too short: {secret.Length} bytes, at least {MinSecretBytes} are needed", nameof(secret));
        }

        _hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
    }

    /// <summary>
    /// The pseudonym of an identity string: empty stays empty; an email-shaped string (one <c>@</c> with text
    /// on both sides, a dot in the domain, no whitespace) becomes <c>P(local)@P(domain).invalid</c>; anything
    /// else becomes <c>P(text)</c>.
    /// </summary>
    /// <param name="value">The original string.</param>
    /// <returns>The pseudonym.</returns>
    public string Id(string value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return string.Empty;
        }

        if (_cache.TryGetValue(value, out string? known))
        {
            return known;
        }

        string result = EmailShape(value, out int at) ? $"{Hash(value.AsSpan(0, at))}@{Hash(value.AsSpan(at + 1))}.invalid" : Hash(value);
        if (_cache.Count >= CacheLimit)
        {
            _cache.Clear();
        }

        _cache[value] = result;
        return result;
    }

    /// <summary>
    /// A new sync id standing for <paramref name="original"/>: its KSUID time is the original's shifted by
    /// <paramref name="shift"/> (so sync order by time is kept) and its payload is keyed on the original id.
    /// </summary>
    /// <param name="original">The original sync id.</param>
    /// <param name="shift">The timestamp shift of the run.</param>
    /// <returns>The pseudonymous sync id.</returns>
    public SyncId SyncId(SyncId original, TimeSpan shift)
    {
        long seconds = (long)Math.Floor((original.Timestamp + shift - DateTimeOffset.FromUnixTimeSeconds(Keys.SyncId.EpochUnixSeconds)).TotalSeconds);
        Span<byte> bytes = stackalloc byte[Keys.SyncId.ByteLength];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)Math.Clamp(seconds, 0, uint.MaxValue));
        Span<byte> mac = stackalloc byte[32];
        Mac("sync-id:" + original.ToString(), mac);
        mac[..16].CopyTo(bytes[4..]);
        return Keys.SyncId.FromBytes(bytes);
    }

    /// <inheritdoc/>
    public void Dispose() => _hmac.Dispose();

    private static bool EmailShape(string value, out int at)
    {
        at = value.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at == value.Length - 1 || value.IndexOf('@', at + 1) >= 0)
        {
            return false;
        }

        int dot = value.IndexOf('.', at + 1);
        if (dot < 0 || dot == at + 1 || dot == value.Length - 1)
        {
            return false;
        }

        foreach (char c in value)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    private string Hash(ReadOnlySpan<char> text)
    {
        Span<byte> mac = stackalloc byte[32];
        Mac(text, mac);
        return Base32(mac[..TruncatedBytes]);
    }

    private void Mac(ReadOnlySpan<char> text, Span<byte> destination)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        if (_utf8.Length < max)
        {
            _utf8 = new byte[Math.Max(max, _utf8.Length * 2)];
        }

        int n = Encoding.UTF8.GetBytes(text, _utf8);
        _hmac.AppendData(_utf8, 0, n);
        _hmac.GetHashAndReset(destination);
    }

    /// <summary>RFC 4648 base32 without padding, lowercase (12 bytes → 20 characters).</summary>
    private static string Base32(ReadOnlySpan<byte> data)
    {
        int chars = ((data.Length * 8) + 4) / 5;
        Span<char> output = stackalloc char[chars];
        int buffer = 0, bits = 0, o = 0;
        foreach (byte b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                output[o++] = Base32Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            output[o++] = Base32Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(output[..o]);
    }
}
