using BenchmarkDotNet.Attributes;
using DotC1z.Keys;

namespace DotC1z.Benchmarks.Codec;

/// <summary>
/// Tuple key encoding of one grant's primary key and both index keys (docs/DESIGN.md §4.3–§4.4
/// layout) into a reused buffer. Target: 0 bytes allocated.
/// </summary>
[MemoryDiagnoser]
public class KeyCodecBenchmarks
{
    private const int KeyBufferBytes = 512;
    private readonly byte[] _buffer = new byte[KeyBufferBytes];
    private readonly SyncId _sync = SyncId.Parse("0ujsswThIGTUYm2K8FjOOfXtY1K");
    private readonly string _externalId = "grant-0000123456";
    private readonly string _entitlementId = "ent-000042";
    private readonly string _principalType = "user";
    private readonly string _principalId = "user-00000777";

    /// <summary>Primary key + by_entitlement + by_principal, each written into the same buffer.</summary>
    /// <returns>Total key bytes (so the work is observable).</returns>
    [Benchmark]
    public int GrantPrimaryAndIndexKeys()
    {
        var primary = new TupleWriter(_buffer);
        primary.Byte(0x03);
        primary.Byte(0x04);
        primary.SyncId(_sync);
        primary.Separator();
        primary.String(_externalId);
        int total = primary.Length;

        var byEntitlement = new TupleWriter(_buffer);
        byEntitlement.Byte(0x03);
        byEntitlement.Byte(0x07);
        byEntitlement.Byte(0x03);
        byEntitlement.SyncId(_sync);
        byEntitlement.Separator();
        byEntitlement.String(_entitlementId);
        byEntitlement.Separator();
        byEntitlement.String(_principalType);
        byEntitlement.Separator();
        byEntitlement.String(_principalId);
        byEntitlement.Separator();
        byEntitlement.String(_externalId);
        total += byEntitlement.Length;

        var byPrincipal = new TupleWriter(_buffer);
        byPrincipal.Byte(0x03);
        byPrincipal.Byte(0x07);
        byPrincipal.Byte(0x04);
        byPrincipal.SyncId(_sync);
        byPrincipal.Separator();
        byPrincipal.String(_principalType);
        byPrincipal.Separator();
        byPrincipal.String(_principalId);
        byPrincipal.Separator();
        byPrincipal.String(_externalId);
        return total + byPrincipal.Length;
    }

    /// <summary>Escaping an element that contains NUL and 0x01 bytes (the slow path).</summary>
    /// <returns>Bytes written.</returns>
    [Benchmark]
    public int EscapedElement()
    {
        var w = new TupleWriter(_buffer);
        w.String("a\0b\u0001c-with-some-longer-tail");
        return w.Length;
    }
}
