using System.Buffers.Binary;
using System.Security.Cryptography;
using DotC1z.Engine.Rocks;
using DotC1z.Format.Manifest;
using DotC1z.Records;
using DotC1z.Tests.Shared;
using Google.Protobuf;

namespace DotC1z.Format.Tests;

/// <summary>Issue 18 item 8: what follows or hides inside a payload is refused, not ignored (docs/RELIABILITY.md).</summary>
public sealed class FormatLaxityTests : IDisposable
{
    private readonly TempDir _dir = new("laxity");

    public void Dispose() => _dir.Dispose();

    private string SavedFile()
    {
        using var store = RocksStore.Open(_dir.Combine("src"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var sync = store.StartSync(SyncType.Full);
        store.PutGrants(sync, Enumerable.Range(0, 50).Select(i => StoreContractTests.Grant($"g{i}", "e", "user", $"u{i}")).ToList());
        store.EndSync(sync);
        string file = _dir.Combine("ok.c1z");
        C1zFile.Save(store, file);
        return file;
    }

    /// <summary>Rewrites a file with <paramref name="extra"/> appended to its payload and the manifest's lengths and SHA-256 updated to match.</summary>
    private string WithPayloadSuffix(string file, byte[] extra, ulong extraDecoded)
    {
        byte[] bytes = File.ReadAllBytes(file);
        int m = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5));
        var manifest = C1ZManifest.Parser.ParseFrom(bytes.AsSpan(9, m));
        byte[] payload = [.. bytes.AsSpan(9 + m), .. extra];
        manifest.PayloadLength = (ulong)payload.Length;
        manifest.PayloadDecodedLength += extraDecoded;
        manifest.PayloadSha256 = ByteString.CopyFrom(SHA256.HashData(payload));
        string path = _dir.Combine("mutated.c1z");
        using var output = File.Create(path);
        C1zEnvelope.WriteHeader(output, manifest);
        output.Write(payload);
        return path;
    }

    private string WithManifest(string file, Action<C1ZManifest> change)
    {
        byte[] bytes = File.ReadAllBytes(file);
        int m = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5));
        var manifest = C1ZManifest.Parser.ParseFrom(bytes.AsSpan(9, m));
        change(manifest);
        string path = _dir.Combine("changed.c1z");
        using var output = File.Create(path);
        C1zEnvelope.WriteHeader(output, manifest);
        output.Write(bytes.AsSpan(9 + m));
        return path;
    }

    [Fact]
    public void The_declared_decoded_length_is_the_exact_budget()
    {
        string file = SavedFile();
        var more = Assert.Throws<C1zArchiveException>(() => C1zFile.Open(WithManifest(file, m => m.PayloadDecodedLength += 512)).Dispose());
        Assert.Equal(ArchiveError.PayloadCorrupt, more.Reason);
        var less = Assert.Throws<C1zArchiveException>(() => C1zFile.Open(WithManifest(file, m => m.PayloadDecodedLength -= 512)).Dispose());
        Assert.Equal(ArchiveError.DecodedSizeExceeded, less.Reason);
    }

    [Fact]
    public void Opening_checks_free_space_before_writing_anything()
    {
        if (Environment.UserName != "root")
        {
            Assert.Fail("this test mounts a small tmpfs and needs root (CI runs as root)");
        }

        string file = SavedFile();
        string mount = _dir.Combine("small");
        Directory.CreateDirectory(mount);
        Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount);
        try
        {
            // The payload claims 10 GiB decoded (within the default budget for its size): refused up front.
            string claim = WithManifest(file, m => m.PayloadDecodedLength = 10UL << 30);
            var ex = Assert.Throws<Errors.C1zDiskFullException>(() => C1zFile.Open(claim, new C1zOpenOptions { TempDirectory = mount, MaxDecodedBytes = 20L << 30 }).Dispose());
            Assert.Contains("not enough free space", ex.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(mount));
        }
        finally
        {
            Run("umount", mount);
        }
    }

    private static void Run(string command, params string[] args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(command, args) { UseShellExecute = false, RedirectStandardError = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{command} {string.Join(' ', args)}: {err}");
    }

    [Fact]
    public void A_second_zstd_frame_after_our_payload_is_refused_even_with_a_matching_manifest()
    {
        string file = SavedFile();
        using (C1zFile.Open(file))
        {
        }

        // A frame of zeros would decode as tar padding: the streaming decoder alone accepts it.
        byte[] zeros = new ZstdSharp.Compressor(1).Wrap(new byte[8192]).ToArray();
        string bad = WithPayloadSuffix(file, zeros, 8192);
        var ex = Assert.Throws<C1zArchiveException>(() => C1zFile.Open(bad).Dispose());
        Assert.Equal(ArchiveError.TrailingData, ex.Reason);
    }
}
