using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using DotC1z.Engine.Rocks.Tables;
using DotC1z.Keys;

namespace DotC1z.Engine.Rocks;

/// <summary>Whole-range scans read straight from the table files when they allow it (docs/DESIGN.md §6, "Reading table files directly").</summary>
public sealed partial class RocksStore
{
    // Table files opened for direct scans, by path: a file never changes, so its footer, properties and index are read
    // once (opening every table for each of a compaction's scans cost 50 ms). Entries of files no longer live are
    // let go at the next scan; the rest when the store closes.
    private readonly ConcurrentDictionary<string, BlockTable> _tables = new(StringComparer.Ordinal);
    private readonly object _tablesOpening = new();

    /// <summary>
    /// A scan of <c>[lower, upper)</c>: from the table files when <see cref="RocksStoreOptions.DirectTableScans"/> is on
    /// and the range's files allow it, else through RocksDB (without filling the block cache: a whole-range scan reads
    /// every block once).
    /// </summary>
    internal IKvScan OpenRangeScan(byte[] lower, byte[]? upper)
    {
        if (_options.DirectTableScans && TryOpenTableScan(lower, upper) is { } direct)
        {
            return direct;
        }

        return new Scan(this, lower, upper, IntPtr.Zero, fillCache: false);
    }

    /// <summary>
    /// The range read from table files, or null when RocksDB must read it: entries still in a memtable (a writable
    /// store flushes them first, once), or files in the range that overlap, hold deletions, or use features the table
    /// reader leaves to RocksDB.
    /// </summary>
    internal TableRangeScan? TryOpenTableScan(byte[] lower, byte[]? upper)
    {
        ObjectDisposedException.ThrowIf(!TryLease(), this);
        var held = new List<BlockTable>();
        try
        {
            if (!MemtablesEmpty())
            {
                if (IsReadOnly)
                {
                    return Release(held);
                }

                // The files are then the whole truth; a write that lands after this comes after the scan's start, as
                // it would after an iterator's snapshot.
                Guard(_db.Flush);
                if (!MemtablesEmpty())
                {
                    return Release(held);
                }
            }

            if (FilesInRange(lower, upper) is not { } files)
            {
                return Release(held);
            }

            foreach (string path in files)
            {
                if (Table(path) is not { } table)
                {
                    return Release(held);
                }

                held.Add(table);
            }

            return new TableRangeScan(this, [.. held], lower, upper);
        }
        catch
        {
            Release(held);
            throw;
        }
    }

    private TableRangeScan? Release(List<BlockTable> held)
    {
        foreach (var table in held)
        {
            table.Dispose();
        }

        ReleaseLease();
        return null;
    }

    // The cached table with one hold taken for the caller, or null when the reader leaves the file to RocksDB.
    private BlockTable? Table(string path)
    {
        if (_tables.TryGetValue(path, out var cached) && cached.TryAcquire())
        {
            return cached;
        }

        lock (_tablesOpening)
        {
            if (_tables.TryGetValue(path, out cached) && cached.TryAcquire())
            {
                return cached;
            }

            if (BlockTable.TryOpen(path) is not { } table)
            {
                return null;
            }

            // The cache keeps the opener's hold; the caller gets its own.
            _tables[path] = table;
            table.TryAcquire();
            return table;
        }
    }

    private void ForgetTables(HashSet<string> live)
    {
        foreach (var (path, table) in _tables)
        {
            if (!live.Contains(path) && _tables.TryRemove(new KeyValuePair<string, BlockTable>(path, table)))
            {
                table.Dispose();
            }
        }
    }

    private void ReleaseTables()
    {
        foreach (var path in _tables.Keys)
        {
            if (_tables.TryRemove(path, out var table))
            {
                table.Dispose();
            }
        }
    }

