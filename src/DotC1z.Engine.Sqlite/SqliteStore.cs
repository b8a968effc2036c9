using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using DotC1z.Connector.V2;
using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Records;
using DotC1z.Storage;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Data.Sqlite;

namespace DotC1z.Engine.Sqlite;

/// <summary>How a <see cref="SqliteStore"/> is opened.</summary>
public sealed record SqliteStoreOptions
{
    /// <summary>Open read-only (writes throw <see cref="C1zReadOnlyException"/>); the schema is not created or migrated.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Page cache size in MiB per connection (all connections of the process together stay within <see cref="SqliteSharedMemory.HeapBytes"/>).</summary>
    public int CacheMiB { get; init; } = 64;

    /// <summary>When false, commits do not wait for fsync (<c>synchronous=OFF</c>): for benchmarks and scratch files.</summary>
    public bool Durable { get; init; } = true;

    /// <summary>
    /// The database comes from an untrusted source (a v1 file a user opened): it is data, never code.
    /// Requires <see cref="ReadOnly"/>. The connection runs in defensive mode with triggers, views,
    /// extensions and untrusted schema functions off, <c>query_only</c>, <c>temp_store=FILE</c>, a
    /// per-value size limit (<see cref="MaxValueBytes"/>) and a progress handler that interrupts a
    /// statement that produces no row within <see cref="StatementTimeout"/>. Opening checks that every
    /// table of <see cref="V1Schema.Tables"/> present is an ordinary table (not a view, virtual table or
    /// other object under that name) without generated columns, and that the text encoding is UTF-8.
    /// Violations are <see cref="C1zFormatException"/>s naming the object, table or row.
    /// </summary>
    public bool Untrusted { get; init; }

    /// <summary>The name used in error messages and <see cref="C1zException.Path"/> (default: the database file), e.g. the user's file when the database is a private temporary copy.</summary>
    public string? DisplayPath { get; init; }

    /// <summary>With <see cref="Untrusted"/>: the longest a statement may run without producing its next row before it is interrupted.</summary>
    public TimeSpan StatementTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>With <see cref="Untrusted"/>: the largest string, blob or row SQLite may handle (<c>SQLITE_LIMIT_LENGTH</c>); larger values are refused.</summary>
    public int MaxValueBytes { get; init; } = 64 << 20;
}

/// <summary>
/// An <see cref="IC1zStore"/> over baton's v1 SQLite schema (<see cref="V1Schema"/>): records are
/// stored as <c>c1.connector.v2</c> blobs (<see cref="V2Translation"/>) with baton's columns, so the
/// file is what baton itself writes. It is the second reference engine and the performance peer of
/// the RocksDB engine, configured as a careful SQLite user would: WAL journal, one transaction per
/// batch, prepared statements, a 64 MiB page cache, and read connections of their own so scans see
/// a snapshot while writes go on.
/// </summary>
public sealed class SqliteStore : IC1zStore
{
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly Lock _writeLock = new();
    private readonly SqliteStoreOptions _options;
    private readonly bool _hasExpansionColumns;
    private readonly bool _hasAssets;
    private readonly string _syncRunColumns;
    private readonly string _display;
    private readonly SyncLifecycle _lifecycle;
    private int _disposed;
    private bool _bulkActive;

