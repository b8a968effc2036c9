using DotC1z.Records;
using Google.Protobuf;

namespace DotC1z.Equivalence;

/// <summary>
/// Seeded random workloads over all five record kinds and several syncs: puts, overwrites (ids are
/// drawn from small pools so they repeat), deletes, and hostile ids — NUL and 0x01 characters,
/// characters just below the top of the BMP, very long ids, non-ASCII text with surrogate pairs,
/// and ids that are prefixes of other ids. Only fields every engine stores losslessly are set, so
/// any difference is a real one.
/// </summary>
public static class WorkloadGenerator
{
    private static readonly string[] Hostile =
    [
        "a", "ab", "a\0", "a\0b", "a\u0001", "\u0001", "\0", "\u00ff", "\uffef", "ÿ", "éß", "😀", "a😀", "\uD83D\uDE00x",
        "user", "user-1", "user-10", "user\0x", new string('x', 300), new string('\0', 3), "ent", "ent-", "ent-1", "group:eng:member",
    ];

    private static readonly string[] Traits = ["USER", "GROUP", "ROLE", "APP"];
    private static readonly string[] Purposes = [string.Empty, "ASSIGNMENT", "PERMISSION", "OWNERSHIP"];

    /// <summary>Generates a workload.</summary>
    /// <param name="seed">The seed; the same seed always gives the same workload.</param>
    /// <param name="ops">Number of operations.</param>
    /// <param name="syncs">Number of syncs (default 2).</param>
    /// <param name="hostileIds">Whether to draw ids from the hostile pool (else plain ASCII ids).</param>
    /// <returns>The workload.</returns>
    public static Workload Generate(int seed, int ops, int syncs = 2, bool hostileIds = true)
    {
        var rng = new Random(seed);
        string Id(string prefix, int pool)
        {
            if (hostileIds && rng.Next(4) == 0)
            {
                return Hostile[rng.Next(Hostile.Length)];
            }

            return prefix + rng.Next(pool).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var list = new List<Op>(ops);
        for (int i = 0; i < ops; i++)
        {
            int sync = rng.Next(syncs);
            bool delete = rng.Next(5) == 0;
            IMessage record = rng.Next(10) switch
            {
                0 => new ResourceTypeRecord { ExternalId = Id("rt", 4), DisplayName = delete ? string.Empty : Id("name", 50), Traits = { delete ? [] : Traits.Take(rng.Next(3)) } },
                1 or 2 => Resource(rng, Id, delete),
                3 or 4 => new EntitlementRecord
                {
                    ExternalId = Id("ent-", 12),
                    Resource = delete ? null : new ResourceRef { ResourceTypeId = Id("rt", 4), ResourceId = Id("r", 10) },
                    Slug = delete ? string.Empty : Id("slug", 5),
                    Purpose = delete ? string.Empty : Purposes[rng.Next(Purposes.Length)],
                    GrantableToResourceTypeIds = { delete ? [] : Enumerable.Range(0, rng.Next(3)).Select(_ => Id("rt", 4)) },
                },
                9 => new AssetRecord { ExternalId = Id("asset", 5), ContentType = delete ? string.Empty : "image/png", Data = delete ? ByteString.Empty : ByteString.CopyFrom([.. Enumerable.Range(0, rng.Next(8)).Select(_ => (byte)rng.Next(256))]) },
                _ => Grant(rng, Id, delete),
            };
            list.Add(new Op(delete ? OpKind.Delete : OpKind.Put, sync, record));
        }

        return new Workload($"random-{seed}", syncs, list);
    }

    private static ResourceRecord Resource(Random rng, Func<string, int, string> id, bool delete)
    {
        var r = new ResourceRecord { ResourceTypeId = id("rt", 4), ResourceId = id("r", 10) };
        if (!delete)
        {
            r.DisplayName = id("name", 50);
            if (rng.Next(2) == 0)
            {
                r.Parent = new ResourceRef { ResourceTypeId = id("rt", 4), ResourceId = id("r", 10) };
            }
        }

        return r;
    }

    private static GrantRecord Grant(Random rng, Func<string, int, string> id, bool delete)
    {
        var g = new GrantRecord { ExternalId = id("g", 40) };
        if (delete)
        {
            return g;
        }

        g.Entitlement = new EntitlementRef { EntitlementId = id("ent-", 12), ResourceTypeId = id("rt", 4), ResourceId = id("r", 10) };
        g.Principal = new PrincipalRef { ResourceTypeId = id("user", 2), ResourceId = id("u", 20) };
        if (rng.Next(4) == 0)
        {
            g.NeedsExpansion = true;
            g.Expansion = new GrantExpandableRecord { EntitlementIds = { id("ent-", 12) }, Shallow = rng.Next(2) == 0 };
        }

        if (rng.Next(4) == 0)
        {
            g.Sources.Add(id("ent-", 12), new GrantSourceRecord { IsDirect = rng.Next(2) == 0 });
        }

        return g;
    }
}
