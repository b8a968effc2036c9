using System.Diagnostics;
using System.Globalization;
using DotC1z.Engine.Rocks;
using DotC1z.Keys;
using DotC1z.Tests.Shared;

namespace DotC1z.Cli.Tests;

/// <summary>
/// Acknowledged writes survive a process kill (docs/RELIABILITY.md F-a): a child process writes batches
/// and acknowledges each one; it is killed at a seeded random moment; every acknowledged batch must
/// be present in full and no batch may be torn.
/// </summary>
public sealed class KillNineTests : IDisposable
{
    private readonly TempDir _dir = new("kill9");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Acknowledged_batches_survive_a_kill_and_none_is_torn(bool noSync)
    {
        int seed = Seeds.Get(99);
        var rng = new Random(seed + (noSync ? 1 : 0));
        string writer = Path.Combine(AppContext.BaseDirectory, "dotc1z-ack-writer.dll");
        Assert.True(File.Exists(writer), $"dotc1z-ack-writer.dll not found beside the tests at {writer}");
        for (int round = 0; round < 3; round++)
        {
            string dir = _dir.Combine($"store-{noSync}-{round}");
            var psi = new ProcessStartInfo("dotnet", [writer, "--dir", dir, .. (noSync ? new[] { "--no-sync" } : [])])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var child = Process.Start(psi)!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var stderr = child.StandardError.ReadToEndAsync(timeout.Token);
            string? syncLine = await child.StandardOutput.ReadLineAsync(timeout.Token);
            Assert.True(syncLine?.StartsWith("sync ", StringComparison.Ordinal) == true, $"seed={seed}: unexpected first line {syncLine}");
            var sync = SyncId.Parse(syncLine!.AsSpan(5));
            int killAfter = 5 + rng.Next(60);
            long lastAck = -1;
            while (lastAck < killAfter)
            {
                string? line = await child.StandardOutput.ReadLineAsync(timeout.Token);
                Assert.True(line is not null, $"seed={seed}: the writer stopped early; stderr: {(stderr.IsCompleted ? await stderr : "(open)")}");
                lastAck = long.Parse(line!.AsSpan(4), CultureInfo.InvariantCulture);
            }

            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync(timeout.Token);

            using var store = RocksStore.Open(dir, new RocksStoreOptions { ReadOnly = true });
            var byBatch = store.Grants(sync).GroupBy(g => g.ExternalId[..9]).ToDictionary(g => g.Key, g => g.Count());
            for (long b = 0; b <= lastAck; b++)
            {
                string key = string.Create(CultureInfo.InvariantCulture, $"b{b:D8}");
                Assert.True(byBatch.TryGetValue(key, out int n) && n == 10, $"seed={seed} round={round}: acknowledged batch {b} lost or torn ({n} of 10)");
            }

            Assert.All(byBatch, p => Assert.True(p.Value == 10, $"seed={seed}: batch {p.Key} is torn ({p.Value} of 10)"));
            Assert.True(store.VerifyConsistency().IsConsistent);
        }
    }
}
