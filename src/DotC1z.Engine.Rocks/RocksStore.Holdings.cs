using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;
using DotC1z.Codecs;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// Stored grants in pieces: id ranges of a sync's primary keyspace (for comparisons split across cores) and
/// one principal's grants from the covering by-principal index, both as stored bytes (docs/DESIGN.md §6, §9).
/// </summary>
public sealed partial class RocksStore
{
    /// <inheritdoc/>
    /// <remarks>The partitioned scan's split points (<see cref="PartitionGrants"/>), without the key header.</remarks>
    public IReadOnlyList<byte[]> GrantIdSplits(SyncId syncId, int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        ThrowIfDisposed();

        // Grant keys carry the header and a separator before the id.
        return SplitSuffixes(Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId), parts, Keyspace.RecordHeaderLength + 1);
    }

    /// <inheritdoc/>
    public bool TryOpenEncodedGrants(SyncId syncId, byte[]? fromId, byte[]? toId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        ThrowIfDisposed();
        byte[] prefix = Keyspace.RecordSyncPrefix((byte)RecordKind.Grant, syncId);
        byte[] lower = fromId is null ? prefix : [.. prefix, TupleCodec.Separator, .. fromId];
        byte[] upper = toId is null ? KeyRange.UpperBound(prefix)! : [.. prefix, TupleCodec.Separator, .. toId];

        // A range of a whole-sync scan: its blocks are read once, so they stay out of the cache. The
        // iterator reads the state of its creation (no explicit snapshot is needed for one cursor).
        cursor = new EncodedCursor(new Scan(this, lower, upper, IntPtr.Zero, fillCache: false), Keyspace.RecordHeaderLength + 1);
        return true;
    }

    /// <summary>
    /// Readahead of a principal's covering index entries: a user of a dense graph holds hundreds of grants, several
    /// 16 KiB blocks in a row, which a cold store otherwise reads one block per I/O until RocksDB's own readahead starts.
    /// Compressed, G16's users' ≈ 600 grants take about 20 KB: a 256 KiB readahead copied (and faulted in) ten times that
    /// per principal, and G16's update took 4–12 % longer than with 64 KiB (32 KiB measured no better; docs/PERFORMANCE.md).
    /// </summary>
    private const int PrincipalReadaheadBytes = 64 * 1024;

    /// <inheritdoc/>
    public bool TryOpenEncodedGrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId, [NotNullWhen(true)] out IEncodedGrantCursor? cursor)
    {
        ArgumentNullException.ThrowIfNull(principalResourceTypeId);
        ArgumentNullException.ThrowIfNull(principalResourceId);
        ThrowIfDisposed();

        // The by-principal index is covering: its values are the stored grants, its keys end with the escaped id. Its
        // blocks stay out of the cache: an update reads each principal once, and each block kept was fresh memory
        // (the page faults of decompressing into it were 6 % of G16's holdings pass).
        byte[] prefix = Keyspace.IndexKey(Keyspace.IdxGrantByPrincipal, syncId, true, principalResourceTypeId, principalResourceId);
        cursor = new EncodedCursor(new Scan(this, prefix, prefix, fillCache: false, readaheadBytes: PrincipalReadaheadBytes), prefix.Length);
        return true;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The grants in <paramref name="committed"/> are not read again: in G16 the MultiGets of 19.6k rewritten
    /// grants (random blocks of a 5M-grant sync) took about as long as the rest of the update, for values the
    /// update had read moments before. The rest is <see cref="WriteGrantChanges(SyncId, IReadOnlyList{GrantRecord}, IReadOnlyList{string})"/>.
    /// </remarks>
    public int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, GrantRecord> committed)
    {
        ArgumentNullException.ThrowIfNull(committed);
        return WriteGrantChangesCore(syncId, puts, deletes, committed, null);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The committed bytes are parsed in place (<see cref="GrantRow"/>) to see whether a rewrite keeps its index keys;
    /// only a value whose keys change (a delete, a grant that moved) is decoded, to find the keys to delete.
    /// </remarks>
    public int WriteGrantChanges(SyncId syncId, IReadOnlyList<GrantRecord> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> committedValues)
    {
        ArgumentNullException.ThrowIfNull(committedValues);
        return WriteGrantChangesCore(syncId, puts, deletes, null, committedValues);
    }

    /// <inheritdoc/>
    /// <remarks>
    /// The bytes are stored as given and their index keys built from their fields read in place (<see cref="GrantRow"/>):
    /// encoding 19.6k records a second time, after the update had encoded them to compare, was a fifth of G16's write,
    /// and the records kept alive until the write were most of what the collector copied during the update.
    /// </remarks>
    public int WriteEncodedGrantChanges(SyncId syncId, IReadOnlyList<ReadOnlyMemory<byte>> puts, IReadOnlyList<string> deletes, IReadOnlyDictionary<string, ReadOnlyMemory<byte>> committedValues)
    {
        ArgumentNullException.ThrowIfNull(committedValues);
        return WriteGrantChangesCore(syncId, [], puts, deletes, null, committedValues);
    }

    /// <summary>
    /// Fills <paramref name="olds"/> from the caller's committed records or values, reading only the ids they lack
    /// (batched MultiGets), or all of them when the caller passed none.
    /// </summary>
    private void ReadCommitted(SyncId syncId, IReadOnlyDictionary<string, GrantRecord>? committed, IReadOnlyDictionary<string, ReadOnlyMemory<byte>>? committedValues, ReadOnlySpan<string> ids, Span<CommittedGrant> olds)
    {
        var unknown = new List<int>();
        for (int i = 0; i < ids.Length; i++)
        {
            if (committed is not null && committed.TryGetValue(ids[i], out var record))
            {
                olds[i] = new CommittedGrant(record);
            }
            else if (committedValues is not null && committedValues.TryGetValue(ids[i], out var value))
            {
                olds[i] = new CommittedGrant(value, Directory);
            }
            else
            {
                unknown.Add(i);
            }
        }

        if (unknown.Count == 0)
        {
            return;
        }

        var unknownIds = new string[unknown.Count];
        var read = new GrantRecord?[unknown.Count];
        for (int k = 0; k < unknown.Count; k++)
        {
            unknownIds[k] = ids[unknown[k]];
        }

        TryGetGrants(syncId, unknownIds, read);
        for (int k = 0; k < unknown.Count; k++)
        {
            olds[unknown[k]] = read[k] is { } r ? new CommittedGrant(r) : default;
        }
    }

    /// <summary>The committed value of one id of a change set: absent, a record, or stored bytes decoded only when needed.</summary>
    private readonly struct CommittedGrant
    {
        private readonly GrantRecord? _record;
        private readonly ReadOnlyMemory<byte> _value;
        private readonly string? _directory;

        public CommittedGrant(GrantRecord record) => _record = record;

        public CommittedGrant(ReadOnlyMemory<byte> value, string directory)
        {
            // An encoded grant always carries its id, so no stored value is empty.
            if (value.IsEmpty)
            {
                throw new C1zCorruptionException("a committed grant value is empty", directory);
            }

            _value = value;
            _directory = directory;
        }

        public bool Exists => _record is not null || !_value.IsEmpty;

        public GrantRecord Record()
        {
            if (_record is not null)
            {
                return _record;
            }

            try
            {
                return CodecRegistry.Grant.Decode(_value.Span);
            }
            catch (InvalidProtocolBufferException e)
            {
                throw new C1zCorruptionException("a committed grant value is not an encoded grant", _directory, e);
            }
        }

        /// <summary>Whether the grant encoded in <paramref name="row"/> has this value's index keys (<see cref="SameIndexKeys(GrantRecord)"/> for a grant read in place).</summary>
        public bool SameIndexKeys(in GrantRow row)
        {
            if (_record is { } old)
            {
                return SameKeys(row, old);
            }

            return GrantRow.TryParse(_value.Span, out var stored)
                ? GrantRow.SameReferences(stored, row)
                : throw new C1zCorruptionException("a committed grant value is not an encoded grant", _directory);
        }

        /// <summary>Whether <paramref name="record"/> has this value's index keys (<see cref="Keyspace.IndexEntries(SyncId, GrantRecord)"/>: entitlement, principal, flag).</summary>
        public bool SameIndexKeys(GrantRecord record)
        {
            if (_record is { } old)
            {
                return old.NeedsExpansion == record.NeedsExpansion
                    && (old.Entitlement?.EntitlementId ?? string.Empty) == (record.Entitlement?.EntitlementId ?? string.Empty)
                    && (old.Entitlement?.ResourceTypeId ?? string.Empty) == (record.Entitlement?.ResourceTypeId ?? string.Empty)
                    && (old.Entitlement?.ResourceId ?? string.Empty) == (record.Entitlement?.ResourceId ?? string.Empty)
                    && (old.Principal?.ResourceTypeId ?? string.Empty) == (record.Principal?.ResourceTypeId ?? string.Empty)
                    && (old.Principal?.ResourceId ?? string.Empty) == (record.Principal?.ResourceId ?? string.Empty);
            }

            return GrantRow.TryParse(_value.Span, out var row)
                ? SameKeys(row, record)
                : throw new C1zCorruptionException("a committed grant value is not an encoded grant", _directory);
        }

        /// <summary>Whether an encoded grant and a record have the same index keys: entitlement, its resource, principal, flag.</summary>
        private static bool SameKeys(in GrantRow row, GrantRecord record) =>
            row.NeedsExpansion == record.NeedsExpansion
            && Utf8Ordinal.SameText(row.EntitlementId, record.Entitlement?.EntitlementId)
            && Utf8Ordinal.SameText(row.EntitlementResourceTypeId, record.Entitlement?.ResourceTypeId)
            && Utf8Ordinal.SameText(row.EntitlementResourceId, record.Entitlement?.ResourceId)
            && Utf8Ordinal.SameText(row.PrincipalResourceTypeId, record.Principal?.ResourceTypeId)
            && Utf8Ordinal.SameText(row.PrincipalResourceId, record.Principal?.ResourceId);
    }

    /// <summary>One grant of a change set to put: a record, or its stored encoding (its keys read in place once).</summary>
    private readonly struct GrantPut
    {
        public GrantPut(GrantRecord record)
        {
            Record = record;
            Id = record.ExternalId;
        }

        private GrantPut(string id, ReadOnlyMemory<byte> value, Keyspace.IndexEntry[] entries, bool? keepsIndexKeys)
        {
            Id = id;
            Value = value;
            Entries = entries;
            _keepsIndexKeys = keepsIndexKeys;
        }

        // Whether the committed value the caller passed has this put's index keys (null: not known yet).
        private readonly bool? _keepsIndexKeys;

        public string Id { get; }

        public GrantRecord? Record { get; }

        public ReadOnlyMemory<byte> Value { get; }

        /// <summary>An encoded put's index entries.</summary>
        public Keyspace.IndexEntry[]? Entries { get; }

        /// <summary>
        /// An encoded put, checked (it must parse as a grant with an id) and read in place once: its id, its index
        /// entries, and whether the committed value of its id in <paramref name="committedValues"/>, if there, keeps them.
        /// </summary>
        /// <exception cref="C1zArgumentException">The bytes are not an encoded grant, or its id is empty.</exception>
        /// <exception cref="C1zCorruptionException">The committed value is not an encoded grant.</exception>
        public static GrantPut Encoded(ReadOnlyMemory<byte> value, SyncId syncId, IReadOnlyDictionary<string, ReadOnlyMemory<byte>>? committedValues, string directory)
        {
            if (value.IsEmpty || !GrantRow.TryParse(value.Span, out var row))
            {
                throw new C1zArgumentException("an encoded grant to put does not decode as a grant");
            }

            if (row.ExternalId.IsEmpty)
            {
                throw new C1zArgumentException("grant external_id must not be empty");
            }

            string id = System.Text.Encoding.UTF8.GetString(row.ExternalId);
            bool? keeps = committedValues is not null && committedValues.TryGetValue(id, out var old)
                ? new CommittedGrant(old, directory).SameIndexKeys(row)
                : null;
            return new GrantPut(id, value, Keyspace.IndexEntries(syncId, row), keeps);
        }

        /// <summary>Whether this put keeps the index keys of the committed value <paramref name="old"/>.</summary>
        public bool SameIndexKeys(in CommittedGrant old)
        {
            if (Record is { } record)
            {
                return old.SameIndexKeys(record);
            }

            if (_keepsIndexKeys is { } known)
            {
                return known;
            }

            return GrantRow.TryParse(Value.Span, out var row) ? old.SameIndexKeys(row) : throw new InvalidOperationException("not an encoded put");
        }
    }
}
