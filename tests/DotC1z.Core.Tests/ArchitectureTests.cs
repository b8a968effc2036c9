using System.Xml.Linq;
using DotC1z.Tests.Shared;

namespace DotC1z.Core.Tests;

/// <summary>Dependency rules of the layout, checked on the project files so a stray reference fails CI.</summary>
public sealed class ArchitectureTests
{
    private static IEnumerable<(string Project, string Package)> PackageReferences()
    {
        foreach (string csproj in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            var doc = XDocument.Load(csproj);
            foreach (var reference in doc.Descendants("PackageReference"))
            {
                yield return (Path.GetFileNameWithoutExtension(csproj), (string?)reference.Attribute("Include") ?? string.Empty);
            }
        }
    }

    [Fact]
    public void Only_the_rocks_engine_references_the_RocksDB_package()
    {
        var referencing = PackageReferences().Where(r => r.Package.Equals("RocksDB", StringComparison.OrdinalIgnoreCase)).Select(r => r.Project).ToList();
        Assert.Equal(["DotC1z.Engine.Rocks"], referencing);
    }

    [Fact]
    public void Core_references_no_engine_sqlite_or_cli_library()
    {
        var core = PackageReferences().Where(r => r.Project == "DotC1z.Core").Select(r => r.Package).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["Google.Protobuf", "Grpc.Tools"], core);
        var coreProject = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "src", "DotC1z.Core", "DotC1z.Core.csproj"));
        Assert.Empty(coreProject.Descendants("ProjectReference"));
    }

    [Fact]
    public void Package_versions_are_pinned_exactly_in_one_place()
    {
        var props = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "Directory.Packages.props"));
        var versions = props.Descendants("PackageVersion").ToList();
        Assert.NotEmpty(versions);
        foreach (var v in versions)
        {
            string version = (string?)v.Attribute("Version") ?? string.Empty;
            Assert.True(version.StartsWith('[') && version.EndsWith(']'), $"{v.Attribute("Include")} is not pinned exactly: {version}");
        }

        foreach (string csproj in Directory.EnumerateFiles(TestPaths.RepoRoot, "*.csproj", SearchOption.AllDirectories))
        {
            var doc = XDocument.Load(csproj);
            Assert.DoesNotContain(doc.Descendants("PackageReference"), r => r.Attribute("Version") is not null);
        }
    }
}
