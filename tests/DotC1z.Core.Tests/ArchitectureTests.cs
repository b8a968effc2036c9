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
        // System.IO.Hashing: XXH64 for grant digests (docs/FORMAT.md), a BCL package with no engine behind it.
        Assert.Equal(["Google.Protobuf", "Grpc.Tools", "System.IO.Hashing"], core);
        var coreProject = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "src", "DotC1z.Core", "DotC1z.Core.csproj"));
        Assert.Empty(coreProject.Descendants("ProjectReference"));
    }

    [Fact]
    public void Project_references_under_src_are_exactly_the_graph_in_the_README()
    {
        // The README's block between "<!-- project-graph -->" and the end of its ```text fence: "Project -> A, B".
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        int marker = readme.IndexOf("<!-- project-graph -->", StringComparison.Ordinal);
        Assert.True(marker >= 0, "README.md has no <!-- project-graph --> block");
        int open = readme.IndexOf("```text", marker, StringComparison.Ordinal);
        int close = readme.IndexOf("```", open + 7, StringComparison.Ordinal);
        var documented = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in readme[(open + 7)..close].Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] sides = line.Split("->", 2, StringSplitOptions.TrimEntries);
            Assert.Equal(2, sides.Length);
            documented[sides[0]] = string.Join(", ", sides[1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal));
        }

        var actual = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string csproj in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            var refs = XDocument.Load(csproj).Descendants("ProjectReference")
                .Select(r => Path.GetFileNameWithoutExtension(((string?)r.Attribute("Include") ?? string.Empty).Replace('\\', '/')))
                .Order(StringComparer.Ordinal);
            actual[Path.GetFileNameWithoutExtension(csproj)] = string.Join(", ", refs);
        }

        Assert.Equal(documented, actual);
    }

    [Fact]
    public void The_container_layer_references_no_engine_interop_or_verifier()
    {
        var format = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "src", "DotC1z.Format", "DotC1z.Format.csproj"));
        var refs = format.Descendants("ProjectReference").Select(r => Path.GetFileNameWithoutExtension((string?)r.Attribute("Include") ?? string.Empty)).ToList();
        Assert.Equal(["DotC1z.Core"], refs);
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
