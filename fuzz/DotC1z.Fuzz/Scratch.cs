namespace DotC1z.Fuzz;

/// <summary>A private scratch directory per input: the input file and the loader's temp directory.</summary>
internal static class Scratch
{
    private static readonly string Root = CreateRoot();

    // The same temp directory for input after input, as in a real process (the system temp directory): the v1
    // loader reuses its scratch names per temp directory (ScratchNames). A directory is lent to one input at a time
    // (inputs can overlap when a test gives up waiting on one) and is taken back only when that input left it empty.
    private static readonly System.Collections.Concurrent.ConcurrentBag<string> Temps = [];

    /// <summary>
    /// Writes <paramref name="data"/> to a file and runs <paramref name="body"/> with its path and the (empty) temp
    /// directory for the loader. A loader that returns or throws a typed error must leave that directory empty
    /// (its contract: temporary files are removed on dispose and on every failure); leftovers are a finding.
    /// </summary>
    /// <param name="data">The input file's bytes.</param>
    /// <param name="body">The loader call.</param>
    public static void Run(byte[] data, Action<string, string> body)
    {
        string dir = Path.Combine(Root, Guid.NewGuid().ToString("N"));
        if (!Temps.TryTake(out string? temp))
        {
            temp = Directory.CreateDirectory(Path.Combine(Root, "tmp-" + Guid.NewGuid().ToString("N"))).FullName;
        }

        Directory.CreateDirectory(dir);
        string input = Path.Combine(dir, "input.c1z");
        File.WriteAllBytes(input, data);
        bool clean = false;
        try
        {
            try
            {
                body(input, temp);
            }
            catch (Errors.C1zException)
            {
                CheckClean(temp);
                clean = true;
                throw;
            }

            CheckClean(temp);
            clean = true;
        }
        finally
        {
            Delete(dir);
            if (clean)
            {
                Temps.Add(temp);
            }
            else
            {
                Delete(temp);
            }
        }
    }

    private static void Delete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void CheckClean(string temp)
    {
        var left = Directory.EnumerateFileSystemEntries(temp).Select(Path.GetFileName).ToList();
        if (left.Count > 0)
        {
            throw new InvalidOperationException($"the loader left temporary files behind: {string.Join(", ", left)}");
        }
    }

    private static string CreateRoot()
    {
        // tmpfs when there is one: AFL runs thousands of inputs and each one writes and extracts files.
        string baseDir = Environment.GetEnvironmentVariable("DOTC1Z_FUZZ_SCRATCH")
            ?? (Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath());
        string root = Path.Combine(baseDir, $"dotc1z-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
        return root;
    }
}
