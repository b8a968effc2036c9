using System.Buffers.Binary;
using DotC1z.Format.Manifest;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z;

/// <summary>
/// Grant digests as a C1Z3 manifest stores them (docs/FORMAT.md, "Grant digests"): the one place that converts
/// between <see cref="GrantDigest"/> and the manifest's messages, for saving, verifying and comparing files.
/// </summary>
public static class ManifestDigests
{
    /// <summary>A sync's digest as a manifest root.</summary>
    /// <param name="digest">The digest.</param>
    /// <returns>The manifest message (8-byte big-endian XOR, the current ABI version).</returns>
    public static GrantDigestRoot ToRoot(GrantDigest digest) =>
        new() { XorDigest = ByteString.CopyFrom(digest.XorBytes()), Count = digest.Count, AbiVersion = GrantDigest.AbiVersion };

    /// <summary>One entitlement's digest as a manifest entry.</summary>
    /// <param name="entitlementId">The entitlement.</param>
    /// <param name="digest">Its digest.</param>
    /// <returns>The manifest message.</returns>
    public static EntitlementGrantDigest ToEntry(string entitlementId, GrantDigest digest) =>
        new() { EntitlementId = entitlementId, Count = digest.Count, XorDigest = ByteString.CopyFrom(digest.XorBytes()) };

    /// <summary>Reads a manifest root computed under the current ABI.</summary>
    /// <param name="root">The stored root.</param>
    /// <param name="digest">The digest, when readable.</param>
    /// <returns>False for another ABI version or a malformed XOR.</returns>
    public static bool TryRead(GrantDigestRoot root, out GrantDigest digest)
    {
        ArgumentNullException.ThrowIfNull(root);
        digest = default;
        return root.AbiVersion == GrantDigest.AbiVersion && TryRead(root.Count, root.XorDigest, out digest);
    }

    /// <summary>Reads a per-entitlement entry (always of the ABI of the summary that holds it).</summary>
    /// <param name="entry">The stored entry.</param>
    /// <param name="digest">The digest, when readable.</param>
    /// <returns>False for a malformed XOR.</returns>
    public static bool TryRead(EntitlementGrantDigest entry, out GrantDigest digest)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return TryRead(entry.Count, entry.XorDigest, out digest);
    }

    private static bool TryRead(long count, ByteString xor, out GrantDigest digest)
    {
        digest = default;
        if (xor.Length != 8)
        {
            return false;
        }

        digest = new GrantDigest(count, BinaryPrimitives.ReadUInt64BigEndian(xor.Span));
        return true;
    }
}
