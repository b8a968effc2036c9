[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("DotC1z.Bench.Tests")]
