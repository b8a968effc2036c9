using System.Globalization;
using DotC1z.Errors;
using DotC1z.Storage;

namespace DotC1z.Pebble;

/// <summary>
/// A read-only view of a CockroachDB Pebble v2 database (the payload of baton's C1Z3 files): the MANIFEST
/// is replayed to find the live tables, unflushed WAL batches are replayed into memory, and reads merge
/// every source by seqnum, honouring point and range deletions. See docs/PEBBLE.md for what is supported.
/// </summary>
/// <remarks>
/// Every malformed input surfaces as <see cref="C1zCorruptionException"/> (damaged or inconsistent) or
/// <see cref="C1zFormatException"/> (valid but unsupported, or over a <see cref="PebbleReadOptions"/> budget).
/// Table files are read lazily through the <see cref="IPayloadFileSource"/>. The instance is safe to share
/// between threads; each cursor is single-threaded.
/// </remarks>
public sealed class PebbleDatabase : IDisposable
{
    /// <summary>The newest format major version this reader knows (Pebble v2.1.5's FormatNewest).</summary>
    public const int NewestFormatMajorVersion = 24;

    private readonly IPayloadFileSource _files;
    private readonly PebbleReadOptions _options;
    private readonly ManifestState _manifest;
    private readonly MemTable _mem;
    private readonly Dictionary<ulong, TableFile> _cache = [];
    private readonly Dictionary<ulong, List<RangeTombstone>> _rangeDelCache = [];
    private readonly BlockCache _blockCache;
    private readonly Lock _cacheLock = new();
    private long _cachedBytes;
    private bool _disposed;

    private PebbleDatabase(IPayloadFileSource files, PebbleReadOptions options, int formatMajorVersion, string manifestName, ManifestState manifest, MemTable mem)
    {
        _files = files;
        _options = options;
        FormatMajorVersion = formatMajorVersion;
        ManifestFileName = manifestName;
        _manifest = manifest;
        _mem = mem;
        _blockCache = new BlockCache(options.BlockCacheBytes);
        LiveTables = manifest.Tables.Select(t => new PebbleTableInfo(t)).ToList();
    }

    /// <summary>The format major version from the <c>marker.format-version.*</c> file.</summary>
    public int FormatMajorVersion { get; }

    /// <summary>The live tables of the current version, ordered by level then table number.</summary>
    public IReadOnlyList<PebbleTableInfo> LiveTables { get; }

    /// <summary>The name of the current MANIFEST, e.g. <c>MANIFEST-000021</c>.</summary>
    public string ManifestFileName { get; }

    /// <summary>The smallest WAL number still needed (logs at or above it were replayed).</summary>
    public ulong LogNumber => _manifest.LogNumber;

    /// <summary>The next file number the database would allocate.</summary>
    public ulong NextFileNumber => _manifest.NextFileNumber;

    /// <summary>The last sequence number recorded in the MANIFEST.</summary>
    public ulong LastSequence => _manifest.LastSequence;

    /// <summary>How many WAL entries (points and range deletions) were replayed.</summary>
    public int WalEntryCount => _mem.Points.Count + _mem.RangeDels.Count;

    /// <summary>Opens a database directory held by <paramref name="files"/>.</summary>
    /// <param name="files">The directory's files.</param>
    /// <param name="options">Budgets; <see cref="PebbleReadOptions.Default"/> when null.</param>
    /// <param name="cancellationToken">Stops the open.</param>
    /// <returns>The open database.</returns>
    /// <exception cref="C1zCorruptionException">The MANIFEST, a WAL or the directory is damaged or inconsistent.</exception>
    /// <exception cref="C1zFormatException">Not a Pebble directory, or it uses an unsupported feature or exceeds a budget.</exception>
    public static PebbleDatabase Open(IPayloadFileSource files, PebbleReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        options ??= PebbleReadOptions.Default;
        try
        {
            return OpenCore(files, options, cancellationToken);
        }
        catch (Exception e) when (IsStray(e))
        {
            throw Stray(e);
        }
    }

