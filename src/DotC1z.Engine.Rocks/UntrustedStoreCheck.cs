using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using DotC1z.Errors;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// <see cref="RocksStore.VerifyUntrusted"/> on the engine's own C-API bindings (no RocksDbSharp start-up,
/// so the child process that runs it starts in ≈0.1 s). It opens the database with its own options,
/// outside any <see cref="RocksStore"/>; every native handle is released on every path.
/// </summary>
internal static unsafe class UntrustedStoreCheck
{
    // An untrusted store has no business holding more files than this open at once.
    private const int MaxOpenFiles = 512;

    public static long Run(string directory, CancellationToken cancellationToken)
    {
        IntPtr options = RawRocks.OptionsCreate();
        IntPtr table = RawRocks.BlockBasedOptionsCreate();
        IntPtr db = IntPtr.Zero;
        try
        {
            // Our own options, never the directory's OPTIONS-* file.
            RawRocks.OptionsSetParanoidChecks(options, 1);
            RawRocks.OptionsSetWalRecoveryMode(options, RawRocks.WalAbsoluteConsistency);
            RawRocks.OptionsSetAllowMmapReads(options, 0);
            RawRocks.OptionsSetMaxOpenFiles(options, MaxOpenFiles);
            // The check writes nothing into the directory it judges: no LOG file, no statistics pass.
            RawRocks.OptionsSetInfoLog(options, RocksSharedMemory.NullLogger);
            RawRocks.OptionsSetSkipStatsUpdateOnDbOpen(options, 1);

            // Every block is read once: a cache would only churn.
            RawRocks.BlockBasedOptionsSetNoBlockCache(table, 1);
            RawRocks.OptionsSetBlockBasedTableFactory(options, table);

            CheckColumnFamilies(options, directory);

            IntPtr error = IntPtr.Zero;
            db = RawRocks.OpenForReadOnly(options, directory, 0, &error);
            RocksErrors.ThrowIfError(error, directory, "open");
            RawRocks.VerifyChecksum(db, &error);
            RocksErrors.ThrowIfError(error, directory, "verify checksums");
            CheckNoStrayFiles(db, directory);
            return ScanAll(db, directory, cancellationToken);
        }
        finally
        {
            if (db != IntPtr.Zero)
            {
                RawRocks.Close(db);
            }

            RawRocks.OptionsDestroy(options);
            RawRocks.BlockBasedOptionsDestroy(table);
        }
    }

    /// <summary>
    /// Every table in the directory must be live and every other file one RocksDB itself writes: an unreferenced
    /// 2 GiB table or a stray file would otherwise ride along in every save and pass every check
    /// (docs/RELIABILITY.md, format laxity).
    /// </summary>
    private static void CheckNoStrayFiles(IntPtr db, string directory)
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        IntPtr files = RawRocks.LiveFiles(db);
        try
        {
            int count = RawRocks.LiveFilesCount(files);
            for (int i = 0; i < count; i++)
            {
                string name = System.Runtime.InteropServices.Marshal.PtrToStringUTF8(RawRocks.LiveFilesName(files, i)) ?? string.Empty;
                live.Add(name.TrimStart('/'));
            }
        }
        finally
        {
            RawRocks.LiveFilesDestroy(files);
        }

        foreach (string path in System.IO.Directory.EnumerateFileSystemEntries(directory))
        {
            string name = Path.GetFileName(path);
            bool ok = name.EndsWith(".sst", StringComparison.Ordinal)
                ? live.Contains(name)
                : name is "CURRENT" or "IDENTITY" or "LOCK" or "LOG" || name.EndsWith(".log", StringComparison.Ordinal)
                    || name.StartsWith("MANIFEST-", StringComparison.Ordinal) || name.StartsWith("OPTIONS-", StringComparison.Ordinal);
            if (!ok || System.IO.Directory.Exists(path))
            {
                throw new C1zCorruptionException($"{directory}: the store holds a file it does not use: {name}", directory);
            }
        }
    }

    private static void CheckColumnFamilies(IntPtr options, string directory)
    {
        nuint count = 0;
        IntPtr error = IntPtr.Zero;
        IntPtr* list = RawRocks.ListColumnFamilies(options, directory, &count, &error);
        RocksErrors.ThrowIfError(error, directory, "list column families");
        var families = new string[(int)count];
        try
        {
            for (int i = 0; i < families.Length; i++)
            {
                families[i] = Marshal.PtrToStringUTF8(list[i]) ?? string.Empty;
            }
        }
        finally
        {
            RawRocks.ListColumnFamiliesDestroy(list, count);
        }

        if (!families.SequenceEqual(RocksStore.ExpectedColumnFamilies, StringComparer.Ordinal))
        {
            throw new C1zCorruptionException(
                $"not a valid store: {directory}: column families [{string.Join(", ", families)}], expected [{string.Join(", ", RocksStore.ExpectedColumnFamilies)}]",
                directory);
        }
    }

    // The ranges partition the whole keyspace (unknown keys included); lanes pull them in order, so
    // the four large ranges of a grant-heavy store spread over the cores.
    private static long ScanAll(IntPtr db, string directory, CancellationToken cancellationToken)
    {
        var ranges = ScanRanges();
        long keys = 0;
        int next = -1;
        var lanes = new Task[Math.Clamp(Environment.ProcessorCount, 1, ranges.Length)];
        for (int l = 0; l < lanes.Length; l++)
        {
            lanes[l] = Task.Factory.StartNew(
                () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < ranges.Length)
                    {
                        Interlocked.Add(ref keys, ScanRange(db, directory, ranges[i].Lower, ranges[i].Upper, cancellationToken));
                    }
                },
                cancellationToken,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }

        try
        {
            Task.WaitAll(lanes, CancellationToken.None);
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
        {
            ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
        }

        return keys;
    }

    // [lower, upper) pairs covering every key: one per primary kind, one per index id, and the rest.
    private static (byte[] Lower, byte[]? Upper)[] ScanRanges()
    {
        var splits = new List<byte[]>();
        for (byte kind = 1; kind <= Keyspace.Index; kind++)
        {
            splits.Add([Keyspace.Version, kind]);
        }

        foreach (byte id in Keyspace.AllIndexIds)
        {
            splits.Add([Keyspace.Version, Keyspace.Index, id]);
        }

        splits.Add([Keyspace.Version, Keyspace.Index + 1]);
        splits.Sort(ByteArrayComparer.Instance);
        var ranges = new (byte[], byte[]?)[splits.Count + 1];
        byte[] lower = [];
        for (int i = 0; i < splits.Count; i++)
        {
            ranges[i] = (lower, splits[i]);
            lower = splits[i];
        }

        ranges[^1] = (lower, null);
        return ranges;
    }

    private static long ScanRange(IntPtr db, string directory, byte[] lower, byte[]? upper, CancellationToken cancellationToken)
    {
        using var iterator = new BoundedIterator(db, lower, upper, verifyChecksums: true, fillCache: false);
        long n = 0;
        for (iterator.SeekToFirst(); iterator.Valid; iterator.Next())
        {
            if ((++n & 0xFFFF) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        // The loop also ends on an error: an iterator that stopped early must not pass as a short store.
        iterator.ThrowIfFailed(directory, "scan");
        return n;
    }
}
