using BenchmarkDotNet.Attributes;
using DotC1z.Codecs;
using DotC1z.Engine.Rocks;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Benchmarks.Read;

/// <summary>
/// The read path on a 100,000-grant RocksDB store (the bench fixture's shape: 100 entitlements,
/// 1,000 principals): one point read, a batched read of 1,000 ids, and a whole-sync scan as records
/// and as id-only rows. The per-row figures are the scan's divided by its 100,000 rows.
/// </summary>
[MemoryDiagnoser]
public class ReadPathBenchmarks
{
    private const int Grants = 100_000;
    private readonly string[] _batch = new string[1000];
    private readonly GrantRecord?[] _records = new GrantRecord?[1000];
    private string _dir = string.Empty;
    private RocksStore _store = null!;
    private SyncId _sync;
    private string[] _ids = [];
    private int _next;

    /// <summary>Builds the store (not measured) and warms its block cache.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _dir = Path.Combine(Path.GetTempPath(), "dotc1z-readbench-" + Guid.NewGuid().ToString("N"));
        _store = RocksStore.Open(_dir, new RocksStoreOptions { Durability = RocksDurability.NoSync });
        _sync = _store.StartSync(SyncType.Full);
        DotC1z.Bench.FixtureGenerator.Load(_store, _sync, new DotC1z.Bench.FixtureSpec(Grants));
        _store.EndSync(_sync);
        _ids = [.. _store.Grants(_sync).Select(g => g.ExternalId)];
        var rng = new Random(1);
        for (int i = 0; i < _batch.Length; i++)
        {
            _batch[i] = _ids[rng.Next(_ids.Length)];
        }
    }

    /// <summary>Closes and deletes the store.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>One point read (<c>TryGetGrant</c>) of a grant: key on the stack, value copied once, parsed.</summary>
    /// <returns>The record.</returns>
    [Benchmark]
    public GrantRecord? PointRead()
    {
        _next = (_next + 7919) % _ids.Length;
        _store.TryGetGrant(_sync, _ids[_next], out var g);
        return g;
    }

    /// <summary>1,000 random ids in one <c>TryGetGrants</c> call (batched MultiGet).</summary>
    /// <returns>Ids found.</returns>
    [Benchmark(OperationsPerInvoke = 1000)]
    public int MultiGet1000() => _store.TryGetGrants(_sync, _batch, _records);

    /// <summary>The whole sync as records (<c>Grants</c>): one decode and one record per row.</summary>
    /// <returns>Rows.</returns>
    [Benchmark(OperationsPerInvoke = Grants)]
    public long ScanRecordsPerRow()
    {
        long n = 0;
        foreach (var g in _store.Grants(_sync))
        {
            n += g.ExternalId.Length;
        }

        return n;
    }

    /// <summary>The whole sync as id-only rows (<c>VisitGrants</c>): expected 0 B per row.</summary>
    /// <returns>Rows.</returns>
    [Benchmark(OperationsPerInvoke = Grants)]
    public long ScanIdsPerRow()
    {
        var visitor = new IdLengths();
        _store.VisitGrants(_sync, RecordListing.Grants(), ref visitor);
        return visitor.Total;
    }

    private struct IdLengths : IGrantRowVisitor
    {
        public long Total;

        public bool Visit(in GrantRow row)
        {
            Total += row.ExternalId.Length + row.PrincipalResourceId.Length;
            return true;
        }
    }
}

/// <summary>Decoding one stored grant value: a record (with and without a scan's string table) or an id-only row.</summary>
[MemoryDiagnoser]
public class RowDecodeBenchmarks
{
    private readonly byte[][] _values = new byte[1024][];
    private readonly Utf8StringTable _strings = new();
    private int _next;

    /// <summary>1,024 stored values of the bench fixture's shape.</summary>
    [GlobalSetup]
    public void Setup()
    {
        int i = 0;
        foreach (var g in DotC1z.Bench.FixtureGenerator.Grants(new DotC1z.Bench.FixtureSpec(_values.Length)))
        {
            g.DiscoveredAt = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = 1_763_000_000 + i };
            _values[i++] = CodecRegistry.Grant.ToArray(g);
        }
    }

    private byte[] Next() => _values[_next = (_next + 1) & (_values.Length - 1)];

    /// <summary>The record, every string decoded and allocated.</summary>
    /// <returns>The record.</returns>
    [Benchmark(Baseline = true)]
    public GrantRecord Record() => CodecRegistry.Grant.Decode(Next());

    /// <summary>The record, repeated reference ids shared through a scan's string table.</summary>
    /// <returns>The record.</returns>
    [Benchmark]
    public GrantRecord RecordWithStringTable() => CodecRegistry.Grant.Decode(Next(), _strings);

    /// <summary>Id-only row: UTF-8 spans over the value, nothing allocated.</summary>
    /// <returns>A field length (so the work is observable).</returns>
    [Benchmark]
    public int IdOnlyRow() => GrantRow.TryParse(Next(), out var row) ? row.ExternalId.Length + row.EntitlementId.Length : -1;
}
