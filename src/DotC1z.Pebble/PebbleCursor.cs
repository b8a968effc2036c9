using DotC1z.Errors;

namespace DotC1z.Pebble;

/// <summary>
/// A forward iteration over live user keys in bytewise ascending order, each with its newest live value.
/// <see cref="Key"/> and <see cref="Value"/> point into the cursor's decoded blocks and stay valid only
/// until the next <see cref="MoveNext"/> or <see cref="Dispose"/>; copy them to keep them. Not thread-safe.
/// </summary>
public sealed class PebbleCursor : IDisposable
{
    private readonly MergingIterator _merge;
    private bool _valid;
    private bool _disposed;
    private Exception? _failure;

    internal PebbleCursor(MergingIterator merge)
    {
        _merge = merge;
    }

    /// <summary>The current user key.</summary>
    /// <exception cref="InvalidOperationException">The cursor is not on an entry.</exception>
    public ReadOnlySpan<byte> Key => _valid ? _merge.Key : throw new InvalidOperationException("the cursor is not positioned on an entry");

    /// <summary>The current value.</summary>
    /// <exception cref="InvalidOperationException">The cursor is not on an entry.</exception>
    public ReadOnlySpan<byte> Value => _valid ? _merge.Value : throw new InvalidOperationException("the cursor is not positioned on an entry");

    /// <summary>Moves to the next live key.</summary>
    /// <returns>False once the range is exhausted.</returns>
    /// <exception cref="C1zCorruptionException">A table, log or block is damaged.</exception>
    /// <exception cref="C1zFormatException">The data uses a feature this reader does not support, or exceeds a budget.</exception>
    /// <exception cref="OperationCanceledException">The scan's cancellation token fired.</exception>
    public bool MoveNext()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _valid = false;
        if (_failure is not null)
        {
            // A failed cursor must not look like a finished one.
            string message = "the cursor already failed: " + _failure.Message;
            string? path = (_failure as C1zException)?.Path;
            throw _failure is C1zFormatException
                ? new C1zFormatException(message, path, _failure)
                : new C1zCorruptionException(message, path, _failure);
        }

        try
        {
            _valid = _merge.MoveNext();
            return _valid;
        }
        catch (Exception e) when (e is C1zException || PebbleDatabase.IsStray(e))
        {
            _merge.Dispose();
            var typed = e as C1zException ?? PebbleDatabase.Stray(e);
            _failure = typed;
            if (ReferenceEquals(typed, e))
            {
                throw;
            }

            throw typed;
        }
    }

    /// <summary>Releases the cursor's buffers and table files.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _valid = false;
            _merge.Dispose();
        }
    }
}
