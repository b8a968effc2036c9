using System.Runtime.InteropServices;

namespace DotC1z.Bench;

/// <summary>Memory hygiene between benchmarks: what one benchmark freed is returned before the next is measured.</summary>
public sealed partial class BenchRunner
{
    /// <summary>
    /// Empties RocksDB's shared block cache, collects the managed heap (compacting, returning free regions to the OS) and asks glibc to return the native
    /// memory RocksDB freed (its per-thread malloc arenas keep it otherwise). Without this each benchmark's peak
    /// started from the high-water mark of the ones before it: the process only grew, though every benchmark had
    /// released its records, stores and arenas.
    /// </summary>
    private static void ReleaseMemory()
    {
        // Blocks of stores closed earlier (other benchmarks, the engine's own suspended main store) leave the
        // shared cache too: each benchmark starts cold, as SQLite's reopened connections do.
        Engine.Rocks.RocksSharedMemory.ReleaseCachedBlocks();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        if (OperatingSystem.IsLinux())
        {
            try
            {
                _ = MallocTrim(0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc (musl has no malloc_trim): nothing to hand back this way.
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
