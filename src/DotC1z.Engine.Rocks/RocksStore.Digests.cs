using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using DotC1z.Keys;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>Grant digests folded by the bulk loader while it wrote a sync, kept until the next write.</summary>
public sealed partial class RocksStore
{
    private readonly ConcurrentDictionary<SyncId, IReadOnlyDictionary<string, GrantDigest>> _grantDigests = new();

    /// <summary>
    /// The per-entitlement grant digests of a sync as its bulk load computed them (docs/FORMAT.md, "Grant digests"),
    /// so a save need not scan the grants again. Known only for syncs bulk-loaded by this instance whose grants were
    /// written in no other way since: a grant write forgets them all (a write of another record kind, a sync run, or a
    /// bulk load or deletion of another sync keeps them).
    /// </summary>
    /// <param name="syncId">The sync.</param>
    /// <param name="digests">Per entitlement id, or null.</param>
    /// <returns>Whether they are known.</returns>
    public bool TryGetGrantDigests(SyncId syncId, [NotNullWhen(true)] out IReadOnlyDictionary<string, GrantDigest>? digests) =>
        _grantDigests.TryGetValue(syncId, out digests);

    // Called under the write lock by every write that may change grants: what was folded may no longer hold.
    private void ForgetGrantDigests()
    {
        if (!_grantDigests.IsEmpty)
        {
            _grantDigests.Clear();
        }
    }
}
