using System.Buffers;
using System.Text;
using DotC1z.Codecs;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Engine.Rocks.Tests;

/// <summary>The bulk loader's sorted grant sets against the same grants added one by one, ids colliding with records either way.</summary>
public sealed class SortedGrantSetTests : IDisposable
{
    private readonly TempDir _dir = new("sorted-set");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_sorted_set_loads_as_its_grants_added_one_by_one_at_that_point_would()
    {
        int seed0 = Seeds.Get(31_001);
        int collided = 0, knownDigests = 0;
        for (int seed = seed0; seed < seed0 + 40; seed++)
        {
            var rng = new Random(seed);
            string Id() => rng.Next(4) switch
            {
                0 => $"g{rng.Next(60)}",
                1 => $"g{rng.Next(60)}:\u00e9",
                2 => $"g{rng.Next(60)}\u0001x",
                _ => $"h{rng.Next(60)}",
            };
            GrantRecord Grant(string id) => new()
            {
                ExternalId = id,
                Entitlement = new EntitlementRef { EntitlementId = $"e{rng.Next(5)}", ResourceTypeId = "group", ResourceId = $"r{rng.Next(3)}" },
                Principal = new PrincipalRef { ResourceTypeId = rng.Next(2) == 0 ? "user" : "user2", ResourceId = $"p{rng.Next(8)}" },
                NeedsExpansion = false,
            };

            var before = Enumerable.Range(0, rng.Next(40)).Select(_ => Grant(Id())).ToList();
            var set = Enumerable.Range(0, 1 + rng.Next(80)).Select(_ => Id()).Distinct().Select(Grant).ToList();
            var after = Enumerable.Range(0, rng.Next(10)).Select(_ => Grant(Id())).ToList();
            bool giveDigests = seed % 2 == 0;

            using var byRecords = RocksStore.Open(_dir.Combine($"r{seed}"), new RocksStoreOptions { Durability = RocksDurability.NoSync });
            var a = byRecords.StartSync(SyncType.Full);
            using (var loader = byRecords.BeginBulkLoad(a))
            {
                before.Concat(set).Concat(after).ToList().ForEach(loader.Add);
                loader.Complete();
            }

            // Small chunks on odd seeds: the records spill into runs, which the merge does not treat as distinct.
            using var bySet = RocksStore.Open(_dir.Combine($"s{seed}"), new RocksStoreOptions { Durability = RocksDurability.NoSync, BulkChunkRecords = seed % 2 == 1 ? 7 : 1_000_000 });
            var b = bySet.StartSync(SyncType.Full);
            using (var loader = bySet.BeginBulkLoad(b))
            {
                Assert.True(loader.AcceptsSortedGrantSets);
                before.ForEach(loader.Add);
                loader.AddSortedGrants(new ListSet(set, giveDigests));
                after.ForEach(loader.Add);
                loader.Complete();
            }

            var want = byRecords.Grants(a).Select(g => { g.SyncId = string.Empty; return g; }).ToList();
            var got = bySet.Grants(b).Select(g => { g.SyncId = string.Empty; return g; }).ToList();
            Assert.True(want.SequenceEqual(got), $"seed={seed} (replay with DOTC1Z_TEST_SEED={seed})");
            Assert.True(bySet.VerifyConsistency().IsConsistent, $"seed={seed}");
            collided += set.Any(g => before.Concat(after).Any(r => r.ExternalId == g.ExternalId)) ? 1 : 0;

            if (bySet.TryGetGrantDigests(b, out var known))
            {
                knownDigests++;
                Assert.True(GrantDigest.ByEntitlement(bySet, b).OrderBy(p => p.Key, StringComparer.Ordinal).SequenceEqual(known.OrderBy(p => p.Key, StringComparer.Ordinal)), $"seed={seed}: known digests differ from the grants'");
            }
            else
            {
                // Only a set grant that lost to a later record makes the set's own digests wrong.
                Assert.True(giveDigests && set.Any(g => after.Any(r => r.ExternalId == g.ExternalId)), $"seed={seed}: digests were dropped without cause");
            }
        }

        Assert.True(collided > 10 && knownDigests > 10, $"collided={collided} known={knownDigests}");
    }

    /// <summary>A sorted set over records, each order sorted by its elements (ordinal UTF-8, element by element).</summary>
    private sealed class ListSet(List<GrantRecord> grants, bool giveDigests) : ISortedGrantSet
    {
        public long Count => grants.Count;

        public IReadOnlyDictionary<string, GrantDigest>? Digests => giveDigests
            ? grants.GroupBy(g => g.Entitlement.EntitlementId).ToDictionary(e => e.Key, e => e.Aggregate(default(GrantDigest), (d, g) => d.Add(g)))
            : null;

        public ISortedGrantCursor Open(GrantOrder order)
        {
            Func<GrantRecord, string[]> elements = order switch
            {
                GrantOrder.ById => g => [g.ExternalId],
                GrantOrder.ByEntitlement => g => [g.Entitlement.EntitlementId, g.Principal.ResourceTypeId, g.Principal.ResourceId, g.ExternalId],
                GrantOrder.ByPrincipal => g => [g.Principal.ResourceTypeId, g.Principal.ResourceId, g.ExternalId],
                _ => g => [g.Entitlement.ResourceTypeId, g.Entitlement.ResourceId, g.ExternalId],
            };
            var order2 = Enumerable.Range(0, grants.Count).ToList();
            order2.Sort((x, y) =>
            {
                var (ex, ey) = (elements(grants[x]), elements(grants[y]));
                for (int i = 0; i < ex.Length; i++)
                {
                    int c = Utf8Ordinal.Instance.Compare(ex[i], ey[i]);
                    if (c != 0)
                    {
                        return c;
                    }
                }

                return 0;
            });
            return new Cursor(grants, order2);
        }

        private sealed class Cursor(List<GrantRecord> grants, List<int> order) : ISortedGrantCursor
        {
            private int _at = -1;
            private byte[] _value = [];

            private GrantRecord G => grants[order[_at]];

            public long Ordinal => order[_at];

            public ReadOnlySpan<byte> ExternalId => Encoding.UTF8.GetBytes(G.ExternalId);

            public ReadOnlySpan<byte> EntitlementId => Encoding.UTF8.GetBytes(G.Entitlement.EntitlementId);

            public ReadOnlySpan<byte> EntitlementResourceType => Encoding.UTF8.GetBytes(G.Entitlement.ResourceTypeId);

            public ReadOnlySpan<byte> EntitlementResourceId => Encoding.UTF8.GetBytes(G.Entitlement.ResourceId);

            public ReadOnlySpan<byte> PrincipalType => Encoding.UTF8.GetBytes(G.Principal.ResourceTypeId);

            public ReadOnlySpan<byte> PrincipalId => Encoding.UTF8.GetBytes(G.Principal.ResourceId);

            public ReadOnlySpan<byte> Value => _value;

            public bool MoveNext()
            {
                if (++_at >= order.Count)
                {
                    return false;
                }

                byte[]? buffer = null;
                try
                {
                    Assert.Equal(OperationStatus.Done, GrantRecordCodec.EncodeCompactPooled(G, ref buffer, out int written, omitSyncId: true));
                    _value = buffer.AsSpan(0, written).ToArray();
                }
                finally
                {
                    if (buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }

                return true;
            }

            public void Dispose()
            {
            }
        }
    }
}
