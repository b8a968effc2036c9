using DotC1z.Cli.Output;
using DotC1z.Records;
using Google.Protobuf.WellKnownTypes;

namespace DotC1z.Cli.Tests;

public sealed class GrantJsonTests
{
    private static readonly string[] Texts = ["", "a", "group:eng:member", "user-00000001", "with space", "quote\"", "back\\slash", "amp&", "apos'", "lt<", "eq=", "gt>", "tab\t", "nl\n", "é", "日本", "😀", "\u2028", "\u007f", "~!#$%()*+,-./:;?@[]^_`{|}", "user.name+tag@example.com"];

    private static readonly Timestamp?[] Times =
    [
        null, new Timestamp(), new Timestamp { Seconds = 1_763_000_000 }, new Timestamp { Seconds = 1_763_000_000, Nanos = 5_000_000 },
        new Timestamp { Seconds = 1_763_000_000, Nanos = 5_000 }, new Timestamp { Seconds = 1_763_000_000, Nanos = 5 }, new Timestamp { Seconds = -1, Nanos = 999_999_999 },
        new Timestamp { Seconds = -62135596800 }, new Timestamp { Seconds = 253402300799, Nanos = 999_999_999 },
    ];

    [Fact]
    public void The_direct_grant_json_is_the_formatters_text_for_every_shape()
    {
        var rng = new Random(5);
        // Mostly plain ids (the direct path), sometimes one the formatter escapes (the fallback).
        string T() => rng.Next(5) == 0 ? Texts[rng.Next(Texts.Length)] : Texts[rng.Next(5)];
        int direct = 0;
        for (int i = 0; i < 4000; i++)
        {
            var g = new GrantRecord { SyncId = T(), ExternalId = T(), NeedsExpansion = rng.Next(2) == 0, SourceScopeKey = rng.Next(3) == 0 ? T() : "" };
            if (rng.Next(4) != 0)
            {
                g.Entitlement = new EntitlementRef { ResourceTypeId = T(), ResourceId = T(), EntitlementId = T() };
            }

            if (rng.Next(4) != 0)
            {
                g.Principal = new PrincipalRef { ResourceTypeId = T(), ResourceId = T() };
            }

            g.DiscoveredAt = Times[rng.Next(Times.Length)]?.Clone();
            if (rng.Next(10) == 0)
            {
                g.Expansion = new GrantExpandableRecord { EntitlementIds = { T() } };
            }

            if (rng.Next(10) == 0)
            {
                g.Sources.Add(T(), new GrantSourceRecord { IsDirect = true });
            }

            direct += GrantJson.TryFormat(g) is null ? 0 : 1;
            Assert.Equal(RecordJson.Format(g), GrantJson.Format(g));
        }

        // The direct path, not only the fallback, was compared.
        Assert.True(direct > 100, $"only {direct} grants took the direct path");
    }

    [Fact]
    public void A_time_outside_the_formatters_range_fails_as_the_formatter_does()
    {
        var g = new GrantRecord { ExternalId = "g", DiscoveredAt = new Timestamp { Seconds = 253402300800 } };
        Assert.Null(GrantJson.TryFormat(g));
        var expected = Record.Exception(() => RecordJson.Format(g));
        Assert.NotNull(expected);
        Assert.Equal(expected.GetType(), Record.Exception(() => GrantJson.Format(g))?.GetType());
    }
}
