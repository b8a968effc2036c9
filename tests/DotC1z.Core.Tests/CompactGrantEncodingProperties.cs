using System.Buffers;
using CsCheck;
using DotC1z.Codecs;
using DotC1z.Records;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Core.Tests;

/// <summary>The one-pass grant encoder must agree byte for byte with the generated code, or decline.</summary>
public sealed class CompactGrantEncodingProperties
{
    /// <summary>Short ids, long ones (multi-byte length varints), any UTF-16 (lone surrogates included).</summary>
    internal static readonly Gen<string> Ids = Gen.OneOf(
        Gen.Const(string.Empty),
        Gen.String[Gen.Char['a', 'z'], 1, 12],
        Gen.String[Gen.Char.AlphaNumeric, 100, 300],
        Gen.String);

    // Plus very long ones (three-byte length varints).
    private static readonly Gen<string> Text = Gen.OneOf(Ids, Gen.String[Gen.Char['a', 'z'], 5000, 20000]);

    private static readonly Gen<EntitlementRef?> Entitlement =
        Gen.Select(Text, Text, Text, (rt, rid, eid) => new EntitlementRef { ResourceTypeId = rt, ResourceId = rid, EntitlementId = eid }).Null();

    private static readonly Gen<PrincipalRef?> Principal =
        Gen.Select(Text, Text, (rt, id) => new PrincipalRef { ResourceTypeId = rt, ResourceId = id }).Null();

    // Discovery times as baton writes them, and the edges: zero parts, negative seconds and nanos
    // (ten-byte varints), the extremes.
    private static readonly Gen<Timestamp?> Discovered = Gen.OneOf(
        Gen.Select(Gen.Long[0, 4_000_000_000], Gen.Int[0, 999_999_999], (s, n) => new Timestamp { Seconds = s, Nanos = n }),
        Gen.Select(Gen.Long, Gen.Int, (s, n) => new Timestamp { Seconds = s, Nanos = n }),
        Gen.Const(new Timestamp()),
        Gen.Const(new Timestamp { Seconds = long.MinValue, Nanos = int.MinValue })).Null();

    private static readonly Gen<GrantRecord> CommonShape =
        Gen.Select(Text, Text, Entitlement, Principal, Gen.Bool, Text, Discovered, (sync, id, ent, principal, needs, scope, discovered) =>
            new GrantRecord { SyncId = sync, ExternalId = id, Entitlement = ent, Principal = principal, NeedsExpansion = needs, SourceScopeKey = scope, DiscoveredAt = discovered?.Clone() });

    [Fact]
    public void Common_shape_encodes_exactly_as_the_generated_code()
    {
        CommonShape.Sample(g =>
        {
            var buffer = new byte[GrantRecordCodec.CompactBound(g)];
            Assert.Equal(OperationStatus.Done, GrantRecordCodec.EncodeCompact(g, buffer, out int n));
            Assert.Equal(CodecRegistry.Grant.ToArray(g), buffer[..n]);

            Assert.Equal(OperationStatus.Done, GrantRecordCodec.EncodeCompact(g, buffer, out n, omitSyncId: true));
            var withoutSync = g.Clone();
            withoutSync.SyncId = string.Empty;
            Assert.Equal(CodecRegistry.Grant.ToArray(withoutSync), buffer[..n]);
        }, iter: 2000);
    }

    [Fact]
    public void Other_shapes_are_declined_and_short_buffers_ask_for_the_bound()
    {
        var plain = new GrantRecord { ExternalId = "g1", Principal = new PrincipalRef { ResourceId = "alice" } };
        Assert.Equal(OperationStatus.DestinationTooSmall, GrantRecordCodec.EncodeCompact(plain, new byte[GrantRecordCodec.CompactBound(plain) - 1], out int required));
        Assert.Equal(GrantRecordCodec.CompactBound(plain), required);

        // A discovery time is encoded (Common_shape_…), unless it carries unknown fields.
        var timestamped = GrantRecord.Parser.ParseFrom([.. plain.ToByteArray(), 0x2A, 0x04, 0x08, 0x01, 0x18, 0x05]);
        Assert.NotNull(timestamped.DiscoveredAt);
        Assert.Equal(OperationStatus.InvalidData, GrantRecordCodec.EncodeCompact(timestamped, new byte[4096], out _));

        // Unknown fields, as a record written by a newer schema carries them, on the grant and on a ref.
        var unknownTop = GrantRecord.Parser.ParseFrom([.. plain.ToByteArray(), 0xA8, 0x06, 0x01]);
        var refWithUnknown = new PrincipalRef { ResourceId = "alice" }.ToByteArray().Concat(new byte[] { 0x18, 0x05 }).ToArray();
        var unknownRef = GrantRecord.Parser.ParseFrom([.. new GrantRecord { ExternalId = "g1" }.ToByteArray(), 0x22, (byte)refWithUnknown.Length, .. refWithUnknown]);
        Assert.NotNull(unknownRef.Principal);

        // Expandable declarations, annotations and sources are encoded (CompactGrantEncodingExpandedProperties).
        foreach (var g in new[] { unknownTop, unknownRef })
        {
            Assert.Equal(OperationStatus.InvalidData, GrantRecordCodec.EncodeCompact(g, new byte[4096], out _));
        }
    }

