namespace DotC1z.Fuzz;

/// <summary>Writes seed inputs that need the baseline to build (the pebble selector format).</summary>
internal static class Seeds
{
    /// <summary>Files at most this large become seeds (keeps the committed corpus small and the execs fast).</summary>
    private const int MaxSeedBytes = 16 * 1024;

    /// <summary>Handles <c>seeds pebble OUTDIR</c>.</summary>
    /// <param name="args">The command line.</param>
    /// <returns>The exit code.</returns>
    public static int Write(string[] args)
    {
        if (args.Length != 3 || args[1] != "pebble")
        {
            Console.Error.WriteLine("usage: DotC1z.Fuzz seeds pebble OUTDIR");
            return 2;
        }

        Directory.CreateDirectory(args[2]);
        var baseline = PebbleBaseline.Instance;
        for (int i = 0; i < baseline.Targets.Count; i++)
        {
            string name = baseline.Targets[i];
            byte[] content = baseline.Files[name];
            if (content.Length > MaxSeedBytes)
            {
                continue;
            }

            var seed = new byte[content.Length + 1];
            seed[0] = (byte)i;
            content.CopyTo(seed, 1);
            string path = Path.Combine(args[2], $"{i:D2}-{name}");
            File.WriteAllBytes(path, seed);
            if (name.StartsWith("MANIFEST-", StringComparison.Ordinal))
            {
                // Self-check of the CRC fixer: on an intact log it must change nothing.
                var copy = (byte[])content.Clone();
                int records = LogCrc.Fix(copy);
                Console.WriteLine($"{name}: {records} records, CRC fixer {(copy.AsSpan().SequenceEqual(content) ? "agrees" : "DISAGREES")}");
            }

            Console.WriteLine($"{path} ({seed.Length} bytes)");
        }

        return 0;
    }
}
