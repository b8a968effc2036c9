using System.Buffers;
using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Records;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Core.Tests;

public sealed class CodecTests
{
    internal static GrantRecord SampleGrant(bool reverseSources = false)
    {
        var g = new GrantRecord
        {
            SyncId = "0ujsswThIGTUYm2K8FjOOfXtY1K",
            ExternalId = "group:eng:member:user:alice",
            Entitlement = new EntitlementRef { ResourceTypeId = "group", ResourceId = "eng", EntitlementId = "group:eng:member" },
            Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = "alice" },
            DiscoveredAt = new Timestamp { Seconds = 1_763_000_000, Nanos = 123_000 },
            Expansion = new GrantExpandableRecord { EntitlementIds = { "group:ops:member" }, Shallow = true, ResourceTypeIds = { "user" } },
            NeedsExpansion = true,
            SourceScopeKey = "scope",
        };
        g.Annotations.Add(Any.Pack(new StringValue { Value = "note" }));
        var sources = new[]
        {
            ("group:a:member", new GrantSourceRecord { EntitlementId = "group:a:member", IsDirect = true }),
            ("group:b:member", new GrantSourceRecord { EntitlementId = "group:b:member" }),
            ("zz😀", new GrantSourceRecord { IsDirect = true }),
            ("\uFFFD", new GrantSourceRecord()),
        };
        foreach (var (k, v) in reverseSources ? sources.Reverse() : sources)
        {
            g.Sources.Add(k, v);
        }

