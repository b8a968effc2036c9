using DotC1z.Errors;
using DotC1z.Records;
using DotC1z.Tests.Shared;

namespace DotC1z.Tests;

/// <summary>The library's safe-output rules (the tool's --force behaviour is tested through the tool in Cli.Tests).</summary>
public sealed class OutputTests : IDisposable
{
    private readonly TempDir _dir = new("output");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void An_output_is_written_only_after_commit_and_existing_outputs_need_permission()
    {
        string target = _dir.Combine("out.c1z");
        Assert.False(C1zOutput.MayReplace(target, false, [], fileInputMayBeOutput: true, out _));
        using (var output = C1zOutput.CreateOutput(target))
        {
            var sync = output.Store.StartSync(SyncType.Full);
            output.Store.PutGrants(sync, [StoreContractTests.Grant("g", "e", "user", "u")]);
            output.Store.EndSync(sync);
            Assert.False(File.Exists(target));
            output.Commit();
        }

        Assert.True(File.Exists(target));
        Assert.Throws<C1zOutputExistsException>(() => C1zOutput.MayReplace(target, false, [], fileInputMayBeOutput: true, out _));
        Assert.True(C1zOutput.MayReplace(target, true, [], fileInputMayBeOutput: true, out _));
        Assert.Throws<C1zArgumentException>(() => C1zOutput.MayReplace(target, true, [target], fileInputMayBeOutput: false, out _));
        Assert.Throws<C1zArgumentException>(() => C1zOutput.MayReplace(_dir.Path, true, [target], fileInputMayBeOutput: true, out _));
        Assert.Throws<C1zArgumentException>(() => C1zOutput.MayReplace(" ", true, [], fileInputMayBeOutput: true, out _));

        // Abandoned without a commit: nothing appears and the scratch store is gone.
        string second = _dir.Combine("second.c1z");
        using (C1zOutput.CreateOutput(second))
        {
        }

        Assert.False(File.Exists(second));
        Assert.Empty(Directory.EnumerateDirectories(_dir.Path, ".c1z-out-*"));
    }
}
