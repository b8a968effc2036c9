using System.Buffers;
using CsCheck;
using DotC1z.Codecs;
using DotC1z.Records;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Core.Tests;

/// <summary>
/// The one-pass grant encoder on expanded grants (sources, annotations, the expandable declaration):
/// byte for byte what the generated code writes after sorting the sources, with and without the sync id.
/// CsCheck prints the seed of a failing sample.
/// </summary>
public sealed class CompactGrantEncodingExpandedProperties
{
    private static readonly Gen<string> Text = CompactGrantEncodingProperties.Ids;

    private static readonly Gen<GrantSourceRecord> Source =
        Gen.Select(Text, Text, Text, Gen.Bool, (rt, rid, eid, direct) => new GrantSourceRecord { ResourceTypeId = rt, ResourceId = rid, EntitlementId = eid, IsDirect = direct });

    // GrantImmutable as expansion writes it (a type URL, no value), packed messages, and edges (empty, long values).
    private static readonly Gen<Any> Annotation = Gen.OneOf(
        Gen.Const(new Any { TypeUrl = "type.googleapis.com/c1.connector.v2.GrantImmutable" }),
        Text.Select(s => Any.Pack(new StringValue { Value = s })),
        Gen.Select(Text, Gen.Byte.Array[0, 400], (url, value) => new Any { TypeUrl = url, Value = ByteString.CopyFrom(value) }));

    private static readonly Gen<GrantExpandableRecord?> Expansion =
        Gen.Select(Text.Array[0, 4], Gen.Bool, Text.Array[0, 3], (ids, shallow, types) =>
        {
            var x = new GrantExpandableRecord { Shallow = shallow };
            x.EntitlementIds.AddRange(ids);
            x.ResourceTypeIds.AddRange(types);
            return x;
        }).Null();

    private static readonly Gen<(string Sync, string Id, string Ent, string Principal, bool Needs)> Head =
        Gen.Select(Text, Text, Text, Text, Gen.Bool, (sync, id, ent, principal, needs) => (sync, id, ent, principal, needs));

    private static readonly Gen<GrantRecord> Expanded =
        Gen.Select(Head, Expansion, Annotation.Array[0, 3], Gen.Select(Text, Source, (k, v) => (k, v)).Array[0, 6], Gen.Long[0, 4_000_000_000], Text,
            (h, expansion, annotations, sources, seconds, scope) =>
            {
                var g = new GrantRecord
                {
                    SyncId = h.Sync,
                    ExternalId = h.Id,
                    Entitlement = new EntitlementRef { EntitlementId = h.Ent, ResourceTypeId = "group", ResourceId = h.Ent },
                    Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = h.Principal },
                    NeedsExpansion = h.Needs,
                    Expansion = expansion,
                    DiscoveredAt = new Timestamp { Seconds = seconds },
                    SourceScopeKey = scope,
                };
                g.Annotations.AddRange(annotations);
                foreach (var (key, source) in sources)
                {
                    // Keys arrive in any order (insertion order is what Google.Protobuf would write).
                    g.Sources.TryAdd(key, source);
                }

                return g;
            });

    [Fact]
    public void Expanded_grants_encode_exactly_as_the_generated_code_with_sorted_sources()
    {
        Expanded.Sample(g =>
        {
            var insertionOrder = g.Sources.Keys.ToList();
            var buffer = new byte[GrantRecordCodec.CompactBound(g)];
            Assert.Equal(OperationStatus.Done, GrantRecordCodec.EncodeCompact(g, buffer, out int n));
            Assert.Equal(CodecRegistry.Grant.ToArray(g), buffer[..n]);

            Assert.Equal(OperationStatus.Done, GrantRecordCodec.EncodeCompact(g, buffer, out n, omitSyncId: true));
            var withoutSync = g.Clone();
            withoutSync.SyncId = string.Empty;
            Assert.Equal(CodecRegistry.Grant.ToArray(withoutSync), buffer[..n]);

            // The caller's record is not reordered, and the bytes read back as the same grant.
            Assert.Equal(insertionOrder, g.Sources.Keys.ToList());
            Assert.Equal(withoutSync, GrantRecord.Parser.ParseFrom(buffer.AsSpan(0, n)));
        }, iter: 3000);
    }

    [Fact]
    public void Empty_keys_default_sources_and_bare_annotations_match_the_generated_code()
    {
        // The edges the random generator reaches rarely: an empty map key, an all-default value, an empty Any.
        var g = new GrantRecord { ExternalId = "g" };
        g.Sources.Add(string.Empty, new GrantSourceRecord());
        g.Sources.Add("b", new GrantSourceRecord { IsDirect = true });
        g.Sources.Add("a", new GrantSourceRecord { EntitlementId = "a" });
        g.Annotations.Add(new Any());
        g.Expansion = new GrantExpandableRecord();
        g.Expansion.EntitlementIds.Add(string.Empty);

        var buffer = new byte[GrantRecordCodec.CompactBound(g)];
        Assert.Equal(OperationStatus.Done, GrantRecordCodec.EncodeCompact(g, buffer, out int n));
        Assert.Equal(CodecRegistry.Grant.ToArray(g), buffer[..n]);
    }

    [Fact]
    public void Unknown_fields_on_annotations_sources_and_declarations_are_declined()
    {
        var plain = new GrantRecord { ExternalId = "g1", Principal = new PrincipalRef { ResourceId = "alice" } };
        byte[] unknown = [0xA8, 0x06, 0x01];

        var annotated = plain.Clone();
        annotated.Annotations.Add(Any.Parser.ParseFrom([.. new Any { TypeUrl = "t" }.ToByteArray(), .. unknown]));
        var sourced = plain.Clone();
        sourced.Sources.Add("e", GrantSourceRecord.Parser.ParseFrom([.. new GrantSourceRecord { EntitlementId = "e" }.ToByteArray(), .. unknown]));
        var declaring = plain.Clone();
        declaring.Expansion = GrantExpandableRecord.Parser.ParseFrom([.. new GrantExpandableRecord { Shallow = true }.ToByteArray(), .. unknown]);

        foreach (var g in new[] { annotated, sourced, declaring })
        {
            Assert.Equal(OperationStatus.InvalidData, GrantRecordCodec.EncodeCompact(g, new byte[4096], out int written));
            Assert.Equal(0, written);
        }
    }
}
