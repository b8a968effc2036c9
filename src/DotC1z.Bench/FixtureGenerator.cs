using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Bench;

/// <summary>Shape of a synthetic sync (docs/CLI.md §3.1).</summary>
/// <param name="Grants">Grants to generate.</param>
/// <param name="Entitlements">Distinct entitlements.</param>
/// <param name="Principals">Distinct principals.</param>
/// <param name="Seed">PRNG seed.</param>
public sealed record FixtureSpec(long Grants, int Entitlements = 100, int Principals = 1000, int Seed = 1)
{
    /// <summary>The default sync id for a seed: fixed time and seeded payload, so equal flags give equal content.</summary>
    /// <returns>The id.</returns>
    public SyncId DefaultSyncId() => SyncId.NewId(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(Seed), new Random(Seed));
}

/// <summary>Deterministic synthetic grants: ids <c>grant-%010d</c>, <c>ent-%06d</c>, <c>user-%08d</c>, entitlement resource <c>app</c>/<c>app-%d</c>.</summary>
public static class FixtureGenerator
{
    /// <summary>The grants of a spec, in id order; the same spec always yields the same sequence.</summary>
    /// <param name="spec">The spec.</param>
    /// <returns>The grants.</returns>
    public static IEnumerable<GrantRecord> Grants(FixtureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var rng = new Random(spec.Seed);
        // Element ids repeat across grants: each distinct one is formatted once and shared (strings are
        // immutable), so a materialised fixture holds one new string per grant, not five.
        var apps = new ElementNames("app-{0}", 10);
        var ents = new ElementNames("ent-{0:D6}", spec.Entitlements);
        var users = new ElementNames("user-{0:D8}", spec.Principals);
        for (long i = 0; i < spec.Grants; i++)
        {
            int ent = rng.Next(spec.Entitlements);
            int principal = rng.Next(spec.Principals);
            int app = rng.Next(10);
            yield return new GrantRecord
            {
                ExternalId = "grant-" + i.ToString("D10", CultureInfo.InvariantCulture),
                Entitlement = new EntitlementRef { ResourceTypeId = "app", ResourceId = apps[app], EntitlementId = ents[ent] },
                Principal = new PrincipalRef { ResourceTypeId = "user", ResourceId = users[principal] },
            };
        }
    }

    /// <summary>Formatted element ids, cached up to a bound (a huge cardinality formats on every use instead).</summary>
    private sealed class ElementNames(string format, int count)
    {
        private const int MaxCached = 1 << 20;
        private readonly string?[] _cache = new string?[Math.Min(count, MaxCached)];

        public string this[int i] => i < _cache.Length
            ? _cache[i] ??= Format(i)
            : Format(i);

        private string Format(int i) => string.Format(CultureInfo.InvariantCulture, format, i);
    }

    /// <summary>
    /// Writes a spec's grants into <paramref name="sync"/> of <paramref name="store"/> through its bulk
    /// path: a producer thread generates records into a bounded queue while this thread feeds the
    /// loader, so generation overlaps encoding and writing.
    /// </summary>
    /// <param name="store">Target store.</param>
    /// <param name="sync">Target sync (should hold no records yet).</param>
    /// <param name="spec">The spec.</param>
    /// <param name="progress">Called with the number of grants added so far, about every 1%.</param>
    /// <param name="cancellationToken">Stops the load; the store is then unchanged.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Load(IC1zStore store, SyncId sync, FixtureSpec spec, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(spec);
        // A short queue: records waiting in it survive a GC generation, and many such survivors made
        // the collections (and with them both threads) measurably slower than generating inline.
        using var queue = new BlockingCollection<GrantRecord[]>(boundedCapacity: 4);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() =>
        {
            try
            {
                var chunk = new List<GrantRecord>(1024);
                foreach (var g in Grants(spec))
                {
                    chunk.Add(g);
                    if (chunk.Count == 1024)
                    {
                        queue.Add([.. chunk], stop.Token);
                        chunk.Clear();
                    }
                }

                if (chunk.Count > 0)
                {
                    queue.Add([.. chunk], stop.Token);
                }
            }
            finally
            {
                queue.CompleteAdding();
            }
        }, stop.Token);

        try
        {
            long done = 0;
            long step = Math.Max(1, spec.Grants / 100);
            long next = step;
            using var loader = store.BeginBulkLoad(sync);
            foreach (var chunk in queue.GetConsumingEnumerable(stop.Token))
            {
                foreach (var g in chunk)
                {
                    loader.Add(g);
                }

                done += chunk.Length;
                if (done >= next)
                {
                    progress?.Invoke(done);
                    next = done + step;
                }
            }

            producer.GetAwaiter().GetResult();
            loader.Complete(cancellationToken);
            progress?.Invoke(done);
        }
        finally
        {
            stop.Cancel();
            try
            {
                producer.GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                // The producer was stopped because the consumer failed or was cancelled.
            }
        }
    }
}
