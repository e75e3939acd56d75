using Unroll.Generator.Graph;
using Unroll.Generator.Model;

namespace Unroll.Generator.Plan;

/// <summary>
/// Where one sample's tensor lives in the workspace: channels-last (H, W, C) with a channel stride
/// <paramref name="Cs"/> that is C rounded up to 16, so every vector load of 16 (or 8) channels stays in bounds.
/// </summary>
internal sealed record TensorSlot(int Offset, int C, int H, int W, int Cs)
{
    public int Length => H * W * Cs;
}

/// <summary>One layer's placement: input and output slots, and its parameters in the parameter buffer.</summary>
internal sealed record LayerPlan(LayerModel Layer, TensorSlot In, TensorSlot Out, int WeightOffset, int WeightLength, int BiasOffset, int BiasLength)
{
    /// <summary>Output channels rounded up to 16: the row length of the packed weights.</summary>
    public int PaddedOutputs => Planner.Pad(Layer.Output.C);

    /// <summary>Identifies the computation, so that layers with equal keys share one kernel.</summary>
    public string KernelKey =>
        $"{Layer.Op}|{Layer.Activation}|{Layer.Alpha.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}|{In.C}x{In.H}x{In.W}/{In.Cs}|{Out.C}x{Out.H}x{Out.W}/{Out.Cs}|{Layer.KernelH}x{Layer.KernelW}|{Layer.StrideH}x{Layer.StrideW}|{Layer.PadTop},{Layer.PadLeft},{Layer.PadBottom},{Layer.PadRight}|{Layer.Bias}|{Layer.CountIncludePad}";
}

/// <summary>How a network is computed: memory layout of activations and parameters, decided at compile time.</summary>
internal sealed record NetworkPlan(NetworkModel Model, TensorSlot InputSlot, EquatableArray<LayerPlan> Layers, int ParameterLength, int WorkspaceLength)
{
    public TensorSlot OutputSlot => Layers[Layers.Count - 1].Out;
}
