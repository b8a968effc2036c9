using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Operations.Sanitize;

/// <summary>Options of <see cref="SnapshotSanitizer.Sanitize"/>.</summary>
public sealed record SanitizeOptions
{
    /// <summary>
    /// The default anchor. Fixed rather than "now" so that the same input and secret always give the same
    /// output, and so the output does not tell when it was sanitised.
    /// </summary>
    public static DateTimeOffset DefaultAnchor { get; } = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The HMAC secret (at least <see cref="Pseudonymizer.MinSecretBytes"/> bytes).</summary>
    public required ReadOnlyMemory<byte> Secret { get; init; }

    /// <summary>Where the latest timestamp of the input lands; every other timestamp moves by the same amount.</summary>
    public DateTimeOffset Anchor { get; init; } = DefaultAnchor;
}

/// <summary>One sanitised sync.</summary>
/// <param name="Source">The sync id in the input.</param>
/// <param name="Target">Its pseudonymous id in the output.</param>
/// <param name="Counts">Records written.</param>
public sealed record SanitizedSync(SyncId Source, SyncId Target, RecordCounts Counts);

/// <summary>What a sanitising run did.</summary>
/// <param name="Syncs">The syncs written, in input order.</param>
/// <param name="Shift">The timestamp shift applied.</param>
/// <param name="AnnotationsKept">Annotations of a recognised type, rewritten.</param>
/// <param name="AnnotationsDropped">Annotations of an unknown type (or that did not decode), dropped.</param>
public sealed record SanitizeResult(IReadOnlyList<SanitizedSync> Syncs, TimeSpan Shift, long AnnotationsKept, long AnnotationsDropped);

/// <summary>
/// Writes an identity-free copy of every sync of a store (docs/SANITIZE.md): ids, names, descriptions, emails,
/// profile values and other strings that name a person or system become keyed pseudonyms (stable within the
/// run, so every reference between records still matches), timestamps are shifted so the latest lands on the
/// anchor, unknown annotations are dropped, asset payloads replaced by placeholders. Graph shape and counts
/// are unchanged, so expansion gives the same result. Records stream from the source into one bulk load per
/// sync of the target: memory does not grow with the input.
/// </summary>
public static class SnapshotSanitizer
{
    // A 1x1 transparent PNG: image assets keep a decodable image of their content type.
    private static readonly byte[] PngPlaceholder =
    [
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41,
        0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f, 0x00, 0x00, 0x00, 0x00,
        0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];

    /// <summary>Sanitises every sync of <paramref name="source"/> into new syncs of <paramref name="target"/>.</summary>
    /// <param name="source">The store to read (any engine; read-only is fine).</param>
    /// <param name="target">A writable store, normally empty.</param>
    /// <param name="options">Secret and anchor.</param>
    /// <param name="cancellationToken">Stops the run (the sync being loaded is not made visible).</param>
    /// <returns>What was written.</returns>
    /// <exception cref="ArgumentException">The secret is too short.</exception>
    public static SanitizeResult Sanitize(IC1zStore source, IC1zStore target, SanitizeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        using var names = new Pseudonymizer(options.Secret.Span);
        var runs = source.ListSyncRuns().Where(r => Keys.SyncId.TryParse(r.SyncId, out _)).ToList();

        // Pass 1 finds the latest timestamp anywhere (sync runs, records, recognised annotations): the shift
        // must be known before the first record is written. It decodes but hashes nothing.
        var observe = new ValueTransform(null, TimestampShift.None);
        foreach (var run in runs)
        {
            observe.Time(run.StartedAt);
            observe.Time(run.EndedAt);
            var sync = Keys.SyncId.Parse(run.SyncId);
            Drain(source.ResourceTypes(sync).Select(r => ResourceType(r, observe)), cancellationToken);
            Drain(source.Resources(sync).Select(r => Resource(r, observe)), cancellationToken);
            Drain(source.Entitlements(sync).Select(r => Entitlement(r, observe)), cancellationToken);
            Drain(source.Grants(sync).Select(r => Grant(r, observe)), cancellationToken);
            Drain(source.Assets(sync).Select(r => observe.Time(r.DiscoveredAt)), cancellationToken);
        }

        var shift = TimestampShift.Between(observe.Latest, options.Anchor);
        var values = new ValueTransform(names, shift);
        var written = new List<SanitizedSync>();
        foreach (var run in runs)
        {
            var sync = Keys.SyncId.Parse(run.SyncId);
            var newId = names.SyncId(sync, shift.Delta);
            RecordCounts counts;
            using (var loader = target.BeginBulkLoad(newId))
            {
                counts = StoreCopy.Load(
                    loader,
                    source.ResourceTypes(sync).Select(r => ResourceType(r, values)),
                    source.Resources(sync).Select(r => Resource(r, values)),
                    source.Entitlements(sync).Select(r => Entitlement(r, values)),
                    source.Grants(sync).Select(r => Grant(r, values)),
                    source.Assets(sync).Select(r => Asset(r, values)),
                    cancellationToken);
            }

            target.PutSyncRun(new SyncRunRecord
            {
                SyncId = newId.ToString(),
                Type = run.Type,
                ParentSyncId = SyncRef(run.ParentSyncId, names, shift),
                StartedAt = values.Time(run.StartedAt),
                EndedAt = values.Time(run.EndedAt),
                // The sync token is the connector's resume state: opaque, and free to hold anything; it goes.
                SupportsDiff = run.SupportsDiff,
                LinkedSyncId = SyncRef(run.LinkedSyncId, names, shift),
                Compacted = run.Compacted,
            });
            written.Add(new SanitizedSync(sync, newId, counts));
        }

        return new SanitizeResult(written, shift.Delta, values.KeptAnnotations, values.DroppedAnnotations);
    }

