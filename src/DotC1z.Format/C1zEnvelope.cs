using System.Buffers.Binary;
using DotC1z.Format.Manifest;
using Google.Protobuf;

namespace DotC1z.Format;

/// <summary>
/// The C1Z3 envelope layout. Every offset derives from the one before it.
/// <code>
/// offset 0          5 bytes   magic "C1Z3\0"
/// offset 5          4 bytes   manifest length N, uint32 big-endian, N ≤ 16 MiB
/// offset 9          N bytes   C1ZManifest (protobuf): engine, schema version, payload encoding,
///                             created at/by, per-sync summaries and counts, payload length + SHA-256
/// offset 9 + N      payload   exactly manifest.payload_length bytes: zstd(tar) or tar of the engine
///                             directory; the file ends right after it
/// </code>
/// </summary>
public static class C1zEnvelope
{
    /// <summary>Length of the magic.</summary>
    public const int MagicLength = 5;

    /// <summary>Offset of the manifest length.</summary>
    public const int ManifestLengthOffset = MagicLength;

    /// <summary>Size of the manifest length field.</summary>
    public const int ManifestLengthSize = 4;

    /// <summary>Offset of the manifest.</summary>
    public const int ManifestOffset = ManifestLengthOffset + ManifestLengthSize;

    /// <summary>Largest manifest accepted on write and read (upstream's cap).</summary>
    public const int MaxManifestBytes = 16 << 20;

    /// <summary>The engine name written into manifests.</summary>
    public const string EngineName = "rocks";

    /// <summary>The engine schema version this build writes and reads (the key layout of <c>Engine.Rocks.Keyspace</c>).</summary>
    public const uint EngineSchemaVersion = 1;

    /// <summary>The magic bytes <c>C1Z3\0</c>.</summary>
    public static ReadOnlySpan<byte> Magic => "C1Z3\0"u8;

    /// <summary>Whether <paramref name="header"/> starts with the C1Z3 magic.</summary>
    /// <param name="header">First bytes of a file.</param>
    /// <returns>Whether it is a C1Z3 file.</returns>
    public static bool HasMagic(ReadOnlySpan<byte> header) => header.StartsWith(Magic);

    /// <summary>
    /// Whether <paramref name="header"/> starts with the magic of baton's legacy v1 files (<c>C1ZF\0</c>,
    /// docs/INTEROP-V1.md §1), so a reader of C1Z3 can say what the file is instead of "wrong magic".
    /// </summary>
    /// <param name="header">First bytes of a file.</param>
    /// <returns>Whether it is a legacy v1 file.</returns>
    public static bool HasLegacyV1Magic(ReadOnlySpan<byte> header) => header.StartsWith("C1ZF\0"u8);

    /// <summary>Writes magic, manifest length and manifest.</summary>
    /// <param name="output">The stream.</param>
    /// <param name="manifest">The manifest.</param>
    /// <exception cref="ArgumentException">The manifest is too large or names an unsupported encoding.</exception>
    public static void WriteHeader(Stream output, C1ZManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(manifest);
        if (manifest.PayloadEncoding is not (PayloadEncoding.TarZstd or PayloadEncoding.Tar))
        {
            throw new ArgumentException($"payload encoding {manifest.PayloadEncoding} cannot be written", nameof(manifest));
        }

        byte[] bytes = manifest.ToByteArray();
        if (bytes.Length > MaxManifestBytes)
        {
            throw new ArgumentException("manifest exceeds 16 MiB", nameof(manifest));
        }

        Span<byte> head = stackalloc byte[ManifestOffset];
        Magic.CopyTo(head);
        BinaryPrimitives.WriteUInt32BigEndian(head[ManifestLengthOffset..], (uint)bytes.Length);
        output.Write(head);
        output.Write(bytes);
    }
}
