using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using DotC1z.Engine.Rocks;
using DotC1z.Errors;
using DotC1z.Format.Manifest;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Tests.Shared;
using Google.Protobuf;

namespace DotC1z.Format.Tests;

public sealed class C1zFileTests : IDisposable
{
    private readonly TempDir _dir = new("c1z3");

    public void Dispose() => _dir.Dispose();

    /// <summary>A store with every record kind and two syncs.</summary>
    private RocksStore Sample(string name, out SyncId a, out SyncId b)
    {
        var store = RocksStore.Open(_dir.Combine(name), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        a = store.StartSync(SyncType.Full);
        store.PutResourceTypes(a, [new ResourceTypeRecord { ExternalId = "user", Traits = { "USER" } }]);
        store.PutResources(a, [new ResourceRecord { ResourceTypeId = "group", ResourceId = "eng", Parent = new ResourceRef { ResourceTypeId = "org", ResourceId = "o" } }]);
        store.PutEntitlements(a, [new EntitlementRecord { ExternalId = "group:eng:member", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "eng" } }]);
        store.PutGrants(a, Enumerable.Range(0, 500).Select(i => StoreContractTests.Grant($"g{i:D4}", $"e{i % 7}", "user", $"u{i % 13}", needsExpansion: i % 9 == 0)).ToList());
        store.PutAssets(a, [new AssetRecord { ExternalId = "icon", ContentType = "image/png", Data = ByteString.CopyFrom(1, 2, 3) }]);
        store.EndSync(a);
        b = store.StartSync(SyncType.Partial, a);
        store.PutGrants(b, [StoreContractTests.Grant("only-b", "e1", "user", "x")]);
        return store;
    }

    [Theory]
    [InlineData(PayloadEncoding.TarZstd)]
    [InlineData(PayloadEncoding.Tar)]
    public void Round_trip_keeps_every_record_kind_and_sync(PayloadEncoding encoding)
    {
        using var store = Sample("src", out var a, out var b);
        string file = _dir.Combine($"rt-{encoding}.c1z");
        var manifest = C1zFile.Save(store, file, new C1zSaveOptions { Encoding = encoding });
        Assert.Equal(2, manifest.SyncRuns.Count);
        Assert.Equal(501, manifest.SyncRuns.Sum(s => s.Grants));
        Assert.Equal(C1zEnvelope.EngineName, C1zContainer.ReadManifest(file).Engine);
        using var opened = C1zFile.Open(file, new C1zOpenOptions { TempDirectory = _dir.Path });
        Assert.Equal(store.Count(a), opened.Count(a));
        Assert.Equal(store.Count(b), opened.Count(b));
        Assert.Equal(store.Grants(a).ToList(), opened.Grants(a).ToList());
        Assert.Equal(store.GrantsByPrincipal(a, "user", "u3").ToList(), opened.GrantsByPrincipal(a, "user", "u3").ToList());
        Assert.Equal(store.ResourcesByParent(a, "org", "o").ToList(), opened.ResourcesByParent(a, "org", "o").ToList());
        Assert.Equal(store.Assets(a).ToList(), opened.Assets(a).ToList());
        Assert.Equal(store.ListSyncRuns(), opened.ListSyncRuns());
        Assert.True(C1zVerifier.Verify(file).IsConsistent);
    }

    /// <summary>
    /// A C1Z3 file whose envelope, checksum and tar are all valid but whose store is damaged: the
    /// payload was packed from a checkpoint in which <paramref name="damage"/> was applied.
    /// </summary>
    private byte[] CraftedFile(string name, Action<string> damage)
    {
        string checkpoint = _dir.Combine("crafted-" + name);
        using (var store = Sample("crafted-src-" + name, out _, out _))
        {
            store.Checkpoint(checkpoint);
        }

        damage(checkpoint);
        var parts = new List<byte[]>();
        foreach (var f in Directory.GetFiles(checkpoint).OrderBy(f => f, StringComparer.Ordinal))
        {
            byte[] content = File.ReadAllBytes(f);
            parts.Add(TarHeader(Path.GetFileName(f), content.Length));
            parts.Add([.. content, .. new byte[(512 - (content.Length % 512)) % 512]]);
        }

        parts.Add(EndBlocks);
        byte[] tar = Tar([.. parts]);
        return Envelope(ManifestFor(tar), tar);
    }

