using System;
using System.Collections.Generic;

namespace Unroll.Cli;

/// <summary>
/// Networks that <c>jitcheck</c> runs beside the catalog's, for kernel paths no catalog network takes: one convolution
/// over the network's input whose output is the network's, as in a stem or a filter bank run on its own, so that its
/// AVX-512 inference kernel writes the caller's planes (see the generated <c>_Planes</c> kernels).
/// </summary>
internal static class JitProbes
{
    /// <summary>Creates each probe with <paramref name="options"/>.</summary>
    public static IEnumerable<(string Name, Func<NetworkOptions, Network> Create)> All { get; } = new (string, Func<NetworkOptions, Network>)[]
    {
        ("StemProbe", options => new StemProbe(options)),
        ("FilterBankProbe", options => new FilterBankProbe(options)),
    };
}

/// <summary>ResNet's 7x7 stride-2 stem alone: the input padded and split by column phase, then strips along the row.</summary>
[Network(Input = "3x224x224")]
internal partial class StemProbe
{
    [Conv(64, Kernel = 7, Stride = 2, Pad = 3)] public partial Layer Conv { get; }
}

/// <summary>Four 3x3 filters over a one-channel image, read without a split (stride 1, no padding).</summary>
[Network(Input = "1x34x66")]
internal partial class FilterBankProbe
{
    [Conv(4, Kernel = 3, Bias = false)] public partial Layer Filters { get; }
}