    private SqliteStore(string path, SqliteStoreOptions options)
    {
        Path = path;
        _options = options;
        _display = options.DisplayPath ?? path;
        _lifecycle = new SyncLifecycle(this, _display);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = options.ReadOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            // Untrusted databases are private temporary copies: a pool per path would outlive each one. Note that
            // Microsoft.Data.Sqlite keeps a pool group per distinct connection string even without pooling, and
            // retires them with a quadratic loop under its factory lock (a process that opened ~60k v1 files under
            // fresh paths stalled every open for seconds ~5 minutes in): V1File therefore reuses its scratch paths
            // (ScratchNames in DotC1z.Interop.V1). Trusted stores keep their pooled readers.
            Pooling = !options.Untrusted,

            // Also keeps untrusted connections (defensive, progress handler) apart from trusted ones.
            ForeignKeys = options.Untrusted ? false : null,
        }.ToString();
        _writer = new SqliteConnection(_connectionString);
        try
        {
            _writer.Open();
            Configure(_writer)?.Arm();
            if (!options.ReadOnly)
            {
                Execute(_writer, "pragma journal_mode=WAL;");
                Execute(_writer, V1Schema.CreateAll);
            }

            if (options.Untrusted)
            {
                CheckUntrustedSchema();
            }

            _hasExpansionColumns = ColumnExists(_writer, "v1_grants", "needs_expansion");
            _hasAssets = TableExists(_writer, "v1_assets");
            _syncRunColumns = (ColumnExists(_writer, "v1_sync_runs", "linked_sync_id")
                ? "sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, linked_sync_id, supports_diff"
                : "sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, '' as linked_sync_id, 0 as supports_diff") + ", id";
        }
        catch
        {
            // Disposing alone would park the connection in the pool, still holding the (often deleted, temporary)
            // file: a process that is refused many files accumulated them until the pool's pruning stalled it.
            SqliteConnection.ClearPool(_writer);
            _writer.Dispose();
            throw;
        }
    }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <inheritdoc/>
    public string EngineName => "sqlite";

    /// <inheritdoc/>
    public bool IsReadOnly => _options.ReadOnly;

    /// <inheritdoc/>
    public SyncId? CurrentSync => _lifecycle.Current;

    /// <summary>Opens a v1 database file, creating it and baton's schema when it is new (unless read-only).</summary>
    /// <param name="databasePath">The SQLite file.</param>
    /// <param name="options">Options.</param>
    /// <returns>The store.</returns>
    /// <exception cref="C1zIOException">The file cannot be opened.</exception>
    /// <exception cref="C1zFormatException">The file is not a SQLite database or lacks baton's tables.</exception>
    public static SqliteStore Open(string databasePath, SqliteStoreOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        options ??= new SqliteStoreOptions();
        string full = System.IO.Path.GetFullPath(databasePath);
        string display = options.DisplayPath ?? full;
        if (options.Untrusted && !options.ReadOnly)
        {
            throw new C1zArgumentException("an untrusted database can only be opened read-only", display);
        }

        if (options.ReadOnly && !File.Exists(full))
        {
            throw new C1zIOException($"no database at {display}", display);
        }

        try
        {
            var store = new SqliteStore(full, options);
            foreach (string table in new[] { "v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_sync_runs" })
            {
                if (!TableExists(store._writer, table))
                {
                    store.Dispose();
                    throw new C1zFormatException($"{display} is not a c1z v1 database: table {table} is missing", display);
                }
            }

            return store;
        }
        catch (SqliteException ex)
        {
            throw Map(ex, display, options.Untrusted);
        }
    }

    internal static C1zException Map(SqliteException ex, string path, bool untrusted = false) => ex.SqliteErrorCode switch
    {
        11 or 26 => new C1zFormatException($"{path} is not a valid SQLite database: {ex.Message}", path, ex), // CORRUPT, NOTADB
        13 => new C1zDiskFullException($"disk full writing {path}: {ex.Message}", path, ex),
        5 or 6 => new C1zStoreInUseException($"{path} is locked: {ex.Message}", path, ex),
        8 => new C1zReadOnlyException(path),
        9 when untrusted => new C1zFormatException($"{path}: a statement ran past its time budget without producing a row and was interrupted; the database is refused: {ex.Message}", path, ex), // INTERRUPT, only from our progress handler
        18 when untrusted => new C1zFormatException($"{path}: a value exceeds the size limit for untrusted databases: {ex.Message}", path, ex), // TOOBIG
        1 or 7 or 20 or 23 or 25 when untrusted => new C1zFormatException($"{path}: the database is not usable as a v1 database: {ex.Message}", path, ex), // ERROR, NOMEM, MISMATCH, AUTH, RANGE
        _ => new C1zIOException($"SQLite error on {path}: {ex.Message}", path, ex),
    };

    private C1zException Map(SqliteException ex) => Map(ex, _display, _options.Untrusted);

    // SQLITE_DBCONFIG_* and SQLITE_LIMIT_* codes (sqlite3.h).
    private const int DbConfigEnableTrigger = 1003;
    private const int DbConfigEnableView = 1015;
    private const int DbConfigEnableLoadExtension = 1005;
    private const int DbConfigDefensive = 1010;
    private const int DbConfigTrustedSchema = 1017;
    private const int LimitLength = 0;
    private const int LimitAttached = 7;

    // VM instructions between progress-handler calls: the check is a timestamp compare, so its cost is noise.
    private const int ProgressInstructions = 16_384;

    private static readonly SQLitePCL.delegate_progress OnProgress = static budget => ((StatementBudget)budget).Expired ? 1 : 0;

    /// <summary>Per-connection deadline of an untrusted database: re-armed before each statement start and each row.</summary>
    private sealed class StatementBudget(TimeSpan timeout)
    {
        private readonly long _ticks = timeout <= TimeSpan.Zero ? 0 : (long)(timeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        private long _deadline = long.MaxValue;

        public bool Expired => System.Diagnostics.Stopwatch.GetTimestamp() > Volatile.Read(ref _deadline);

        public void Arm() => Volatile.Write(ref _deadline, System.Diagnostics.Stopwatch.GetTimestamp() + _ticks);
    }

    private StatementBudget? Configure(SqliteConnection c)
    {
        SqliteSharedMemory.ApplyDefault();
        if (!_options.Untrusted)
        {
            Execute(c, $"pragma cache_size=-{_options.CacheMiB * 1024}; pragma temp_store=memory; pragma mmap_size=0; pragma cell_size_check=on; pragma synchronous={(_options.Durable ? "NORMAL" : "OFF")};");
            return null;
        }

        // Data, never code (docs/RELIABILITY.md "Hostile v1 (SQLite) inputs"): no triggers, views,
        // extensions, attached databases or schema-invoked functions; defensive mode; values capped;
        // sorts and temporary tables spill to files rather than growing the heap; and a deadline.
        var db = c.Handle!;
        foreach (var (op, value) in new[] { (DbConfigDefensive, 1), (DbConfigEnableTrigger, 0), (DbConfigEnableView, 0), (DbConfigEnableLoadExtension, 0), (DbConfigTrustedSchema, 0) })
        {
            int rc = SQLitePCL.raw.sqlite3_db_config(db, op, value, out _);
            if (rc != 0)
            {
                throw new C1zIOException($"cannot configure SQLite for an untrusted database (option {op}, code {rc}): {_display}", _display);
            }
        }

        SQLitePCL.raw.sqlite3_limit(db, LimitLength, _options.MaxValueBytes);
        SQLitePCL.raw.sqlite3_limit(db, LimitAttached, 0);
        var budget = new StatementBudget(_options.StatementTimeout);
        budget.Arm();
        SQLitePCL.raw.sqlite3_progress_handler(db, ProgressInstructions, OnProgress, budget);
        Execute(c, $"pragma trusted_schema=OFF; pragma query_only=ON; pragma cache_size=-{_options.CacheMiB * 1024}; pragma temp_store=FILE; pragma mmap_size=0; pragma cell_size_check=on;");
        return budget;
    }

    /// <summary>
    /// Checks the schema of an untrusted database before any of its tables is read: UTF-8 text, and each
    /// name of <see cref="V1Schema.Tables"/> (compared as SQLite does, ignoring ASCII case) is either absent
    /// or an ordinary table with no generated columns. Views, virtual tables, indexes and anything else
    /// under an expected name are refused by name, since a view runs arbitrary SQL when read.
    /// </summary>
    private void CheckUntrustedSchema()
    {
        using (var enc = _writer.CreateCommand())
        {
            enc.CommandText = "pragma encoding";
            string? encoding = enc.ExecuteScalar() as string;
            if (!string.Equals(encoding, "UTF-8", StringComparison.Ordinal))
            {
                throw new C1zFormatException($"{_display}: the database text encoding is {encoding}, not UTF-8", _display);
            }
        }

        foreach (string table in V1Schema.Tables)
        {
            using var cmd = _writer.CreateCommand();
            cmd.CommandText = "select type, name, rootpage, coalesce(sql, '') from sqlite_master where type <> 'trigger' and name = $n collate nocase";
            cmd.Parameters.AddWithValue("$n", table);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                string type = r.IsDBNull(0) ? string.Empty : r.GetString(0);
                string name = r.IsDBNull(1) ? string.Empty : r.GetString(1);
                long rootpage = r.IsDBNull(2) ? 0 : r.GetInt64(2);
                string sql = r.GetString(3);
                if (type != "table" || rootpage <= 0 || sql.TrimStart().StartsWith("create virtual", StringComparison.OrdinalIgnoreCase))
                {
                    string what = type == "table" ? "virtual table" : type;
                    throw new C1zFormatException($"{_display} is not a c1z v1 database: \"{name}\" is a {what}, not a table; schema objects under v1 table names are refused", _display);
                }
            }
        }

        foreach (string table in V1Schema.Tables)
        {
            using var cmd = _writer.CreateCommand();
            cmd.CommandText = "select name from pragma_table_xinfo($t) where hidden <> 0";
            cmd.Parameters.AddWithValue("$t", table);
            if (cmd.ExecuteScalar() is string column)
            {
                throw new C1zFormatException($"{_display} is not a c1z v1 database: {table}.{column} is a generated or hidden column", _display);
            }
        }
    }

    private static void Execute(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static bool TableExists(SqliteConnection c, string table)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = "select count(*) from sqlite_master where type='table' and name=$n";
        cmd.Parameters.AddWithValue("$n", table);
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private static bool ColumnExists(SqliteConnection c, string table, string column)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = $"select count(*) from pragma_table_info('{table}') where name=$c";
        cmd.Parameters.AddWithValue("$c", column);
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private void ThrowIfNotWritable()
    {
        ThrowIfDisposed();
        if (IsReadOnly)
        {
            throw new C1zReadOnlyException(_display);
        }

        if (_bulkActive)
        {
            throw new C1zArgumentException($"a bulk load is running on {_display}; write through the loader", _display);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _writer.Dispose();
        SqliteConnection.ClearPool(new SqliteConnection(_connectionString));
    }

    // ------------------------------------------------------------------ helpers

    private static string SyncTypeText(SyncType t) => t switch
    {
        SyncType.Full => "full",
        SyncType.Partial => "partial",
        SyncType.ResourcesOnly => "resources_only",
        SyncType.PartialUpserts => "partial_upserts",
        SyncType.PartialDeletions => "partial_deletions",
        _ => string.Empty,
    };

    private static SyncType ParseSyncType(string? t) => t switch
    {
        "full" => SyncType.Full,
        "partial" => SyncType.Partial,
        "resources_only" => SyncType.ResourcesOnly,
        "partial_upserts" => SyncType.PartialUpserts,
        "partial_deletions" => SyncType.PartialDeletions,
        _ => SyncType.Unspecified,
    };

    private static string TimeText(Timestamp? t) => t is null ? string.Empty : V2Translation.FormatTime(t);

    private T Write<T>(Func<SqliteConnection, SqliteTransaction, T> body)
    {
        ThrowIfNotWritable();
        lock (_writeLock)
        {
            try
            {
                using var tx = _writer.BeginTransaction();
                var result = body(_writer, tx);
                tx.Commit();
                return result;
            }
            catch (SqliteException ex)
            {
                throw Map(ex);
            }
        }
    }

    private (SqliteConnection Connection, StatementBudget? Budget) OpenReader()
    {
        var c = new SqliteConnection(_connectionString);
        try
        {
            c.Open();
            return (c, Configure(c));
        }
        catch (SqliteException ex)
        {
            c.Dispose();
            throw Map(ex);
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    private IEnumerable<T> Query<T>(string sql, Action<SqliteParameterCollection> bind, Func<SqliteDataReader, T> map)
    {
        ThrowIfDisposed();
        return Run();

        IEnumerable<T> Run()
        {
            var (c, budget) = OpenReader();
            using var connection = c;
            using var cmd = c.CreateCommand();
            cmd.CommandText = sql;
            bind(cmd.Parameters);
            SqliteDataReader reader;
            try
            {
                budget?.Arm();
                reader = cmd.ExecuteReader();
            }
            catch (SqliteException ex)
            {
                throw Map(ex);
            }

            using (reader)
            {
                while (true)
                {
                    bool more;
                    T item;
                    try
                    {
                        budget?.Arm();
                        more = reader.Read();
                        item = more ? map(reader) : default!;
                    }
                    catch (SqliteException ex)
                    {
                        throw Map(ex);
                    }
                    catch (Exception ex) when (_options.Untrusted && ex is InvalidCastException or InvalidOperationException or FormatException or OverflowException)
                    {
                        throw new C1zFormatException($"{_display}: a row does not have the expected column types: {ex.Message}", _display, ex);
                    }

                    if (!more)
                    {
                        yield break;
                    }

                    yield return item;
                }
            }
        }
    }

    private static byte[] Blob(SqliteDataReader r, int i) => r.IsDBNull(i) ? [] : r.GetFieldValue<byte[]>(i);

    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// A text column holding an identity, checked to be valid UTF-8: .NET decoding turns invalid bytes into
    /// U+FFFD, which would make distinct ids equal. Only a value that decodes with a U+FFFD is re-read as
    /// bytes and decoded strictly, so valid text costs one vectorized scan.
    /// </summary>
    private string Text(SqliteDataReader r, int i, string table, string column, int rowidOrdinal = 0)
    {
        if (r.IsDBNull(i))
        {
            throw new C1zFormatException($"{_display}: {table} row {r.GetInt64(rowidOrdinal)}: {column} is NULL", _display);
        }

        string s = r.GetString(i);
        if (s.Contains('\uFFFD', StringComparison.Ordinal))
        {
            byte[] raw = r.GetFieldValue<byte[]>(i);
            try
            {
                return StrictUtf8.GetString(raw);
            }
            catch (System.Text.DecoderFallbackException ex)
            {
                throw new C1zFormatException($"{_display}: {table} row {r.GetInt64(rowidOrdinal)}: {column} is not valid UTF-8 (bytes {Convert.ToHexString(raw, 0, Math.Min(raw.Length, 64))}); ids are refused rather than altered", _display, ex);
            }
        }

        return s;
    }

    private string? OptionalText(SqliteDataReader r, int i, string table, string column, int rowidOrdinal = 0) =>
        r.IsDBNull(i) ? null : Text(r, i, table, column, rowidOrdinal);

    private T Decode<T>(Func<T> parse, string table, SqliteDataReader r)
    {
        try
        {
            return parse();
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new C1zCorruptionException($"{_display}: {table} row {r.GetInt64(0)}: data blob does not decode: {ex.Message}", _display, ex);
        }
    }

    // ------------------------------------------------------------------ sync runs

    /// <inheritdoc/>
    public SyncId StartSync(SyncType type, SyncId? parent = null)
    {
        ThrowIfNotWritable();
        return _lifecycle.Start(type, parent);
    }

    /// <inheritdoc/>
    public void SetCurrentSync(SyncId syncId)
    {
        ThrowIfDisposed();
        _lifecycle.SetCurrent(syncId);
    }

    /// <inheritdoc/>
    public void EndSync(SyncId syncId)
    {
        ThrowIfNotWritable();
        _lifecycle.End(syncId);
    }

    /// <inheritdoc/>
    public void PutSyncRun(SyncRunRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!SyncId.TryParse(record.SyncId, out _))
        {
            throw new C1zArgumentException($"sync run record has an invalid sync id \"{record.SyncId}\"");
        }

        Write((c, tx) =>
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = """
                insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, linked_sync_id, supports_diff, grants_backfilled)
                values ($id, $started, $ended, $token, $type, $parent, $linked, $diff, 1)
                on conflict (sync_id) do update set started_at=excluded.started_at, ended_at=excluded.ended_at, sync_token=excluded.sync_token,
                  sync_type=excluded.sync_type, parent_sync_id=excluded.parent_sync_id, linked_sync_id=excluded.linked_sync_id, supports_diff=excluded.supports_diff
                """;
            cmd.Parameters.AddWithValue("$id", record.SyncId);
            cmd.Parameters.AddWithValue("$started", TimeText(record.StartedAt));
            cmd.Parameters.AddWithValue("$ended", record.EndedAt is null ? DBNull.Value : TimeText(record.EndedAt));
            cmd.Parameters.AddWithValue("$token", record.SyncToken);
            cmd.Parameters.AddWithValue("$type", SyncTypeText(record.Type));
            cmd.Parameters.AddWithValue("$parent", record.ParentSyncId);
            cmd.Parameters.AddWithValue("$linked", record.LinkedSyncId);
            cmd.Parameters.AddWithValue("$diff", record.SupportsDiff ? 1 : 0);
            return cmd.ExecuteNonQuery();
        });
    }

    private string SyncRunColumns => _syncRunColumns;

    private SyncRunRecord MapRun(SqliteDataReader r) => new()
    {
        SyncId = Text(r, 0, "v1_sync_runs", "sync_id", 8),
        StartedAt = V2Translation.ParseTime(r.IsDBNull(1) ? null : r.GetString(1)),
        EndedAt = V2Translation.ParseTime(r.IsDBNull(2) ? null : r.GetString(2)),
        SyncToken = OptionalText(r, 3, "v1_sync_runs", "sync_token", 8) ?? string.Empty,
        Type = ParseSyncType(r.IsDBNull(4) ? null : r.GetString(4)),
        ParentSyncId = OptionalText(r, 5, "v1_sync_runs", "parent_sync_id", 8) ?? string.Empty,
        LinkedSyncId = OptionalText(r, 6, "v1_sync_runs", "linked_sync_id", 8) ?? string.Empty,
        SupportsDiff = !r.IsDBNull(7) && r.GetInt64(7) != 0,
    };

    /// <inheritdoc/>
    public bool TryGetSyncRun(SyncId syncId, [NotNullWhen(true)] out SyncRunRecord? record)
    {
        string text = syncId.ToString();
        record = Query($"select {SyncRunColumns} from v1_sync_runs where sync_id=$id", p => p.AddWithValue("$id", text), MapRun).FirstOrDefault();
        return record is not null;
    }

    /// <inheritdoc/>
    public IReadOnlyList<SyncRunRecord> ListSyncRuns() =>
        Query($"select {SyncRunColumns} from v1_sync_runs order by sync_id", _ => { }, MapRun).ToList();

    /// <inheritdoc/>
    public bool DeleteSync(SyncId syncId)
    {
        string text = syncId.ToString();
        bool existed = TryGetSyncRun(syncId, out _);
        Write((c, tx) =>
        {
            foreach (string table in new[] { "v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets", "v1_sync_runs", "v1_connector_sessions" })
            {
                using var cmd = c.CreateCommand();
                cmd.Transaction = tx;
                cmd.CommandText = $"delete from {table} where sync_id=$s";
                cmd.Parameters.AddWithValue("$s", text);
                cmd.ExecuteNonQuery();
            }

            return 0;
        });
        lock (_writeLock)
        {
            _lifecycle.Forget(syncId);
        }

        return existed;
    }

    // ------------------------------------------------------------------ writes

    private static void Require(string? v, string what)
    {
        if (string.IsNullOrEmpty(v))
        {
            throw new C1zArgumentException($"{what} must not be empty");
        }
    }

    /// <summary>Prepared upsert statements of one transaction, reused for every row.</summary>
    internal sealed class Writer : IDisposable
    {
        private readonly SqliteCommand _rt, _res, _ent, _grant, _asset;
        private readonly string _sync;

        public Writer(SqliteConnection c, SqliteTransaction tx, string sync)
        {
            _sync = sync;
            _rt = Prepare(c, tx, """
                insert into v1_resource_types (external_id, data, sync_id, discovered_at) values ($ext, $data, $sync, $at)
                on conflict (external_id, sync_id) do update set data=excluded.data, discovered_at=excluded.discovered_at
                """, "$ext", "$data", "$at");
            _res = Prepare(c, tx, """
                insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at)
                values ($rt, $ext, $prt, $pid, $data, $sync, $at)
                on conflict (external_id, sync_id) do update set resource_type_id=excluded.resource_type_id, parent_resource_type_id=excluded.parent_resource_type_id,
                  parent_resource_id=excluded.parent_resource_id, data=excluded.data, discovered_at=excluded.discovered_at
                """, "$rt", "$ext", "$prt", "$pid", "$data", "$at");
            _ent = Prepare(c, tx, """
                insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) values ($rt, $rid, $ext, $data, $sync, $at)
                on conflict (external_id, sync_id) do update set resource_type_id=excluded.resource_type_id, resource_id=excluded.resource_id, data=excluded.data, discovered_at=excluded.discovered_at
                """, "$rt", "$rid", "$ext", "$data", "$at");
            _grant = Prepare(c, tx, """
                insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at)
                values ($rt, $rid, $ent, $prt, $pid, $ext, $exp, $needs, $data, $sync, $at)
                on conflict (external_id, sync_id) do update set resource_type_id=excluded.resource_type_id, resource_id=excluded.resource_id, entitlement_id=excluded.entitlement_id,
                  principal_resource_type_id=excluded.principal_resource_type_id, principal_resource_id=excluded.principal_resource_id, expansion=excluded.expansion,
                  needs_expansion=excluded.needs_expansion, data=excluded.data, discovered_at=excluded.discovered_at
                """, "$rt", "$rid", "$ent", "$prt", "$pid", "$ext", "$exp", "$needs", "$data", "$at");
            _asset = Prepare(c, tx, """
                insert into v1_assets (external_id, content_type, data, sync_id, discovered_at) values ($ext, $ct, $data, $sync, $at)
                on conflict (external_id, sync_id) do update set content_type=excluded.content_type, data=excluded.data, discovered_at=excluded.discovered_at
                """, "$ext", "$ct", "$data", "$at");
        }

        private SqliteCommand Prepare(SqliteConnection c, SqliteTransaction tx, string sql, params string[] names)
        {
            var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = sql;
            foreach (string n in names)
            {
                cmd.Parameters.Add(new SqliteParameter(n, null));
            }

            cmd.Parameters.AddWithValue("$sync", _sync);
            cmd.Prepare();
            return cmd;
        }

        private static void Run(SqliteCommand cmd, params object?[] values)
        {
            for (int i = 0; i < values.Length; i++)
            {
                cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
            }

            cmd.ExecuteNonQuery();
        }

        public void Put(ResourceTypeRecord r)
        {
            Require(r.ExternalId, "resource type external_id");
            Run(_rt, r.ExternalId, V2Translation.ToV2(r).ToByteArray(), TimeText(r.DiscoveredAt));
        }

        public void Put(ResourceRecord r)
        {
            Require(r.ResourceTypeId, "resource resource_type_id");
            Require(r.ResourceId, "resource resource_id");
            bool hasParent = r.Parent is { ResourceId.Length: > 0 };
            Run(_res, r.ResourceTypeId, r.ResourceTypeId + ":" + r.ResourceId, hasParent ? r.Parent!.ResourceTypeId : null, hasParent ? r.Parent!.ResourceId : null, V2Translation.ToV2(r).ToByteArray(), TimeText(r.DiscoveredAt));
        }

        public void Put(EntitlementRecord r)
        {
            Require(r.ExternalId, "entitlement external_id");
            Run(_ent, r.Resource?.ResourceTypeId ?? string.Empty, r.Resource?.ResourceId ?? string.Empty, r.ExternalId, V2Translation.ToV2(r).ToByteArray(), TimeText(r.DiscoveredAt));
        }

        public void Put(GrantRecord r)
        {
            Require(r.ExternalId, "grant external_id");
            var expansion = V2Translation.ExpansionOf(r);
            Run(_grant,
                r.Entitlement?.ResourceTypeId ?? string.Empty,
                r.Entitlement?.ResourceId ?? string.Empty,
                r.Entitlement?.EntitlementId ?? string.Empty,
                r.Principal?.ResourceTypeId ?? string.Empty,
                r.Principal?.ResourceId ?? string.Empty,
                r.ExternalId,
                expansion?.ToByteArray(),
                r.NeedsExpansion ? 1 : 0,
                V2Translation.ToV2(r).ToByteArray(),
                TimeText(r.DiscoveredAt));
        }

        public void Put(AssetRecord r)
        {
            Require(r.ExternalId, "asset external_id");
            Run(_asset, r.ExternalId, r.ContentType, r.Data.ToByteArray(), TimeText(r.DiscoveredAt));
        }

        public void Dispose()
        {
            _rt.Dispose();
            _res.Dispose();
            _ent.Dispose();
            _grant.Dispose();
            _asset.Dispose();
        }
    }

    private void PutAll<T>(SyncId syncId, IReadOnlyList<T> records, Action<Writer, T> put)
    {
        ArgumentNullException.ThrowIfNull(records);
        Write((c, tx) =>
        {
            using var w = new Writer(c, tx, syncId.ToString());
            foreach (var r in records)
            {
                ArgumentNullException.ThrowIfNull(r);
                put(w, r);
            }

            return 0;
        });
    }

    /// <inheritdoc/>
    public void PutResourceTypes(SyncId syncId, IReadOnlyList<ResourceTypeRecord> records) => PutAll(syncId, records, static (w, r) => w.Put(r));

    /// <inheritdoc/>
    public void PutResources(SyncId syncId, IReadOnlyList<ResourceRecord> records) => PutAll(syncId, records, static (w, r) => w.Put(r));

    /// <inheritdoc/>
    public void PutEntitlements(SyncId syncId, IReadOnlyList<EntitlementRecord> records) => PutAll(syncId, records, static (w, r) => w.Put(r));

    /// <inheritdoc/>
    public void PutGrants(SyncId syncId, IReadOnlyList<GrantRecord> records) => PutAll(syncId, records, static (w, r) => w.Put(r));

    /// <inheritdoc/>
    public void PutAssets(SyncId syncId, IReadOnlyList<AssetRecord> records) => PutAll(syncId, records, static (w, r) => w.Put(r));

    private bool DeleteWhere(string table, string where, SyncId syncId, params (string Name, string Value)[] args)
    {
        foreach (var (_, v) in args)
        {
            ArgumentNullException.ThrowIfNull(v);
        }

        return Write((c, tx) =>
        {
            using var cmd = c.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = $"delete from {table} where sync_id=$sync and {where}";
            cmd.Parameters.AddWithValue("$sync", syncId.ToString());
            foreach (var (n, v) in args)
            {
                cmd.Parameters.AddWithValue(n, v);
            }

            return cmd.ExecuteNonQuery() > 0;
        });
    }

    /// <inheritdoc/>
    public bool DeleteResourceType(SyncId syncId, string externalId) => DeleteWhere("v1_resource_types", "external_id=$ext", syncId, ("$ext", externalId));

    /// <inheritdoc/>
    public bool DeleteResource(SyncId syncId, string resourceTypeId, string resourceId) =>
        DeleteWhere("v1_resources", "external_id=$ext", syncId, ("$ext", resourceTypeId + ":" + resourceId));

    /// <inheritdoc/>
    public bool DeleteEntitlement(SyncId syncId, string externalId) => DeleteWhere("v1_entitlements", "external_id=$ext", syncId, ("$ext", externalId));

    /// <inheritdoc/>
    public bool DeleteGrant(SyncId syncId, string externalId) => DeleteWhere("v1_grants", "external_id=$ext", syncId, ("$ext", externalId));

    /// <inheritdoc/>
    public bool DeleteAsset(SyncId syncId, string externalId) => DeleteWhere("v1_assets", "external_id=$ext", syncId, ("$ext", externalId));

    // ------------------------------------------------------------------ reads

    private const string RtCols = "id, external_id, data, discovered_at";
    private const string ResCols = "id, resource_type_id, external_id, data, discovered_at";
    private const string EntCols = "id, external_id, data, discovered_at";
    private const string AssetCols = "id, external_id, content_type, data, discovered_at";

    private string GrantCols => _hasExpansionColumns
        ? "id, external_id, data, discovered_at, expansion, needs_expansion"
        : "id, external_id, data, discovered_at, null as expansion, null as needs_expansion";

    private ResourceTypeRecord MapRt(SqliteDataReader r, string sync)
    {
        var rec = V2Translation.ToRecord(Decode(() => ResourceType.Parser.ParseFrom(Blob(r, 2)), "v1_resource_types", r));
        rec.ExternalId = Text(r, 1, "v1_resource_types", "external_id");
        rec.DiscoveredAt = V2Translation.ParseTime(r.IsDBNull(3) ? null : r.GetString(3));
        rec.SyncId = sync;
        return rec;
    }

    private ResourceRecord MapRes(SqliteDataReader r, string sync)
    {
        var rec = V2Translation.ToRecord(Decode(() => Resource.Parser.ParseFrom(Blob(r, 3)), "v1_resources", r));
        string type = Text(r, 1, "v1_resources", "resource_type_id");
        string ext = Text(r, 2, "v1_resources", "external_id");
        rec.ResourceTypeId = type;
        rec.ResourceId = ext.Length > type.Length && ext.StartsWith(type, StringComparison.Ordinal) && ext[type.Length] == ':' ? ext[(type.Length + 1)..] : rec.ResourceId;
        rec.DiscoveredAt = V2Translation.ParseTime(r.IsDBNull(4) ? null : r.GetString(4));
        rec.SyncId = sync;
        return rec;
    }

    private EntitlementRecord MapEnt(SqliteDataReader r, string sync)
    {
        var rec = V2Translation.ToRecord(Decode(() => Entitlement.Parser.ParseFrom(Blob(r, 2)), "v1_entitlements", r));
        rec.ExternalId = Text(r, 1, "v1_entitlements", "external_id");
        rec.DiscoveredAt = V2Translation.ParseTime(r.IsDBNull(3) ? null : r.GetString(3));
        rec.SyncId = sync;
        return rec;
    }

    private GrantRecord MapGrant(SqliteDataReader r, string sync)
    {
        var grant = Decode(() => Grant.Parser.ParseFrom(Blob(r, 2)), "v1_grants", r);
        GrantExpandable? expansion = null;
        bool? needs = null;
        if (!r.IsDBNull(5))
        {
            needs = r.GetInt64(5) != 0;
            byte[] exp = Blob(r, 4);
            expansion = r.IsDBNull(4) || exp.Length == 0 ? null : Decode(() => GrantExpandable.Parser.ParseFrom(exp), "v1_grants", r);
        }

        var rec = V2Translation.ToRecord(grant, expansion, needs);
        rec.ExternalId = Text(r, 1, "v1_grants", "external_id");
        rec.DiscoveredAt = V2Translation.ParseTime(r.IsDBNull(3) ? null : r.GetString(3));
        rec.SyncId = sync;
        return rec;
    }

    private AssetRecord MapAsset(SqliteDataReader r, string sync) => new()
    {
        ExternalId = Text(r, 1, "v1_assets", "external_id"),
        ContentType = Text(r, 2, "v1_assets", "content_type"),
        Data = ByteString.CopyFrom(Blob(r, 3)),
        DiscoveredAt = V2Translation.ParseTime(r.IsDBNull(4) ? null : r.GetString(4)),
        SyncId = sync,
    };

    private IEnumerable<T> Select<T>(SyncId syncId, string sql, Func<SqliteDataReader, string, T> map, params (string Name, object Value)[] args)
    {
        string sync = syncId.ToString();
        return Query(sql, p =>
        {
            p.AddWithValue("$sync", sync);
            foreach (var (n, v) in args)
            {
                p.AddWithValue(n, v);
            }
        }, r => map(r, sync));
    }

    /// <inheritdoc/>
    public bool TryGetResourceType(SyncId syncId, string externalId, [NotNullWhen(true)] out ResourceTypeRecord? record)
    {
        ArgumentNullException.ThrowIfNull(externalId);
        record = Select(syncId, $"select {RtCols} from v1_resource_types where sync_id=$sync and external_id=$ext", MapRt, ("$ext", externalId)).FirstOrDefault();
        return record is not null;
    }

    /// <inheritdoc/>
    public bool TryGetResource(SyncId syncId, string resourceTypeId, string resourceId, [NotNullWhen(true)] out ResourceRecord? record)
    {
        ArgumentNullException.ThrowIfNull(resourceTypeId);
        ArgumentNullException.ThrowIfNull(resourceId);
        record = Select(syncId, $"select {ResCols} from v1_resources where sync_id=$sync and external_id=$ext and resource_type_id=$rt", MapRes, ("$ext", resourceTypeId + ":" + resourceId), ("$rt", resourceTypeId)).FirstOrDefault();
        return record is not null;
    }

    /// <inheritdoc/>
    public bool TryGetEntitlement(SyncId syncId, string externalId, [NotNullWhen(true)] out EntitlementRecord? record)
    {
        ArgumentNullException.ThrowIfNull(externalId);
        record = Select(syncId, $"select {EntCols} from v1_entitlements where sync_id=$sync and external_id=$ext", MapEnt, ("$ext", externalId)).FirstOrDefault();
        return record is not null;
    }

    /// <inheritdoc/>
    public bool TryGetGrant(SyncId syncId, string externalId, [NotNullWhen(true)] out GrantRecord? record)
    {
        ArgumentNullException.ThrowIfNull(externalId);
        record = Select(syncId, $"select {GrantCols} from v1_grants where sync_id=$sync and external_id=$ext", MapGrant, ("$ext", externalId)).FirstOrDefault();
        return record is not null;
    }

    /// <inheritdoc/>
    public bool TryGetAsset(SyncId syncId, string externalId, [NotNullWhen(true)] out AssetRecord? record)
    {
        ArgumentNullException.ThrowIfNull(externalId);
        record = Select(syncId, $"select {AssetCols} from v1_assets where sync_id=$sync and external_id=$ext", MapAsset, ("$ext", externalId)).FirstOrDefault();
        return record is not null;
    }

    /// <inheritdoc/>
    public IEnumerable<ResourceTypeRecord> ResourceTypes(SyncId syncId) => List(syncId, RecordListing.ResourceTypes());

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> Resources(SyncId syncId) => List(syncId, RecordListing.Resources());

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> ResourcesByType(SyncId syncId, string resourceTypeId) => List(syncId, RecordListing.ResourcesByType(resourceTypeId));

    /// <inheritdoc/>
    public IEnumerable<ResourceRecord> ResourcesByParent(SyncId syncId, string parentResourceTypeId, string parentResourceId) =>
        List(syncId, RecordListing.ResourcesByParent(parentResourceTypeId, parentResourceId));

    /// <inheritdoc/>
    public IEnumerable<EntitlementRecord> Entitlements(SyncId syncId) => List(syncId, RecordListing.Entitlements());

    /// <inheritdoc/>
    public IEnumerable<EntitlementRecord> EntitlementsByResource(SyncId syncId, string resourceTypeId, string resourceId) =>
        List(syncId, RecordListing.EntitlementsByResource(resourceTypeId, resourceId));

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> Grants(SyncId syncId) => List(syncId, RecordListing.Grants());

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByEntitlement(SyncId syncId, string entitlementId) => List(syncId, RecordListing.GrantsByEntitlement(entitlementId));

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByPrincipal(SyncId syncId, string principalResourceTypeId, string principalResourceId) =>
        List(syncId, RecordListing.GrantsByPrincipal(principalResourceTypeId, principalResourceId));

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsByEntitlementResource(SyncId syncId, string resourceTypeId, string resourceId) =>
        List(syncId, RecordListing.GrantsByResource(resourceTypeId, resourceId));

    /// <inheritdoc/>
    public IEnumerable<GrantRecord> GrantsNeedingExpansion(SyncId syncId) => _hasExpansionColumns
        ? Select(syncId, $"select {GrantCols} from v1_grants where sync_id=$sync and needs_expansion=1 order by external_id", MapGrant)
        : Grants(syncId).Where(g => g.NeedsExpansion);

    /// <inheritdoc/>
    public IEnumerable<AssetRecord> Assets(SyncId syncId) => List(syncId, RecordListing.Assets());

    /// <inheritdoc/>
    public IEnumerable<T> List<T>(SyncId syncId, RecordListing<T> listing, IReadOnlyList<string>? after = null)
        where T : class, IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(listing);
        if (after is not null && after.Count != listing.SortKeyLength)
        {
            throw new C1zArgumentException($"a position in {listing.Kind} has {listing.SortKeyLength} elements, not {after.Count}");
        }

        // (table and columns, filter, order columns = the listing's order, how a position maps onto them)
        const string Res = "v1_resources";
        var (from, filter, order) = listing.Kind switch
        {
            ListingKind.ResourceTypes => ($"select {RtCols} from v1_resource_types", string.Empty, "external_id"),
            ListingKind.Resources => ($"select {ResCols} from {Res}", string.Empty, "resource_type_id, external_id"),
            ListingKind.ResourcesByType => ($"select {ResCols} from {Res}", "and resource_type_id=$a", "external_id"),
            ListingKind.ResourcesByParent => listing.Second.Length == 0
                ? ($"select {ResCols} from {Res}", "and coalesce(parent_resource_id, '')='' and coalesce(parent_resource_type_id, '')=$a", "resource_type_id, external_id")
                : ($"select {ResCols} from {Res}", "and parent_resource_type_id=$a and parent_resource_id=$b", "resource_type_id, external_id"),
            ListingKind.Entitlements => ($"select {EntCols} from v1_entitlements", string.Empty, "external_id"),
            ListingKind.EntitlementsByResource => ($"select {EntCols} from v1_entitlements", "and resource_type_id=$a and resource_id=$b", "external_id"),
            ListingKind.Grants => ($"select {GrantCols} from v1_grants", string.Empty, "external_id"),
            ListingKind.GrantsByEntitlement => ($"select {GrantCols} from v1_grants", "and entitlement_id=$a", "principal_resource_type_id, principal_resource_id, external_id"),
            ListingKind.GrantsByPrincipal => ($"select {GrantCols} from v1_grants", "and principal_resource_type_id=$a and principal_resource_id=$b", "external_id"),
            ListingKind.GrantsByResourceType => ($"select {GrantCols} from v1_grants", "and resource_type_id=$a", "resource_id, external_id"),
            ListingKind.GrantsByResource => ($"select {GrantCols} from v1_grants", "and resource_type_id=$a and resource_id=$b", "external_id"),
            ListingKind.Assets => ($"select {AssetCols} from v1_assets", string.Empty, "external_id"),
            _ => throw new C1zArgumentException($"unknown listing {listing.Kind}"),
        };

        var args = new List<(string Name, object Value)>();
        if (filter.Contains("$a", StringComparison.Ordinal))
        {
            args.Add(("$a", listing.First));
        }

        if (filter.Contains("$b", StringComparison.Ordinal))
        {
            args.Add(("$b", listing.Second));
        }

        string resume = string.Empty;
        if (after is not null)
        {
            // A resource's v1 external id is "type:id", so a (type, id) position compares as (type, "type:id").
            var values = listing.RecordKind == RecordKind.Resource && listing.Kind != ListingKind.ResourcesByType
                ? [after[0], after[0] + ":" + after[1]]
                : listing.Kind == ListingKind.ResourcesByType ? [listing.First + ":" + after[0]] : after.ToArray();
            var names = new string[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                names[i] = "$p" + i.ToString(CultureInfo.InvariantCulture);
                args.Add((names[i], values[i]));
            }

            resume = $"and ({order}) > ({string.Join(", ", names)})";
        }

        string sql = $"{from} where sync_id=$sync {filter} {resume} order by {order}";
        object map = listing.RecordKind switch
        {
            RecordKind.ResourceType => (Func<SqliteDataReader, string, ResourceTypeRecord>)MapRt,
            RecordKind.Resource => (Func<SqliteDataReader, string, ResourceRecord>)MapRes,
            RecordKind.Entitlement => (Func<SqliteDataReader, string, EntitlementRecord>)MapEnt,
            RecordKind.Grant => (Func<SqliteDataReader, string, GrantRecord>)MapGrant,
            _ => (Func<SqliteDataReader, string, AssetRecord>)MapAsset,
        };
        return Select(syncId, sql, (Func<SqliteDataReader, string, T>)map, [.. args]);
    }

    /// <inheritdoc/>
    public RecordCounts Count(SyncId syncId)
    {
        long C(string table) => Select(syncId, $"select count(*) from {table} where sync_id=$sync", (r, _) => r.GetInt64(0)).First();
        return new RecordCounts(C("v1_resource_types"), C("v1_resources"), C("v1_entitlements"), C("v1_grants"), _hasAssets ? C("v1_assets") : 0);
    }

    // ------------------------------------------------------------------ bulk

    /// <inheritdoc/>
    public IBulkLoader BeginBulkLoad(SyncId syncId)
    {
        ThrowIfNotWritable();
        lock (_writeLock)
        {
            _bulkActive = true;
            try
            {
                return new Loader(this, syncId);
            }
            catch
            {
                _bulkActive = false;
                throw;
            }
        }
    }

    /// <summary>One transaction with prepared statements, committed at <see cref="Complete"/>.</summary>
    private sealed class Loader : IBulkLoader
    {
        private readonly SqliteStore _store;
        private readonly SqliteTransaction _tx;
        private readonly Writer _writer;
        private bool _done;

        public Loader(SqliteStore store, SyncId sync)
        {
            _store = store;
            _tx = store._writer.BeginTransaction();
            _writer = new Writer(store._writer, _tx, sync.ToString());
        }

        private void Guard(Action a)
        {
            if (_done)
            {
                throw new InvalidOperationException("the bulk load is already complete");
            }

            try
            {
                a();
            }
            catch (SqliteException ex)
            {
                throw _store.Map(ex);
            }
        }

        public void Add(ResourceTypeRecord record) => Guard(() => _writer.Put(record));

        public void Add(ResourceRecord record) => Guard(() => _writer.Put(record));

        public void Add(EntitlementRecord record) => Guard(() => _writer.Put(record));

        public void Add(GrantRecord record) => Guard(() => _writer.Put(record));

        public void Add(AssetRecord record) => Guard(() => _writer.Put(record));

        public void Complete(CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Guard(_tx.Commit);
            _done = true;
        }

        public void Dispose()
        {
            _writer.Dispose();
            if (!_done)
            {
                _tx.Rollback();
            }

            _tx.Dispose();
            _store._bulkActive = false;
        }
    }
}