    /// <summary>
    /// An upper bound of a sync's grants from file metadata alone: the entries of every live file that meets the
    /// sync's grant range (files of bulk loads hold one keyspace of one sync, so it is usually exact) plus the
    /// memtables' entries. Nothing is read: a bound that decides a road needs no scan.
    /// </summary>
    internal long GrantCountUpperBound(SyncId syncId)
    {
        ObjectDisposedException.ThrowIf(!TryLease(), this);
        try
        {
            // Without the memtables' count there is no bound: the caller counts exactly.
            if (MemtableEntries() is not { } bound)
            {
                return long.MaxValue;
            }

            byte[] lower = Keyspace.RecordSyncPrefix((byte)Storage.RecordKind.Grant, syncId);
            byte[] upper = KeyRange.UpperBound(lower)!;
            foreach (var table in LiveTables())
            {
                if (table.Meets(lower, upper))
                {
                    bound += (long)table.Entries;
                }
            }

            return bound;
        }
        finally
        {
            ReleaseLease();
        }
    }

    private bool MemtablesEmpty() => MemtableEntries() == 0;

    // Entries in the active and immutable memtables (deletions included); null when RocksDB does not say.
    private unsafe long? MemtableEntries()
    {
        ulong active = 0, immutable = 0;
        return RawRocks.PropertyInt(_db.Handle, "rocksdb.num-entries-active-mem-table", &active) == 0
            && RawRocks.PropertyInt(_db.Handle, "rocksdb.num-entries-imm-mem-tables", &immutable) == 0
            ? (long)(active + immutable)
            : null;
    }

    /// <summary>One live table file as RocksDB lists it, with its user-key range.</summary>
    private readonly record struct LiveTable(string Path, byte[] Smallest, byte[] Largest, ulong Entries, ulong Deletions)
    {
        /// <summary>Whether the file's key range meets <c>[lower, upper)</c> (no upper: unbounded).</summary>
        public bool Meets(byte[] lower, byte[]? upper) =>
            (upper is null || Smallest.AsSpan().SequenceCompareTo(upper) < 0) && Largest.AsSpan().SequenceCompareTo(lower) >= 0;
    }

    private unsafe List<LiveTable> LiveTables()
    {
        var tables = new List<LiveTable>();
        IntPtr files = RawRocks.LiveFiles(_db.Handle);
        try
        {
            int count = RawRocks.LiveFilesCount(files);
            for (int i = 0; i < count; i++)
            {
                string directory = Marshal.PtrToStringUTF8(RawRocks.LiveFilesDirectory(files, i)) ?? Directory;
                string name = (Marshal.PtrToStringUTF8(RawRocks.LiveFilesName(files, i)) ?? string.Empty).TrimStart('/');
                nuint smallestLength, largestLength;
                byte* smallest = RawRocks.LiveFilesSmallestKey(files, i, &smallestLength);
                byte* largest = RawRocks.LiveFilesLargestKey(files, i, &largestLength);
                tables.Add(new LiveTable(
                    Path.Combine(directory, name),
                    new ReadOnlySpan<byte>(smallest, checked((int)smallestLength)).ToArray(),
                    new ReadOnlySpan<byte>(largest, checked((int)largestLength)).ToArray(),
                    RawRocks.LiveFilesEntries(files, i),
                    RawRocks.LiveFilesDeletions(files, i)));
            }
        }
        finally
        {
            RawRocks.LiveFilesDestroy(files);
        }

        return tables;
    }

    // The live table files whose key ranges meet [lower, upper), in key order; null when two of them overlap or one
    // holds deletions. Cached tables of files no longer live are let go on the way.
    private List<string>? FilesInRange(byte[] lower, byte[]? upper)
    {
        var live = LiveTables();
        if (!_tables.IsEmpty)
        {
            ForgetTables(live.Select(t => t.Path).ToHashSet(StringComparer.Ordinal));
        }

        var found = live.Where(t => t.Meets(lower, upper)).ToList();
        if (found.Any(t => t.Deletions != 0))
        {
            return null;
        }

        found.Sort((a, b) => a.Smallest.AsSpan().SequenceCompareTo(b.Smallest));
        for (int i = 1; i < found.Count; i++)
        {
            if (found[i - 1].Largest.AsSpan().SequenceCompareTo(found[i].Smallest) >= 0)
            {
                return null;
            }
        }

        return [.. found.Select(f => f.Path)];
    }
}
