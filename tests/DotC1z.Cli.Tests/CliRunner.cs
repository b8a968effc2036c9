namespace DotC1z.Cli.Tests;

/// <summary>Runs the c1z command line in process, capturing what it prints (the tests' one way to call the tool).</summary>
internal static class CliRunner
{
    /// <summary>Runs <c>c1z</c> with <paramref name="args"/>.</summary>
    /// <param name="args">The arguments.</param>
    /// <returns>The exit code and everything written to stdout and stderr.</returns>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
