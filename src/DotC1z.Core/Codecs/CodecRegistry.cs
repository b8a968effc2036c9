using System.Collections.Concurrent;
using System.Collections.Frozen;
using DotC1z.Records;
using Google.Protobuf.Reflection;

namespace DotC1z.Codecs;

/// <summary>
/// Maps protobuf full names to codecs. The direct codecs of the six canonical records are
/// registered in the static initialiser, after which the table is a frozen dictionary: lookups
/// take no lock and nothing can be added later. Any other message type gets a
/// <see cref="ReflectionCodec"/>, built once per type and cached.
/// </summary>
public static class CodecRegistry
{
    private static readonly FrozenDictionary<string, IRecordCodec> Direct = BuildDirect();
    private static readonly ConcurrentDictionary<string, ReflectionCodec> Reflection = new(StringComparer.Ordinal);

    /// <summary>Direct codec for resource types.</summary>
    public static DirectCodec<ResourceTypeRecord> ResourceType { get; } = (DirectCodec<ResourceTypeRecord>)Direct[ResourceTypeRecord.Descriptor.FullName];

    /// <summary>Direct codec for resources (sorts the profile struct).</summary>
    public static ResourceRecordCodec Resource { get; } = (ResourceRecordCodec)Direct[ResourceRecord.Descriptor.FullName];

    /// <summary>Direct codec for entitlements.</summary>
    public static DirectCodec<EntitlementRecord> Entitlement { get; } = (DirectCodec<EntitlementRecord>)Direct[EntitlementRecord.Descriptor.FullName];

    /// <summary>Direct codec for grants (sorts the sources map).</summary>
    public static GrantRecordCodec Grant { get; } = (GrantRecordCodec)Direct[GrantRecord.Descriptor.FullName];

    /// <summary>Direct codec for assets.</summary>
    public static DirectCodec<AssetRecord> Asset { get; } = (DirectCodec<AssetRecord>)Direct[AssetRecord.Descriptor.FullName];

    /// <summary>Direct codec for sync runs.</summary>
    public static DirectCodec<SyncRunRecord> SyncRun { get; } = (DirectCodec<SyncRunRecord>)Direct[SyncRunRecord.Descriptor.FullName];

    /// <summary>Full names that have a direct codec, sorted.</summary>
    public static IReadOnlyList<string> RegisteredNames { get; } = [.. Direct.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The codec for a message type: its direct codec if registered, else a cached reflection codec (never null).</summary>
    /// <param name="descriptor">The message descriptor.</param>
    /// <returns>The codec; repeated calls for one type return the same instance.</returns>
    public static IRecordCodec Lookup(MessageDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        if (Direct.TryGetValue(descriptor.FullName, out var codec))
        {
            return codec;
        }

        return Reflection.GetOrAdd(descriptor.FullName, static (_, d) => new ReflectionCodec(d), descriptor);
    }

    /// <summary>Looks a codec up by full message name among the direct codecs and the reflection codecs built so far.</summary>
    /// <param name="fullName">The protobuf full name.</param>
    /// <param name="codec">The codec when found.</param>
    /// <returns>Whether one is known.</returns>
    public static bool TryLookup(string fullName, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IRecordCodec? codec)
    {
        if (Direct.TryGetValue(fullName, out codec))
        {
            return true;
        }

        if (Reflection.TryGetValue(fullName, out var reflection))
        {
            codec = reflection;
            return true;
        }

        codec = null;
        return false;
    }

    private static FrozenDictionary<string, IRecordCodec> BuildDirect()
    {
        IRecordCodec[] codecs =
        [
            new DirectCodec<ResourceTypeRecord>(),
            new ResourceRecordCodec(),
            new DirectCodec<EntitlementRecord>(),
            new GrantRecordCodec(),
            new DirectCodec<AssetRecord>(),
            new DirectCodec<SyncRunRecord>(),
        ];
        return codecs.ToFrozenDictionary(static c => c.MessageName, StringComparer.Ordinal);
    }
}
