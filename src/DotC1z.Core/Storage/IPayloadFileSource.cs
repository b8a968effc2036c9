namespace DotC1z.Storage;

/// <summary>
/// The files of a database directory as a container holds them (for example the frames of a C1Z3
/// INDEXED_ZSTD payload, or a plain directory), read without extracting them to disk.
/// </summary>
/// <remarks>
/// The container checks its own integrity (hashes, lengths) as it reads; a reader of the database
/// on top of it only sees whole, verified file contents or a typed error.
/// </remarks>
public interface IPayloadFileSource
{
    /// <summary>The relative, slash-separated names of every file, in ordinal order.</summary>
    IReadOnlyList<string> FileNames { get; }

    /// <summary>The decoded length of a file.</summary>
    /// <param name="name">A name from <see cref="FileNames"/>.</param>
    /// <returns>Its length in bytes.</returns>
    /// <exception cref="Errors.C1zArgumentException">No file has that name.</exception>
    long GetLength(string name);

    /// <summary>Reads a whole file into a new buffer, verifying it as the container allows.</summary>
    /// <param name="name">A name from <see cref="FileNames"/>.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The decoded file.</returns>
    /// <exception cref="Errors.C1zArgumentException">No file has that name.</exception>
    /// <exception cref="Errors.C1zCorruptionException">The file's bytes do not match what the container recorded.</exception>
    /// <exception cref="Errors.C1zIOException">The container could not be read.</exception>
    byte[] ReadAllBytes(string name, CancellationToken cancellationToken = default);
}
