using System.Text;
using System.Text.RegularExpressions;
using DotC1z.Engine.Rocks;
using DotC1z.Equivalence;
using DotC1z.Interop.V1;
using DotC1z.Keys;
using DotC1z.Operations.Sanitize;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Operations.Tests.Sanitize;

/// <summary>The sanitiser on baton's real fixture and on hand-built annotations (docs/SANITIZE.md).</summary>
public sealed partial class SnapshotSanitizerTests
{
    private static readonly byte[] SecretA = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] SecretB = Enumerable.Range(101, 32).Select(i => (byte)i).ToArray();
    private static readonly DateTimeOffset Anchor = new(2024, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void No_identifier_of_the_real_fixture_survives_and_counts_are_unchanged()
    {
        using var source = V1File.OpenReadOnly(TestPaths.RealFixture("small-unexpanded.c1z"));
        using var target = new MemoryStore();
        var result = SnapshotSanitizer.Sanitize(source, target, new SanitizeOptions { Secret = SecretA, Anchor = Anchor });

        var inSync = source.LatestSync()!.Value;
        var outSync = Assert.Single(result.Syncs).Target;
        Assert.Equal(source.Count(inSync), target.Count(outSync));
        Assert.Equal(source.Count(inSync), result.Syncs[0].Counts);
        Assert.NotEqual(inSync, outSync); // the KSUID carries the original sync time

        var originals = IdentityStrings(source, inSync);
        Assert.True(originals.Count > 1000, $"only {originals.Count} identity strings collected");
        var leaks = new List<string>();
        foreach (string text in RecordTexts(target, outSync))
        {
            // Annotation type URLs ("…c1.connector.v2.GroupTrait") are schema, not tenant data.
            string rest = Pseudonym().Replace(TypeUrl().Replace(text, "#"), "#");
            leaks.AddRange(originals.Where(o => rest.Contains(o, StringComparison.Ordinal)).Take(3).Select(o => $"\"{o}\" in \"{rest.ReplaceLineEndings(" ")}\""));
            if (leaks.Count > 0)
            {
                break;
            }
        }

        Assert.True(leaks.Count == 0, "original strings in the output: " + string.Join(", ", leaks));
    }

    [Fact]
    public void Expansion_of_the_sanitised_file_gives_the_same_result_through_the_mapping()
    {
        using var source = V1File.OpenReadOnly(TestPaths.RealFixture("small-unexpanded.c1z"));
        var inSync = source.LatestSync()!.Value;
        // RocksDB rather than the in-memory reference: expansion streams grants through the by-entitlement index.
        using var dir = new TempDir("sanitize-expand");
        using var original = RocksStore.Open(dir.Combine("original"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        StoreCopy.CopySync(source, inSync, original, inSync);
        using var sanitized = RocksStore.Open(dir.Combine("sanitized"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
        var outSync = SnapshotSanitizer.Sanitize(source, sanitized, new SanitizeOptions { Secret = SecretA, Anchor = Anchor }).Syncs.Single().Target;

        var expected = GrantExpander.Expand(original, inSync);
        var actual = GrantExpander.Expand(sanitized, outSync);
        Assert.True(expected.GrantsCreated > 1000, $"the fixture expands into {expected.GrantsCreated} grants only");
        Assert.Equal(expected, actual);
        Assert.Equal(original.Count(inSync), sanitized.Count(outSync));

        // Shape: every expanded grant (entitlement, principal, sources) maps onto exactly one of the output.
        using var map = new Pseudonymizer(SecretA);
        var want = original.Grants(inSync)
            .Select(g => Shape(map.Id(g.Entitlement.EntitlementId), g.Principal.ResourceTypeId, map.Id(g.Principal.ResourceId), g.Sources.Keys.Select(map.Id)))
            .Order(StringComparer.Ordinal).ToList();
        var got = sanitized.Grants(outSync)
            .Select(g => Shape(g.Entitlement.EntitlementId, g.Principal.ResourceTypeId, g.Principal.ResourceId, g.Sources.Keys))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(want, got);
    }

    [Fact]
    public void Same_secret_gives_identical_records_and_another_secret_other_pseudonyms()
    {
        using var source = V1File.OpenReadOnly(TestPaths.RealFixture("small-unexpanded.c1z"));
        using var a1 = new MemoryStore();
        using var a2 = new MemoryStore();
        using var b = new MemoryStore();
        var s1 = SnapshotSanitizer.Sanitize(source, a1, new SanitizeOptions { Secret = SecretA, Anchor = Anchor }).Syncs.Single().Target;
        var s2 = SnapshotSanitizer.Sanitize(source, a2, new SanitizeOptions { Secret = SecretA, Anchor = Anchor }).Syncs.Single().Target;
        var sb = SnapshotSanitizer.Sanitize(source, b, new SanitizeOptions { Secret = SecretB, Anchor = Anchor }).Syncs.Single().Target;

        Assert.Equal(s1, s2);
        Assert.Equal(Bytes(a1, s1), Bytes(a2, s2));
        Assert.NotEqual(s1, sb);
        var idsA = a1.Grants(s1).Select(g => g.ExternalId).Concat(a1.Resources(s1).Select(r => r.ResourceId)).ToHashSet(StringComparer.Ordinal);
        var idsB = b.Grants(sb).Select(g => g.ExternalId).Concat(b.Resources(sb).Select(r => r.ResourceId)).ToList();
        Assert.DoesNotContain(idsB, idsA.Contains);
    }

    [Fact]
    public void Timestamps_move_so_the_latest_is_the_anchor_and_keep_their_differences()
    {
        using var source = V1File.OpenReadOnly(TestPaths.RealFixture("small-unexpanded.c1z"));
        var inSync = source.LatestSync()!.Value;
        using var target = new MemoryStore();
        var outSync = SnapshotSanitizer.Sanitize(source, target, new SanitizeOptions { Secret = SecretA, Anchor = Anchor }).Syncs.Single().Target;

        Assert.True(target.TryGetSyncRun(outSync, out var outRun));
        Assert.Empty(outRun.SyncToken);
        var before = Times(source, inSync);
        var after = Times(target, outSync);
        Assert.True(before.Count > 1000, $"only {before.Count} timestamps in the fixture");
        Assert.Equal(Anchor, after[^1]);
        var shift = Anchor - before[^1];
        Assert.Equal(before.Select(t => t + shift), after);
    }

    [Fact]
    public void Known_annotations_are_sanitised_field_by_field_and_unknown_ones_dropped()
    {
        using var source = new MemoryStore();
        var sync = source.StartSync(SyncType.Full);
        var userTrait = new Any { TypeUrl = "type.googleapis.com/c1.connector.v2.UserTrait", Value = UserTrait() };
        var unknown = new Any { TypeUrl = "type.googleapis.com/acme.Secret", Value = ByteString.CopyFromUtf8("alice-secret-payload") };
        var broken = new Any { TypeUrl = "type.googleapis.com/c1.connector.v2.GroupTrait", Value = ByteString.CopyFrom(0x0a, 0xff, 0x01) };
        var resource = new ResourceRecord { ResourceTypeId = "user", ResourceId = "alice@acme.com", DisplayName = "Alice Liddell" };
        resource.Annotations.Add([userTrait, unknown, broken]);
        source.PutResources(sync, [resource]);
        source.EndSync(sync);

        using var target = new MemoryStore();
        var result = SnapshotSanitizer.Sanitize(source, target, new SanitizeOptions { Secret = SecretA, Anchor = Anchor });
        Assert.Equal(1, result.AnnotationsKept);
        Assert.Equal(2, result.AnnotationsDropped);

        var outRes = Assert.Single(target.Resources(result.Syncs[0].Target));
        Assert.Matches(EmailShape(), outRes.ResourceId);
        var kept = Assert.Single(outRes.Annotations);
        Assert.Equal(userTrait.TypeUrl, kept.TypeUrl);
        string text = Encoding.UTF8.GetString(outRes.ToByteArray());
        foreach (string original in new[] { "alice", "acme", "Liddell", "al1ce", "hr-system", "12345-employee" })
        {
            Assert.DoesNotContain(original, text, StringComparison.Ordinal);
        }

        // Field by field: the email keeps its shape, the account type (5) survives, field 12 (not in the allow-list) is gone.
        var fields = Fields(kept.Value);
        Assert.Matches(EmailShape(), Fields(fields[1].Single().Bytes)[1].Single().Bytes.ToStringUtf8());
        Assert.Equal(1UL, fields[5].Single().Varint);
        Assert.False(fields.ContainsKey(12));
        var profile = Struct.Parser.ParseFrom(fields[3].Single().Bytes);
        Assert.Equal(42, profile.Fields["level"].NumberValue);
        Assert.Matches(Pseudonym(), profile.Fields["department"].StringValue);
        var created = Timestamp.Parser.ParseFrom(fields[8].Single().Bytes);
        Assert.Equal(Anchor, created.ToDateTimeOffset()); // the latest timestamp of the input is inside the annotation
    }

    [Fact]
    public void A_short_secret_is_refused()
    {
        using var source = new MemoryStore();
        using var target = new MemoryStore();
        Assert.Throws<ArgumentException>(() => SnapshotSanitizer.Sanitize(source, target, new SanitizeOptions { Secret = new byte[31] }));
    }

    /// <summary>Every id, display name, description and email-like string of a sync (≥ 3 characters), minus the resource type ids the rules keep.</summary>
    internal static HashSet<string> IdentityStrings(IC1zStore store, SyncId sync)
    {
        var all = new HashSet<string>(StringComparer.Ordinal) { sync.ToString() };
        var typeIds = store.ResourceTypes(sync).Select(t => t.ExternalId).ToHashSet(StringComparer.Ordinal);
        foreach (var t in store.ResourceTypes(sync))
        {
            all.UnionWith([t.DisplayName, t.Description]);
        }

        foreach (var r in store.Resources(sync))
        {
            all.UnionWith([r.ResourceId, r.DisplayName, r.Description, r.Parent?.ResourceId ?? string.Empty]);
        }

        foreach (var e in store.Entitlements(sync))
        {
            all.UnionWith([e.ExternalId, e.DisplayName, e.Description, e.Slug, e.Resource?.ResourceId ?? string.Empty]);
        }

        foreach (var g in store.Grants(sync))
        {
            all.UnionWith([g.ExternalId, g.Entitlement.EntitlementId, g.Entitlement.ResourceId, g.Principal.ResourceId, .. g.Sources.Keys]);
        }

        // Not leaks: the output's fixed vocabulary (".invalid", the URL placeholder) and the profile keys, which
        // are the connector's field names and kept by rule (docs/SANITIZE.md §3), e.g. "total_assignments".
        string vocabulary = "@.invalid https://sanitized.example/help " + string.Join(' ', store.Resources(sync).SelectMany(ProfileKeys).Distinct(StringComparer.Ordinal));
        all.RemoveWhere(s => s.Length < 3 || typeIds.Contains(s) || vocabulary.Contains(s, StringComparison.Ordinal));
        return all;
    }

    /// <summary>The keys of a resource's profile and of its trait annotations' profiles (field numbers as in baton's annotation_trait.proto).</summary>
    private static IEnumerable<string> ProfileKeys(ResourceRecord r)
    {
        var profileField = new Dictionary<string, int>(StringComparer.Ordinal) { ["UserTrait"] = 3, ["GroupTrait"] = 2, ["RoleTrait"] = 1, ["AppTrait"] = 4, ["SecretTrait"] = 1 };
        var keys = r.Profile is null ? [] : StructKeys(r.Profile).ToList();
        foreach (var a in r.Annotations)
        {
            if (profileField.TryGetValue(a.TypeUrl[(a.TypeUrl.LastIndexOf('.') + 1)..], out int field) && Fields(a.Value).TryGetValue(field, out var values))
            {
                keys.AddRange(values.SelectMany(v => StructKeys(Struct.Parser.ParseFrom(v.Bytes))));
            }
        }

        return keys;
    }

    private static IEnumerable<string> StructKeys(Struct s) =>
        s.Fields.SelectMany(f => f.Value.KindCase switch
        {
            Value.KindOneofCase.StructValue => [f.Key, .. StructKeys(f.Value.StructValue)],
            Value.KindOneofCase.ListValue => [f.Key, .. f.Value.ListValue.Values.Where(v => v.KindCase == Value.KindOneofCase.StructValue).SelectMany(v => StructKeys(v.StructValue))],
            _ => new[] { f.Key },
        });

    /// <summary>The raw bytes of every record and sync run of a sync, as text: all strings, annotations and unknown fields included.</summary>
    internal static IEnumerable<string> RecordTexts(IC1zStore store, SyncId sync)
    {
        Assert.True(store.TryGetSyncRun(sync, out var run));
        IEnumerable<IMessage> records = [run, .. store.ResourceTypes(sync), .. store.Resources(sync), .. store.Entitlements(sync), .. store.Grants(sync), .. store.Assets(sync)];
        return records.Select(r => Encoding.UTF8.GetString(r.ToByteArray()));
    }

    /// <summary>A pseudonym: 20 lowercase base32 characters standing alone.</summary>
    [GeneratedRegex("(?<![a-z0-9])[a-z2-7]{20}(?![a-z0-9])")]
    internal static partial Regex Pseudonym();

    /// <summary>An annotation type URL.</summary>
    [GeneratedRegex("type\\.googleapis\\.com/[A-Za-z0-9_.]+")]
    internal static partial Regex TypeUrl();

    [GeneratedRegex("^[a-z2-7]{20}@[a-z2-7]{20}\\.invalid$")]
    private static partial Regex EmailShape();

    /// <summary>Every timestamp of the sync run, resources and grants, in order.</summary>
    private static List<DateTimeOffset> Times(IC1zStore store, SyncId sync)
    {
        Assert.True(store.TryGetSyncRun(sync, out var run));
        IEnumerable<Timestamp?> all = [run.StartedAt, run.EndedAt, .. store.Resources(sync).SelectMany(r => new[] { r.DiscoveredAt, r.CreatedAt }), .. store.Grants(sync).Select(g => g.DiscoveredAt)];
        return all.OfType<Timestamp>().Select(t => t.ToDateTimeOffset()).Order().ToList();
    }

    private static string Shape(string entitlement, string principalType, string principal, IEnumerable<string> sources) =>
        $"{entitlement}|{principalType}|{principal}|{string.Join(",", sources.Order(StringComparer.Ordinal))}";

    private static List<byte[]> Bytes(IC1zStore store, SyncId sync)
    {
        Assert.True(store.TryGetSyncRun(sync, out var run));
        IEnumerable<IMessage> records = [run, .. store.ResourceTypes(sync), .. store.Resources(sync), .. store.Entitlements(sync), .. store.Grants(sync), .. store.Assets(sync)];
        return records.Select(r => r.ToByteArray()).ToList();
    }

    /// <summary>A UserTrait with an email, login, account type, profile, created_at (later than anything else) and a field 12 the rules do not know.</summary>
    private static ByteString UserTrait()
    {
        using var ms = new MemoryStream();
        var w = new CodedOutputStream(ms);
        var email = new MemoryStream();
        var ew = new CodedOutputStream(email);
        ew.WriteTag(1, WireFormat.WireType.LengthDelimited);
        ew.WriteString("alice@acme.com");
        ew.WriteTag(2, WireFormat.WireType.Varint);
        ew.WriteBool(true);
        ew.Flush();
        w.WriteTag(1, WireFormat.WireType.LengthDelimited);
        w.WriteBytes(ByteString.CopyFrom(email.ToArray()));
        var profile = new Struct();
        profile.Fields["department"] = Value.ForString("hr-system");
        profile.Fields["level"] = Value.ForNumber(42);
        w.WriteTag(3, WireFormat.WireType.LengthDelimited);
        w.WriteBytes(profile.ToByteString());
        w.WriteTag(5, WireFormat.WireType.Varint);
        w.WriteEnum(1);
        w.WriteTag(6, WireFormat.WireType.LengthDelimited);
        w.WriteString("al1ce");
        w.WriteTag(8, WireFormat.WireType.LengthDelimited);
        w.WriteBytes(Timestamp.FromDateTimeOffset(new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero)).ToByteString());
        w.WriteTag(12, WireFormat.WireType.LengthDelimited);
        w.WriteString("12345-employee");
        w.Flush();
        return ByteString.CopyFrom(ms.ToArray());
    }

    private static Dictionary<int, List<(ulong Varint, ByteString Bytes)>> Fields(ByteString message)
    {
        var result = new Dictionary<int, List<(ulong, ByteString)>>();
        var r = new CodedInputStream(message.ToByteArray());
        uint tag;
        while ((tag = r.ReadTag()) != 0)
        {
            int field = WireFormat.GetTagFieldNumber(tag);
            var value = WireFormat.GetTagWireType(tag) == WireFormat.WireType.Varint ? (r.ReadUInt64(), ByteString.Empty) : (0UL, r.ReadBytes());
            if (!result.TryGetValue(field, out var list))
            {
                result[field] = list = [];
            }

            list.Add(value);
        }

        return result;
    }
}
