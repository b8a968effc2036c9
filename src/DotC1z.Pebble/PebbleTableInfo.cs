namespace DotC1z.Pebble;

/// <summary>One table of the database's current version, as the MANIFEST describes it.</summary>
public sealed class PebbleTableInfo
{
    internal PebbleTableInfo(TableMeta m)
    {
        Level = m.Level;
        TableNumber = m.TableNumber;
        BackingFileNumber = m.BackingFileNumber;
        IsVirtual = m.IsVirtual;
        Size = m.Size;
        SmallestUserKey = m.SmallestUserKey;
        SmallestSeqNum = m.SmallestTrailer >> 8;
        LargestUserKey = m.LargestUserKey;
        LargestSeqNum = m.LargestTrailer >> 8;
        LargestIsExclusive = m.LargestExclusive;
        MinSeqNum = m.SmallestSeq;
        MaxSeqNum = m.LargestSeq;
    }

    /// <summary>The LSM level, 0 to 6.</summary>
    public int Level { get; }

    /// <summary>The table number the MANIFEST gives the table.</summary>
    public ulong TableNumber { get; }

    /// <summary>The number of the <c>NNNNNN.sst</c> file holding the data: the table number itself unless <see cref="IsVirtual"/>.</summary>
    public ulong BackingFileNumber { get; }

    /// <summary>True for a virtual table: a key range of a (possibly shared) backing file.</summary>
    public bool IsVirtual { get; }

    /// <summary>The size the MANIFEST records (the file size for a physical table, an estimate for a virtual one).</summary>
    public ulong Size { get; }

    /// <summary>The user key of the table's smallest bound.</summary>
    public ReadOnlyMemory<byte> SmallestUserKey { get; }

    /// <summary>The seqnum in the smallest bound's trailer.</summary>
    public ulong SmallestSeqNum { get; }

    /// <summary>The user key of the table's largest bound.</summary>
    public ReadOnlyMemory<byte> LargestUserKey { get; }

    /// <summary>The seqnum in the largest bound's trailer.</summary>
    public ulong LargestSeqNum { get; }

    /// <summary>True when the largest bound is an exclusive sentinel: keys stop strictly before <see cref="LargestUserKey"/>.</summary>
    public bool LargestIsExclusive { get; }

    /// <summary>The smallest seqnum of the table's keys; equal to <see cref="MaxSeqNum"/> means every key takes that seqnum.</summary>
    public ulong MinSeqNum { get; }

    /// <summary>The largest seqnum of the table's keys.</summary>
    public ulong MaxSeqNum { get; }

    /// <summary>The file name of the backing table, <c>NNNNNN.sst</c>.</summary>
    public string FileName => TableMeta.TableFileName(BackingFileNumber);
}
