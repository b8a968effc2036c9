[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("DotC1z.Cli.Tests")]
