using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DotC1z.Operations.Sanitize;

namespace DotC1z.Cli.Commands;

/// <summary><c>c1z sanitize</c>: an identity-free copy of a snapshot to share (docs/SANITIZE.md).</summary>
public static class SanitizeCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="ctx">The CLI context.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var input = new Option<string>("--in") { Description = "A C1Z3 file (ours or baton's Pebble), a legacy v1 file or a store directory.", Required = true };
        var output = new Option<string>("--out") { Description = "Output: a .c1z file (C1Z3) or a store directory.", Required = true };
        var secretFile = new Option<string>("--secret-file") { Description = $"A file whose bytes (at least {Pseudonymizer.MinSecretBytes}; 32 random bytes recommended) key the pseudonyms. Keep it to sanitise later files consistently; without it nobody can map pseudonyms back.", Required = true };
        var anchor = new Option<string?>("--anchor") { Description = $"RFC 3339 time the latest timestamp of the input is moved to (default {SanitizeOptions.DefaultAnchor:yyyy-MM-dd'T'HH:mm:ss'Z'}, fixed so runs are reproducible)." };
        var force = new Option<bool>("--force") { Description = "Replace an existing output." };
        var command = new Command(
            "sanitize",
            "Write a copy of every sync with identities replaced by keyed pseudonyms (HMAC-SHA256, stable within the file, so references still match), timestamps shifted to the anchor, unknown annotations dropped and asset payloads replaced; counts, graph shape and expansion stay the same. Rules: docs/SANITIZE.md.\n\n"
            + "Example:\n  head -c 32 /dev/urandom > sanitize.key\n  c1z sanitize --in customer.c1z --out shareable.c1z --secret-file sanitize.key --anchor 2024-01-01T00:00:00Z")
        {
            input, output, secretFile, anchor, force,
        };
        command.SetAction(parse =>
        {
            string inPath = parse.GetValue(input)!;
            string outPath = parse.GetValue(output)!;
            bool replace = parse.GetValue(force);
            byte[] secret = ReadSecret(parse.GetValue(secretFile)!);
            var options = new SanitizeOptions { Secret = secret, Anchor = ParseAnchor(parse.GetValue(anchor)) };
            StorePaths.PrepareOutput(outPath, replace, inPath, parse.GetValue(secretFile)!);
            var sw = Stopwatch.StartNew();
            using var source = StorePaths.Open(inPath, readOnly: true);
            using var target = StorePaths.CreateOutput(outPath, replace);
            var result = SnapshotSanitizer.Sanitize(source, target.Store, options, ctx.Cancellation);
            target.Commit(ctx.Cancellation);
            foreach (var s in result.Syncs)
            {
                var c = s.Counts;
                ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sync {s.Target}: {c.ResourceTypes} resource types, {c.Resources} resources, {c.Entitlements} entitlements, {c.Grants} grants, {c.Assets} assets"));
            }

            long total = result.Syncs.Sum(s => s.Counts.Total);
            ctx.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done: {total} records in {result.Syncs.Count} sync(s), {result.AnnotationsKept} annotations sanitised, {result.AnnotationsDropped} dropped, in {sw.ElapsedMilliseconds} ms"));
            return 0;
        });
        return command;
    }

    private static byte[] ReadSecret(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"no such secret file: {path}");
        }

        var info = new FileInfo(path);
        if (info.Length > 1 << 20)
        {
            throw new CliException($"the secret file {path} is larger than 1 MiB; give a file of random bytes (32 are enough)");
        }

        byte[] secret = File.ReadAllBytes(path);
        if (secret.Length < Pseudonymizer.MinSecretBytes)
        {
            throw new CliException(string.Create(CultureInfo.InvariantCulture, $"the secret file {path} holds {secret.Length} bytes; at least {Pseudonymizer.MinSecretBytes} are needed (e.g. head -c 32 /dev/urandom > {path})"));
        }

        return secret;
    }

    private static DateTimeOffset ParseAnchor(string? text)
    {
        if (text is null)
        {
            return SanitizeOptions.DefaultAnchor;
        }

        // RFC 3339 needs an explicit offset (Z or ±hh:mm): a local-time reading would make output depend on the machine.
        bool hasOffset = text.EndsWith('Z') || text.EndsWith('z') || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        if (!hasOffset || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
        {
            throw new CliException($"--anchor must be an RFC 3339 time with an offset, e.g. 2024-01-01T00:00:00Z; got \"{text}\"");
        }

        return value.ToUniversalTime();
    }
}
