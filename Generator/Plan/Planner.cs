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

    public static int Pad(int n) => Schedule.DivideUp(n, Granule) * Granule;

    public static NetworkPlan Create(NetworkModel model)
    {
        int n = model.Layers.Count;
        // Inference computes what the main outputs need; layers only auxiliary outputs need are pruned from it.
        var needed = new bool[n];
        var mainOutput = new bool[n + 1];
        foreach (OutputModel o in model.Outputs)
            if (!o.Auxiliary)
                needed[o.Layer] = mainOutput[o.Layer + 1] = true;
        for (int i = n - 1; i >= 0; i--)
            if (needed[i])
                foreach (int j in model.Layers[i].Inputs)
                    if (j >= 0)
                        needed[j] = true;

        // Tensor t is the network's input for t = 0 and layer t - 1's output otherwise; readers[t] lists the layers reading
        // it, and inferenceReaders[t] those of them that inference runs.
        var readers = new List<int>[n + 1];
        var inferenceReaders = new List<int>[n + 1];
        for (int t = 0; t <= n; t++)
        {
            readers[t] = new List<int>();
            inferenceReaders[t] = new List<int>();
        }
        for (int i = 0; i < n; i++)
            foreach (int j in model.Layers[i].Inputs)
            {
                readers[j + 1].Add(i);
                if (needed[i])
                    inferenceReaders[j + 1].Add(i);
            }

        // The network input is read by broadcast only when every reader is a convolution or dense layer, so it needs
        // no channel padding then.
        LayerModel first = model.Layers[0];
        bool inputBroadcastOnly = readers[0].TrueForAll(i => model.Layers[i].Op is OpKind.Conv or OpKind.Dense);
        int inputCs = inputBroadcastOnly ? model.Input.C : Pad(model.Input.C);
        var inputSlot = new TensorSlot(0, model.Input.C, model.Input.H, model.Input.W, inputCs);
        int inputLength = Pad(inputSlot.Length);

        // Inference: a first convolution that is the input's only reader reads the caller's C, H, W input in place
        // (training converts it, since the weight gradient reads the input channels-last). With one channel both
        // orders are the same, and the copy is cheaper than a second kernel; a 3x3 Winograd layer's input transform reads
        // channels-last, and gains far more than the conversion costs. (A strided layer split by phase for Winograd reads
        // the caller's planes in its split.)
        bool planarInput = first.Op == OpKind.Conv && inferenceReaders[0].Count == 1 && inferenceReaders[0][0] == 0 && model.Input.C > 1 && !Schedule.WinogradFits(first, inputCs);

        // A dropout is the identity at inference: its output is its input, in the same slot, with no step at all. Tensors
        // that share a slot this way form a group under the first of them (its root), which lives until the last reader
        // of any of them.
        var root = new int[n + 1];
        var groupLast = new int[n + 1];
        for (int t = 0; t <= n; t++)
        {
            root[t] = t > 0 && model.Layers[t - 1].Op == OpKind.Dropout ? root[model.Layers[t - 1].Inputs[0] + 1] : t;
            groupLast[root[t]] = Math.Max(groupLast[root[t]], mainOutput[t] ? n : LastReader(inferenceReaders[t], n));
        }

        // A convolution whose kernel may compute the max pool right after it (see Schedule.MayPoolInKernel) then runs at the
        // pool's step, reading its own input there: that input lives through the pool's step. Only the network's input has
        // adjacent pixels (its caller's planes, or one channel stored without padding).
        var poolsNext = new bool[n];
        for (int i = 0; i + 1 < n; i++)
        {
            bool adjacentPixels = model.Layers[i].ReadsPrevious(0) && (planarInput || inputCs == 1);
            poolsNext[i] = adjacentPixels && needed[i + 1] && !mainOutput[i + 1] && inferenceReaders[i + 1].Count == 1 && inferenceReaders[i + 1][0] == i + 1
                && model.Layers[i + 1].ReadsPrevious(i + 1) && Schedule.MayPoolInKernel(model.Layers[i], model.Layers[i + 1]);
            if (poolsNext[i])
                foreach (int j in model.Layers[i].Inputs)
                    groupLast[root[j + 1]] = Math.Max(groupLast[root[j + 1]], i + 1);
        }

        // Outputs are placed by liveness: a tensor's room is free again once its last reader has run (the network's
        // outputs are kept to the end). A stand-alone activation that is its input's last reader works in place.
        var arena = new Arena();
        arena.Place(0, inputLength, groupLast[0]);
        var slots = new TensorSlot[n + 1];
        slots[0] = planarInput ? inputSlot with { Planar = true } : inputSlot;
        var plans = new List<LayerPlan>();
        var residualSums = new List<(int Sum, (int Sum, int Residual, int Conv) Fusion)>();
        int parameters = 0;
        for (int i = 0; i < n; i++)
        {
            LayerModel layer = model.Layers[i];
            arena.Release(i);
            int source = layer.Inputs[0] + 1, lastRead = groupLast[root[i + 1]];
            // A residual sum a convolution completes takes over that convolution's slot, where it is the last reader.
            (int Sum, int Residual, int Conv)? fusion = needed[i] ? ResidualFusion(model, plans, inferenceReaders, i) : null;
            if (fusion is { } f && groupLast[root[f.Sum]] != i)
                fusion = null;
            if (!needed[i])
                slots[i + 1] = new TensorSlot(0, layer.Output.C, layer.Output.H, layer.Output.W, Pad(layer.Output.C));
            else if (layer.Op == OpKind.Dropout)
                slots[i + 1] = slots[source] with { };
            else if (layer.Op is OpKind.Activation or OpKind.BatchNorm && groupLast[root[source]] == i || fusion is not null)
            {
                if (fusion is { } completed)
                {
                    source = completed.Sum;
                    residualSums.Add((i, completed));
                }
                // The block belongs to the source's root (the tensor it was placed or last handed over for).
                slots[i + 1] = slots[source] with { };
                arena.HandOver(root[source], i + 1, lastRead);
            }
            else
                slots[i + 1] = new TensorSlot(arena.Place(i + 1, SlotLength(layer.Output), lastRead), layer.Output.C, layer.Output.H, layer.Output.W, Pad(layer.Output.C));
            // A strided convolution run as Winograd over its input split by phase: the split (owned by no tensor, hence the
            // negative owner) lives through this step only.
            TensorSlot? phases = null;
            if (needed[i] && Schedule.PhaseWinogradFits(layer))
            {
                TensorShape split = Schedule.PhaseShape(layer);
                phases = new TensorSlot(arena.Place(-(i + 1), split.H * split.W * Pad(split.C), i), split.C, split.H, split.W, Pad(split.C));
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
                // One value per output channel, or (an affine layer's shift per value) one per channel of every position.
                biasLength = Pad((int)(layer.BiasCount / layer.Output.C * Pad(layer.Output.C)));
                parameters += biasLength;
            }
            // A batch normalisation's running mean and variance: in the parameter buffer, so that they are saved and
            // loaded with it, but in no parameter group, so no optimizer touches them.
            int stateOffset = -1;
            if (layer.Op == OpKind.BatchNorm)
            {
                stateOffset = parameters;
                parameters += 2 * Pad(layer.Output.C);
            }
            plans.Add(new LayerPlan(layer, slots[source], slots[i + 1], weightOffset, weightLength, biasOffset, biasLength,
                Sources: Sources(layer, slots), StateOffset: stateOffset, Pruned: !needed[i], Phases: phases, PoolsNext: poolsNext[i]));
        }
        int workspace = arena.Length;

        // A batch normalisation that alone reads a convolution's output is folded into it at inference: the convolution
        // runs with scaled weights and a bias (computed from the parameters into the transformed buffer, after the Winograd
        // kernels) and the normalisation's activation, in the slot the normalisation would have overwritten in place.
        var folds = new List<int>();
        for (int j = 0; j < n; j++)
        {
            LayerModel bn = model.Layers[j];
            int i = FoldTarget(model, plans, inferenceReaders, j);
            if (!needed[j] || i < 0)
                continue;
            plans[i] = plans[i] with { Layer = model.Layers[i].WithActivationOf(bn) with { Bias = true } };
            plans[j] = plans[j] with { Folded = true };
            folds.Add(i);
        }

        // A residual sum that a convolution can complete (see ResidualFusion) has no step: the convolution adds the other
        // input in its epilogue and applies the sum's activation, in the slot the sum took over above.
        foreach ((int j, (int Sum, int Residual, int Conv) fusion) in residualSums)
        {
            LayerModel sum = model.Layers[j];
            LayerPlan conv = plans[fusion.Conv];
            plans[fusion.Conv] = conv with { Layer = conv.Layer.WithActivationOf(sum), Residual = slots[fusion.Residual] };
            plans[j] = plans[j] with { Folded = true };
        }

        // Winograd layers: their transformed kernels one after another in a buffer of their own, and one scratch
        // area at the end of the workspace that they take in turn.
        int winograd = 0, scratch = 0;
        for (int i = 0; i < plans.Count; i++)
        {
            if (plans[i].Pruned || !Schedule.UsesWinograd(plans[i]))
                continue;
            plans[i] = plans[i] with { WinogradOffset = winograd };
            winograd += Schedule.WinogradKernelLength(plans[i]);
            scratch = Math.Max(scratch, Pad(Schedule.WinogradScratch(plans[i])));
        }
        int scratchOffset = workspace;
        workspace += scratch;

        // Folded convolutions, then the other batch normalisations' per-channel scale and shift, after the Winograd kernels.
        int transformed = winograd;
        foreach (int i in folds)
        {
            plans[i] = plans[i] with { FoldedOffset = transformed };
            transformed += plans[i].WeightLength + plans[i].PaddedOutputs;
        }
        for (int i = 0; i < plans.Count; i++)
        {
            if (plans[i].Layer.Op != OpKind.BatchNorm || plans[i].Folded || plans[i].Pruned)
                continue;
            plans[i] = plans[i] with { ScaleShiftOffset = transformed };
            transformed += 2 * plans[i].PaddedOutputs;
        }
        return new NetworkPlan(model, inputSlot, plans.ToEquatableArray(), Math.Max(parameters, Granule), workspace,
            Training(model, plans, readers, inputSlot, inputLength), GroupSize(model, workspace), winograd, scratchOffset, transformed,
            OutputPlans(model, slots, auxiliary: false));
    }

    /// <summary>
    /// The convolution that batch normalisation <paramref name="j"/> folds into at inference: the layer it reads, when that is
    /// a convolution whose output it alone reads, in place; -1 when it is not such a normalisation.
    /// </summary>
    private static int FoldTarget(NetworkModel model, List<LayerPlan> plans, List<int>[] inferenceReaders, int j)
    {
        LayerModel bn = model.Layers[j];
        int i = bn.Inputs[0];
        return bn.Op == OpKind.BatchNorm && i >= 0 && model.Layers[i].Op == OpKind.Conv && inferenceReaders[i + 1].Count == 1 && plans[j].Out == plans[i].Out
            ? i : -1;
    }

    /// <summary>
    /// Whether inference can fold residual sum <paramref name="j"/> into the convolution that computes one of its two inputs
    /// (directly, or through a batch normalisation folded into it): the later of the two producers is a convolution (direct
    /// or Winograd) without an activation of its own whose output nothing else reads, the other input is ready before
    /// it runs, and the sum's activation can be applied in registers. Returns the tensors (t: layer t - 1's output) of the
    /// convolution's output as the sum reads it and of the other input, and the convolution's layer; null when it cannot.
    /// </summary>
    private static (int Sum, int Residual, int Conv)? ResidualFusion(NetworkModel model, List<LayerPlan> plans, List<int>[] inferenceReaders, int j)
    {
        LayerModel sum = model.Layers[j];
        if (sum.Op != OpKind.Add || sum.Inputs.Count != 2 || sum.Activation is not (ActivationKind.None or ActivationKind.ReLU or ActivationKind.LeakyReLU or ActivationKind.Clip))
            return null;
        (int Sum, int Residual, int Conv)? best = null;
        for (int a = 0; a < 2; a++)
        {
            int t = sum.Inputs[a] + 1, other = sum.Inputs[1 - a] + 1;
            if (t == 0 || inferenceReaders[t].Count != 1)
                continue;
            int conv = t - 1;
            // Through a batch normalisation that the convolution before it absorbs.
            if (FoldTarget(model, plans, inferenceReaders, conv) is int c && c >= 0)
            {
                if (model.Layers[conv].Activation != ActivationKind.None)
                    continue;
                conv = c;
            }
            LayerPlan p = plans[conv];
            if (p.Layer.Op != OpKind.Conv || p.Layer.Activation != ActivationKind.None || other > conv
                || (best is { } b && b.Conv > conv))
                continue;
            best = (t, other, conv);
        }
        return best;
    }

    /// <summary>The outputs' slots and places in a sample's output: the main ones, then (with <paramref name="auxiliary"/>) the others.</summary>
    private static EquatableArray<OutputPlan> OutputPlans(NetworkModel model, TensorSlot[] slots, bool auxiliary)
    {
        var outputs = new List<OutputPlan>();
        int offset = 0;
        foreach (OutputModel o in model.Outputs)
        {
            if (o.Auxiliary && !auxiliary)
                continue;
            var output = new OutputPlan(o.Layer, slots[o.Layer + 1], offset);
            outputs.Add(output);
            offset += output.Length;
        }
        return outputs.ToEquatableArray();
    }

    /// <summary>The last layer reading a tensor (the output is read after the last layer, at step <paramref name="n"/>).</summary>
    private static int LastReader(List<int> readers, int n) => readers.Count == 0 ? n : readers[readers.Count - 1];

    private static EquatableArray<TensorSlot> Sources(LayerModel layer, TensorSlot[] slots)
    {
        var sources = new List<TensorSlot>();
        foreach (int j in layer.Inputs)
            sources.Add(slots[j + 1]);
        return sources.ToEquatableArray();
    }

    /// <summary>
    /// The training placement. Every output is kept for the backward pass, each in a slot of its own (a stand-alone
    /// activation too: the layer before it needs its own output intact for its backward pass). Gradients are placed
    /// by liveness over the backward steps: a tensor's gradient is born at the backward step of its last reader and
    /// dies after its producer's backward step has read it.
    /// </summary>
    private static TrainingPlan Training(NetworkModel model, List<LayerPlan> inference, List<int>[] readers, TensorSlot inputSlot, int inputLength)
    {
        int n = inference.Count;
        var layers = new List<LayerPlan>();
        var transposed = new List<int>();
        int offset = inputLength, transposedLength = 0;
        var slots = new TensorSlot[n + 1];
        slots[0] = inputSlot;
        for (int i = 0; i < n; i++)
        {
            LayerPlan p = inference[i];
            slots[i + 1] = p.Out with { Offset = offset };
            offset += Pad(slots[i + 1].Length);
            // Training runs every layer as declared: nothing folded.
            p = p with { Layer = model.Layers[i], FoldedOffset = -1, Folded = false, WinogradOffset = -1, Pruned = false, Residual = null, Phases = null, PoolsNext = false };
            layers.Add(p with { In = slots[p.Layer.Inputs[0] + 1], Out = slots[i + 1], Sources = Sources(p.Layer, slots), ScaleShiftOffset = -1 });
            if (p.Layer.Op == OpKind.Conv)
            {
                transposed.Add(transposedLength);
                transposedLength += p.Layer.KernelH * p.Layer.KernelW * p.Out.C * Pad(p.In.C);
            }
            else
                transposed.Add(-1);
        }

        // Backward step k runs layer n - 1 - k; the input's gradient is read after the last step (k = n).
        var arena = new Arena();
        int Step(int layer) => n - 1 - layer;
        TensorSlot GradientSlot(int t, int at) => new(at, slots[t].C, slots[t].H, slots[t].W, Pad(slots[t].C));
        // Each output's gradient is loaded before the first step and lives until its layer's step has read it; layers
        // that read an output too add their contributions to it.
        var gradients = new TensorSlot?[n + 1];
        var outputGradients = new List<TensorSlot>();
        foreach (OutputModel o in model.Outputs)
        {
            int t = o.Layer + 1;
            gradients[t] = GradientSlot(t, arena.Place(t, SlotLength(slots[t]), Step(o.Layer)));
            outputGradients.Add(gradients[t]!);
        }
        var plans = new LayerGradient[n];
        for (int i = n - 1; i >= 0; i--)
        {
            int k = Step(i);
            arena.Release(k);
            LayerModel layer = model.Layers[i];
            if (gradients[i + 1] is not { } output)
            {
                // Nothing downstream reaches the output (the generator warned): no gradient, no backward step.
                plans[i] = new LayerGradient(slots[i + 1], EquatableArray<InputGradient>.Empty, Reached: false);
                continue;
            }
            var inputs = new List<InputGradient>();
            bool aliased = false;
            for (int a = 0; a < layer.Inputs.Count; a++)
            {
                int t = layer.Inputs[a] + 1;
                int dies = t == 0 ? n : Step(t - 1);
                if (gradients[t] is { } existing)
                {
                    // A later contribution: kernels that can only write go through a temporary of one step.
                    bool writesOnly = layer.Op is not (OpKind.Add or OpKind.Concat or OpKind.Activation or OpKind.Dropout);
                    inputs.Add(new InputGradient(existing, GradientMode.Accumulate, writesOnly ? arena.Place(-1, SlotLength(slots[t]), k) : -1));
                }
                else if (!aliased && readers[t].Count == 1 && layer.Op is OpKind.Activation or OpKind.Add or OpKind.Dropout)
                {
                    // The input's only reader passes the gradient through (a dropout, like an activation, has scaled it in
                    // place first): it takes over the output gradient's slot.
                    aliased = true;
                    gradients[t] = output with { };
                    arena.HandOver(i + 1, t, dies);
                    inputs.Add(new InputGradient(output, GradientMode.Alias, -1));
                }
                else
                {
                    gradients[t] = GradientSlot(t, arena.Place(t, SlotLength(slots[t]), dies));
                    inputs.Add(new InputGradient(gradients[t]!, GradientMode.Write, -1));
                }
            }
            plans[i] = new LayerGradient(output, inputs.ToEquatableArray());
        }
        TensorSlot inputGradient = gradients[0] ?? GradientSlot(0, arena.Place(0, SlotLength(slots[0]), n));

        // Batch normalisations: their blocks of the batch-statistics buffer.
        var batchNorms = new List<int>();
        int statistics = 0;
        for (int i = 0; i < n; i++)
        {
            if (layers[i].Layer.Op != OpKind.BatchNorm)
                continue;
            batchNorms.Add(i);
            layers[i] = layers[i] with { StatisticsOffset = statistics };
            statistics += Schedule.BatchNormStatistics(layers[i]);
        }
        var gradientBase = offset;
        // Gradient slots were placed from 0; they live after the kept outputs.
        LayerGradient Shift(LayerGradient g) => new(g.Output with { Offset = g.Output.Offset + gradientBase },
            System.Linq.Enumerable.Select(g.Inputs, x => x with { Slot = x.Slot with { Offset = x.Slot.Offset + gradientBase }, TempOffset = x.TempOffset < 0 ? -1 : x.TempOffset + gradientBase }).ToEquatableArray());
        return new TrainingPlan(layers.ToEquatableArray(), System.Linq.Enumerable.Select(plans, Shift).ToEquatableArray(),
            inputGradient with { Offset = inputGradient.Offset + gradientBase }, offset + arena.Length,
            transposed.ToEquatableArray(), Math.Max(transposedLength, Granule), batchNorms.ToEquatableArray(), statistics,
            OutputPlans(model, slots, auxiliary: true), System.Linq.Enumerable.Select(outputGradients, g => g with { Offset = g.Offset + gradientBase }).ToEquatableArray());
    }

    /// <summary>Floats the workspaces of one sample group may take (16 MB): the group's activations stay near the cache.</summary>
    private const int GroupBudget = 4 * 1024 * 1024;

    /// <summary>Most samples a group holds: a batch of 64 fits in one group (a multiple of the sample tile).</summary>
    private const int MaxGroup = 66;

    /// <summary>
    /// Samples one thread runs together when a batch allows, dense layers over the whole group: worth it when the network has
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

    private static int SlotLength(TensorSlot slot) => slot.H * slot.W * Pad(slot.C);
}
