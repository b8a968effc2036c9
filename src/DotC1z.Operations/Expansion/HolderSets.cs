using System.Buffers;
using System.Runtime.InteropServices;
using DotC1z.Storage;

namespace DotC1z.Operations;

/// <summary>
/// The reduce's sorted holder sets (ints, see <see cref="ExpansionReducer"/>) within a memory budget
/// (<see cref="ExpansionOptions.HolderSetBudgetBytes"/>, docs/DESIGN.md §9): when the sets held in memory
/// exceed it, the largest are written to run files in a private scratch directory and read back in
/// chunks when a destination uses them. A set's file is deleted when the set is freed, and the
/// directory with whatever is left when the expansion ends, completed or failed.
/// </summary>
internal sealed class HolderSets(long budgetBytes, string? spillParent) : IDisposable
{
    /// <summary>Ints read back per chunk (64 KiB): large enough that a read is a few syscalls per set, small next to the budget.</summary>
    internal const int ChunkInts = 16 * 1024;

    private readonly Dictionary<(string Entitlement, bool Original), Entry> _sets = [];
    private string? _directory;
    private long _heldInts;
    private int _files;

    /// <summary>Sets written to run files so far.</summary>
    public int SetsSpilled { get; private set; }

    /// <summary>Bytes written to run files so far.</summary>
    public long BytesSpilled { get; private set; }

    /// <summary>Holders currently in memory.</summary>
    public long HeldInts => _heldInts;

    public bool Contains(string entitlement, bool original) => _sets.ContainsKey((entitlement, original));

    /// <summary>Number of holders of a set.</summary>
    public int Length(string entitlement, bool original) => _sets[(entitlement, original)].Length;

    /// <summary>Adds a set (sorted, owned from now on), then spills until the held sets fit the budget.</summary>
    public void Add(string entitlement, bool original, int[] set)
    {
        var key = (entitlement, original);
        Remove(entitlement, original);
        _sets[key] = new Entry { Memory = set, Length = set.Length };
        _heldInts += set.Length;
        Enforce();
    }

    /// <summary>Frees a set (memory or file); false when there was none.</summary>
    public bool Remove(string entitlement, bool original)
    {
        if (!_sets.Remove((entitlement, original), out var entry))
        {
            return false;
        }

        if (entry.Memory is not null)
        {
            _heldInts -= entry.Length;
        }
        else if (entry.File is not null)
        {
            File.Delete(entry.File);
        }

        return true;
    }

    /// <summary>A set whole, in memory (read back when spilled); for the merge that builds a destination's final set.</summary>
    public int[] ReadAll(string entitlement, bool original)
    {
        var entry = _sets[(entitlement, original)];
        if (entry.Memory is not null)
        {
            return entry.Memory;
        }

        var all = new int[entry.Length];
        using var file = OpenRead(entry.File!);
        file.ReadExactly(MemoryMarshal.AsBytes(all.AsSpan()));
        return all;
    }

    /// <summary>Opens a set for reading in chunks (the whole array when it is in memory).</summary>
    public Reader Open(string entitlement, bool original)
    {
        var entry = _sets[(entitlement, original)];
        return entry.Memory is not null ? new Reader(entry.Memory, null, entry.Length) : new Reader(null, OpenRead(entry.File!), entry.Length);
    }

    public void Dispose()
    {
        _sets.Clear();
        _heldInts = 0;
        if (_directory is not null)
        {
            PrivateDirectory.TryDelete(_directory);
            _directory = null;
        }
    }

    private static FileStream OpenRead(string path) =>
        new(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 0, Options = FileOptions.SequentialScan });

    /// <summary>Spills the largest in-memory sets until the rest fit the budget (a set of a few ints is not worth a file unless the budget is below it).</summary>
    private void Enforce()
    {
        while (_heldInts * sizeof(int) > budgetBytes)
        {
            (string, bool) largest = default;
            Entry? victim = null;
            foreach (var (key, entry) in _sets)
            {
                if (entry.Memory is { Length: > 0 } && (victim is null || entry.Length > victim.Length))
                {
                    largest = key;
                    victim = entry;
                }
            }

            if (victim is null)
            {
                return;
            }

            Spill(largest, victim);
        }
    }

    private void Spill((string Entitlement, bool Original) key, Entry entry)
    {
        _directory ??= PrivateDirectory.CreateUnique(spillParent ?? Path.GetTempPath(), ScratchPrefix);
        string path = Path.Combine(_directory, $"{_files++}.run");
        using (var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 }))
        {
            file.Write(MemoryMarshal.AsBytes(entry.Memory!.AsSpan()));
        }

        _heldInts -= entry.Length;
        BytesSpilled += (long)entry.Length * sizeof(int);
        SetsSpilled++;
        _sets[key] = new Entry { File = path, Length = entry.Length };
    }

    /// <summary>The scratch prefix of spilled holder sets (<see cref="PrivateDirectory.KnownPrefixes"/>).</summary>
    internal const string ScratchPrefix = "c1z-expand-";

    private sealed class Entry
    {
        public int[]? Memory { get; init; }

        public string? File { get; init; }

        public int Length { get; init; }
    }

    /// <summary>A set read in order, chunk by chunk; a spilled set through one rented buffer of <see cref="ChunkInts"/>.</summary>
    internal sealed class Reader : IDisposable
    {
        private readonly int[]? _memory;
        private readonly FileStream? _file;
        private int[]? _buffer;
        private int _left;

        public Reader(int[]? memory, FileStream? file, int length)
        {
            _memory = memory;
            _file = file;
            _left = length;
        }

        /// <summary>The next chunk of holders; false at the end.</summary>
        public bool Next(out ReadOnlySpan<int> chunk)
        {
            if (_left == 0)
            {
                chunk = default;
                return false;
            }

            if (_memory is not null)
            {
                chunk = _memory;
                _left = 0;
                return true;
            }

            _buffer ??= ArrayPool<int>.Shared.Rent(ChunkInts);
            int n = Math.Min(_left, ChunkInts);
            var span = _buffer.AsSpan(0, n);
            _file!.ReadExactly(MemoryMarshal.AsBytes(span));
            _left -= n;
            chunk = span;
            return true;
        }

        public void Dispose()
        {
            _file?.Dispose();
            if (_buffer is not null)
            {
                ArrayPool<int>.Shared.Return(_buffer);
                _buffer = null;
            }
        }
    }
}