    private static PebbleDatabase OpenCore(IPayloadFileSource files, PebbleReadOptions options, CancellationToken ct)
    {
        var names = files.FileNames;
        string manifestName = Marker(names, "manifest") ?? throw new C1zFormatException("not a Pebble database: no marker.manifest.* file");
        string fmv = Marker(names, "format-version") ?? throw new C1zFormatException("not a Pebble v2 database: no marker.format-version.* file");
        if (!int.TryParse(fmv, NumberStyles.None, CultureInfo.InvariantCulture, out int formatMajorVersion) || formatMajorVersion < 1)
        {
            throw new C1zCorruptionException($"format-version marker value '{fmv}' is not a number");
        }

        if (formatMajorVersion > NewestFormatMajorVersion)
        {
            throw new C1zFormatException($"format major version {formatMajorVersion} is newer than the newest supported ({NewestFormatMajorVersion})");
        }

        if (!manifestName.StartsWith("MANIFEST-", StringComparison.Ordinal) || !TryParseNumber(manifestName["MANIFEST-".Length..], out ulong manifestNumber))
        {
            throw new C1zCorruptionException($"manifest marker names '{manifestName}', which is not a MANIFEST file");
        }

        var nameSet = new HashSet<string>(names, StringComparer.Ordinal);
        if (!nameSet.Contains(manifestName))
        {
            throw new C1zCorruptionException($"{manifestName}: the current MANIFEST named by the marker is missing", manifestName);
        }

        var budget = new DecodeBudget(options);
        byte[] manifestBytes = ReadFile(files, manifestName, options.MaxManifestBytes, budget, ct);
        var state = ManifestReplay.Replay(manifestBytes, manifestName, manifestNumber, options, ct);
        if (manifestNumber >= state.NextFileNumber)
        {
            Fail.Corrupt(manifestName, $"the MANIFEST's own number is not below its next file number {state.NextFileNumber}");
        }

        var needed = new HashSet<ulong>();
        foreach (var t in state.Tables)
        {
            needed.Add(t.BackingFileNumber);
            if (!nameSet.Contains(t.FileName))
            {
                Fail.Corrupt(manifestName, $"live table {t.TableNumber} needs {t.FileName}, which is missing");
            }
        }

        var logs = new List<(ulong Number, string Name)>();
        foreach (string n in names)
        {
            if (n.EndsWith(".sst", StringComparison.Ordinal) && TryParseNumber(n[..^4], out ulong sst)
                && !needed.Contains(sst) && sst >= state.NextFileNumber)
            {
                // A checkpoint holds only live tables; a table from beyond the MANIFEST's history means
                // the MANIFEST lost edits (for example it was truncated at a record boundary).
                Fail.Corrupt(manifestName, $"{n} is not live and is numbered at or beyond the next file number {state.NextFileNumber}");
            }

            if (n.EndsWith(".log", StringComparison.Ordinal) && TryParseNumber(n[..^4], out ulong log) && log >= state.LogNumber)
            {
                logs.Add((log, n));
            }
        }

        var mem = new MemTable();
        long walBytes = 0;
        foreach (var (number, name) in logs.OrderBy(l => l.Number))
        {
            long len = files.GetLength(name);
            walBytes += len;
            if (walBytes > options.MaxWalBytes)
            {
                throw new C1zFormatException($"{name}: the WAL files exceed MaxWalBytes ({options.MaxWalBytes})", name);
            }

            if (len == 0)
            {
                continue;
            }

            byte[] data = ReadFile(files, name, options.MaxFileBytes, budget, ct);
            WalReplay.ReplayLog(data, name, number, options, mem, ct);
        }

        mem.Sort();
        for (int i = 1; i < mem.Points.Count; i++)
        {
            if (mem.Points[i].Seq == mem.Points[i - 1].Seq && mem.Points[i].Key.AsSpan().SequenceEqual(mem.Points[i - 1].Key))
            {
                Fail.Corrupt(logs[^1].Name, "two WAL entries share a key and a seqnum");
            }
        }

        return new PebbleDatabase(files, options, formatMajorVersion, manifestName, state, mem);
    }

