[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("DotC1z.Engine.Rocks.Tests")]