    // Flips bytes across the first third of every SST large enough to hold several data blocks before its
    // properties, index and footer: the open still succeeds (those are intact) but reading the data fails its
    // block checksum. A small SST (one CI run's checkpoint held one, likely an early flush while other tests
    // filled the process-wide memtable budget) has its properties block a few hundred bytes in, so it is left alone.
    private static void DamageSstData(string directory)
    {
        int damaged = 0;
        foreach (var sst in Directory.GetFiles(directory, "*.sst"))
        {
            byte[] b = File.ReadAllBytes(sst);
            if (b.Length < 16 * 1024)
            {
                continue;
            }

            for (int i = 64; i < b.Length / 3; i += 97)
            {
                b[i] ^= 0x5A;
            }

            File.WriteAllBytes(sst, b);
            damaged++;
        }

        Assert.True(damaged > 0, "no SST large enough to damage its data blocks only");
    }

    [Fact]
    public void A_damaged_store_behind_a_valid_envelope_is_caught_by_the_child_verifier()
    {
        string file = _dir.Combine("crafted-sst.c1z");
        File.WriteAllBytes(file, CraftedFile("sst", DamageSstData));
        string temp = _dir.Combine("crafted-open");
        Directory.CreateDirectory(temp);

        // Without the check the store is adopted: the damage only shows on a later read.
        using (var unchecked_ = C1zFile.Open(file, new C1zOpenOptions { TempDirectory = temp, Verification = StoreVerification.None }))
        {
            Assert.NotNull(unchecked_);
        }

        foreach (var mode in new[] { StoreVerification.ChildProcess, StoreVerification.InProcess })
        {
            var ex = Assert.Throws<C1zCorruptionException>(() => C1zFile.Open(file, new C1zOpenOptions { TempDirectory = temp, Verification = mode }).Dispose());
            Assert.Contains(file, ex.Message, StringComparison.Ordinal);
            Assert.Contains("not hold a sound store", ex.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
        }
    }

    [Theory]
    [InlineData("unreferenced-sst")]
    [InlineData("stray-file")]
    public void A_payload_with_files_the_store_does_not_use_is_rejected(string kind)
    {
        string file = _dir.Combine($"crafted-{kind}.c1z");
        File.WriteAllBytes(file, CraftedFile(kind, dir =>
        {
            string sst = Directory.GetFiles(dir, "*.sst").First();
            if (kind == "unreferenced-sst")
            {
                File.Copy(sst, Path.Combine(dir, "999999.sst"));
            }
            else
            {
                File.WriteAllText(Path.Combine(dir, "notes.txt"), "smuggled");
            }
        }));
        string temp = _dir.Combine(kind + "-open");
        Directory.CreateDirectory(temp);
        foreach (var mode in new[] { StoreVerification.ChildProcess, StoreVerification.InProcess })
        {
            var ex = Assert.Throws<C1zCorruptionException>(() => C1zFile.Open(file, new C1zOpenOptions { TempDirectory = temp, Verification = mode }).Dispose());
            Assert.Contains(file, ex.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
        }

        Assert.Throws<C1zCorruptionException>(() => C1zVerifier.Verify(file));
    }

    [Fact]
    public void A_store_with_unexpected_column_families_is_rejected_before_adoption()
    {
        string file = _dir.Combine("crafted-cf.c1z");
        File.WriteAllBytes(file, CraftedFile("cf", dir =>
        {
            var options = new RocksDbSharp.DbOptions().SetCreateMissingColumnFamilies(true);
            var families = new RocksDbSharp.ColumnFamilies { { "smuggled", new RocksDbSharp.ColumnFamilyOptions() } };
            using var db = RocksDbSharp.RocksDb.Open(options, dir, families);
        }));
        string temp = _dir.Combine("cf-open");
        Directory.CreateDirectory(temp);
        var ex = Assert.Throws<C1zCorruptionException>(() => C1zFile.Open(file, new C1zOpenOptions { TempDirectory = temp }).Dispose());
        Assert.Contains("column families [default, smuggled]", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
    }

    [Theory]
    [InlineData("kill -SEGV $$", "verifier crashed (signal 11)")]
    [InlineData("kill -KILL $$", "verifier crashed (signal 9)")]
    [InlineData("echo 'boom' >&2; exit 70", "verifier crashed (exit code 70)")]
    [InlineData("echo 'bad block' >&2; exit 3", "does not hold a sound store: bad block")]
    [InlineData("sleep 30", "did not finish within 1 s")]
    public void A_verifier_that_crashes_fails_or_hangs_marks_the_file_corrupt_and_leaves_nothing(string script, string expected)
    {
        string file = _dir.Combine("good.c1z");
        File.WriteAllBytes(file, ValidFile());
        string temp = _dir.Combine("crash-open");
        Directory.CreateDirectory(temp);
        StoreVerifier.CommandOverride = ("/bin/sh", ["-c", script, "verifier"]);
        try
        {
            var ex = Assert.Throws<C1zCorruptionException>(() => C1zFile.Open(file, new C1zOpenOptions { TempDirectory = temp, VerifierTimeout = TimeSpan.FromSeconds(1) }).Dispose());
            Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
            Assert.Contains(file, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            StoreVerifier.CommandOverride = null;
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
    }

    [Fact]
    public void A_verifier_that_cannot_start_is_an_io_error()
    {
        string file = _dir.Combine("good2.c1z");
        File.WriteAllBytes(file, ValidFile());
        StoreVerifier.CommandOverride = ("/nonexistent/c1z-verify-store", []);
        try
        {
            var ex = Assert.Throws<C1zIOException>(() => C1zFile.Open(file, new C1zOpenOptions { TempDirectory = _dir.Path }).Dispose());
            Assert.Contains("cannot start the store verifier", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            StoreVerifier.CommandOverride = null;
        }
    }

    [Fact]
    public void Read_only_open_never_rewrites_and_writable_open_saves_only_when_asked()
    {
        using var store = Sample("src", out var a, out _);
        string file = _dir.Combine("rw.c1z");
        C1zFile.Save(store, file);
        byte[] before = File.ReadAllBytes(file);
        using (var ro = C1zFile.Open(file, new C1zOpenOptions { ReadOnly = true, TempDirectory = _dir.Path }))
        {
            Assert.Throws<C1zReadOnlyException>(() => ro.PutGrants(a, [StoreContractTests.Grant("new", "e", "user", "u")]));
        }

        Assert.Equal(before, File.ReadAllBytes(file));
        using (var rw = C1zFile.Open(file, new C1zOpenOptions { ReadOnly = false, TempDirectory = _dir.Path }))
        {
            rw.PutGrants(a, [StoreContractTests.Grant("new", "e", "user", "u")]);
        }

        // Dispose only releases: the modification is gone and the file is byte-identical.
        Assert.Equal(before, File.ReadAllBytes(file));
        using (var rw = C1zFile.Open(file, new C1zOpenOptions { ReadOnly = false, TempDirectory = _dir.Path }))
        {
            rw.PutGrants(a, [StoreContractTests.Grant("new", "e", "user", "u")]);
            C1zFile.SaveBack(rw);
        }

        using (var again = C1zFile.Open(file, new C1zOpenOptions { TempDirectory = _dir.Path }))
        {
            Assert.True(again.TryGetGrant(a, "new", out _));
        }

        Assert.Empty(Directory.EnumerateDirectories(_dir.Path, "c1z-open-*"));
    }

    [Theory]
    [InlineData("checkpoint")]
    [InlineData("payload")]
    [InlineData("write")]
    [InlineData("fsync")]
    [InlineData("rename")]
    public void A_save_interrupted_at_any_step_leaves_the_previous_file_intact(string step)
    {
        using var store = Sample("src", out var a, out _);
        string file = _dir.Combine($"fault-{step}.c1z");
        C1zFile.Save(store, file);
        byte[] before = File.ReadAllBytes(file);
        store.PutGrants(a, [StoreContractTests.Grant("after", "e", "user", "u")]);
        C1zContainer.FaultHook = s =>
        {
            if (s == step)
            {
                throw new IOException("simulated crash at " + s);
            }
        };
        try
        {
            Assert.ThrowsAny<Exception>(() => C1zFile.Save(store, file));
        }
        finally
        {
            C1zContainer.FaultHook = null;
        }

        Assert.Equal(before, File.ReadAllBytes(file));
        Assert.Equal([Path.GetFileName(file)], Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName).Where(n => n!.StartsWith("fault-", StringComparison.Ordinal) || n.StartsWith(".fault-", StringComparison.Ordinal)));
    }

    private byte[] ValidFile(PayloadEncoding encoding = PayloadEncoding.TarZstd)
    {
        using var store = Sample("valid-" + encoding, out _, out _);
        string file = _dir.Combine($"valid-{encoding}.c1z");
        if (!File.Exists(file))
        {
            C1zFile.Save(store, file, new C1zSaveOptions { Encoding = encoding });
        }

        return File.ReadAllBytes(file);
    }

    private static byte[] Envelope(C1ZManifest manifest, byte[] payload)
    {
        using var ms = new MemoryStream();
        C1zEnvelope.WriteHeader(ms, manifest);
        ms.Write(payload);
        return ms.ToArray();
    }

    private static C1ZManifest ManifestFor(byte[] payload, PayloadEncoding encoding = PayloadEncoding.Tar) => new()
    {
        Engine = C1zEnvelope.EngineName,
        EngineSchemaVersion = C1zEnvelope.EngineSchemaVersion,
        PayloadEncoding = encoding,
        PayloadLength = (ulong)payload.Length,
        PayloadSha256 = ByteString.CopyFrom(SHA256.HashData(payload)),
    };

    private static byte[] TarHeader(string name, long size, byte type = (byte)'0', bool fixChecksum = true, string magic = "ustar\0", Action<byte[]>? tweak = null)
    {
        var h = new byte[512];
        Encoding.ASCII.GetBytes(name).AsSpan(0, Math.Min(100, name.Length)).CopyTo(h);
        Encoding.ASCII.GetBytes(Convert.ToString(size, 8).PadLeft(11, '0')).CopyTo(h.AsSpan(124));
        Encoding.ASCII.GetBytes("0000600").CopyTo(h.AsSpan(100));
        h[156] = type;
        Encoding.ASCII.GetBytes(magic).CopyTo(h.AsSpan(257));
        "00"u8.CopyTo(h.AsSpan(263));
        tweak?.Invoke(h);
        h.AsSpan(148, 8).Fill((byte)' ');
        long sum = h.Sum(b => (long)b);
        if (fixChecksum)
        {
            Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(h.AsSpan(148));
        }
        else
        {
            Encoding.ASCII.GetBytes(Convert.ToString(sum + 1, 8).PadLeft(6, '0') + "\0 ").CopyTo(h.AsSpan(148));
        }

        return h;
    }

    private static byte[] Tar(params byte[][] parts)
    {
        using var ms = new MemoryStream();
        foreach (var p in parts)
        {
            ms.Write(p);
        }

        return ms.ToArray();
    }

    private static byte[] Data(int n) => [.. new byte[n].Select((_, i) => (byte)('a' + (i % 26))), .. new byte[(512 - (n % 512)) % 512]];

    private static readonly byte[] EndBlocks = new byte[1024];

    public static TheoryData<string> HostileCases => new()
    {
        "empty", "wrong-magic", "v1-magic", "short-magic", "truncated-length", "length-over-cap", "length-2^31", "length-beyond-file", "manifest-garbage",
        "no-engine", "manifest-amplification", "other-engine", "newer-schema", "unknown-encoding", "reserved-encoding", "payload-truncated", "trailing-bytes", "checksum-mismatch",
        "tar-bad-checksum", "tar-dotdot", "tar-absolute", "tar-symlink", "tar-hardlink", "tar-device", "tar-fifo", "tar-directory", "tar-pax", "tar-gnu-longname",
        "tar-duplicate", "tar-case-duplicate", "tar-base256", "tar-truncated-entry", "tar-no-end", "tar-garbage-after-end", "tar-long-name", "tar-prefix", "zstd-bomb", "zstd-garbage", "zstd-window",
        "too-many-entries", "no-current",
    };

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void Hostile_files_fail_with_the_exact_error_and_leave_nothing_behind(string name)
    {
        var (bytes, expected) = Hostile(name);
        string file = _dir.Combine($"hostile-{name}.c1z");
        File.WriteAllBytes(file, bytes);
        string temp = _dir.Combine("extract-" + name);
        Directory.CreateDirectory(temp);
        var options = new C1zOpenOptions { TempDirectory = temp, MaxDecodedBytes = 8 << 20, MaxEntries = 50 };
        var ex = Record.Exception(() => C1zFile.Open(file, options)?.Dispose());
        if (expected is null)
        {
            Assert.IsType<C1zCorruptionException>(ex);
        }
        else
        {
            var archive = Assert.IsType<C1zArchiveException>(ex);
            Assert.Equal(expected, archive.Reason);
            Assert.Contains(file, archive.Message, StringComparison.Ordinal);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(temp));
    }

    private (byte[] Bytes, ArchiveError? Expected) Hostile(string name)
    {
        byte[] good = ValidFile(PayloadEncoding.Tar);
        uint mlen = BinaryPrimitives.ReadUInt32BigEndian(good.AsSpan(5));
        var manifest = C1ZManifest.Parser.ParseFrom(good.AsSpan(9, (int)mlen));
        byte[] payload = good[(9 + (int)mlen)..];
        byte[] WithLength(uint v)
        {
            var copy = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(5), v);
            return copy;
        }

        byte[] WithManifest(Action<C1ZManifest> change)
        {
            var m = manifest.Clone();
            change(m);
            using var ms = new MemoryStream();
            ms.Write(C1zEnvelope.Magic);
            var mb = m.ToByteArray();
            var len = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(len, (uint)mb.Length);
            ms.Write(len);
            ms.Write(mb);
            ms.Write(payload);
            return ms.ToArray();
        }

        byte[] TarFile(byte[] tar, PayloadEncoding enc = PayloadEncoding.Tar) => Envelope(ManifestFor(tar, enc), tar);
        byte[] Zstd(byte[] raw)
        {
            using var c = new ZstdSharp.Compressor(3);
            c.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_checksumFlag, 1);
            return c.Wrap(raw).ToArray();
        }

        byte[] current = Tar(TarHeader("CURRENT", 16), Data(16));
        return name switch
        {
            "empty" => ([], ArchiveError.Truncated),
            "wrong-magic" => ([.. "PK\u0003\u0004\0"u8, .. good[5..]], ArchiveError.InvalidMagic),
            "v1-magic" => ([.. "C1ZF\0"u8, .. good[5..]], ArchiveError.LegacyFile),
            "short-magic" => ("C1Z"u8.ToArray(), ArchiveError.Truncated),
            "truncated-length" => (good[..7], ArchiveError.Truncated),
            "length-over-cap" => (WithLength((16u << 20) + 1), ArchiveError.ManifestTooLarge),
            "length-2^31" => (WithLength(0x8000_0000), ArchiveError.ManifestTooLarge),
            "length-beyond-file" => (WithLength((uint)good.Length), ArchiveError.Truncated),
            "manifest-garbage" => ([.. good[..5], 0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF, .. payload], ArchiveError.ManifestInvalid),
            "manifest-amplification" => (WithManifest(m => m.SyncRuns.AddRange(Enumerable.Range(0, 1_000_000).Select(_ => new SyncRunSummary()))), ArchiveError.ManifestInvalid),
            "no-engine" => (WithManifest(m => m.Engine = string.Empty), ArchiveError.ManifestInvalid),
            "other-engine" => (WithManifest(m => m.Engine = "leveldb"), ArchiveError.UnsupportedEngine),
            "newer-schema" => (WithManifest(m => m.EngineSchemaVersion = 99), ArchiveError.UnsupportedSchemaVersion),
            "unknown-encoding" => (WithManifest(m => m.PayloadEncoding = (PayloadEncoding)42), ArchiveError.UnsupportedEncoding),
            "reserved-encoding" => (WithManifest(m => m.PayloadEncoding = (PayloadEncoding)3), ArchiveError.UnsupportedEncoding),
            "payload-truncated" => (good[..^100], ArchiveError.Truncated),
            "trailing-bytes" => ([.. good, 0, 1, 2], ArchiveError.TrailingData),
            "checksum-mismatch" => (WithManifest(m => m.PayloadSha256 = ByteString.CopyFrom(new byte[32])), ArchiveError.ChecksumMismatch),
            "tar-bad-checksum" => (TarFile(Tar(TarHeader("CURRENT", 16, fixChecksum: false), Data(16), EndBlocks)), ArchiveError.PayloadCorrupt),
            "tar-dotdot" => (TarFile(Tar(TarHeader("../evil", 16), Data(16), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-absolute" => (TarFile(Tar(TarHeader("/etc/evil", 16), Data(16), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-symlink" => (TarFile(Tar(TarHeader("link", 0, (byte)'2', tweak: h => "/etc/passwd"u8.CopyTo(h.AsSpan(157))), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-hardlink" => (TarFile(Tar(TarHeader("link", 0, (byte)'1'), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-device" => (TarFile(Tar(TarHeader("dev", 0, (byte)'3'), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-fifo" => (TarFile(Tar(TarHeader("fifo", 0, (byte)'6'), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-directory" => (TarFile(Tar(TarHeader("dir", 0, (byte)'5'), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-pax" => (TarFile(Tar(TarHeader("pax", 0x3FFFFFFF, (byte)'x'), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-gnu-longname" => (TarFile(Tar(TarHeader("././@LongLink", 0x3FFFFFFF, (byte)'L'), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-duplicate" => (TarFile(Tar(current, TarHeader("CURRENT", 16), Data(16), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-case-duplicate" => (TarFile(Tar(current, TarHeader("current", 16), Data(16), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-base256" => (TarFile(Tar(TarHeader("CURRENT", 16, tweak: h => h[124] = 0x80), Data(16), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-truncated-entry" => (TarFile(Tar(TarHeader("CURRENT", 4096), Data(100))), ArchiveError.Truncated),
            "tar-no-end" => (TarFile(current), ArchiveError.Truncated),
            "tar-garbage-after-end" => (TarFile(Tar(current, EndBlocks, [1, 2, 3, 4])), ArchiveError.TrailingData),
            "tar-long-name" => (TarFile(Tar(TarHeader(new string('a', 100), 16, tweak: h => h[99] = (byte)'/'), Data(16), EndBlocks)), ArchiveError.UnsafeEntry),
            "tar-prefix" => (TarFile(Tar(TarHeader("CURRENT", 16, tweak: h => "sub"u8.CopyTo(h.AsSpan(345))), Data(16), EndBlocks)), ArchiveError.UnsafeEntry),
            "zstd-bomb" => (TarFile(Zstd(Tar(TarHeader("big", 16 << 20), new byte[16 << 20], EndBlocks)), PayloadEncoding.TarZstd), ArchiveError.DecodedSizeExceeded),
            "zstd-garbage" => (TarFile(Corrupt(Zstd(Tar(current, Data(5000), EndBlocks))), PayloadEncoding.TarZstd), ArchiveError.PayloadCorrupt),
            "zstd-window" => (TarFile([0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xFF, 0xFF, 0xFF, 0x13, 0x37], PayloadEncoding.TarZstd), ArchiveError.WindowTooLarge),
            "too-many-entries" => (TarFile(Tar([.. Enumerable.Range(0, 60).SelectMany(i => TarHeader($"f{i}", 0)), .. EndBlocks])), ArchiveError.UnsafeEntry),
            "no-current" => (TarFile(Tar(TarHeader("MANIFEST-000001", 16), Data(16), EndBlocks)), null),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    // Flips bits in the middle of a compressed frame: its block data or its content checksum no longer match.
    private static byte[] Corrupt(byte[] frame)
    {
        var copy = (byte[])frame.Clone();
        for (int i = copy.Length / 3; i < copy.Length - 4; i += 7)
        {
            copy[i] ^= 0x55;
        }

        return copy;
    }

    [Fact]
    public void Seeded_mutants_never_escape_as_untyped_errors_or_short_reads()
    {
        int seed = Seeds.Get(31337);
        var rng = new Random(seed);
        var sources = new[] { ValidFile(PayloadEncoding.TarZstd), ValidFile(PayloadEncoding.Tar) };
        string temp = _dir.Combine("mutants");
        Directory.CreateDirectory(temp);
        int opened = 0, rejected = 0;
        const int Mutants = 2000;
        for (int i = 0; i < Mutants; i++)
        {
            var src = sources[i % 2];
            byte[] m = (byte[])src.Clone();
            switch (rng.Next(4))
            {
                case 0:
                    for (int k = 0; k < 1 + rng.Next(4); k++)
                    {
                        m[rng.Next(m.Length)] ^= (byte)(1 << rng.Next(8));
                    }

                    break;
                case 1:
                    m = m[..rng.Next(m.Length)];
                    break;
                case 2:
                    int at = rng.Next(m.Length);
                    m = [.. m[..at], .. sources[(i + 1) % 2][rng.Next(sources[(i + 1) % 2].Length)..]];
                    break;
                default:
                    m[9 + rng.Next(Math.Max(1, m.Length - 9))] = (byte)rng.Next(256);
                    break;
            }

            string file = Path.Combine(temp, "m.c1z");
            File.WriteAllBytes(file, m);
            try
            {
                // In-process verification for speed; every 25th mutant goes through the real child process (docs/RELIABILITY.md T3).
                var verification = i % 25 == 0 ? StoreVerification.ChildProcess : StoreVerification.InProcess;
                using var store = C1zFile.Open(file, new C1zOpenOptions { TempDirectory = temp, MaxDecodedBytes = 64 << 20, Verification = verification });

                // A mutant that opens must read back complete: the checksum covers the whole payload.
                var sync = store.ListSyncRuns().Select(r => SyncId.Parse(r.SyncId)).First(s => store.Count(s).Grants >= 500);
                Assert.True(store.Grants(sync).Count() == 500, $"seed={seed} mutant {i}: short read");
                opened++;
            }
            catch (C1zException)
            {
                rejected++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"seed={seed} mutant {i}: untyped {ex.GetType().Name}: {ex.Message}");
            }

            Assert.True(Directory.EnumerateFileSystemEntries(temp).Count() == 1, $"seed={seed} mutant {i}: left files behind");
        }

        Assert.Equal(Mutants, opened + rejected);
        Assert.True(rejected > Mutants / 2, $"seed={seed}: only {rejected} of {Mutants} mutants were rejected");
    }
}
