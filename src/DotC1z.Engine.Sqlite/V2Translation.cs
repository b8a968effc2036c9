using DotC1z.Connector.V2;
using DotC1z.Records;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Engine.Sqlite;

/// <summary>
/// Translation between our storage records and the <c>c1.connector.v2</c> messages of baton's v1 blobs.
/// </summary>
/// <remarks>
/// Carried both ways: identities, display names, descriptions, annotations (as opaque Any),
/// traits (as enum names without the <c>TRAIT_</c> prefix), purpose, slug, grantable-to resource
/// types (ids only), resource parent, status, profile, icon and created_at, and the <c>is_direct</c>
/// flag of grant sources. Not representable in v2 blobs (and documented in docs/INTEROP-V1.md):
/// <c>source_scope_key</c>, the extra ids inside <see cref="GrantSourceRecord"/>, unknown trait or
/// purpose strings. v2 fields with no storage record field (<c>baton_resource</c>,
/// <c>creation_source</c>, deprecated <c>external_id</c>, rich grantable-to/entitlement/principal
/// objects inside grants) are dropped on import.
/// </remarks>
public static class V2Translation
{
    private static readonly Google.Protobuf.Reflection.EnumDescriptor TraitEnum = ResourceType.Descriptor.EnumTypes[0];
    private static readonly Google.Protobuf.Reflection.EnumDescriptor PurposeEnum = Entitlement.Descriptor.EnumTypes[0];

    private const string GrantExpandableTypeUrl = "type.googleapis.com/c1.connector.v2.GrantExpandable";

    /// <summary>v2 → record.</summary>
    /// <param name="v">The v2 message.</param>
    /// <returns>The record.</returns>
    public static ResourceTypeRecord ToRecord(ResourceType v)
    {
        ArgumentNullException.ThrowIfNull(v);
        var r = new ResourceTypeRecord { ExternalId = v.Id, DisplayName = v.DisplayName, Description = v.Description, SourcedExternally = v.SourcedExternally };
        foreach (var t in v.Traits)
        {
            r.Traits.Add(TraitName(t));
        }

        r.Annotations.AddRange(v.Annotations);
        return r;
    }

    private static string TraitName(ResourceType.Types.Trait t) =>
        TraitEnum.FindValueByNumber((int)t)?.Name.Replace("TRAIT_", string.Empty, StringComparison.Ordinal) ?? ((int)t).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>record → v2.</summary>
    /// <param name="r">The record.</param>
    /// <returns>The v2 message.</returns>
    public static ResourceType ToV2(ResourceTypeRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var v = new ResourceType { Id = r.ExternalId, DisplayName = r.DisplayName, Description = r.Description, SourcedExternally = r.SourcedExternally };
        foreach (string t in r.Traits)
        {
            var value = TraitEnum.FindValueByName("TRAIT_" + t);
            if (value is not null)
            {
                v.Traits.Add((ResourceType.Types.Trait)value.Number);
            }
            else if (int.TryParse(t, System.Globalization.CultureInfo.InvariantCulture, out int n))
            {
                v.Traits.Add((ResourceType.Types.Trait)n);
            }
            else
            {
                v.Traits.Add(ResourceType.Types.Trait.Unspecified);
            }
        }

        v.Annotations.AddRange(r.Annotations);
        return v;
    }

    /// <summary>v2 → record.</summary>
    /// <param name="v">The v2 message.</param>
    /// <returns>The record.</returns>
    public static ResourceRecord ToRecord(Resource v)
    {
        ArgumentNullException.ThrowIfNull(v);
        var r = new ResourceRecord
        {
            ResourceTypeId = v.Id?.ResourceType ?? string.Empty,
            ResourceId = v.Id?.Resource ?? string.Empty,
            DisplayName = v.DisplayName,
            Description = v.Description,
            Profile = v.Profile,
            CreatedAt = v.CreatedAt,
            IconAssetExternalId = v.Icon?.Id ?? string.Empty,
        };
        if (v.ParentResourceId is { Resource.Length: > 0 } p)
        {
            r.Parent = new ResourceRef { ResourceTypeId = p.ResourceType, ResourceId = p.Resource };
        }

        if (v.Status is not null)
        {
            r.Status = new StatusRecord { Status = (int)v.Status.Status_, Details = v.Status.Details };
        }

        r.Annotations.AddRange(v.Annotations);
        return r;
    }

