using DotC1z.Storage;

namespace DotC1z.Interop.V1;

/// <summary>A store that owns a temporary directory (from <see cref="ScratchNames.Create"/>) and deletes it on dispose.</summary>
internal sealed class TempStore(IC1zStore inner, string directory) : ForwardingStore(inner)
{
    public override void Dispose()
    {
        base.Dispose();
        ScratchNames.Delete(directory);
    }
}