    [Fact]
    public void Decoding_agrees_with_the_generated_parser_on_encodings_and_their_mutations()
    {
        // Valid encodings of the common shape, then the same bytes with one byte changed, truncated
        // or extended: whatever the generated parser makes of them, the codec must make the same
        // (an equal record, or a corruption error where the generated parser throws).
        var mutated = Gen.Select(CommonShape, Gen.Int[0, 3], Gen.Int, Gen.Byte, (g, kind, at, b) =>
        {
            byte[] bytes = CodecRegistry.Grant.ToArray(g);
            if (bytes.Length == 0)
            {
                return bytes;
            }

            int i = (int)((uint)at % (uint)bytes.Length);
            return kind switch
            {
                0 => bytes,
                1 => [.. bytes[..i], b, .. bytes[(i + 1)..]],
                2 => bytes[..i],
                _ => [.. bytes[..i], b, .. bytes[i..]],
            };
        });
        mutated.Sample(bytes =>
        {
            var expected = GeneratedOrNull(bytes);

            if (expected is null)
            {
                Assert.Throws<DotC1z.Errors.C1zCorruptionException>(() => CodecRegistry.Grant.Decode(bytes));
            }
            else
            {
                Assert.Equal(expected, CodecRegistry.Grant.Decode(bytes));
            }
        }, iter: 5000);
    }

    [Fact]
    public void Scan_decoding_with_a_string_table_and_id_only_rows_agree_with_the_generated_parser()
    {
        // One table across all samples, as one scan shares it across rows: a remembered string must
        // never leak into a record whose bytes differ.
        var strings = new Utf8StringTable();
        var mutated = Gen.Select(CommonShape, Gen.Int[0, 2], Gen.Int, Gen.Byte, (g, kind, at, b) =>
        {
            byte[] bytes = CodecRegistry.Grant.ToArray(g);
            if (bytes.Length == 0 || kind == 0)
            {
                return bytes;
            }

            int i = (int)((uint)at % (uint)bytes.Length);
            return kind == 1 ? [.. bytes[..i], b, .. bytes[(i + 1)..]] : bytes[..i];
        });
        mutated.Sample(bytes =>
        {
            var expected = GeneratedOrNull(bytes);

            if (expected is null)
            {
                Assert.Throws<DotC1z.Errors.C1zCorruptionException>(() => CodecRegistry.Grant.Decode(bytes, strings));
                return;
            }

            Assert.Equal(expected, CodecRegistry.Grant.Decode(bytes, strings));
            Assert.True(GrantRow.TryParse(bytes, out var row));
            Assert.Equal(expected.ExternalId, System.Text.Encoding.UTF8.GetString(row.ExternalId));
            Assert.Equal(expected.Entitlement?.ResourceTypeId ?? "", System.Text.Encoding.UTF8.GetString(row.EntitlementResourceTypeId));
            Assert.Equal(expected.Entitlement?.ResourceId ?? "", System.Text.Encoding.UTF8.GetString(row.EntitlementResourceId));
            Assert.Equal(expected.Entitlement?.EntitlementId ?? "", System.Text.Encoding.UTF8.GetString(row.EntitlementId));
            Assert.Equal(expected.Principal?.ResourceTypeId ?? "", System.Text.Encoding.UTF8.GetString(row.PrincipalResourceTypeId));
            Assert.Equal(expected.Principal?.ResourceId ?? "", System.Text.Encoding.UTF8.GetString(row.PrincipalResourceId));
            Assert.Equal(expected.NeedsExpansion, row.NeedsExpansion);
        }, iter: 5000);
    }

    [Fact]
    public void Rows_have_the_same_references_exactly_when_the_records_do()
    {
        // A second grant that changes one field of the first (or none): references are often equal, so both
        // answers are exercised; a grant whose references differ is never equal to the other as a record.
        var pairs = Gen.Select(CommonShape, Gen.Int[0, 6], Text, Gen.Bool, (g, field, text, flag) =>
        {
            var other = g.Clone();
            switch (field)
            {
                case 0: other.Entitlement = new EntitlementRef { ResourceTypeId = text, ResourceId = g.Entitlement?.ResourceId ?? "", EntitlementId = g.Entitlement?.EntitlementId ?? "" }; break;
                case 1: other.Entitlement = new EntitlementRef { ResourceTypeId = g.Entitlement?.ResourceTypeId ?? "", ResourceId = text, EntitlementId = g.Entitlement?.EntitlementId ?? "" }; break;
                case 2: other.Entitlement = new EntitlementRef { ResourceTypeId = g.Entitlement?.ResourceTypeId ?? "", ResourceId = g.Entitlement?.ResourceId ?? "", EntitlementId = text }; break;
                case 3: other.Principal = new PrincipalRef { ResourceTypeId = text, ResourceId = g.Principal?.ResourceId ?? "" }; break;
                case 4: other.Principal = new PrincipalRef { ResourceTypeId = g.Principal?.ResourceTypeId ?? "", ResourceId = text }; break;
                case 5: other.NeedsExpansion = flag; break;
                default: other.SourceScopeKey = text; break;
            }

            return (g, other);
        });
        pairs.Sample((a, b) =>
        {
            static string Refs(GrantRecord g) => string.Join('\u0001', g.Entitlement?.ResourceTypeId ?? "", g.Entitlement?.ResourceId ?? "", g.Entitlement?.EntitlementId ?? "", g.Principal?.ResourceTypeId ?? "", g.Principal?.ResourceId ?? "", g.NeedsExpansion);
            byte[] x = CodecRegistry.Grant.ToArray(a), y = CodecRegistry.Grant.ToArray(b);
            Assert.True(GrantRow.TryParse(x, out var rowA));
            Assert.True(GrantRow.TryParse(y, out var rowB));
            bool same = GrantRow.SameReferences(rowA, rowB);
            Assert.Equal(Refs(a) == Refs(b), same);
            Assert.True(same || !a.Equals(b));
        }, iter: 3000);
    }

