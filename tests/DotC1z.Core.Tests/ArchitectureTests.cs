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

    [Fact]
    public void No_file_refers_to_specifications_or_fixtures_outside_the_repository()
    {
        // Built from pieces so this file does not match its own search.
        string[] forbidden = ["../" + "shared", "shared" + "/spec", "shared" + "/fixtures"];
        string[] extensions = [".cs", ".csproj", ".props", ".proto", ".md", ".json", ".sh"];
        var offending = new List<string>();
        foreach (string top in new[] { "src", "tests", "bench", ".ci" })
        {
            string root = Path.Combine(TestPaths.RepoRoot, top);
            if (!Directory.Exists(root))
            {
                continue;
            }

            foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(TestPaths.RepoRoot, file).Replace('\\', '/');
                string[] parts = relative.Split('/');
                if (parts.Contains("bin") || parts.Contains("obj"))
                {
                    continue;
                }

                bool isText = extensions.Contains(Path.GetExtension(file), StringComparer.OrdinalIgnoreCase)
                    || relative == ".ci/run";
                if (!isText)
                {
                    continue;
                }

                string[] lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                {
                    if (forbidden.Any(f => lines[i].Contains(f, StringComparison.Ordinal)))
                    {
                        offending.Add($"{relative}:{i + 1}: {lines[i].Trim()}");
                    }
                }
            }
        }

        Assert.True(offending.Count == 0, "files refer to the shared directory beside the repository (cite docs/ instead):\n" + string.Join("\n", offending));
    }
}
