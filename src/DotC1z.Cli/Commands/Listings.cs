using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using DotC1z.Cli.Output;
using DotC1z.Keys;
using DotC1z.Storage;
using Google.Protobuf;

namespace DotC1z.Cli.Commands;

/// <summary>
/// The options every listing command shares (docs/CLI.md §2.2): the input, <c>--sync-id</c> (alias
/// <c>--sync</c>), <c>--format</c>, <c>--limit</c>, <c>--page-token</c> and <c>--skip-bad</c>.
/// </summary>
internal sealed class ListingOptions
{
    public ListingOptions(bool paging = true, bool skipBad = true)
    {
        Paging = paging;
        HasSkipBad = skipBad;
        Format.AcceptOnlyFromAmong("table", "json", "csv");
        Sync.Validators.Add(r => RequireNonEmpty(r, "a sync id"));
        PageToken.Validators.Add(r => RequireNonEmpty(r, "the token a previous page printed"));
        Limit.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && r.GetValueOrDefault<int?>() is < 1 and var v)
            {
                r.AddError(string.Create(CultureInfo.InvariantCulture, $"--limit must be at least 1, got {v}"));
            }
        });
    }

    public bool Paging { get; }

    public bool HasSkipBad { get; }

    public Argument<string> Path { get; } = new("PATH") { Description = "A C1Z3 file (ours or baton's Pebble), a legacy v1 file or a store directory." };

    public Option<string?> Sync { get; } = new("--sync-id", "--sync") { Description = "Sync id (default: the latest finished sync, else the latest)." };

    public Option<string> Format { get; } = new("--format") { Description = "table (default; cells truncated to the terminal width), json (JSON Lines of protobuf canonical JSON) or csv.", DefaultValueFactory = _ => "table" };

    public Option<int?> Limit { get; } = new("--limit") { Description = "Print at most this many rows; when more remain, the token of the next page is printed on stderr as `next page: TOKEN`." };

    public Option<string?> PageToken { get; } = new("--page-token") { Description = "Resume after the page that printed this token (same command, filters and sync)." };

    public Option<bool> SkipBad { get; } = new("--skip-bad") { Description = "Report a record that cannot be shown (one escaped stderr line each) and go on instead of stopping with exit code 1." };

    /// <summary>Adds the options to a command (PATH first).</summary>
    public void AddTo(Command command)
    {
        command.Arguments.Add(Path);
        command.Options.Add(Sync);
        command.Options.Add(Format);
        command.Options.Add(Limit);
        if (Paging)
        {
            command.Options.Add(PageToken);
        }

        if (HasSkipBad)
        {
            command.Options.Add(SkipBad);
        }
    }

    /// <summary>The sync to read: the one named (which must exist) or the snapshot's default.</summary>
    public SyncId ResolveSync(C1zSnapshot snapshot, string input, ParseResult parse) => ResolveSync(snapshot, input, parse.GetValue(Sync));

    /// <summary>The sync to read: the one named (which must exist) or the snapshot's default.</summary>
    public static SyncId ResolveSync(C1zSnapshot snapshot, string input, string? text)
    {
        if (text is null)
        {
            return snapshot.DefaultSync();
        }

        var id = SyncId.Parse(text);
        if (!snapshot.Store.TryGetSyncRun(id, out _))
        {
            throw new CliException($"no sync {text} in {input}");
        }

        return id;
    }

    /// <summary>A usage error for an option given with an empty value, naming the spelling used.</summary>
    public static void RequireNonEmpty(OptionResult r, string what)
    {
        if (r.Tokens.Count > 0 && string.IsNullOrEmpty(r.GetValueOrDefault<string?>()))
        {
            r.AddError($"{r.IdentifierToken?.Value ?? r.Option.Name} is empty: give {what}");
        }
    }

    /// <summary>A usage error unless the value is TYPE/ID with both parts non-empty.</summary>
    public static void RequireTypeSlashId(OptionResult r)
    {
        string? value = r.GetValueOrDefault<string?>();
        int slash = value?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (value is not null && (slash <= 0 || slash == value.Length - 1))
        {
            r.AddError($"{r.IdentifierToken?.Value ?? r.Option.Name} must be TYPE/ID with both parts non-empty, got \"{value}\"");
        }
    }

    /// <summary>Splits a validated TYPE/ID at its first slash.</summary>
    public static (string Type, string Id) SplitTypeSlashId(string value)
    {
        int slash = value.IndexOf('/', StringComparison.Ordinal);
        return (value[..slash], value[(slash + 1)..]);
    }
}

/// <summary>How one record kind is shown: its name in messages, its key, its table and CSV columns and its JSON.</summary>
/// <typeparam name="T">The record type.</typeparam>
internal sealed record RecordView<T>(string Kind, Func<T, string> Key, IReadOnlyList<string> Headers, IReadOnlyList<string> CsvHeaders, Func<T, IReadOnlyList<string>> Cells, Func<T, string> Json)
    where T : class, IMessage<T>, new();

