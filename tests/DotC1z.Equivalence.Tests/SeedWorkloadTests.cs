using DotC1z.Engine.Rocks;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Equivalence.Tests;

/// <summary>The seed's four equivalence tests (docs/DESIGN.md §7.3), RocksDB vs the in-memory reference, with their exact expected counts.</summary>
public sealed class SeedWorkloadTests : IDisposable
{
    private readonly TempDir _dir = new("seed-equiv");
    private int _n;

    public void Dispose() => _dir.Dispose();

    private IC1zStore Rocks() => RocksStore.Open(_dir.Combine($"r{_n++}"), new RocksStoreOptions { Durability = RocksDurability.NoSync });

    private static GrantRecord G(string id, string ent, string pid) => new()
    {
        ExternalId = id,
        Entitlement = new EntitlementRef { EntitlementId = ent, ResourceTypeId = "app", ResourceId = "app" },
        Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = pid },
    };

    private (Observation Memory, Observation Rocks) Both(Workload w)
    {
        Observation m, r;
        using (var memory = new MemoryStore())
        {
            m = EquivalenceRunner.Run(memory, w);
        }

        using (var rocks = Rocks())
        {
            r = EquivalenceRunner.Run(rocks, w);
        }

        Assert.True(EquivalenceRunner.Compare(m, "memory", r, "rocks") is null, EquivalenceRunner.Compare(m, "memory", r, "rocks"));
        return (m, r);
    }

    private static int Count(Observation o, string label) =>
        int.Parse(o.Lines.Single(l => l.StartsWith(label + " n=", StringComparison.Ordinal))[(label.Length + 3)..], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Mixed_puts_and_deletes_give_the_seed_counts()
    {
        var rng = new Random(Seeds.Get(874));
        var ops = new List<Op>();
        var ids = new List<string>();
        for (int i = 0; i < 200; i++)
        {
            string id = SyncId.NewId(DateTimeOffset.UnixEpoch.AddYears(50), rng).ToString();
            ids.Add(id);
            string principal = (i % 4) switch
            {
                0 => "shared-principal-1",
                1 => "shared-principal-2",
                _ => SyncId.NewId(DateTimeOffset.UnixEpoch.AddYears(50), rng).ToString(),
            };
            ops.Add(new Op(OpKind.Put, 0, G(id, "ent-" + (char)('A' + (i % 5)), principal)));
        }

        for (int i = 0; i < 200; i += 8)
        {
            ops.Add(new Op(OpKind.Delete, 0, new GrantRecord { ExternalId = ids[i] }));
        }

        var (m, _) = Both(new Workload("mixed-puts-deletes", 1, ops));
        Assert.Equal(175, Count(m, "s0 grants"));
        foreach (char e in "ABCDE")
        {
            Assert.Equal(35, Count(m, "s0 by_entitlement ent-" + e));
        }

        Assert.Equal(0, Count(m, "s0 by_principal user/shared-principal-1") - 25);
        Assert.Equal(50, Count(m, "s0 by_principal user/shared-principal-2"));
        Assert.Equal(175, m.Lines.Count(l => l.StartsWith("s0 get grant", StringComparison.Ordinal) && !l.EndsWith("miss", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_empty_workload_is_empty_on_both()
    {
        var (m, _) = Both(new Workload("empty", 1, []));
        Assert.Equal(0, Count(m, "s0 grants"));
    }

    [Fact]
    public void A_single_grant_counts_once_everywhere()
    {
        var (m, _) = Both(new Workload("single", 1, [new Op(OpKind.Put, 0, G("ext-1", "ent-1", "alice"))]));
        Assert.Equal(1, Count(m, "s0 grants"));
        Assert.Equal(1, Count(m, "s0 by_entitlement ent-1"));
        Assert.Equal(1, Count(m, "s0 by_principal user/alice"));
    }

    [Fact]
    public void An_overwrite_moves_the_principal_index_entry()
    {
        var (m, r) = Both(new Workload("overwrite", 1, [new Op(OpKind.Put, 0, G("ext-1", "ent-1", "alice")), new Op(OpKind.Put, 0, G("ext-1", "ent-1", "bob"))]));
        Assert.Equal(1, Count(r, "s0 grants"));
        Assert.Equal(1, Count(r, "s0 by_entitlement ent-1"));
        Assert.Equal(0, Count(r, "s0 by_principal user/alice"));
        Assert.Equal(1, Count(r, "s0 by_principal user/bob"));
        Assert.Equal(m.Lines, r.Lines);
    }
}
