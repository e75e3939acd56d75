using Unroll.Generator.Graph;
using Unroll.Generator.Model;

namespace Unroll.Generator.Plan;

/// <summary>
/// Where one sample's tensor lives in the workspace: channels-last (H, W, C) with a channel stride
/// <paramref name="Cs"/> that is C rounded up to 16, so every vector load of 16 (or 8) channels stays in bounds.
/// A <paramref name="Planar"/> slot is the caller's input itself, in C, H, W order, read where it lies:
/// a first convolution reads its input by broadcast, or by vectors along a row (which want planes), so none is converted.
/// </summary>
internal sealed record TensorSlot(int Offset, int C, int H, int W, int Cs, bool Planar = false)
{
    public int Length => H * W * Cs;

    /// <summary>Floats between neighbouring pixels of one channel.</summary>
    public int PixelStride => Planar ? 1 : Cs;

    /// <summary>Floats between neighbouring channels of one pixel.</summary>
    public int ChannelStride => Planar ? H * W : 1;
}

/// <summary>One layer's placement: input and output slots, and its parameters in the parameter buffer.</summary>
/// <param name="In">The slot of the layer's first input.</param>
/// <param name="WinogradOffset">
/// For a convolution that the inference pass runs with Winograd F(2x2, 3x3) (<see cref="Schedule.UsesWinograd"/>),
/// the offset of its transformed kernel in the network's transformed-weight buffer; -1 otherwise.
/// </param>
/// <param name="Sources">The slots of every input, in order (the first is <paramref name="In"/>); only merges have more than one.</param>
/// <param name="StateOffset">For batch normalisation: the running mean in the parameter buffer (the running variance follows, <see cref="PaddedOutputs"/> later); -1 otherwise.</param>
/// <param name="ScaleShiftOffset">
/// For batch normalisation at inference: where its per-channel scale (then shift, <see cref="PaddedOutputs"/> later) lies in the
/// transformed-weight buffer, computed from gamma, beta and the running statistics; -1 otherwise.
/// </param>
/// <param name="StatisticsOffset">For batch normalisation in training: its block in the batch-statistics buffer (<see cref="Schedule.BatchNormStatistics"/>); -1 otherwise.</param>
/// <param name="FoldedOffset">
/// For a convolution at inference whose output only a batch normalisation reads: where the weights with the normalisation
/// folded in (scaled per output channel) lie in the transformed buffer, the bias right after them; -1 otherwise. Its
/// <paramref name="Layer"/> then carries the normalisation's activation and a bias.
/// </param>
/// <param name="Folded">
/// At inference, a layer with no step of its own because a convolution computes it: a batch normalisation folded into the
/// convolution before it, or a residual sum that a convolution producing one of its inputs completes in its epilogue
/// (see <paramref name="Residual"/>).
/// </param>
/// <param name="Pruned">
/// For inference: a layer that only auxiliary outputs need. It has no step and no room in the workspace (its slots are
/// placeholders); training runs it.
/// </param>
/// <param name="Residual">
/// For a convolution at inference whose output only a residual sum reads, where the sum's other input lies: the kernel adds
/// it to the finished accumulators before the sum's activation (its <paramref name="Layer"/> carries that activation) and
/// stores the sum itself, in the slot the sum takes over. Null otherwise.
/// </param>
/// <param name="Phases">
/// For a strided convolution that the inference pass runs with Winograd over its input split by phase
/// (<see cref="Schedule.PhaseWinogradFits"/>): where the split input lies, channels-last, placed for this layer's step only.
/// Null otherwise.
/// </param>
/// <param name="PoolsNext">
/// For a convolution at inference whose output only the 2x2 stride-2 max pool right after it reads
/// (<see cref="Schedule.MayPoolInKernel"/>): its kernel may compute the pool too, where the instruction set allows
/// (<see cref="Schedule.PoolsInKernel"/>), at the pool's step; its input is kept through that step.
/// </param>
internal sealed record LayerPlan(LayerModel Layer, TensorSlot In, TensorSlot Out, int WeightOffset, int WeightLength, int BiasOffset, int BiasLength,
    int WinogradOffset = -1, EquatableArray<TensorSlot> Sources = default, int StateOffset = -1, int ScaleShiftOffset = -1, int StatisticsOffset = -1,
    int FoldedOffset = -1, bool Folded = false, bool Pruned = false, TensorSlot? Residual = null, TensorSlot? Phases = null, bool PoolsNext = false)
{
    /// <summary>Whether the kernel reads its weights and bias from the transformed buffer (a convolution with a batch normalisation folded in).</summary>
    public bool ReadsFoldedWeights => FoldedOffset >= 0;

    /// <summary>Output channels rounded up to 16: the row length of the packed weights.</summary>
    public int PaddedOutputs => Planner.Pad(Layer.Output.C);

    /// <summary>Identifies the computation, so that layers with equal keys share one kernel.</summary>
    public string KernelKey =>
        $"{Layer.Op}|{Layer.ActivationName}|{Layer.Alpha.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}|{In.C}x{In.H}x{In.W}/{(In.Planar ? "planar" : In.Cs.ToString(System.Globalization.CultureInfo.InvariantCulture))}|{Out.C}x{Out.H}x{Out.W}/{Out.Cs}|{Layer.KernelH}x{Layer.KernelW}|{Layer.StrideH}x{Layer.StrideW}|{Layer.PadTop},{Layer.PadLeft},{Layer.PadBottom},{Layer.PadRight}|{Layer.Bias}|{Layer.CountIncludePad}{SourceKey}"
        + (Layer.Op is Front.OpKind.Dropout or Front.OpKind.LRN or Front.OpKind.Affine ? "|" + Layer.Details : "") + (Residual is null ? "" : "|residual");

    /// <summary>A merge's inputs after the first, as they enter the kernel key.</summary>
    private string SourceKey
    {
        get
        {
            var key = new System.Text.StringBuilder();
            for (int k = 1; k < Sources.Count; k++)
                key.Append('|').Append(Sources[k].C).Append('/').Append(Sources[k].Cs);
            return key.ToString();
        }
    }
}

