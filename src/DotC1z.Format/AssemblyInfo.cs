[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("DotC1z.Format.Tests")]
