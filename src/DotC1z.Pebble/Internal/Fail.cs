using System.Diagnostics.CodeAnalysis;
using DotC1z.Errors;

namespace DotC1z.Pebble;

/// <summary>Builders for the two typed errors, so every message names the file it concerns.</summary>
internal static class Fail
{
    [DoesNotReturn]
    public static void Corrupt(string file, string message) => throw Corruption(file, message);

    [DoesNotReturn]
    public static void Unsupported(string file, string message) => throw Format(file, message);

    public static C1zCorruptionException Corruption(string file, string message) => new($"{file}: {message}", file);

    public static C1zFormatException Format(string file, string message) => new($"{file}: {message}", file);
}

/// <summary>
/// Running total of bytes one operation has read or decompressed, checked against
/// <see cref="PebbleReadOptions.MaxTotalDecodedBytes"/> before each allocation.
/// </summary>
internal sealed class DecodeBudget(PebbleReadOptions options)
{
    private long _used;

    public PebbleReadOptions Options { get; } = options;

    public void Charge(string file, long bytes)
    {
        _used += bytes;
        if (_used > Options.MaxTotalDecodedBytes)
        {
            throw Fail.Format(file, $"decoding would exceed the budget of {Options.MaxTotalDecodedBytes} bytes (MaxTotalDecodedBytes)");
        }
    }
}
