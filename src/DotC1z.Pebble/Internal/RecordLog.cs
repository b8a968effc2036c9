using System.Buffers.Binary;

namespace DotC1z.Pebble;

/// <summary>
/// Reader of the LevelDB/Pebble record log used by the MANIFEST and the WAL: 32 KiB blocks of
/// checksummed chunks, a record being one FULL chunk or FIRST, MIDDLE*, LAST. See docs/PEBBLE.md.
/// </summary>
/// <remarks>
/// In strict mode (the MANIFEST) every anomaly is corruption. In WAL mode the log simply ends at the first
/// chunk that is invalid, zeroed, torn, or stamped with another log's number, because a WAL's tail is
/// routinely garbage: a crash mid-write, a recycled file, or preallocated zeros.
/// </remarks>
internal sealed class RecordLogReader
{
    public const int BlockSize = 32 * 1024;
    private const int LegacyHeader = 7;
    private const int RecyclableHeader = 11;
    private const int SyncHeader = 19;

    private readonly byte[] _data;
    private readonly string _file;
    private readonly bool _strict;
    private readonly ulong _logNumber;
    private int _pos;
    private bool _ended;
    private byte[] _assembly = [];

    /// <param name="data">The whole file.</param>
    /// <param name="file">Its name, for messages.</param>
    /// <param name="strict">True for the MANIFEST, false for a WAL.</param>
    /// <param name="logNumber">The file's number: recyclable chunks must carry it.</param>
    public RecordLogReader(byte[] data, string file, bool strict, ulong logNumber)
    {
        _data = data;
        _file = file;
        _strict = strict;
        _logNumber = logNumber;
    }

    /// <summary>Reads the next record. Returns false at the end of the log.</summary>
    public bool TryNext(out ReadOnlyMemory<byte> record)
    {
        record = default;
        if (_ended)
        {
            return false;
        }

        int assembled = 0;
        bool inRecord = false;
        while (true)
        {
            int blockEnd = Math.Min(((_pos / BlockSize) + 1) * BlockSize, _data.Length);
            int avail = blockEnd - _pos;
            if (_pos >= _data.Length)
            {
                if (inRecord)
                {
                    return Stop("the log ends inside a record");
                }

                _ended = true;
                return false;
            }

            if (avail < LegacyHeader)
            {
                if (blockEnd == _data.Length && blockEnd % BlockSize != 0 && !IsZero(_data.AsSpan(_pos, avail)))
                {
                    return Stop($"torn chunk header at {_pos}");
                }

                // A block tail too short for a header is padding.
                _pos = blockEnd;
                continue;
            }

            var header = _data.AsSpan(_pos, LegacyHeader);
            uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(header);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
            byte type = header[6];
            if (storedCrc == 0 && length == 0 && type == 0)
            {
                if (!_strict)
                {
                    // A zeroed chunk is where a WAL's writer stopped.
                    _ended = true;
                    return false;
                }

                _pos = blockEnd;
                continue;
            }

            int headerSize = type switch
            {
                >= 1 and <= 4 => LegacyHeader,
                >= 5 and <= 8 => RecyclableHeader,
                >= 9 and <= 12 => SyncHeader,
                _ => -1,
            };
            if (headerSize < 0)
            {
                return Stop($"chunk at {_pos}: invalid chunk type {type}");
            }

            if (headerSize + length > avail)
            {
                return Stop($"chunk at {_pos}: {length} payload bytes overrun the 32 KiB block");
            }

            var checkedBytes = _data.AsSpan(_pos + 6, headerSize - 6 + length);
            if (Crc32C.Masked(checkedBytes) != storedCrc)
            {
                return Stop($"chunk at {_pos}: checksum mismatch");
            }

            if (headerSize > LegacyHeader)
            {
                uint chunkLog = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(_pos + 7, 4));
                if (chunkLog != (uint)_logNumber)
                {
                    // A different number means stale chunks of a recycled file; number + 1 is the
                    // writer's explicit end-of-log trailer. Either way this log ends here.
                    return Stop($"chunk at {_pos}: carries log number {chunkLog}, expected {(uint)_logNumber}");
                }
            }

            int payloadStart = _pos + headerSize;
            _pos = payloadStart + length;
            int position = (type - 1) % 4; // 0 full, 1 first, 2 middle, 3 last
            switch (position)
            {
                case 0:
                    if (inRecord)
                    {
                        return Stop($"chunk at {payloadStart - headerSize}: full chunk inside a fragmented record");
                    }

                    record = new ReadOnlyMemory<byte>(_data, payloadStart, length);
                    return true;
                case 1:
                    if (inRecord)
                    {
                        return Stop($"chunk at {payloadStart - headerSize}: first chunk inside a fragmented record");
                    }

                    inRecord = true;
                    assembled = 0;
                    Append(ref assembled, payloadStart, length);
                    break;
                default:
                    if (!inRecord)
                    {
                        return Stop($"chunk at {payloadStart - headerSize}: continuation chunk without a first chunk");
                    }

                    Append(ref assembled, payloadStart, length);
                    if (position == 3)
                    {
                        record = new ReadOnlyMemory<byte>(_assembly, 0, assembled);
                        return true;
                    }

                    break;
            }
        }
    }

    private void Append(ref int assembled, int start, int length)
    {
        // The assembled record never exceeds the file, which the caller already budgeted.
        if (_assembly.Length < assembled + length)
        {
            Array.Resize(ref _assembly, Math.Max(assembled + length, Math.Min(_data.Length, Math.Max(1024, _assembly.Length * 2))));
        }

        _data.AsSpan(start, length).CopyTo(_assembly.AsSpan(assembled));
        assembled += length;
    }

    private bool Stop(string message)
    {
        _ended = true;
        if (_strict)
        {
            Fail.Corrupt(_file, message);
        }

        return false;
    }

    private static bool IsZero(ReadOnlySpan<byte> s) => !s.ContainsAnyExcept((byte)0);
}
