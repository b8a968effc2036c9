namespace DotC1z.Storage;

/// <summary>
/// One sync's grants in their stored encoding, in id order: the byte-level road for whole-sync
/// operations between stores of one engine (compaction copies a grant it keeps without decoding it;
/// docs/DESIGN.md §6). Spans are valid only until the next <see cref="MoveNext"/>.
/// </summary>
public interface IEncodedGrantCursor : IDisposable
{
    /// <summary>
    /// The grant's external id as a key element: its UTF-8 bytes escaped by the tuple codec
    /// (docs/FORMAT.md). Byte order of these spans is the cursor's order; equal ids give equal spans.
    /// </summary>
    ReadOnlySpan<byte> Id { get; }

    /// <summary>The grant as a protobuf <c>GrantRecord</c> without its <c>sync_id</c> (the form a store keeps).</summary>
    ReadOnlySpan<byte> Value { get; }

    /// <summary>Moves to the next grant.</summary>
    /// <returns>False at the end.</returns>
    /// <exception cref="Errors.C1zCorruptionException">The store is damaged.</exception>
    bool MoveNext();
}