    /// <summary>record → v2.</summary>
    /// <param name="r">The record.</param>
    /// <returns>The v2 message.</returns>
    public static Resource ToV2(ResourceRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var v = new Resource
        {
            Id = new ResourceId { ResourceType = r.ResourceTypeId, Resource = r.ResourceId },
            DisplayName = r.DisplayName,
            Description = r.Description,
            Profile = r.Profile,
            CreatedAt = r.CreatedAt,
        };
        if (r.Parent is { ResourceId.Length: > 0 } p)
        {
            v.ParentResourceId = new ResourceId { ResourceType = p.ResourceTypeId, Resource = p.ResourceId };
        }

        if (r.IconAssetExternalId.Length > 0)
        {
            v.Icon = new AssetRef { Id = r.IconAssetExternalId };
        }

        if (r.Status is not null)
        {
            v.Status = new Status { Status_ = (Status.Types.ResourceStatus)r.Status.Status, Details = r.Status.Details };
        }

        v.Annotations.AddRange(r.Annotations);
        return v;
    }

    /// <summary>v2 → record.</summary>
    /// <param name="v">The v2 message.</param>
    /// <returns>The record.</returns>
    public static EntitlementRecord ToRecord(Entitlement v)
    {
        ArgumentNullException.ThrowIfNull(v);
        var r = new EntitlementRecord
        {
            ExternalId = v.Id,
            DisplayName = v.DisplayName,
            Description = v.Description,
            Slug = v.Slug,
            Purpose = v.Purpose == Entitlement.Types.PurposeValue.Unspecified
                ? string.Empty
                : PurposeEnum.FindValueByNumber((int)v.Purpose)?.Name.Replace("PURPOSE_VALUE_", string.Empty, StringComparison.Ordinal) ?? string.Empty,
        };
        if (v.Resource is not null)
        {
            r.Resource = new ResourceRef { ResourceTypeId = v.Resource.Id?.ResourceType ?? string.Empty, ResourceId = v.Resource.Id?.Resource ?? string.Empty };
        }

        foreach (var rt in v.GrantableTo)
        {
            r.GrantableToResourceTypeIds.Add(rt.Id);
        }

        r.Annotations.AddRange(v.Annotations);
        return r;
    }

    /// <summary>record → v2.</summary>
    /// <param name="r">The record.</param>
    /// <returns>The v2 message.</returns>
    public static Entitlement ToV2(EntitlementRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var v = new Entitlement { Id = r.ExternalId, DisplayName = r.DisplayName, Description = r.Description, Slug = r.Slug };
        if (r.Resource is not null)
        {
            v.Resource = new Resource { Id = new ResourceId { ResourceType = r.Resource.ResourceTypeId, Resource = r.Resource.ResourceId } };
        }

        var purpose = r.Purpose.Length == 0 ? null : PurposeEnum.FindValueByName("PURPOSE_VALUE_" + r.Purpose);
        v.Purpose = purpose is null ? Entitlement.Types.PurposeValue.Unspecified : (Entitlement.Types.PurposeValue)purpose.Number;
        foreach (string id in r.GrantableToResourceTypeIds)
        {
            v.GrantableTo.Add(new ResourceType { Id = id });
        }

        v.Annotations.AddRange(r.Annotations);
        return v;
    }

    /// <summary>
    /// v2 → record. A <c>GrantExpandable</c> Any annotation (older files keep it in the blob) is lifted
    /// into <c>expansion</c>/<c>needs_expansion</c> like baton's backfill when no expansion column value is given.
    /// </summary>
    /// <param name="v">The v2 message.</param>
    /// <param name="expansion">The <c>expansion</c> column, when the file has one.</param>
    /// <param name="needsExpansion">The <c>needs_expansion</c> column, when the file has one.</param>
    /// <returns>The record.</returns>
    public static GrantRecord ToRecord(Grant v, GrantExpandable? expansion = null, bool? needsExpansion = null)
    {
        ArgumentNullException.ThrowIfNull(v);
        var r = new GrantRecord { ExternalId = v.Id };
        if (v.Entitlement is not null)
        {
            r.Entitlement = new EntitlementRef
            {
                EntitlementId = v.Entitlement.Id,
                ResourceTypeId = v.Entitlement.Resource?.Id?.ResourceType ?? string.Empty,
                ResourceId = v.Entitlement.Resource?.Id?.Resource ?? string.Empty,
            };
        }

        if (v.Principal is not null)
        {
            r.Principal = new PrincipalRef { ResourceTypeId = v.Principal.Id?.ResourceType ?? string.Empty, ResourceId = v.Principal.Id?.Resource ?? string.Empty };
        }

        foreach (var a in v.Annotations)
        {
            if (expansion is null && needsExpansion is null && a.TypeUrl == GrantExpandableTypeUrl)
            {
                var ge = GrantExpandable.Parser.ParseFrom(a.Value);
                if (ge.EntitlementIds.Any(id => !string.IsNullOrWhiteSpace(id)))
                {
                    r.Expansion = ToRecord(ge);
                    r.NeedsExpansion = true;
                }

                continue;
            }

            r.Annotations.Add(a);
        }

        if (expansion is not null)
        {
            r.Expansion = ToRecord(expansion);
        }

        if (needsExpansion is not null)
        {
            r.NeedsExpansion = needsExpansion.Value;
        }

        if (v.Sources is not null)
        {
            foreach (var (key, source) in v.Sources.Sources)
            {
                r.Sources[key] = new GrantSourceRecord { IsDirect = source?.IsDirect ?? false };
            }
        }

        return r;
    }

