using System.Linq;
using Unroll.Tests.Onnx;

namespace Unroll.Tests.Generator;

/// <summary>The typed <see cref="LayerInfo.Settings"/> the generator writes: what each kind was declared with, defaults resolved.</summary>
public class LayerSettingsTests
{
    private static LayerInfo Layer(string name) => EveryKindNet.Description.Layers.Single(l => l.Name == name);

    [Fact]
    public void WindowsCarryKernelStrideAndPadding()
    {
        Assert.Equal(new LayerSettings { KernelHeight = 3, KernelWidth = 3, StrideHeight = 2, StrideWidth = 2, PadTop = 1, PadLeft = 1, PadBottom = 1, PadRight = 1 }, Layer("Conv1").Settings);
        // Same padding of a 3x1 kernel: one row above and below, no column.
        Assert.Equal(new LayerSettings { KernelHeight = 3, KernelWidth = 1, PadTop = 1, PadBottom = 1 }, Layer("Branch2").Settings);
        Assert.Equal(new LayerSettings { KernelHeight = 3, KernelWidth = 3, StrideHeight = 2, StrideWidth = 2, PadTop = 1, PadLeft = 1, PadBottom = 1, PadRight = 1 }, Layer("MaxP").Settings);
        Assert.True(Layer("AvgIn").Settings!.CountIncludePad);
        Assert.False(Layer("AvgEx").Settings!.CountIncludePad);
        Assert.Equal(new LayerSettings { PadTop = 1, PadLeft = 2, PadRight = 1 }, Layer("Pad").Settings);
    }

    [Fact]
    public void NormalisationsDropoutAndLeakySlopesCarryTheirNumbers()
    {
        Assert.Equal(new LayerSettings { Epsilon = 1e-3f, Momentum = 0.1f, LeakyReLUAlpha = 0.2f }, Layer("Norm1").Settings);
        Assert.Equal(new LayerSettings { Epsilon = 1e-5f, Momentum = 0.1f }, Layer("NormFlat").Settings);
        Assert.Equal(new LayerSettings { LrnSize = 4, LrnAlpha = 0.3f, LrnBeta = 0.6f, LrnK = 1f }, Layer("Lrn4").Settings);
        Assert.Equal(new LayerSettings { DropoutRate = 0.3f }, Layer("Drop").Settings);
        Assert.Equal(new LayerSettings { LeakyReLUAlpha = 0.1f }, Layer("Leaky").Settings);
    }

    [Fact]
    public void LayersWithNothingToSayHaveNoSettings()
    {
        foreach (string name in new[] { "Sum3", "Cat", "Sig", "Gap", "FcA", "Out" })
            Assert.Null(Layer(name).Settings);
    }
}