    /// <summary>Looks up the newest live value of <paramref name="key"/>.</summary>
    /// <param name="key">The user key.</param>
    /// <param name="value">The value when found, else an empty array.</param>
    /// <returns>True when the key is live.</returns>
    /// <exception cref="C1zCorruptionException">A table the lookup reads is damaged.</exception>
    /// <exception cref="C1zFormatException">The data uses an unsupported feature or exceeds a budget.</exception>
    public bool TryGet(ReadOnlySpan<byte> key, out byte[] value)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        value = [];
        // The exclusive upper bound key‖0x00 is the immediate successor of key: the range holds only key.
        byte[] upper = new byte[key.Length + 1];
        key.CopyTo(upper);
        try
        {
            var blockCache = _options.BlockCacheBytes > 0 ? _blockCache : null;
            using var merge = new MergingIterator(_manifest.Tables, _mem, LoadCached, new DecodeBudget(_options), key, upper, CancellationToken.None, blockCache);
            if (merge.MoveNext())
            {
                value = merge.Value.ToArray();
                return true;
            }

            return false;
        }
        catch (Exception e) when (IsStray(e))
        {
            throw Stray(e);
        }
    }

    /// <summary>
    /// Iterates live keys in bytewise order within [<paramref name="lowerInclusive"/>, <paramref name="upperExclusive"/>).
    /// </summary>
    /// <param name="lowerInclusive">The first key of the range; empty starts at the beginning.</param>
    /// <param name="upperExclusive">The end of the range (excluded); empty means unbounded.</param>
    /// <param name="cancellationToken">Stops the scan (checked per block).</param>
    /// <returns>A cursor positioned before the first key; dispose it.</returns>
    public PebbleCursor Scan(ReadOnlySpan<byte> lowerInclusive = default, ReadOnlySpan<byte> upperExclusive = default, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var merge = new MergingIterator(_manifest.Tables, _mem, LoadUncached, new DecodeBudget(_options), lowerInclusive, upperExclusive, cancellationToken);
        return new PebbleCursor(merge);
    }

    /// <summary>Drops the table cache.</summary>
    public void Dispose()
    {
        _disposed = true;
        lock (_cacheLock)
        {
            _cache.Clear();
            _rangeDelCache.Clear();
            _cachedBytes = 0;
        }

        _blockCache.Clear();
    }

    private (TableFile, List<RangeTombstone>) LoadUncached(TableMeta meta, DecodeBudget budget)
    {
        var file = LoadFile(meta, budget);
        return (file, RangeDels(file, meta, budget));
    }

    private (TableFile, List<RangeTombstone>) LoadCached(TableMeta meta, DecodeBudget budget)
    {
        TableFile? file;
        List<RangeTombstone>? dels;
        lock (_cacheLock)
        {
            _cache.TryGetValue(meta.BackingFileNumber, out file);
            _rangeDelCache.TryGetValue(meta.TableNumber, out dels);
        }

        if (file is not null && dels is not null)
        {
            return (file, dels);
        }

        file ??= LoadFile(meta, budget);
        // Tombstone lists are never modified after decoding, so lookups can share them.
        dels = RangeDels(file, meta, budget);
        lock (_cacheLock)
        {
            if (_options.TableCacheBytes > 0 && !_cache.ContainsKey(meta.BackingFileNumber))
            {
                if (_cachedBytes + file.Data.Length > _options.TableCacheBytes)
                {
                    // Simple and bounded: start over rather than track recency.
                    _cache.Clear();
                    _rangeDelCache.Clear();
                    _cachedBytes = 0;
                }

                if (file.Data.Length <= _options.TableCacheBytes)
                {
                    _cache[meta.BackingFileNumber] = file;
                    _cachedBytes += file.Data.Length;
                }
            }

            if (_cache.ContainsKey(meta.BackingFileNumber))
            {
                _rangeDelCache[meta.TableNumber] = dels;
            }
        }

        return (file, dels);
    }

    private TableFile LoadFile(TableMeta meta, DecodeBudget budget)
    {
        string name = meta.FileName;
        byte[] data = ReadFile(_files, name, _options.MaxFileBytes, budget, CancellationToken.None);
        ulong expected = meta.IsVirtual ? _manifest.Backings[meta.BackingFileNumber] : meta.Size;
        if ((ulong)data.LongLength != expected)
        {
            Fail.Corrupt(name, $"file is {data.LongLength} bytes but the MANIFEST records {expected}");
        }

        return TableFile.Load(name, data, _options, budget);
    }

    private static List<RangeTombstone> RangeDels(TableFile file, TableMeta meta, DecodeBudget budget)
    {
        // Tombstones never reach outside their table's bounds; clipping makes that hold even for a damaged
        // table, which the lazy loading of tables relies on.
        byte[] upper = meta.LargestExclusive ? meta.LargestUserKey : [.. meta.LargestUserKey, 0];
        return file.ReadRangeDels(meta, budget, meta.SmallestUserKey, upper);
    }

    private static byte[] ReadFile(IPayloadFileSource files, string name, long max, DecodeBudget budget, CancellationToken ct)
    {
        long len = files.GetLength(name);
        if (len > max || len > Array.MaxLength)
        {
            throw new C1zFormatException($"{name}: {len}-byte file exceeds the read budget of {max} bytes", name);
        }

        budget.Charge(name, len);
        byte[] data = files.ReadAllBytes(name, ct);
        if (data.LongLength != len)
        {
            throw new C1zCorruptionException($"{name}: read {data.LongLength} bytes, the source reported {len}", name);
        }

        return data;
    }

    /// <summary>The value of the highest-iteration <c>marker.&lt;name&gt;.&lt;iter&gt;.&lt;value&gt;</c> file.</summary>
    private static string? Marker(IReadOnlyList<string> names, string marker)
    {
        string prefix = "marker." + marker + ".";
        string? best = null;
        ulong bestIter = 0;
        foreach (string n in names)
        {
            if (!n.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            string rest = n[prefix.Length..];
            int dot = rest.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0 || !TryParseNumber(rest[..dot], out ulong iter) || dot == rest.Length - 1)
            {
                throw new C1zCorruptionException($"{n}: malformed marker file name", n);
            }

            if (best is null || iter > bestIter)
            {
                best = rest[(dot + 1)..];
                bestIter = iter;
            }
        }

        return best;
    }

    private static bool TryParseNumber(string s, out ulong n)
    {
        n = 0;
        return s.Length is > 0 and <= 19 && s.All(char.IsAsciiDigit) && ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out n);
    }

    /// <summary>True for a runtime exception that escaped the explicit checks; it is reported as corruption.</summary>
    internal static bool IsStray(Exception e) => e is IndexOutOfRangeException or ArgumentException or OverflowException
        or InvalidDataException or InvalidCastException or NullReferenceException or FormatException or KeyNotFoundException
        or InvalidOperationException && e is not ObjectDisposedException;

    internal static C1zCorruptionException Stray(Exception e) => new($"damaged database: {e.GetType().Name}: {e.Message}", null, e);
}
