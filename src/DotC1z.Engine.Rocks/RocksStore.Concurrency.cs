namespace DotC1z.Engine.Rocks;

public sealed partial class RocksStore
{
    /// <inheritdoc/>
    /// <remarks>RocksDB iterators each pin their own snapshot and a scan shares no mutable state with another.</remarks>
    public bool SupportsConcurrentScans => true;
}
