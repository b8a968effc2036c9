using System.Buffers.Binary;
using System.Security.Cryptography;
using DotC1z.Interop.Pebble;
using DotC1z.Errors;
using DotC1z.Tests.Shared;
using Google.Protobuf;

namespace DotC1z.Format.Tests;

/// <summary>
/// Seeded mutants of baton's Pebble C1Z3 fixture at the envelope level (manifest, frame index, footer, frames):
/// each must fail with a typed error or yield exactly the original records — never another exception,
/// a hang or a silent short read. The Pebble reader's own mutants (MANIFEST, SST footers, index and data
/// blocks, with the frame hashes out of the way) live in DotC1z.Pebble.Tests.
/// </summary>
public sealed class BatonPebbleMutantTests : IDisposable
{
    private readonly TempDir _dir = new("pebblemut");

    public void Dispose() => _dir.Dispose();

    private static string Digest(string path)
    {
        using var file = BatonPebbleFile.Open(path);
        file.VerifyPayload();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(IMessage m) => sha.AppendData(m.ToByteArray());
        foreach (var r in file.Snapshot.ResourceTypes())
        {
            Add(r);
        }

        foreach (var r in file.Snapshot.Resources())
        {
            Add(r);
        }

        foreach (var r in file.Snapshot.Entitlements())
        {
            Add(r);
        }

        foreach (var r in file.Snapshot.Grants())
        {
            Add(r);
        }

        foreach (var r in file.Snapshot.Assets())
        {
            Add(r);
        }

        Add(file.Snapshot.SyncRun!);
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    [Fact]
    public void Envelope_mutants_fail_typed_or_read_the_original_records()
    {
        int seed = Seeds.Get(20261129);
        var rng = new Random(seed);
        string original = TestPaths.RealFixture("medium-unexpanded.pebble2.c1z");
        byte[] bytes = File.ReadAllBytes(original);
        string expected = Digest(original);
        int manifestEnd = 9 + (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(5));
        long indexOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(bytes.Length - 28));
        (int Start, int End)[] regions =
        [
            (0, 9), // magic and manifest length
            (9, manifestEnd), // manifest
            ((int)indexOffset, bytes.Length - 28), // frame index
            (bytes.Length - 28, bytes.Length), // footer
            (manifestEnd, manifestEnd + 4096), // the first frames (small tables, MANIFEST nearby)
            (manifestEnd, (int)indexOffset), // anywhere in the frames
        ];

        string path = _dir.Combine("m.c1z");
        int typed = 0, same = 0;
        const int Mutants = 1000;
        for (int i = 0; i < Mutants; i++)
        {
            byte[] m = (byte[])bytes.Clone();
            var (start, end) = regions[i % regions.Length];
            string what;
            if (rng.Next(5) == 0)
            {
                int cut = rng.Next(start, end);
                m = m.AsSpan(0, cut).ToArray();
                what = $"truncate at {cut}";
            }
            else
            {
                int at = rng.Next(start, end);
                int bit = rng.Next(8);
                m[at] ^= (byte)(1 << bit);
                what = $"flip bit {bit} at {at}";
            }

            File.WriteAllBytes(path, m);
            try
            {
                string got = Digest(path);
                Assert.True(got == expected, $"seed={seed} mutant {i} ({what}): read different records without an error");
                same++;
            }
            catch (C1zException)
            {
                typed++;
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"seed={seed} mutant {i} ({what}): {ex.GetType().Name}: {ex.Message}");
            }
        }

        Assert.Equal(Mutants, typed + same);
        Assert.True(typed > Mutants / 2, $"seed={seed}: only {typed} of {Mutants} mutants were detected");
    }
}