/// <summary>Where one output of a sample comes from and where it goes.</summary>
/// <param name="Layer">The layer whose output it is.</param>
/// <param name="Slot">The layer's output slot in the workspace.</param>
/// <param name="Offset">Where it starts in the sample's output (C, H, W order): main outputs first, then auxiliary ones.</param>
internal sealed record OutputPlan(int Layer, TensorSlot Slot, int Offset)
{
    /// <summary>Values of the output.</summary>
    public int Length => Slot.C * Slot.H * Slot.W;
}

/// <summary>How a network is computed: memory layout of activations and parameters, decided at compile time.</summary>
/// <param name="Model">What is computed.</param>
/// <param name="InputSlot">Where the forward pass puts the converted input.</param>
/// <param name="Layers">Inference placement: outputs ping-pong between two regions.</param>
/// <param name="ParameterLength">Floats of the parameter buffer (and of the gradient buffer).</param>
/// <param name="WorkspaceLength">Floats of one thread's inference workspace.</param>
/// <param name="Training">Training placement: every output kept for the backward pass.</param>
/// <param name="GroupSize">
/// Samples run together in a batch, dense layers over the whole group (1: none). Each has a workspace of its own, one after the
/// other with stride <paramref name="WorkspaceLength"/>.
/// </param>
/// <param name="WinogradLength">Floats of the transformed-weight buffer of the Winograd layers (0: none).</param>
/// <param name="ScratchOffset">Start of the Winograd layers' scratch in a workspace (transformed input and output of one block of tiles).</param>
/// <param name="TransformedLength">Floats of the whole transformed-weight buffer: the Winograd kernels, then the batch normalisations' scales and shifts (0: none).</param>
/// <param name="Outputs">The main outputs, which inference writes (auxiliary ones are the training plan's only).</param>
internal sealed record NetworkPlan(NetworkModel Model, TensorSlot InputSlot, EquatableArray<LayerPlan> Layers, int ParameterLength, int WorkspaceLength, TrainingPlan Training,
    int GroupSize, int WinogradLength, int ScratchOffset, int TransformedLength, EquatableArray<OutputPlan> Outputs)
{
    /// <summary>
    /// Floats of one thread's workspace for a sample group: the samples' workspaces, then the panel into
    /// which dense group kernels copy a block of weight rows (the largest block of any dense layer).
    /// </summary>
    public int GroupWorkspaceLength => GroupSize > 1 ? GroupSize * WorkspaceLength + GroupPanelLength : WorkspaceLength;

    private int GroupPanelLength
    {
        get
        {
            int rows = 0;
            foreach (LayerPlan layer in Layers)
                if (layer.Layer.Op == Front.OpKind.Dense)
                    rows = System.Math.Max(rows, Schedule.GroupBlockRows(layer));
            return rows * Schedule.GroupPanelWidth;
        }
    }
}

