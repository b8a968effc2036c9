using System.Buffers.Binary;
using System.Security.Cryptography;
using DotC1z.Errors;
using DotC1z.Format;
using DotC1z.Format.Manifest;
using DotC1z.Interop.Pebble;
using DotC1z.Interop.V1;
using DotC1z.Pebble;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using ZstdSharp;

namespace DotC1z.Fuzz;

/// <summary>
/// The three loader harnesses. Each takes one input and either returns (the input loaded and was read
/// completely) or throws. A <see cref="C1zException"/> is the expected, typed rejection of a hostile
/// input; any other exception (and any crash or hang) is a finding.
/// </summary>
/// <remarks>
/// Input shapes (docs/RELIABILITY.md, "Coverage-guided fuzzing"):
/// <list type="bullet">
/// <item><c>v1</c>: a v1 file (<c>C1ZF\0</c> + zstd(SQLite)); any input without the magic is taken as the
/// raw SQLite database and wrapped (zstd level 1 + magic) first, so mutations reach the SQLite schema checks
/// and record decoding instead of dying in the zstd decoder.</item>
/// <item><c>c1z3</c>: a C1Z3 file; any input without the <c>C1Z3\0</c> magic is taken as a payload (tar,
/// or tar.zst when it starts with the zstd magic) and wrapped in a manifest that carries its real length
/// and SHA-256, so mutations get past the checksum into tar, the store check and RocksDB.</item>
/// <item><c>pebble</c>: a whole baton Pebble C1Z3 file when it starts with <c>C1Z3\0</c>; otherwise byte 0
/// selects one file of the baseline Pebble database (<see cref="PebbleBaseline"/>) and the rest replaces
/// that file in memory. MANIFEST and WAL record CRCs are recomputed unless bit 0x80 of byte 0 is set.</item>
/// </list>
/// </remarks>
internal static class Harnesses
{
    /// <summary>Decoded-size budget for every loader: the default (10 GiB) would let a tiny zstd bomb fill the scratch disk.</summary>
    public const long MaxDecodedBytes = 64L << 20;

    /// <summary>The harness names.</summary>
    public static IReadOnlyList<string> Names { get; } = ["v1", "c1z3", "pebble"];

    /// <summary>Returns the harness for a loader name.</summary>
    /// <param name="loader">v1, c1z3 or pebble.</param>
    /// <returns>The harness.</returns>
    public static Action<byte[]> Get(string loader) => loader switch
    {
        "v1" => V1,
        "c1z3" => C1z3,
        "pebble" => Pebble,
        _ => throw new ArgumentException($"unknown loader '{loader}' (v1, c1z3, pebble)", nameof(loader)),
    };

    /// <summary>Runs one input and classifies the result.</summary>
    /// <param name="loader">The harness.</param>
    /// <param name="data">The input.</param>
    /// <returns>Null when it loaded, the typed rejection when it was refused; any other exception propagates.</returns>
    public static C1zException? Classify(string loader, byte[] data)
    {
        try
        {
            Get(loader)(data);
            return null;
        }
        catch (C1zException ex)
        {
            return ex;
        }
    }

    // ------------------------------------------------------------------ v1

    /// <summary>The v1 loader: open read-only, read every sync, dispose.</summary>
    /// <param name="data">The input.</param>
    public static void V1(byte[] data)
    {
        byte[] file = V1File.HasV1Magic(data) ? data : WrapV1(data);
        Scratch.Run(file, (input, temp) =>
        {
            using var store = V1File.OpenReadOnly(input, new V1ReadOptions { TempDirectory = temp, MaxDecodedBytes = MaxDecodedBytes });
            StoreReader.ReadAll(store);
        });
    }

    /// <summary>Wraps a raw SQLite database as a v1 file.</summary>
    /// <param name="database">The database bytes.</param>
    /// <returns>The v1 file.</returns>
    public static byte[] WrapV1(byte[] database)
    {
        using var compressor = new Compressor(1);
        var body = compressor.Wrap(database);
        var file = new byte[V1File.MagicLength + body.Length];
        V1File.Magic.CopyTo(file);
        body.CopyTo(file.AsSpan(V1File.MagicLength));
        return file;
    }

    // ------------------------------------------------------------------ c1z3

    /// <summary>The C1Z3 loader: open with in-process store verification, read every sync, dispose.</summary>
    /// <param name="data">The input.</param>
    public static void C1z3(byte[] data)
    {
        byte[] file = C1zEnvelope.HasMagic(data) ? data : WrapC1z3Payload(data);
        Scratch.Run(file, (input, temp) =>
        {
            using var store = C1zFile.Open(input, new C1zOpenOptions
            {
                Verification = StoreVerification.InProcess,
                TempDirectory = temp,
                MaxDecodedBytes = MaxDecodedBytes,
            });
            StoreReader.ReadAll(store);
        });
    }