    [Fact]
    public void Rows_read_with_the_expansion_marks_agree_with_the_generated_parser()
    {
        const string target = "type.googleapis.com/c1.connector.v2.GrantImmutable";
        var urls = Gen.OneOf(Gen.Const(target), Gen.Const("type.googleapis.com/c1.connector.v2.GrantExpandable"), Gen.Const(target + "x"), Gen.Const(string.Empty));
        var annotated = Gen.Select(CommonShape, urls.Array[0, 3], Gen.Bool, Text, (g, annotations, expansion, ent) =>
        {
            foreach (string url in annotations)
            {
                g.Annotations.Add(new Any { TypeUrl = url, Value = ByteString.CopyFromUtf8(url) });
            }

            if (expansion)
            {
                g.Expansion = new GrantExpandableRecord { EntitlementIds = { ent } };
            }

            return CodecRegistry.Grant.ToArray(g);
        });
        annotated.Sample(bytes =>
        {
            var expected = GrantRecord.Parser.ParseFrom(bytes);
            Assert.True(GrantRow.TryParse(bytes, out var plain));
            Assert.True(GrantRow.TryParse(bytes, System.Text.Encoding.UTF8.GetBytes(target), out var row, out bool hasAnnotation, out bool hasExpansion));
            Assert.Equal(expected.Annotations.Any(a => a.TypeUrl == target), hasAnnotation);
            Assert.Equal(expected.Expansion is not null, hasExpansion);
            Assert.True(row.ExternalId.SequenceEqual(plain.ExternalId) && row.EntitlementId.SequenceEqual(plain.EntitlementId)
                && row.EntitlementResourceTypeId.SequenceEqual(plain.EntitlementResourceTypeId) && row.EntitlementResourceId.SequenceEqual(plain.EntitlementResourceId)
                && row.PrincipalResourceTypeId.SequenceEqual(plain.PrincipalResourceTypeId) && row.PrincipalResourceId.SequenceEqual(plain.PrincipalResourceId)
                && row.NeedsExpansion == plain.NeedsExpansion);
        }, iter: 3000);
    }

    [Fact]
    public void Holdings_read_in_place_agree_with_the_generated_parser()
    {
        // Sources keyed by the grant's own entitlement, by others, by the empty key; sometimes two encodings
        // concatenated (protobuf merges them: the later entitlement wins, the maps join).
        var keys = Gen.OneOf(Gen.Const("self"), Gen.Const(string.Empty), Ids);
        var withSources = Gen.Select(CommonShape, keys.Array[0, 3], Gen.Bool, (g, sourceKeys, direct) =>
        {
            foreach (string key in sourceKeys)
            {
                string k = key == "self" ? g.Entitlement?.EntitlementId ?? string.Empty : key;
                g.Sources[k] = new GrantSourceRecord { EntitlementId = k, IsDirect = direct };
            }

            return g;
        });
        var encoded = Gen.Select(withSources, withSources, Gen.Int[0, 3], (a, b, shape) => shape == 0
            ? [.. CodecRegistry.Grant.ToArray(a), .. CodecRegistry.Grant.ToArray(b)]
            : CodecRegistry.Grant.ToArray(a));
        encoded.Sample(bytes =>
        {
            var expected = GrantRecord.Parser.ParseFrom(bytes);
            string entitlement = expected.Entitlement?.EntitlementId ?? string.Empty;
            Assert.True(GrantRow.TryReadHolding(bytes, out var entitlementId, out bool hasPrincipal, out bool direct));
            Assert.Equal(entitlement, System.Text.Encoding.UTF8.GetString(entitlementId));
            Assert.Equal(expected.Principal is not null, hasPrincipal);
            Assert.Equal(expected.Sources.Count == 0 || expected.Sources.ContainsKey(entitlement), direct);
        }, iter: 3000);
    }

    /// <summary>What the generated parser makes of <paramref name="bytes"/>, or null where it rejects them (the codec must then report corruption too).</summary>
    private static GrantRecord? GeneratedOrNull(byte[] bytes)
    {
        try
        {
            return GrantRecord.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }
}