    // Every record is built field by field from an allow-list (never cloned), so a field this code does not
    // know (a newer schema, or unknown fields a hostile file carries) is not copied.
    private static ResourceTypeRecord ResourceType(ResourceTypeRecord r, ValueTransform v)
    {
        // The resource type id ("user", "group") is the connector's schema, not tenant data; baton keeps it too.
        var result = new ResourceTypeRecord
        {
            ExternalId = r.ExternalId,
            DisplayName = v.Identity(r.DisplayName),
            Description = v.Identity(r.Description),
            DiscoveredAt = v.Time(r.DiscoveredAt),
            SourcedExternally = r.SourcedExternally,
        };
        result.Traits.Add(r.Traits);
        v.Annotations(r.Annotations, result.Annotations);
        return result;
    }

    private static ResourceRecord Resource(ResourceRecord r, ValueTransform v)
    {
        var result = new ResourceRecord
        {
            ResourceTypeId = r.ResourceTypeId,
            ResourceId = v.Identity(r.ResourceId),
            DisplayName = v.Identity(r.DisplayName),
            Description = v.Identity(r.Description),
            Parent = r.Parent is { } p ? new ResourceRef { ResourceTypeId = p.ResourceTypeId, ResourceId = v.Identity(p.ResourceId) } : null,
            DiscoveredAt = v.Time(r.DiscoveredAt),
            Profile = v.Struct(r.Profile),
            Status = r.Status is { } s ? new StatusRecord { Status = s.Status, Details = v.Identity(s.Details) } : null,
            CreatedAt = v.Time(r.CreatedAt),
            SourceScopeKey = v.Identity(r.SourceScopeKey),
            IconAssetExternalId = v.Identity(r.IconAssetExternalId),
        };
        v.Annotations(r.Annotations, result.Annotations);
        return result;
    }

    private static EntitlementRecord Entitlement(EntitlementRecord r, ValueTransform v)
    {
        var result = new EntitlementRecord
        {
            ExternalId = v.Identity(r.ExternalId),
            Resource = r.Resource is { } res ? new ResourceRef { ResourceTypeId = res.ResourceTypeId, ResourceId = v.Identity(res.ResourceId) } : null,
            DisplayName = v.Identity(r.DisplayName),
            Description = v.Identity(r.Description),
            Purpose = r.Purpose,
            DiscoveredAt = v.Time(r.DiscoveredAt),
            Slug = v.Identity(r.Slug),
            SourceScopeKey = v.Identity(r.SourceScopeKey),
        };
        result.GrantableToResourceTypeIds.Add(r.GrantableToResourceTypeIds);
        v.Annotations(r.Annotations, result.Annotations);
        return result;
    }

    private static GrantRecord Grant(GrantRecord r, ValueTransform v)
    {
        var result = new GrantRecord
        {
            ExternalId = v.Identity(r.ExternalId),
            Entitlement = r.Entitlement is { } e
                ? new EntitlementRef { ResourceTypeId = e.ResourceTypeId, ResourceId = v.Identity(e.ResourceId), EntitlementId = v.Identity(e.EntitlementId) }
                : null,
            Principal = r.Principal is { } p ? new PrincipalRef { ResourceTypeId = p.ResourceTypeId, ResourceId = v.Identity(p.ResourceId) } : null,
            DiscoveredAt = v.Time(r.DiscoveredAt),
            NeedsExpansion = r.NeedsExpansion,
            SourceScopeKey = v.Identity(r.SourceScopeKey),
        };
        if (r.Expansion is { } x)
        {
            // Entitlement ids map exactly as the entitlements' own ids do, so the expansion graph is unchanged.
            result.Expansion = new GrantExpandableRecord { Shallow = x.Shallow };
            result.Expansion.EntitlementIds.Add(x.EntitlementIds.Select(v.Identity));
            result.Expansion.ResourceTypeIds.Add(x.ResourceTypeIds);
        }

        foreach (var (key, source) in r.Sources)
        {
            result.Sources[v.Identity(key)] = new GrantSourceRecord
            {
                ResourceTypeId = source.ResourceTypeId,
                ResourceId = v.Identity(source.ResourceId),
                EntitlementId = v.Identity(source.EntitlementId),
                IsDirect = source.IsDirect,
            };
        }

        v.Annotations(r.Annotations, result.Annotations);
        return result;
    }

    private static AssetRecord Asset(AssetRecord r, ValueTransform v) => new()
    {
        ExternalId = v.Identity(r.ExternalId),
        ContentType = r.ContentType,
        Data = ByteString.CopyFrom(r.ContentType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) ? PngPlaceholder : [0]),
        DiscoveredAt = v.Time(r.DiscoveredAt),
    };

    /// <summary>A reference to another sync: mapped exactly as that sync's own id is, so links keep pointing at it.</summary>
    private static string SyncRef(string id, Pseudonymizer names, TimestampShift shift)
    {
        if (string.IsNullOrEmpty(id))
        {
            return string.Empty;
        }

        return Keys.SyncId.TryParse(id, out var parsed) ? names.SyncId(parsed, shift.Delta).ToString() : names.Id(id);
    }

    private static void Drain<T>(IEnumerable<T> records, CancellationToken cancellationToken)
    {
        long n = 0;
        foreach (var _ in records)
        {
            if ((++n & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
    }
}