    /// <summary>record → v2 (the expansion goes to its own column, see <see cref="ExpansionOf"/>).</summary>
    /// <param name="r">The record.</param>
    /// <returns>The v2 message.</returns>
    public static Grant ToV2(GrantRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var v = new Grant { Id = r.ExternalId };
        if (r.Entitlement is not null)
        {
            v.Entitlement = new Entitlement
            {
                Id = r.Entitlement.EntitlementId,
                Resource = new Resource { Id = new ResourceId { ResourceType = r.Entitlement.ResourceTypeId, Resource = r.Entitlement.ResourceId } },
            };
        }

        if (r.Principal is not null)
        {
            v.Principal = new Resource { Id = new ResourceId { ResourceType = r.Principal.ResourceTypeId, Resource = r.Principal.ResourceId } };
        }

        v.Annotations.AddRange(r.Annotations);
        if (r.Sources.Count > 0)
        {
            v.Sources = new GrantSources();
            foreach (var (key, source) in r.Sources.OrderBy(p => p.Key, Keys.Utf8Ordinal.Instance))
            {
                v.Sources.Sources[key] = new GrantSources.Types.GrantSource { IsDirect = source?.IsDirect ?? false };
            }
        }

        return v;
    }

    /// <summary>The bare GrantExpandable for the <c>expansion</c> column, or null.</summary>
    /// <param name="r">The record.</param>
    /// <returns>The message or null.</returns>
    public static GrantExpandable? ExpansionOf(GrantRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (r.Expansion is null)
        {
            return null;
        }

        var e = new GrantExpandable { Shallow = r.Expansion.Shallow };
        e.EntitlementIds.AddRange(r.Expansion.EntitlementIds);
        e.ResourceTypeIds.AddRange(r.Expansion.ResourceTypeIds);
        return e;
    }

    private static GrantExpandableRecord ToRecord(GrantExpandable e)
    {
        var r = new GrantExpandableRecord { Shallow = e.Shallow };
        r.EntitlementIds.AddRange(e.EntitlementIds);
        r.ResourceTypeIds.AddRange(e.ResourceTypeIds);
        return r;
    }

    /// <summary>Formats a timestamp as baton's datetime text: <c>YYYY-MM-DD HH:MM:SS[.fraction]</c>, trailing zeros trimmed (docs/INTEROP-V1.md §2.4). We write UTC.</summary>
    /// <param name="t">The timestamp.</param>
    /// <returns>The text.</returns>
    public static string FormatTime(Timestamp t)
    {
        ArgumentNullException.ThrowIfNull(t);
        var dt = DateTimeOffset.FromUnixTimeSeconds(t.Seconds).UtcDateTime;
        string text = dt.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        if (t.Nanos > 0)
        {
            text += "." + t.Nanos.ToString("D9", System.Globalization.CultureInfo.InvariantCulture).TrimEnd('0');
        }

        return text;
    }

    /// <summary>Parses baton's datetime text (1–9 fractional digits or none); returns null for empty or unparsable text.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The timestamp, or null.</returns>
    public static Timestamp? ParseTime(string? text)
    {
        if (string.IsNullOrEmpty(text) || text.Length < 19)
        {
            return null;
        }

        if (!DateTime.TryParseExact(text.AsSpan(0, 19), "yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var dt))
        {
            return null;
        }

        int nanos = 0;
        if (text.Length > 20 && text[19] == '.')
        {
            var frac = text.AsSpan(20);
            if (frac.Length > 9 || !int.TryParse(frac, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int f))
            {
                return null;
            }

            nanos = f * (int)Math.Pow(10, 9 - frac.Length);
        }

        return new Timestamp { Seconds = new DateTimeOffset(dt, TimeSpan.Zero).ToUnixTimeSeconds(), Nanos = nanos };
    }
}
