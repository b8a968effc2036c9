using System.Runtime.InteropServices;
using DotC1z.Engine.Rocks.Tables;

namespace DotC1z.Engine.Rocks;

/// <summary>Whole-range scans read straight from the table files when they allow it (docs/DESIGN.md §6, "Reading table files directly").</summary>
public sealed partial class RocksStore
{
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
        ThrowIfDisposed();
        if (!MemtablesEmpty())
        {
            if (IsReadOnly)
            {
                return null;
            }

            // The files are then the whole truth; a write that lands after this comes after the scan's start, as it
            // would after an iterator's snapshot.
            Guard(_db.Flush);
            if (!MemtablesEmpty())
            {
                return null;
            }
        }

        var files = FilesInRange(lower, upper);
        if (files is null)
        {
            return null;
        }

        var tables = new List<BlockTable>(files.Count);
        try
        {
            foreach (string path in files)
            {
                if (BlockTable.TryOpen(path) is not { } table)
                {
                    foreach (var opened in tables)
                    {
                        opened.Dispose();
                    }

                    return null;
                }

                tables.Add(table);
            }
        }
        catch
        {
            foreach (var opened in tables)
            {
                opened.Dispose();
            }

            throw;
        }

        return new TableRangeScan(this, [.. tables], lower, upper);
    }

    private unsafe bool MemtablesEmpty()
    {
        ulong active = 0, immutable = 0;
        return RawRocks.PropertyInt(_db.Handle, "rocksdb.num-entries-active-mem-table", &active) == 0
            && RawRocks.PropertyInt(_db.Handle, "rocksdb.num-entries-imm-mem-tables", &immutable) == 0
            && active == 0 && immutable == 0;
    }

    // The live table files whose key ranges meet [lower, upper), in key order; null when two of them overlap or one
    // holds deletions.
    private unsafe List<string>? FilesInRange(byte[] lower, byte[]? upper)
    {
        var found = new List<(byte[] Smallest, byte[] Largest, string Path)>();
        IntPtr files = RawRocks.LiveFiles(_db.Handle);
        try
        {
            int count = RawRocks.LiveFilesCount(files);
            for (int i = 0; i < count; i++)
            {
                nuint smallestLength, largestLength;
                var smallest = new ReadOnlySpan<byte>(RawRocks.LiveFilesSmallestKey(files, i, &smallestLength), checked((int)smallestLength));
                var largest = new ReadOnlySpan<byte>(RawRocks.LiveFilesLargestKey(files, i, &largestLength), checked((int)largestLength));
                if ((upper is not null && smallest.SequenceCompareTo(upper) >= 0) || largest.SequenceCompareTo(lower) < 0)
                {
                    continue;
                }

                if (RawRocks.LiveFilesDeletions(files, i) != 0)
                {
                    return null;
                }

                string directory = Marshal.PtrToStringUTF8(RawRocks.LiveFilesDirectory(files, i)) ?? Directory;
                string name = (Marshal.PtrToStringUTF8(RawRocks.LiveFilesName(files, i)) ?? string.Empty).TrimStart('/');
                found.Add((smallest.ToArray(), largest.ToArray(), Path.Combine(directory, name)));
            }
        }
        finally
        {
            RawRocks.LiveFilesDestroy(files);
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