/// <summary>
/// One listing's handling of bad records (docs/CLI.md §2): a record that cannot be shown stops the listing
/// with one error line naming it, or with <c>--skip-bad</c> gets one warning line and the listing goes on,
/// ending with a count. A record the store cannot decode stops the listing either way (the scan cannot step
/// over it); the error names the last record listed before it.
/// </summary>
internal sealed class RecordGuard<T>(CliContext ctx, string input, SyncId sync, bool skipBad, RecordView<T> view)
    where T : class, IMessage<T>, new()
{
    private long _skipped;
    private string? _last;

    /// <summary>Reads one page, turning a record the store cannot decode into one error line.</summary>
    public RecordPage<T> Page(Func<RecordPage<T>> read)
    {
        try
        {
            return read();
        }
        catch (InvalidProtocolBufferException ex)
        {
            string where = _last is null ? $"the first {view.Kind}" : $"the {view.Kind} after \"{_last}\"";
            throw new CliException($"{input}: {where} of sync {sync}: record does not decode ({ex.Message}); the listing stops here{(skipBad ? " (--skip-bad cannot step over a record the store cannot read)" : string.Empty)}");
        }
    }

    /// <summary>Writes one record to the output, or reports it.</summary>
    public void Emit(T record, RowOutput output)
    {
        _last = view.Key(record);
        if (output.IsJson)
        {
            if (Render(record, view.Json) is { } json)
            {
                output.Json(json);
            }
        }
        else if (Render(record, view.Cells) is { } cells)
        {
            output.Cells(cells);
        }
    }

    /// <summary>Renders one record, or reports it: null when it was skipped.</summary>
    public TOut? Render<TOut>(T record, Func<T, TOut> render)
        where TOut : class
    {
        try
        {
            return render(record);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or InvalidOperationException or ArgumentException or FormatException or InvalidCastException)
        {
            string problem = $"{view.Kind} \"{view.Key(record)}\" of sync {sync} in {input}: {RecordJson.Problem(record, ex)}";
            if (!skipBad)
            {
                throw new CliException(problem + $" (use --skip-bad to list the others)");
            }

            _skipped++;
            CliApp.Warn(ctx, "skipped " + problem);
            return null;
        }
    }

    /// <summary>The closing warning when records were skipped.</summary>
    public void Finish()
    {
        if (_skipped > 0)
        {
            CliApp.Warn(ctx, string.Create(CultureInfo.InvariantCulture, $"{_skipped} bad {view.Kind}(s) skipped in {input}"));
        }
    }
}

/// <summary>Runs a listing page by page through the facade, so <c>--limit</c> and <c>--page-token</c> are the library's paging.</summary>
internal static class ListingRunner
{
    /// <summary>Records per page read; the first page is smaller so the first rows appear at once.</summary>
    public const int PageSize = 1000;

    private const int FirstPageSize = 100;

    /// <summary>
    /// Lists <paramref name="listing"/> from <paramref name="pageToken"/>, writing each record that passes
    /// <paramref name="keep"/> until <paramref name="limit"/> rows are written, and returns the token of the
    /// next page (null when the listing is exhausted). Every page read is consumed whole and never larger
    /// than the rows still allowed, so the token resumes exactly after the last record considered.
    /// </summary>
    public static string? Run<T>(C1zSnapshot snapshot, RecordListing<T> listing, SyncId sync, string? pageToken, int? limit, Func<T, bool>? keep, RecordGuard<T> guard, RowOutput output, CancellationToken cancellationToken)
        where T : class, IMessage<T>, new()
    {
        long remaining = limit ?? long.MaxValue;
        string? token = pageToken;
        int size = FirstPageSize;
        while (true)
        {
            int take = (int)Math.Min(remaining, size);
            string? from = token;
            var page = guard.Page(() => snapshot.Page(listing, from, take, sync));
            foreach (var record in page.Items)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (keep is null || keep(record))
                {
                    guard.Emit(record, output);
                    remaining--;
                }
            }

            output.Flush();
            token = page.NextPageToken;
            if (token is null || remaining == 0)
            {
                return token;
            }

            size = PageSize;
        }
    }

    /// <summary>The whole of one listing command: open, resolve the sync, choose the listing, page, print the next token.</summary>
    public static int Execute<T>(CliContext ctx, ParseResult parse, ListingOptions options, Func<C1zSnapshot, SyncId, RecordView<T>> view, Func<C1zSnapshot, SyncId, (RecordListing<T> Listing, Func<T, bool>? Keep)> choose)
        where T : class, IMessage<T>, new()
    {
        string input = parse.GetValue(options.Path)!;
        using var snapshot = C1zSnapshot.Open(input);
        var sync = options.ResolveSync(snapshot, input, parse);
        var (listing, keep) = choose(snapshot, sync);
        var shown = view(snapshot, sync);
        var output = new RowOutput(ctx, parse.GetValue(options.Format)!, shown.Headers, shown.CsvHeaders);
        var guard = new RecordGuard<T>(ctx, input, sync, options.HasSkipBad && parse.GetValue(options.SkipBad), shown);
        string? next = Run(snapshot, listing, sync, options.Paging ? parse.GetValue(options.PageToken) : null, parse.GetValue(options.Limit), keep, guard, output, ctx.Cancellation);
        output.Finish();
        guard.Finish();
        if (next is not null)
        {
            ctx.Err.WriteLine("next page: " + next);
        }

        return 0;
    }

    /// <summary>A timestamp for a table cell.</summary>
    public static string TableTime(Google.Protobuf.WellKnownTypes.Timestamp? t) => t is null ? string.Empty : t.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>A timestamp for a CSV cell (ISO 8601).</summary>
    public static string IsoTime(Google.Protobuf.WellKnownTypes.Timestamp? t) => t is null ? string.Empty : t.ToDateTimeOffset().ToString("o", CultureInfo.InvariantCulture);
}
