using System;
using System.Collections.Generic;
using System.Linq;
using Unroll.Networks;
using Unroll.Pretrained;

namespace Unroll.Bench;

// One network per benchmark case. Convolutions have a bias and no activation unless noted; the
// LeNet-5 layers keep the activation they have in Networks/LeNet5.cs.

[Network(Input = "64x56x56")]
internal partial class Conv3x3_64_56
{
    [Conv(64, Kernel = 3, Pad = 1)] public partial Layer Conv { get; }
}

[Network(Input = "256x56x56")]
internal partial class Conv1x1_256_64_56
{
    [Conv(64, Kernel = 1)] public partial Layer Conv { get; }
}

[Network(Input = "3x224x224")]
internal partial class Conv7x7s2_3_64_224
{
    [Conv(64, Kernel = 7, Stride = 2, Pad = 3)] public partial Layer Conv { get; }
}

[Network(Input = "3x227x227")]
internal partial class Conv11x11s4_3_96_227
{
    [Conv(96, Kernel = 11, Stride = 4)] public partial Layer Conv { get; }
}

[Network(Input = "1x32x32")]
internal partial class LeNetC1
{
    [Conv(6, Kernel = 5), ReLU] public partial Layer C1 { get; }
}

[Network(Input = "6x28x28")]
internal partial class LeNetS2
{
    [MaxPool(2)] public partial Layer S2 { get; }
}

[Network(Input = "6x14x14")]
internal partial class LeNetC3
{
    [Conv(16, Kernel = 5), ReLU] public partial Layer C3 { get; }
}

[Network(Input = "16x10x10")]
internal partial class LeNetS4
{
    [MaxPool(2)] public partial Layer S4 { get; }
}

/// <summary>LeNet-5's F5: a dense layer on the spatial 16x5x5 output of S4.</summary>
[Network(Input = "16x5x5")]
internal partial class LeNetF5
{
    [Dense(120), ReLU] public partial Layer F5 { get; }
}

[Network(Input = "120x1x1")]
internal partial class LeNetF6
{
    [Dense(84), ReLU] public partial Layer F6 { get; }
}

[Network(Input = "84x1x1")]
internal partial class LeNetOutput
{
    [Dense(10), Softmax] public partial Layer Output { get; }
}

[Network(Input = "64x112x112")]
internal partial class MaxPool3x3s2_64_112
{
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool { get; }
}

[Network(Input = "4096x1x1")]
internal partial class Dense4096
{
    [Dense(4096)] public partial Layer Fc { get; }
}

[Network(Input = "64x28x28")]
internal partial class Conv3x3_64_28
{
    [Conv(64, Kernel = 3, Pad = 1)] public partial Layer Conv { get; }
}

/// <summary>One benchmark case: a network, the batch it runs, and whether it is timed forward only or as a training step.</summary>
/// <param name="Name">The case name printed in the results.</param>
/// <param name="Batch">Samples per call.</param>
/// <param name="Create">Creates the network.</param>
/// <param name="Training">
/// True: one call is <see cref="Network.ComputeGradients"/> (forward and backward, no input gradient), counted as
/// three forward passes of FLOPs; there is no ONNX Runtime peer to time.
/// </param>
/// <param name="Rounds">The quick benchmark's rounds when <c>--rounds</c> is not given; null for its default.</param>
/// <param name="Model">
/// A network compiled from an ONNX file whose weights <see cref="Create"/> loads: the path of that file, which ONNX Runtime
/// runs as it is (its batch fixed at 1, so one call per sample), and the weights are left as loaded. Null: ONNX Runtime runs
/// the network's export, with random biases and normalisations set first.
/// </param>
internal sealed record BenchCase(string Name, int Batch, Func<NetworkOptions, Network> Create, bool Training = false, int? Rounds = null,
    Func<string>? Model = null)
{
    /// <summary>The name with the batch, unique among the cases: <c>dense4096_b64</c>.</summary>
    public string Id => Name.EndsWith($"_b{Batch}", StringComparison.Ordinal) ? Name : $"{Name}_b{Batch}";

    /// <inheritdoc />
    public override string ToString() => Id;
}

/// <summary>Every case of the quick benchmark and of the BenchmarkDotNet classes.</summary>
internal static class Cases
{
    public static readonly IReadOnlyList<BenchCase> All = Build();

    /// <summary>Rounds of the whole-network cases in the quick benchmark (unless <c>--rounds</c> says otherwise).</summary>
    private const int NetworkRounds = 7;

    /// <summary>The cases whose <see cref="BenchCase.Id"/> contains <paramref name="filter"/> (all when it is null or empty).</summary>
    public static IEnumerable<BenchCase> Matching(string? filter) =>
        string.IsNullOrEmpty(filter) ? All : All.Where(c => c.Id.Contains(filter, StringComparison.OrdinalIgnoreCase));

    /// <summary>The case with identifier <paramref name="id"/>.</summary>
    public static BenchCase Find(string id) =>
        All.FirstOrDefault(c => c.Id == id) ?? throw new ArgumentException($"No benchmark case '{id}'.", nameof(id));

    private static List<BenchCase> Build()
    {
        var list = new List<BenchCase>
        {
            new("conv3x3_64_56", 1, o => new Conv3x3_64_56(o)),
            new("conv1x1_256_64_56", 1, o => new Conv1x1_256_64_56(o)),
            new("conv7x7s2_3_64_224", 1, o => new Conv7x7s2_3_64_224(o)),
            new("conv11x11s4_3_96_227", 1, o => new Conv11x11s4_3_96_227(o)),
        };
        foreach (int batch in new[] { 1, 64 })
        {
            list.Add(new("lenet5_c1", batch, o => new LeNetC1(o)));
            list.Add(new("lenet5_s2", batch, o => new LeNetS2(o)));
            list.Add(new("lenet5_c3", batch, o => new LeNetC3(o)));
            list.Add(new("lenet5_s4", batch, o => new LeNetS4(o)));
            list.Add(new("lenet5_f5", batch, o => new LeNetF5(o)));
            list.Add(new("lenet5_f6", batch, o => new LeNetF6(o)));
            list.Add(new("lenet5_output", batch, o => new LeNetOutput(o)));
            list.Add(new("lenet5", batch, o => new LeNet5(o)));
        }
        list.Add(new("maxpool3x3s2_64_112", 1, o => new MaxPool3x3s2_64_112(o)));
        list.Add(new("dense4096", 1, o => new Dense4096(o)));
        list.Add(new("dense4096", 64, o => new Dense4096(o)));
        list.Add(new("conv3x3_64_28_train_b32", 32, o => new Conv3x3_64_28(o), Training: true));
        // Whole classic networks (--cases net_ selects them), fewer rounds: a VGG-16 pass takes a fifth of a second.
        list.Add(new("net_vgg16", 1, o => new VGG16(o), Rounds: NetworkRounds));
        list.Add(new("net_resnet50", 1, o => new ResNet50(o), Rounds: NetworkRounds));
        list.Add(new("net_googlenet", 1, o => new GoogLeNet(o), Rounds: NetworkRounds));
        // ML.NET's pretrained ResNet-18 compiled from its ONNX file (Unroll.Pretrained), against ONNX Runtime on that file.
        foreach (int batch in new[] { 1, 8 })
            list.Add(new("net_resnet18_onnx", batch, o => PretrainedModels.LoadResNet18(o), Rounds: NetworkRounds, Model: () => PretrainedModels.ResNet18Path));
        return list;
    }
}
