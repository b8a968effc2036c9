using DotC1z.Engine.Rocks;
using DotC1z.Engine.Sqlite;
using DotC1z.Keys;
using DotC1z.Operations;
using DotC1z.Storage;
using DotC1z.Tests.Shared;

namespace DotC1z.Equivalence.Tests;

/// <summary>Seeded random workloads through memory, RocksDB and SQLite, and RocksDB in several configurations.</summary>
public sealed class RandomWorkloadTests : IDisposable
{
    private readonly TempDir _dir = new("random-equiv");
    private int _n;

    public void Dispose() => _dir.Dispose();

    private IC1zStore Rocks() => RocksStore.Open(_dir.Combine($"r{Interlocked.Increment(ref _n)}"), new RocksStoreOptions { Durability = RocksDurability.NoSync });

    private IC1zStore Sqlite() => SqliteStore.Open(_dir.Combine($"s{Interlocked.Increment(ref _n)}.sqlite"), new SqliteStoreOptions { Durable = false });

    [Fact]
    public void Two_hundred_seeded_workloads_agree_on_memory_rocks_and_sqlite()
    {
        int first = Seeds.Get(1000);
        (string, Func<IC1zStore>)[] engines = [("memory", () => new MemoryStore()), ("rocks", Rocks), ("sqlite", Sqlite)];
        for (int seed = first; seed < first + 200; seed++)
        {
            string? diff = EquivalenceCheck(seed, 40, engines);
            Assert.True(diff is null, diff);
        }
    }

    private string? EquivalenceCheck(int seed, int ops, (string, Func<IC1zStore>)[] engines) =>
        EquivalenceRunner.CheckEngines(seed, ops, engines, replayDirectory: _dir.Combine("replays"));

    private void AssertConfiguration(string name, Func<IC1zStore, IReadOnlyList<SyncId>, (IC1zStore, IReadOnlyList<SyncId>)> after, int seeds = 15)
    {
        int first = Seeds.Get(5000);
        for (int seed = first; seed < first + seeds; seed++)
        {
            var w = WorkloadGenerator.Generate(seed, 60);
            Observation expected;
            using (var memory = new MemoryStore())
            {
                expected = EquivalenceRunner.Run(memory, w);
            }

            var store = Rocks();
            IC1zStore? observed = null;
            try
            {
                var actual = EquivalenceRunner.Run(store, w, (s, syncs) =>
                {
                    var r = after(s, syncs);
                    observed = r.Item1;
                    return r;
                });
                string? diff = EquivalenceRunner.Compare(expected, "memory", actual, name);
                Assert.True(diff is null, $"seed={seed}: {diff}");
            }
            finally
            {
                if (!ReferenceEquals(observed, store))
                {
                    observed?.Dispose();
                }

                store.Dispose();
            }
        }
    }

    [Fact]
    public void Rocks_after_reopen_agrees_with_memory() =>
        AssertConfiguration("rocks-reopened", (s, syncs) =>
        {
            string dir = ((RocksStore)s).Directory;
            s.Dispose();
            return (RocksStore.Open(dir, new RocksStoreOptions { ReadOnly = true }), syncs);
        });

    [Fact]
    public void Rocks_after_a_C1Z3_save_and_open_agrees_with_memory() =>
        AssertConfiguration("rocks-c1z3", (s, syncs) =>
        {
            string file = _dir.Combine($"w{Interlocked.Increment(ref _n)}.c1z");
            C1zFile.Save((RocksStore)s, file);
            return (C1zFile.Open(file, new C1zOpenOptions { TempDirectory = _dir.Path }), syncs);
        });

    [Fact]
    public void Rocks_after_compaction_with_an_empty_base_agrees_with_memory() =>
        AssertConfiguration("rocks-compacted", (s, syncs) =>
        {
            var compacted = new List<SyncId>();
            foreach (var sync in syncs)
            {
                var empty = s.StartSync(Records.SyncType.Full);
                compacted.Add(SyncCompactor.Compact(s, empty, sync));
            }

            return (s, compacted);
        });

    [Fact]
    public void A_replay_file_round_trips_and_the_shrinker_keeps_the_failure()
    {
        var w = WorkloadGenerator.Generate(Seeds.Get(77), 80);
        string file = _dir.Combine("replay.json");
        w.Save(file);
        var back = Workload.Load(file);
        Assert.Equal(w.Ops.Count, back.Ops.Count);
        for (int i = 0; i < w.Ops.Count; i++)
        {
            Assert.Equal(w.Ops[i].Kind, back.Ops[i].Kind);
            Assert.Equal(w.Ops[i].Record, back.Ops[i].Record);
        }

        // A planted "bug": any workload containing a delete fails. The shrinker must get it down to one op.
        bool Fails(Workload x) => x.Ops.Any(o => o.Kind == OpKind.Delete);
        Assert.True(Fails(w));
        var shrunk = EquivalenceRunner.Shrink(w, Fails);
        Assert.Single(shrunk.Ops);
        Assert.True(Fails(shrunk));
    }

    [Fact]
    public void The_comparison_sees_a_planted_difference()
    {
        var w = WorkloadGenerator.Generate(Seeds.Get(91), 50);
        Observation a;
        using (var m = new MemoryStore())
        {
            a = EquivalenceRunner.Run(m, w);
        }

        var lines = a.Lines.ToList();
        int victim = lines.FindIndex(l => l.Contains("grants n=", StringComparison.Ordinal));
        lines[victim] += "0";
        Assert.NotNull(EquivalenceRunner.Compare(a, "a", new Observation(lines), "b"));
    }
}
