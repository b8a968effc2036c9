using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using DotC1z.Errors;

namespace DotC1z.Engine.Rocks;

/// <summary>
/// <see cref="RocksStore.VerifyUntrusted"/> on the raw C-API bindings only: the check never touches
/// RocksDbSharp, so the child process that runs it starts in ≈0.1 s instead of ≈0.4 s. Every native
/// handle is owned by this one method and released on every path.
/// </summary>
internal static unsafe class UntrustedStoreCheck
{
    // WALRecoveryMode::kAbsoluteConsistency: any corruption in a log fails the open.
    private const int AbsoluteConsistency = 1;

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
            RawRocks.OptionsSetWalRecoveryMode(options, AbsoluteConsistency);
            RawRocks.OptionsSetAllowMmapReads(options, 0);
            RawRocks.OptionsSetMaxOpenFiles(options, MaxOpenFiles);

            // Every block is read once: a cache would only churn.
            RawRocks.BlockBasedOptionsSetNoBlockCache(table, 1);
            RawRocks.OptionsSetBlockBasedTableFactory(options, table);

            CheckColumnFamilies(options, directory);

            IntPtr error = IntPtr.Zero;
            db = RawRocks.OpenForReadOnly(options, directory, 0, &error);
            Throw(error, directory, "open");
            RawRocks.VerifyChecksum(db, &error);
            Throw(error, directory, "verify checksums");
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

    private static void CheckColumnFamilies(IntPtr options, string directory)
    {
        nuint count = 0;
        IntPtr error = IntPtr.Zero;
        IntPtr* list = RawRocks.ListColumnFamilies(options, directory, &count, &error);
        Throw(error, directory, "list column families");
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
        // The read options keep pointers to the bounds, so they live in native memory until the iterator is gone.
        byte* bounds = (byte*)NativeMemory.Alloc((nuint)(lower.Length + (upper?.Length ?? 0) + 1));
        IntPtr readOptions = RawRocks.ReadOptionsCreate();
        IntPtr iterator = IntPtr.Zero;
        try
        {
            lower.CopyTo(new Span<byte>(bounds, lower.Length));
            RawRocks.ReadOptionsSetIterateLowerBound(readOptions, bounds, (nuint)lower.Length);
            if (upper is not null)
            {
                upper.CopyTo(new Span<byte>(bounds + lower.Length, upper.Length));
                RawRocks.ReadOptionsSetIterateUpperBound(readOptions, bounds + lower.Length, (nuint)upper.Length);
            }

            RawRocks.ReadOptionsSetVerifyChecksums(readOptions, 1);
            RawRocks.ReadOptionsSetFillCache(readOptions, 0);
            iterator = RawRocks.CreateIterator(db, readOptions);
            long n = 0;
            for (RawRocks.IterSeekToFirst(iterator); RawRocks.IterValid(iterator) != 0; RawRocks.IterNext(iterator))
            {
                if ((++n & 0xFFFF) == 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }

            // The loop also ends on an error: an iterator that stopped early must not pass as a short store.
            IntPtr error = IntPtr.Zero;
            RawRocks.IterGetError(iterator, &error);
            Throw(error, directory, "scan");
            return n;
        }
        finally
        {
            if (iterator != IntPtr.Zero)
            {
                RawRocks.IterDestroy(iterator);
            }

            RawRocks.ReadOptionsDestroy(readOptions);
            NativeMemory.Free(bounds);
        }
    }

    private static void Throw(IntPtr error, string directory, string operation)
    {
        string? message = RawRocks.TakeError(error);
        if (message is not null)
        {
            throw RocksErrors.Map(message, directory, operation);
        }
    }
}
