using DotC1z.Errors;
using DotC1z.Keys;
using DotC1z.Tests.Shared;

namespace DotC1z.Core.Tests;

public sealed class SyncIdTests
{
    [Fact]
    public void Worked_example_round_trips()
    {
        var id = SyncId.Parse("0ujsswThIGTUYm2K8FjOOfXtY1K");
        Assert.Equal("0669F60567AD536455C1813D788F57CA54679412", Convert.ToHexString(id.ToByteArray()));
        Assert.Equal("0ujsswThIGTUYm2K8FjOOfXtY1K", id.ToString());
        Assert.Equal(id, SyncId.FromBytes(id.ToByteArray()));
    }

    [Fact]
    public void Minimum_and_maximum_are_the_extremes_of_20_bytes()
    {
        Assert.Equal(new byte[20], SyncId.Parse("000000000000000000000000000").ToByteArray());
        Assert.Equal(Enumerable.Repeat((byte)0xFF, 20).ToArray(), SyncId.Parse("aWgEPTl1tmebfsQzFP4bxwgy80V").ToByteArray());
        Assert.Equal("aWgEPTl1tmebfsQzFP4bxwgy80V", SyncId.Max.ToString());
        Assert.Equal("000000000000000000000000000", SyncId.Min.ToString());
    }

    [Fact]
    public void Real_fixture_ids_parse_and_round_trip()
    {
        foreach (string s in new[] { "36zGvJw3uxU1QMJKU2yPVQ1hBOC", "36zfOAoWMxQdISbixanQCRBiX7E", "3ARefY5G8eOytquwYgm41Nq07IZ" })
        {
            Assert.Equal(s, SyncId.Parse(s).ToString());
        }
    }

    [Fact]
    public void Random_ids_round_trip_and_text_order_equals_byte_order_equals_value_order()
    {
        int seed = Seeds.Get(424242);
        var rng = new Random(seed);
        var ids = new List<SyncId>();
        for (int i = 0; i < 500; i++)
        {
            var bytes = new byte[20];
            rng.NextBytes(bytes);
            if (i % 7 == 0)
            {
                bytes.AsSpan(0, rng.Next(20)).Clear(); // leading zeros exercise left padding
            }

            var id = SyncId.FromBytes(bytes);
            Assert.True(SyncId.Parse(id.ToString()) == id, $"seed={seed}: {id} does not round-trip");
            ids.Add(id);
        }

        for (int i = 0; i < ids.Count; i++)
        {
            for (int j = 0; j < ids.Count; j += 7)
            {
                int byValue = Math.Sign(ids[i].CompareTo(ids[j]));
                int byText = Math.Sign(string.CompareOrdinal(ids[i].ToString(), ids[j].ToString()));
                int byBytes = Math.Sign(ids[i].ToByteArray().AsSpan().SequenceCompareTo(ids[j].ToByteArray()));
                Assert.True(byValue == byText && byText == byBytes, $"seed={seed}: order disagrees for {ids[i]} vs {ids[j]}");
            }
        }
    }

    [Fact]
    public void New_ids_carry_the_time_and_sort_by_second()
    {
        var t0 = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        var a = SyncId.NewId(t0, new Random(1));
        var b = SyncId.NewId(t0.AddSeconds(1), new Random(2));
        Assert.Equal(t0, a.Timestamp);
        Assert.True(a < b);
        Assert.Equal(SyncId.NewId(t0, new Random(7)), SyncId.NewId(t0, new Random(7)));
        Assert.NotEqual(SyncId.NewId(), SyncId.NewId());
    }

    [Theory]
    [InlineData("")]
    [InlineData("0ujsswThIGTUYm2K8FjOOfXtY1")]
    [InlineData("0ujsswThIGTUYm2K8FjOOfXtY1KK")]
    [InlineData("00000000000000000000000001")]
    public void Wrong_length_is_rejected(string text)
    {
        Assert.False(SyncId.TryParse(text, out _));
        var ex = Assert.Throws<C1zArgumentException>(() => SyncId.Parse(text));
        Assert.Contains("27", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("000000000000000000000000-00")] // upstream accepts this one (§2.8 leniency); we do not
    [InlineData("0ujsswThIGTUYm2K8FjOOfXtY1 ")]
    [InlineData("_ujsswThIGTUYm2K8FjOOfXtY1K")]
    [InlineData("0ujsswThIGTUYm2K8FjOOfXtY1\0")]
    [InlineData("0ujsswThIGTUYm2K8FjOOfXtY1é")]
    [InlineData("0ujsswThIGTUYm2K8FjOOfXtY1{")]
    [InlineData("0ujsswThIGTUYm2K8FjOOfXtY1/")]
    public void Characters_outside_the_alphabet_are_rejected(string text)
    {
        Assert.False(SyncId.TryParse(text, out _));
        var ex = Assert.Throws<C1zArgumentException>(() => SyncId.Parse(text));
        Assert.Contains("characters", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("aWgEPTl1tmebfsQzFP4bxwgy80W")]
    [InlineData("aWgEPTl1tmebfsQzFP4bxwgy81V")]
    [InlineData("b00000000000000000000000000")]
    [InlineData("zzzzzzzzzzzzzzzzzzzzzzzzzzz")]
    public void Values_above_the_20_byte_maximum_are_rejected(string text)
    {
        Assert.False(SyncId.TryParse(text, out _));
        var ex = Assert.Throws<C1zArgumentException>(() => SyncId.Parse(text));
        Assert.Contains("maximum", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_and_wrong_binary_lengths_are_rejected()
    {
        Assert.False(SyncId.TryParse((string?)null, out _));
        Assert.Throws<C1zArgumentException>(() => SyncId.FromBytes(new byte[19]));
        Assert.Throws<C1zArgumentException>(() => SyncId.FromBytes(new byte[21]));
        Assert.Throws<ArgumentException>(() => SyncId.Min.WriteBytes(new byte[19]));
    }
}