    /// <summary>Wraps a payload (tar or tar.zst) in a valid rocks manifest with its real length and SHA-256.</summary>
    /// <param name="payload">The payload.</param>
    /// <returns>The C1Z3 file.</returns>
    public static byte[] WrapC1z3Payload(byte[] payload)
    {
        bool zstd = payload.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(payload) == 0xFD2FB528;
        var manifest = new C1ZManifest
        {
            Engine = C1zEnvelope.EngineName,
            EngineSchemaVersion = C1zEnvelope.EngineSchemaVersion,
            PayloadEncoding = zstd ? PayloadEncoding.TarZstd : PayloadEncoding.Tar,
            CreatedAt = new Timestamp { Seconds = 1_700_000_000 },
            CreatedByTool = "dotc1z-fuzz",
            PayloadLength = (ulong)payload.Length,
            PayloadSha256 = ByteString.CopyFrom(SHA256.HashData(payload)),
        };
        using var output = new MemoryStream();
        C1zEnvelope.WriteHeader(output, manifest);
        output.Write(payload);
        return output.ToArray();
    }

    // ------------------------------------------------------------------ pebble

    /// <summary>The Pebble reader: a whole baton Pebble file, or one baseline database file replaced in memory.</summary>
    /// <param name="data">The input.</param>
    public static void Pebble(byte[] data)
    {
        if (C1zEnvelope.HasMagic(data))
        {
            Scratch.Run(data, (input, temp) =>
            {
                using var file = BatonPebbleFile.Open(input, new C1zOpenOptions { TempDirectory = temp, MaxDecodedBytes = MaxDecodedBytes });
                _ = file.Snapshot.CountByReading();
                _ = file.Snapshot.Verify();
                _ = file.VerifyPayload();
            });
            return;
        }

        if (data.Length == 0)
        {
            return;
        }

        var baseline = PebbleBaseline.Instance;
        string target = baseline.Targets[(data[0] & 0x7F) % baseline.Targets.Count];
        byte[] content = data[1..];
        bool isLog = target.StartsWith("MANIFEST-", StringComparison.Ordinal) || target.EndsWith(".log", StringComparison.Ordinal);
        if (isLog && (data[0] & 0x80) == 0)
        {
            LogCrc.Fix(content);
        }

        var source = new MemoryFileSource(baseline.Files, target, content);
        var options = new PebbleReadOptions { MaxTotalDecodedBytes = 256L << 20, MaxFileBytes = 64L << 20, MaxWalBytes = 64L << 20, TableCacheBytes = 32L << 20 };
        using var db = PebbleDatabase.Open(source, options);
        _ = db.FormatMajorVersion + db.WalEntryCount;
        using var snapshot = BatonPebbleSnapshot.Open(db, "fuzz:" + target, ownsDatabase: false);
        _ = snapshot.SyncRun;
        _ = snapshot.Stats;

        var tables = db.LiveTables.Where(t => t.FileName == target).ToList();
        if (tables.Count > 0)
        {
            // A replaced table: read it completely within its bounds, and look up both ends.
            foreach (var t in tables)
            {
                ScanTable(db, t, int.MaxValue);
                _ = db.TryGet(t.SmallestUserKey.Span, out _);
                _ = db.TryGet(t.LargestUserKey.Span, out _);
            }

            return;
        }

        // A replaced MANIFEST, WAL or other file: a bounded read of everything the database now says is live.
        Drain(db.Scan(), 2000);
        foreach (var t in db.LiveTables)
        {
            ScanTable(db, t, 16);
        }

        _ = snapshot.ResourceTypes().Take(50).Count();
        _ = snapshot.Grants().Take(50).Count();
    }

    private static void ScanTable(PebbleDatabase db, PebbleTableInfo table, int limit)
    {
        byte[] upper;
        if (table.LargestIsExclusive)
        {
            upper = table.LargestUserKey.ToArray();
        }
        else
        {
            upper = new byte[table.LargestUserKey.Length + 1];
            table.LargestUserKey.Span.CopyTo(upper);
        }

        Drain(db.Scan(table.SmallestUserKey.Span, upper), limit);
    }

    private static void Drain(PebbleCursor cursor, int limit)
    {
        using (cursor)
        {
            long sum = 0;
            for (int i = 0; i < limit && cursor.MoveNext(); i++)
            {
                sum += cursor.Key.Length + cursor.Value.Length;
            }

            GC.KeepAlive(sum);
        }
    }
}