/// <summary>How a layer's backward pass delivers the gradient of one of its inputs.</summary>
internal enum GradientMode
{
    /// <summary>The first contribution (in backward order): written over whatever the slot held.</summary>
    Write,
    /// <summary>A later contribution of a tensor that several layers read: added to what is there.</summary>
    Accumulate,
    /// <summary>The input's gradient is the output's gradient, in the same slot (an activation, or a sum's only reader).</summary>
    Alias,
}

/// <summary>Where a layer's backward pass puts the gradient of one input.</summary>
/// <param name="Slot">The input's gradient slot (channels-last, channels padded to 16).</param>
/// <param name="Mode">Write, accumulate or alias.</param>
/// <param name="TempOffset">For a kernel that can only write (convolution, dense, pooling) accumulating: where it writes before the sum; -1 otherwise.</param>
internal sealed record InputGradient(TensorSlot Slot, GradientMode Mode, int TempOffset);

/// <summary>The gradient slots of one layer's backward pass.</summary>
/// <param name="Output">The gradient with respect to the layer's output, read (and scaled by the activation's derivative in place).</param>
/// <param name="Inputs">Per input, in order: where its gradient goes.</param>
/// <param name="Reached">False for a layer whose output never reaches the network's output: it has no backward step.</param>
internal sealed record LayerGradient(TensorSlot Output, EquatableArray<InputGradient> Inputs, bool Reached = true);

/// <summary>
/// The training workspace of one thread: the converted input and every layer's output (each in a slot of its own),
/// then the gradients, placed by liveness over the backward steps; plus, shared by all threads, each convolution's
/// kernel transposed to [KH][KW][O][I padded] for the input-gradient pass.
/// </summary>
/// <param name="Layers">Layer placements with training slots (same kernels as inference, other offsets).</param>
/// <param name="Gradients">Per layer, its gradient slots.</param>
/// <param name="InputGradient">The gradient slot of the network's input.</param>
/// <param name="WorkspaceLength">Floats of one thread's training workspace.</param>
/// <param name="TransposedOffsets">Per layer, the offset of its transposed kernel (-1 for layers without one).</param>
/// <param name="TransposedLength">Floats of the shared transposed-kernel buffer.</param>
/// <param name="BatchNorms">
/// The batch normalisations, in layer order (indices into <paramref name="Layers"/>). Each splits training into segments
/// that every sample of a batch runs before the next begins, since it normalises with statistics of the whole batch:
/// there are one more segments than batch normalisations.
/// </param>
/// <param name="StatisticsLength">Floats of the batch-statistics buffer that the batch normalisations share during a training step.</param>
/// <param name="Outputs">Every output, main then auxiliary, with its training slot: the forward pass writes them, the backward pass starts from their gradients.</param>
/// <param name="OutputGradients">Per output (same order), the slot its gradient is loaded into before the backward steps.</param>
internal sealed record TrainingPlan(EquatableArray<LayerPlan> Layers, EquatableArray<LayerGradient> Gradients, TensorSlot InputGradient, int WorkspaceLength,
    EquatableArray<int> TransposedOffsets, int TransposedLength, EquatableArray<int> BatchNorms, int StatisticsLength,
    EquatableArray<OutputPlan> Outputs, EquatableArray<TensorSlot> OutputGradients)
{
    /// <summary>Segments of a training step (see <see cref="BatchNorms"/>).</summary>
    public int Segments => BatchNorms.Count + 1;

    /// <summary>The segment layer <paramref name="index"/> runs in, forward: a batch normalisation opens its segment.</summary>
    public int SegmentOf(int index)
    {
        int segment = 0;
        foreach (int b in BatchNorms)
            if (b <= index)
                segment++;
        return segment;
    }
}