        return g;
    }

    private static IEnumerable<IMessage> AllRecords()
    {
        yield return new ResourceTypeRecord { ExternalId = "user", DisplayName = "User", Traits = { "USER" }, Description = "d", SourcedExternally = true, DiscoveredAt = new Timestamp { Seconds = 5 } };
        yield return new ResourceRecord
        {
            ResourceTypeId = "group", ResourceId = "eng", DisplayName = "Eng", Parent = new ResourceRef { ResourceTypeId = "org", ResourceId = "acme" },
            Profile = new Struct { Fields = { ["b"] = Value.ForString("x"), ["a"] = Value.ForNumber(1) } },
            Status = new StatusRecord { Status = 1, Details = "ok" }, IconAssetExternalId = "icon",
        };
        yield return new EntitlementRecord { ExternalId = "group:eng:member", Resource = new ResourceRef { ResourceTypeId = "group", ResourceId = "eng" }, Purpose = "ASSIGNMENT", Slug = "member", GrantableToResourceTypeIds = { "user", "group" } };
        yield return SampleGrant();
        yield return new AssetRecord { ExternalId = "icon", ContentType = "image/png", Data = ByteString.CopyFrom(0x89, 0x50, 0x00, 0x01) };
        yield return new SyncRunRecord { SyncId = "0ujsswThIGTUYm2K8FjOOfXtY1K", Type = SyncType.Full, ParentSyncId = "p", StartedAt = new Timestamp { Seconds = 1 }, SyncToken = "{}", SupportsDiff = true, LinkedSyncId = "l", Compacted = true };
    }

    [Fact]
    public void Reflection_codec_writes_the_same_bytes_as_the_direct_codecs_for_every_record()
    {
        foreach (var record in AllRecords())
        {
            var direct = CodecRegistry.Lookup(record.Descriptor);
            Assert.IsNotType<ReflectionCodec>(direct);
            var reflection = new ReflectionCodec(record.Descriptor);

            var a = new byte[direct.CalculateSize(record)];
            Assert.Equal(a.Length, direct.Encode(record, a));
            var b = new byte[reflection.CalculateSize(record)];
            Assert.Equal(b.Length, reflection.Encode(record, b));
            Assert.True(a.AsSpan().SequenceEqual(b), $"{record.Descriptor.Name}: direct {Convert.ToHexString(a)} != reflection {Convert.ToHexString(b)}");

            Assert.Equal(record, direct.Decode(a));
            Assert.Equal(record, reflection.Decode(b));

            var writer = new ArrayBufferWriter<byte>();
            reflection.Encode(record, writer);
            Assert.Equal(a, writer.WrittenSpan.ToArray());
        }
    }

    [Fact]
    public void Grant_encoding_is_independent_of_map_insertion_order_and_leaves_the_input_alone()
    {
        var forward = SampleGrant();
        var backward = SampleGrant(reverseSources: true);
        var keysBefore = backward.Sources.Keys.ToArray();
        Assert.Equal(CodecRegistry.Grant.ToArray(forward), CodecRegistry.Grant.ToArray(backward));
        Assert.Equal(keysBefore, backward.Sources.Keys.ToArray());
        var reflection = new ReflectionCodec(GrantRecord.Descriptor);
        var viaReflection = new byte[reflection.CalculateSize(backward)];
        reflection.Encode(backward, viaReflection);
        Assert.Equal(CodecRegistry.Grant.ToArray(forward), viaReflection);
    }

    [Fact]
    public void A_message_of_the_wrong_type_is_a_typed_error()
    {
        var grant = SampleGrant();
        var ex = Assert.Throws<C1zCodecTypeMismatchException>(() => CodecRegistry.Asset.CalculateSize(grant));
        Assert.Equal("c1.storage.v3.AssetRecord", ex.Expected);
        Assert.Equal("c1.storage.v3.GrantRecord", ex.Actual);
        Assert.Throws<C1zCodecTypeMismatchException>(() => CodecRegistry.Asset.Encode(grant, new byte[1024]));
        Assert.Throws<C1zCodecTypeMismatchException>(() => new ReflectionCodec(AssetRecord.Descriptor).Encode(grant, new byte[1024]));
        Assert.Throws<C1zCodecTypeMismatchException>(() => new ReflectionCodec(AssetRecord.Descriptor).CalculateSize(grant));
    }

    [Theory]
    [InlineData(new byte[] { 0x12 })]
    [InlineData(new byte[] { 0x12, 0x05, 0x61 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 0x07 })]
    public void Undecodable_bytes_are_corruption_or_a_false_try(byte[] bytes)
    {
        Assert.Throws<C1zCorruptionException>(() => CodecRegistry.Grant.Decode(bytes));
        Assert.False(CodecRegistry.Grant.TryDecode(bytes, out _));
        var reflection = new ReflectionCodec(GrantRecord.Descriptor);
        Assert.Throws<C1zCorruptionException>(() => reflection.Decode(bytes));
        Assert.False(reflection.TryDecode(bytes, out _));
    }

    [Fact]
    public void Registry_holds_the_six_records_and_caches_reflection_codecs()
    {
        Assert.Equal(6, CodecRegistry.RegisteredNames.Count);
        Assert.Contains("c1.storage.v3.GrantRecord", CodecRegistry.RegisteredNames);
        Assert.Same(CodecRegistry.Grant, CodecRegistry.Lookup(GrantRecord.Descriptor));
        var first = CodecRegistry.Lookup(EntitlementRef.Descriptor);
        Assert.IsType<ReflectionCodec>(first);
        Assert.Same(first, CodecRegistry.Lookup(EntitlementRef.Descriptor));
        Assert.True(CodecRegistry.TryLookup("c1.storage.v3.EntitlementRef", out var found));
        Assert.Same(first, found);
        Assert.False(CodecRegistry.TryLookup("no.such.Message", out _));
    }

    [Fact]
    public void Reflection_codec_handles_proto2_presence_and_repeated_fields()
    {
        var option = new TableOption { Name = "grants", PrimaryKey = { "sync_id", "external_id" } };
        var codec = CodecRegistry.Lookup(TableOption.Descriptor);
        var bytes = new byte[codec.CalculateSize(option)];
        codec.Encode(option, bytes);
        Assert.Equal(option.ToByteArray(), bytes);
        var index = new IndexOption { Name = "by_x", Unique = false, Composite = { "a" } }; // explicit default still present in proto2
        var c2 = CodecRegistry.Lookup(IndexOption.Descriptor);
        var b2 = new byte[c2.CalculateSize(index)];
        c2.Encode(index, b2);
        Assert.Equal(index.ToByteArray(), b2);
    }
}
