using System;
using System.Collections.Generic;
using Unroll.Generator.Front;
using Unroll.Generator.Graph;
using Unroll.Generator.Model;

namespace Unroll.Generator.Plan;

/// <summary>
/// Plan stage: lays out activations in a per-sample workspace and parameters in one buffer.
/// Activations are channels-last with channels padded to 16 floats; a sequential chain ping-pongs
/// between two regions (stand-alone activations work in place). Every offset is a multiple of 16
/// floats, so a 64-byte aligned workspace keeps every tensor aligned.
/// </summary>
internal static class Planner
{
    public const int Granule = 16;

    public static int Pad(int n) => (n + Granule - 1) / Granule * Granule;

    public static NetworkPlan Create(NetworkModel model)
    {
        // The network input is read by broadcast only when the first layer is a convolution or dense layer,
        // so it needs no channel padding then.
        LayerModel first = model.Layers[0];
        bool inputBroadcastOnly = first.Op is OpKind.Conv or OpKind.Dense;
        int inputCs = inputBroadcastOnly ? model.Input.C : Pad(model.Input.C);
        var inputSlot = new TensorSlot(0, model.Input.C, model.Input.H, model.Input.W, inputCs);
        int inputLength = Pad(inputSlot.Length);

        // Two regions after the input: outputs alternate between them.
        int[] regionSize = new int[2];
        int region = 0;
        foreach (LayerModel layer in model.Layers)
        {
            if (layer.Op == OpKind.Activation)
                continue;
            regionSize[region] = Math.Max(regionSize[region], Pad(SlotLength(layer.Output)));
            region ^= 1;
        }
        int[] regionOffset = { inputLength, inputLength + regionSize[0] };

        var plans = new List<LayerPlan>();
        // Inference: a first convolution reads the caller's C, H, W input in place (training converts it,
        // since the weight gradient reads the input channels-last). With one channel both orders are the
        // same, and the copy is cheaper than a second kernel; a Winograd layer's input transform reads
        // channels-last, and gains far more than the conversion costs.
        bool planarInput = first.Op == OpKind.Conv && model.Input.C > 1 && !Schedule.WinogradFits(first, inputCs);
        TensorSlot current = planarInput ? inputSlot with { Planar = true } : inputSlot;
        int parameters = 0;
        region = 0;
        foreach (LayerModel layer in model.Layers)
        {
            TensorSlot output;
            if (layer.Op == OpKind.Activation)
                output = current with { };
            else
            {
                output = new TensorSlot(regionOffset[region], layer.Output.C, layer.Output.H, layer.Output.W, Pad(layer.Output.C));
                region ^= 1;
            }
            int weightOffset = 0, weightLength = 0, biasOffset = 0, biasLength = 0;
            if (layer.WeightCount > 0)
            {
                weightOffset = parameters;
                weightLength = Pad((int)(layer.WeightCount / layer.Output.C * Pad(layer.Output.C)));
                parameters += weightLength;
            }
            if (layer.BiasCount > 0)
            {
                biasOffset = parameters;
                biasLength = Pad(layer.Output.C);
                parameters += biasLength;
            }
            plans.Add(new LayerPlan(layer, current, output, weightOffset, weightLength, biasOffset, biasLength));
            current = output;
        }
        int workspace = inputLength + regionSize[0] + regionSize[1];

        // Winograd layers: their transformed kernels one after another in a buffer of their own, and one scratch
        // area at the end of the workspace that they take in turn.
        int winograd = 0, scratch = 0;
        for (int i = 0; i < plans.Count; i++)
        {
            if (!Schedule.UsesWinograd(plans[i]))
                continue;
            plans[i] = plans[i] with { WinogradOffset = winograd };
            winograd += Schedule.WinogradKernelLength(plans[i]);
            scratch = Math.Max(scratch, Pad(Schedule.WinogradScratch(plans[i])));
        }
        int scratchOffset = workspace;
        workspace += scratch;
        return new NetworkPlan(model, inputSlot, plans.ToEquatableArray(), Math.Max(parameters, Granule), workspace,
            Training(plans, inputSlot, inputLength), GroupSize(model, workspace), winograd, scratchOffset);
    }

    private static TrainingPlan Training(List<LayerPlan> inference, TensorSlot inputSlot, int inputLength)
    {
        var layers = new List<LayerPlan>();
        var transposed = new List<int>();
        int offset = inputLength, gradient = Pad(inputSlot.H * inputSlot.W * Pad(inputSlot.C)), transposedLength = 0;
        TensorSlot current = inputSlot;
        foreach (LayerPlan p in inference)
        {
            // Unlike inference, a stand-alone activation gets a slot of its own: the layer before it
            // needs its own output intact for its backward pass (max-pool winners, fused derivatives).
            TensorSlot output = (p.Layer.Op == OpKind.Activation ? current : p.Out) with { Offset = offset };
            offset += Pad(output.Length);
            gradient = Math.Max(gradient, Pad(output.Length));
            layers.Add(p with { In = current, Out = output });
            if (p.Layer.Op == OpKind.Conv)
            {
                transposed.Add(transposedLength);
                transposedLength += p.Layer.KernelH * p.Layer.KernelW * p.Out.C * Pad(p.In.C);
            }
            else
                transposed.Add(-1);
            current = output;
        }
        var gradients = new[] { offset, offset + gradient };
        return new TrainingPlan(layers.ToEquatableArray(), gradients.ToEquatableArray(), gradient, offset + 2 * gradient,
            transposed.ToEquatableArray(), Math.Max(transposedLength, Granule));
    }

    /// <summary>Floats the workspaces of one sample group may take (16 MB): the group's activations stay near the cache.</summary>
    private const int GroupBudget = 4 * 1024 * 1024;

    /// <summary>Most samples a group holds: a batch of 64 fits in one group (a multiple of the sample tile).</summary>
    private const int MaxGroup = 66;

    /// <summary>
    /// Samples one thread runs layer by layer together when a batch allows: worth it when the network has
    /// dense layers, whose weights are then read once per group instead of once per sample. A multiple of
    /// <see cref="Schedule.GroupTileSamples"/>, so the group kernels' sample tiles never run past the group's
    /// workspaces; 1 (no groups) when the network has no dense layer or its workspace is too large.
    /// </summary>
    private static int GroupSize(NetworkModel model, int workspaceLength)
    {
        bool hasDense = false;
        foreach (LayerModel layer in model.Layers)
            hasDense |= layer.Op == OpKind.Dense;
        if (!hasDense)
            return 1;
        int group = Math.Min(MaxGroup, GroupBudget / workspaceLength) / Schedule.GroupTileSamples * Schedule.GroupTileSamples;
        return group < Schedule.GroupTileSamples ? 1 : group;
    }

    private static int SlotLength(TensorShape shape) => shape.H * shape.W * Pad(shape.C);
}
