using DotC1z.Codecs;
using DotC1z.Storage;

namespace DotC1z.Operations;

/// <summary>The cursor of <see cref="DerivedGrantSet"/>.</summary>
internal sealed partial class DerivedGrantSet
{
    /// <summary>
    /// A pass in one order: whole blocks in a given order (the common case, no enumerator per grant), an array of
    /// packed (block, position) entries, or an enumeration of them.
    /// </summary>
    private sealed class Cursor : ISortedGrantCursor
    {
        private readonly DerivedGrantSet _set;
        private readonly int[]? _blockOrder;
        private readonly Transposed? _transposed;
        private readonly IEnumerator<long>? _entries;
        private int _next = -1;
        private Block _block = null!;
        private int _blockLength;
        private int _position = -1;
        private int _principal;
        private int _template;
        private int _rank;
        private byte[] _id = new byte[256];
        private int _idLength;
        private byte[] _value = new byte[1024];
        private int _valueLength = -1;

        // Progress every 64Ki entries read.
        private const int ProgressMask = 0xFFFF;
        private long _read;

        public Cursor(DerivedGrantSet set, int[] blockOrder)
        {
            _set = set;
            _blockOrder = blockOrder;
        }

        public Cursor(DerivedGrantSet set, Transposed transposed)
        {
            _set = set;
            _transposed = transposed;
        }

        public Cursor(DerivedGrantSet set, IEnumerable<long> entries)
        {
            _set = set;
            _entries = entries.GetEnumerator();
        }

        public long Ordinal { get; private set; }

        public ReadOnlySpan<byte> ExternalId => _id.AsSpan(0, _idLength);

        public ReadOnlySpan<byte> EntitlementId => _block.Target;

        public ReadOnlySpan<byte> EntitlementResourceType => _block.ResourceType;

        public ReadOnlySpan<byte> EntitlementResourceId => _block.ResourceId;

        public ReadOnlySpan<byte> PrincipalType => _set._principals.Type(_principal);

        public ReadOnlySpan<byte> PrincipalId => _set._principals.Id(_principal);

        public ReadOnlySpan<byte> Value
        {
            get
            {
                if (_valueLength < 0)
                {
                    BuildValue();
                }

                return _value.AsSpan(0, _valueLength);
            }
        }

        public bool MoveNext()
        {
            while (Advance())
            {
                Ordinal = _block.FirstOrdinal + _position;
                if (_set._dead is { } dead && dead.Contains(Ordinal))
                {
                    continue;
                }

                var flat = _set._principals.Flat(_principal);
                int length = _block.Colon.Length + flat.Length;
                if (length > _id.Length)
                {
                    _id = new byte[Math.Max(length, _id.Length * 2)];
                }

                _block.Colon.CopyTo(_id, 0);
                flat.CopyTo(_id.AsSpan(_block.Colon.Length));
                _idLength = length;
                _valueLength = -1;
                if ((++_read & ProgressMask) == 0)
                {
                    _set.Read(ProgressMask + 1);
                }

                return true;
            }

            return false;
        }

        private bool Advance()
        {
            if (_blockOrder is not null)
            {
                if (++_position >= _blockLength)
                {
                    do
                    {
                        if (++_next >= _blockOrder.Length)
                        {
                            return false;
                        }

                        _block = _set._blocks[_blockOrder[_next]];
                        _blockLength = _block.Principals.Length;
                        _position = 0;
                    }
                    while (_blockLength == 0);
                }

                _principal = _block.Principals[_position];
                _template = _block.Templates[_position];
                return true;
            }

            long e;
            if (_transposed is not null)
            {
                if (++_next >= _transposed.Entries.Length)
                {
                    return false;
                }

                while (_next >= _transposed.Starts[_rank + 1])
                {
                    _rank++;
                }

                e = _transposed.Entries[_next];
                _block = _set._blocks[(int)(e >> 32)];
                _position = (int)e;
                _principal = _set._principals.ByTupleRank[_rank];
                _template = _transposed.Templates[_next];
                return true;
            }

            if (_entries!.MoveNext())
            {
                e = _entries.Current;
            }
            else
            {
                return false;
            }

            _block = _set._blocks[(int)(e >> 32)];
            _position = (int)e;
            _principal = _block.Principals[_position];
            _template = _block.Templates[_position];
            return true;
        }

        /// <summary>Field 2 (the id), then the entitlement, the principal and the template: the canonical field order.</summary>
        private void BuildValue()
        {
            var principal = _set._principals.Field(_principal);
            var suffix = _block.Suffixes[_template];
            int length = 1 + 5 + _idLength + _block.EntitlementField.Length + principal.Length + suffix.Length;
            if (length > _value.Length)
            {
                _value = new byte[Math.Max(length, _value.Length * 2)];
            }

            var span = _value.AsSpan();
            span[0] = 0x12;
            int n = 1 + GrantRecordCodec.WriteVarint(span[1..], (ulong)_idLength);
            _id.AsSpan(0, _idLength).CopyTo(span[n..]);
            n += _idLength;
            _block.EntitlementField.CopyTo(span[n..]);
            n += _block.EntitlementField.Length;
            principal.CopyTo(span[n..]);
            n += principal.Length;
            suffix.CopyTo(span[n..]);
            _valueLength = n + suffix.Length;
        }

        public void Dispose()
        {
            _entries?.Dispose();
            _set.Read(_read & ProgressMask);
            _read = 0;
        }
    }
}
