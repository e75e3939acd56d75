using System;
using Unroll.Generator.Front;

namespace Unroll.Generator.Plan;

/// <summary>An instruction set the emitters target: its vector width and register budget.</summary>
internal enum TargetIsa
{
    Portable,
    Avx2,
    Avx512,
}

/// <summary>
/// The register tile of a kernel on one instruction set: <see cref="Pixels"/> output pixels by
/// <see cref="Vectors"/> vectors of output channels are accumulated in registers at once.
/// </summary>
internal readonly record struct Tile(int Lanes, int Pixels, int Vectors, int ChannelVectors)
{
    /// <summary>Full channel blocks of <see cref="Vectors"/> vectors.</summary>
    public int Blocks => ChannelVectors / Vectors;

    /// <summary>Vectors left over after the full blocks.</summary>
    public int Remainder => ChannelVectors % Vectors;
}

/// <summary>
/// The loop order of a convolution's forward kernel (see <see cref="Schedule.ConvLoops"/>): whether output channel
/// blocks are outermost, and in how many passes over slices of <paramref name="PassChannels"/> input channels each
/// block's sums are gathered.
/// </summary>
internal readonly record struct ConvLoops(bool BlocksOuter, int Passes, int PassChannels);

/// <summary>
/// The network's input planes, padded and split by column phase, for a convolution writing planes
/// (<see cref="Schedule.PlaneSplit"/>): per channel, <paramref name="Rows"/> padded rows, each as
/// <paramref name="Phases"/> phase rows of <paramref name="Width"/> floats, phase k holding the padded columns
/// k, k + stride, k + 2 stride and so on, zero in the padding. A kernel column kw of output column ow then reads phase
/// kw % stride at ow + kw / stride: 16 adjacent output columns read one vector.
/// </summary>
internal readonly record struct PlaneSplit(int Channels, int Rows, int Phases, int Width)
{
    /// <summary>Floats of one padded row: all its phases.</summary>
    public int RowLength => Phases * Width;

    /// <summary>Floats of one channel.</summary>
    public int ChannelLength => Rows * RowLength;

    /// <summary>Floats of the whole buffer.</summary>
    public int Length => Channels * ChannelLength;
}

/// <summary>Chooses register tiles per layer and instruction set.</summary>
internal static class Schedule
{
    public static int Lanes(TargetIsa isa) => isa switch
    {
        TargetIsa.Avx512 => 16,
        TargetIsa.Avx2 => 8,
        _ => 1,
    };

    /// <summary>Accumulators that fit in registers beside the weights and the broadcast input.</summary>
    private static int AccumulatorBudget(TargetIsa isa) => isa switch
    {
        TargetIsa.Avx512 => 24,
        TargetIsa.Avx2 => 12,
        _ => 8,
    };

    /// <summary>Vectors needed to cover <paramref name="channels"/> channels (the portable path works channel by channel).</summary>
    public static int ChannelVectors(TargetIsa isa, int channels) => DivideUp(channels, Lanes(isa));

    /// <summary><paramref name="n"/> / <paramref name="d"/> rounded up, for non-negative <paramref name="n"/> and positive <paramref name="d"/>: how many parts of at most d cover n.</summary>
    public static int DivideUp(int n, int d) => (n + d - 1) / d;

    /// <summary>Work below this many FLOPs stays on one thread: splitting it would cost more in synchronisation than it saves.</summary>
    public const long SplitFlops = 1_000_000;

    /// <summary>
    /// The units a layer's forward kernel can be split into across the threads working on one sample:
    /// output rows for convolution and pooling, register-tile chunks of outputs for dense layers. Zero when
    /// the layer runs on one thread (small, a stand-alone activation, or followed by a whole-tensor pass
    /// such as softmax).
    /// </summary>
    public static int SplitUnits(TargetIsa isa, LayerPlan layer)
    {
        Graph.LayerModel l = layer.Layer;
        if (l.Flops < SplitFlops || l.Activation is ActivationKind.Tanh or ActivationKind.Sigmoid or ActivationKind.Softmax)
            return 0;
        return l.Op switch
        {
            OpKind.Conv when ConvLoops(isa, layer).BlocksOuter => ConvUnits(isa, layer),
            OpKind.Conv or OpKind.MaxPool or OpKind.AvgPool when layer.Out.H > 1 => layer.Out.H,
            OpKind.Dense => DenseChunks(For(isa, layer)),
            _ => 0,
        };
    }

    /// <summary>
    /// Bytes of weights a convolution may have and still run rows outermost: every pixel tile reads all the weights,
    /// so they must stay in the 1 MB L2 beside the input rows (half of it is left to them).
    /// </summary>
    public const int RowsOuterWeightBytes = 512 * 1024;

    /// <summary>
    /// Bytes of one channel block's weights one pass of a weights-outermost convolution reads: a quarter of L2, so the
    /// block's weights stay there while the pass runs over every pixel tile, beside the input rows and the outputs.
    /// </summary>
    public const int PassWeightBytes = 256 * 1024;

    /// <summary>
    /// The loop order of a convolution's forward kernel. Rows outermost (the default) reads the input once and the
    /// weights once per pixel tile, which is right while the weights fit in L2. A convolution whose weights are larger
    /// than L2 allows and than its input (ResNet's late stages: 1 to 9 MB of weights over 7x7 or 14x14 pixels) instead
    /// runs output channel blocks outermost, then <see cref="Plan.ConvLoops.Passes"/> passes over slices of
    /// <see cref="Plan.ConvLoops.PassChannels"/> input channels, then the rows: each slice of weights is read from memory
    /// once and reused from L2 by every pixel tile, partial sums wait in the output between passes, and threads split
    /// the channel blocks, so each reads only its share of the weights. A rows-outermost convolution over the caller's
    /// planar input with more than <see cref="PlanarPassChannels"/> channels whose tile loops over several channel
    /// blocks runs each row in passes over slices of that many channels (see <see cref="PlanarPassChannels"/>).
    /// </summary>
    public static ConvLoops ConvLoops(TargetIsa isa, LayerPlan layer)
    {
        Graph.LayerModel l = layer.Layer;
        long weightBytes = (long)layer.WeightLength * sizeof(float);
        long inputBytes = (long)layer.In.C * layer.In.H * layer.In.W * sizeof(float);
        if (l.Op != OpKind.Conv || isa == TargetIsa.Portable)
            return new ConvLoops(false, 1, l.Input.C);
        if (weightBytes <= RowsOuterWeightBytes || weightBytes <= inputBytes)
        {
            if (!ManyPlanarChannels(layer) || DenseChunks(For(isa, layer)) == 1)
                return new ConvLoops(false, 1, l.Input.C);
            int rowPasses = DivideUp(l.Input.C, PlanarPassChannels);
            return new ConvLoops(false, rowPasses, DivideUp(l.Input.C, rowPasses));
        }
        Tile tile = For(isa, layer);
        long blockBytes = (long)l.KernelH * l.KernelW * l.Input.C * tile.Vectors * tile.Lanes * sizeof(float);
        int passes = (int)Math.Min(l.Input.C, (blockBytes + PassWeightBytes - 1) / PassWeightBytes);
        return new ConvLoops(true, passes, DivideUp(l.Input.C, passes));
    }

    /// <summary>
    /// Input channels at most in one pass of a rows-outermost convolution over the caller's planar input whose tile
    /// loops over several output channel blocks (AVX2's 1x1 256 -> 64: four blocks of 16). The tile reads one cache line
    /// per input channel for every block, and lines H x W floats apart fall into few L1 sets and pages: over hundreds of
    /// channels they evict each other (and the weights) between the blocks and before the next tiles of the row, which
    /// read the same lines. A pass over this many channels keeps its lines, its pages and its slice of the weights in
    /// L1 for the whole row; partial sums wait in the output row between passes.
    /// </summary>
    public const int PlanarPassChannels = 32;

    /// <summary>
    /// Whether a convolution's interior tiles prefetch, for each input channel, the next cache line of its input row
    /// (16 columns on), in their first output channel block (the others read the same lines): a vector kernel with rows
    /// outermost over the caller's planar input with more than <see cref="PlanarPassChannels"/> channels, whose hundreds of strided streams the hardware prefetchers do not
    /// follow, so each tile that first reads a line would wait for memory. The line comes in while the tiles before it
    /// run. (The edge tiles at fixed columns do not prefetch.)
    /// </summary>
    public static bool PrefetchesPlanarLines(TargetIsa isa, LayerPlan layer) =>
        isa != TargetIsa.Portable && layer.Layer.Op == OpKind.Conv && ManyPlanarChannels(layer) && !ConvLoops(isa, layer).BlocksOuter;

    /// <summary>Whether a layer reads more than <see cref="PlanarPassChannels"/> of the caller's planes where they lie (see <see cref="ConvLoops"/> and <see cref="PrefetchesPlanarLines"/>).</summary>
    private static bool ManyPlanarChannels(LayerPlan layer) => layer.In.Planar && layer.In.C > PlanarPassChannels;

    /// <summary>The units of a convolution's forward kernel: channel blocks (full, then the remainder) when they are outermost, else output rows.</summary>
    public static int ConvUnits(TargetIsa isa, LayerPlan layer) =>
        ConvLoops(isa, layer).BlocksOuter ? DenseChunks(For(isa, layer)) : layer.Out.H;

    /// <summary>Output channels at most of a convolution whose AVX-512 kernel runs its vectors along the row (<see cref="PixelVectors"/>).</summary>
    public const int PixelVectorChannels = 8;

    /// <summary>
    /// Whether a convolution's forward kernel runs its vectors along the output row (16 adjacent pixels of one channel)
    /// instead of across the output channels: on AVX-512 when there are at most <see cref="PixelVectorChannels"/> of them,
    /// which would leave half a channel vector or more idle (LeNet-5's first layer: 6 of 16 lanes), in one 16-float slot per
    /// pixel. The input's pixels must be adjacent so that 16 columns are one load: the caller's planes, or the network's
    /// own one-channel input, which is stored without channel padding when only convolutions and dense layers read it.
    /// Stride 1, no padding, a row at least one vector wide, rows outermost, and no residual sum to complete.
    /// </summary>
    public static bool PixelVectors(TargetIsa isa, LayerPlan layer)
    {
        Graph.LayerModel l = layer.Layer;
        return isa == TargetIsa.Avx512 && l.Op == OpKind.Conv && layer.Out.C <= PixelVectorChannels && layer.Out.Cs == Planner.Granule
            && layer.In.PixelStride == 1 && l.StrideW == 1 && l.PadLeft == 0 && l.PadRight == 0 && l.PadTop == 0 && l.PadBottom == 0 && layer.Out.W >= Lanes(isa)
            && layer.Residual is null && ConvLoops(isa, layer) is { BlocksOuter: false, Passes: 1 };
    }

    /// <summary>
    /// Whether a convolution's kernel may compute the max pool after it as well, whatever the instruction set: a 2x2
    /// stride-2 pool without padding or an activation of its own, after a convolution with at most
    /// <see cref="PixelVectorChannels"/> outputs whose activation does not decrease (none, ReLU, LeakyReLU with a finite
    /// slope above 0, so that no infinity times 0 makes a NaN the maximum would have passed over, clip) and so commutes
    /// with the maximum, as does the bias. The planner checks that the pool alone reads the convolution's output, and that the
    /// convolution reads the network's input with adjacent pixels, as <see cref="PixelVectors"/> needs.
    /// </summary>
    public static bool MayPoolInKernel(Graph.LayerModel conv, Graph.LayerModel pool) =>
        conv.Op == OpKind.Conv && conv.Output.C <= PixelVectorChannels && pool.Op == OpKind.MaxPool && pool.KernelH == 2 && pool.KernelW == 2 && pool.StrideH == 2 && pool.StrideW == 2
        && pool.PadTop == 0 && pool.PadLeft == 0 && pool.PadBottom == 0 && pool.PadRight == 0 && pool.Activation == ActivationKind.None
        && (conv.Activation is ActivationKind.None or ActivationKind.ReLU or ActivationKind.Clip
            || conv.Activation == ActivationKind.LeakyReLU && conv.Alpha > 0f && !float.IsInfinity(conv.Alpha));

    /// <summary>
    /// Whether the inference pass runs a convolution and the 2x2 max pool after it (<see cref="LayerPlan.PoolsNext"/>) as one
    /// kernel on this instruction set: a convolution whose vectors run along the row (<see cref="PixelVectors"/>)
    /// accumulates the two rows under each pooled row together, takes the maximum of each 2x2 window in registers (a
    /// permute pairs neighbouring columns), and stores only the pooled pixels, so the convolution's output is never
    /// stored, nor transposed, nor read again (LeNet-5's C1 and S2). The pooled row must span at least one vector of
    /// convolution columns.
    /// </summary>
    public static bool PoolsInKernel(TargetIsa isa, LayerPlan conv, LayerPlan pool) =>
        conv.PoolsNext && PixelVectors(isa, conv) && 2 * pool.Out.W >= Lanes(isa) && pool.Out.Cs == Planner.Granule;

    /// <summary>
    /// Whether a convolution's inference kernel can write its output straight into the caller's output, in C, H, W order,
    /// instead of channels-last into the workspace and then moved there (the move was about 6% of the time of the 7x7
    /// stride-2 3 -> 64 convolution over 224 x 224). A convolution that reads the caller's planes (or the network's
    /// one-channel input, copied as it is) and whose output is the network's only output (the network emitter checks
    /// that) can run its vectors along the output row, 16 adjacent pixels of one channel, and store each vector where it
    /// belongs. AVX-512 only; rows a whole number of vectors long, so that no lane is idle; an activation applied in
    /// registers; no residual sum. Input columns that a stride or padding puts apart are first gathered by
    /// <see cref="PlaneSplit"/>, whose buffer goes in the layer's own output slot (free, since the output goes to the
    /// caller), so it must fit there. A layer that runs with Winograd (<see cref="UsesWinograd"/>) does not.
    /// </summary>
    public static bool WritesPlanes(TargetIsa isa, LayerPlan layer)
    {
        Graph.LayerModel l = layer.Layer;
        return isa == TargetIsa.Avx512 && l.Op == OpKind.Conv && layer.In.PixelStride == 1 && layer.Residual is null
            && layer.Out.W % Lanes(isa) == 0
            && l.Activation is not (ActivationKind.Tanh or ActivationKind.Sigmoid or ActivationKind.Softmax)
            && ConvLoops(isa, layer) is { BlocksOuter: false, Passes: 1 }
            && (PlaneSplit(layer) is not { } split || split.Length <= layer.Out.Length) && !UsesWinograd(layer);
    }

    /// <summary>
    /// The buffer a convolution writing planes (<see cref="WritesPlanes"/>) reads, when it cannot read the input planes where
    /// they lie: with a horizontal stride, or padding. Null when it can (stride 1 across, no padding). Its rows are as wide
    /// as the output columns' windows reach; input columns past the last window are left out.
    /// </summary>
    public static PlaneSplit? PlaneSplit(LayerPlan layer)
    {
        Graph.LayerModel l = layer.Layer;
        if (l.StrideW == 1 && l.PadTop == 0 && l.PadLeft == 0 && l.PadBottom == 0 && l.PadRight == 0)
            return null;
        int rows = layer.In.H + l.PadTop + l.PadBottom;
        return new PlaneSplit(layer.In.C, rows, l.StrideW, layer.Out.W + (l.KernelW - 1) / l.StrideW);
    }

    /// <summary>Vectors along the row (strips) that a tile of a convolution writing planes accumulates at once: the row's strips in even tiles of at most <see cref="PlaneTileMostStrips"/>.</summary>
    public static int PlaneTileStrips(LayerPlan layer)
    {
        int strips = layer.Out.W / Lanes(TargetIsa.Avx512);
        return DivideUp(strips, DivideUp(strips, PlaneTileMostStrips));
    }

    /// <summary>
    /// Output channels a tile of <paramref name="strips"/> strips of a convolution writing planes accumulates at once: at
    /// most 24 accumulators, and with one register per strip loaded and one for the broadcast weight at most 32 registers
    /// (4 strips: 6 channels; 3 strips: 8).
    /// </summary>
    public static int PlaneTileChannels(LayerPlan layer, int strips) =>
        Math.Max(1, Math.Min(layer.Out.C, Math.Min(AccumulatorBudget(TargetIsa.Avx512), Registers(TargetIsa.Avx512) - 1 - strips) / strips));

    /// <summary>
    /// Strips at most in a tile of a convolution writing planes. Fewer strips and more channels load fewer input vectors
    /// per multiply-add (every strip load is unaligned): on the 7x7 stride-2 case's rows of 7 strips, tiles of 4 and 3
    /// ran faster than one of 7 strips x 3 channels.
    /// </summary>
    private const int PlaneTileMostStrips = 4;

    /// <summary>Channels both sides of a convolution need before Winograd pays for its transforms.</summary>
    public const int WinogradMinChannels = 64;

    /// <summary>
    /// Whether the inference pass runs this layer with Winograd F(2x2, 3x3): a 3x3 stride-1 convolution with at least
    /// <see cref="WinogradMinChannels"/> input and output channels, whose input has a channel stride of whole
    /// 16-float granules (the input transform loads vectors of channels); or a strided convolution over its input split
    /// by phase (<see cref="LayerPlan.Phases"/>, see <see cref="PhaseWinogradFits"/>). Training keeps the direct kernel.
    /// </summary>
    public static bool UsesWinograd(LayerPlan layer) => layer.Phases is not null || !layer.In.Planar && WinogradFits(layer.Layer, layer.In.Cs);

    /// <summary>
    /// How many times fewer vector operations a strided convolution must need as a Winograd one over its phase channels
    /// than directly (see <see cref="PhaseWinogradFits"/>) before the inference pass splits its input for it: the split,
    /// and the blocks' trips through the scratch, cost more than the count shows. AlexNet's first layer counts 1.71 and
    /// ran 1.2 times faster.
    /// </summary>
    private const double PhaseWinogradMinGain = 1.5;

    /// <summary>
    /// Whether the inference pass runs a strided convolution as a 3x3 stride-1 Winograd convolution over its input split
    /// by phase of the stride (the runtime's Layout.SplitPhaseChannels): at most 3 taps per phase each way (an 11x11
    /// kernel at stride 4, a 9x9 at stride 3), at least <see cref="WinogradMinChannels"/> outputs, and at least
    /// <see cref="PhaseWinogradMinGain"/> times fewer vector operations per output pixel and output vector, as counted
    /// in the generated code: the direct kernel's KH x KW x C multiply-adds against Winograd's 4 per phase channel in its
    /// products (16 per 2x2 tile), about 12 in its output transform (50 per tile) and 16 per vector of phase channels in
    /// its input transform (64 per tile), which the output vectors share. AlexNet's first layer: 363 against 212.
    /// </summary>
    public static bool PhaseWinogradFits(Graph.LayerModel l)
    {
        if (l.Op != OpKind.Conv || l.StrideH * l.StrideW == 1 || l.KernelH > 3 * l.StrideH || l.KernelW > 3 * l.StrideW
            || l.KernelH <= 2 * l.StrideH || l.KernelW <= 2 * l.StrideW || l.Output.C < WinogradMinChannels)
            return false;
        int phases = l.Input.C * l.StrideH * l.StrideW;
        double direct = (double)l.KernelH * l.KernelW * l.Input.C;
        double winograd = 4.0 * phases + 12 + 16.0 * Planner.Pad(phases) / Planner.Pad(l.Output.C);
        return direct >= PhaseWinogradMinGain * winograd;
    }

    /// <summary>
    /// The input of a layer split by phase for Winograd (<see cref="PhaseWinogradFits"/>): C x strideH x strideW phase
    /// channels over the output's size plus the two extra rows and columns a 3x3 window reads.
    /// </summary>
    public static Graph.TensorShape PhaseShape(Graph.LayerModel l) =>
        new(l.Input.C * l.StrideH * l.StrideW, l.Output.H + 2, l.Output.W + 2, Flat: false);

    /// <summary>
    /// The 3x3 stride-1 convolution without padding that a layer split by phase (<see cref="LayerPlan.Phases"/>) computes
    /// over its phase channels, as the Winograd kernel and its schedule see it; any other layer as it is.
    /// </summary>
    public static LayerPlan WinogradView(LayerPlan layer) => layer.Phases is not TensorSlot phases ? layer : layer with
    {
        In = phases,
        Layer = layer.Layer with
        {
            Input = PhaseShape(layer.Layer), KernelH = 3, KernelW = 3, StrideH = 1, StrideW = 1, PadTop = 0, PadLeft = 0, PadBottom = 0, PadRight = 0,
        },
    };

    /// <summary>Whether a layer reading a channels-last input of channel stride <paramref name="inputCs"/> qualifies for Winograd.</summary>
    public static bool WinogradFits(Graph.LayerModel l, int inputCs) =>
        l.Op == OpKind.Conv && l.KernelH == 3 && l.KernelW == 3 && l.StrideH == 1 && l.StrideW == 1
        && l.Input.C >= WinogradMinChannels && l.Output.C >= WinogradMinChannels && inputCs % Planner.Granule == 0;

    /// <summary>Output tiles (2x2 pixels each) a Winograd layer transforms, multiplies and transforms back at once, along one tile row.</summary>
    public const int WinogradBlock = 12;

    /// <summary>Output tiles across a Winograd layer's output: the last one is partial when the width is odd.</summary>
    public static int WinogradTilesAcross(LayerPlan layer) => DivideUp(layer.Out.W, 2);

    /// <summary>Tile rows of a Winograd layer's output, the units its inference step is split into.</summary>
    public static int WinogradTileRows(LayerPlan layer) => DivideUp(layer.Out.H, 2);

    /// <summary>
    /// Bytes of one transformed kernel slice U[xi] (input or phase channels x padded outputs) from which a Winograd layer gathers
    /// several tile rows into a block: every block reads all 16 slices, from memory once they outgrow L2, so fewer,
    /// larger blocks read less (ResNet-50's 512-channel layer at 7x7: 16 MB per block, four blocks of one row each).
    /// </summary>
    public const int WinogradRowsSliceBytes = 256 * 1024;

    /// <summary>Tiles a block of several whole tile rows aims for (a block of one row keeps <see cref="WinogradBlock"/>).</summary>
    public const int WinogradRowsBlockTiles = 64;

    /// <summary>
    /// Whether a Winograd layer goes through the stages as one block of all its tiles (short rows, large kernel slices,
    /// at most <see cref="WinogradRowsBlockTiles"/> tiles: ResNet's 14x14 and 7x7 stages). Its units are then output
    /// channel blocks, not tile rows: each thread transforms the whole input (cheap), and multiplies and transforms back
    /// only its channels, so it reads only its share of the transformed kernel.
    /// </summary>
    public static bool WinogradWholeLayer(LayerPlan layer)
    {
        // A block of several rows holds at most WinogradRowsBlockTiles tiles, so one holding every row is small enough.
        int rows = WinogradBlockRows(layer);
        return rows > 1 && rows == WinogradTileRows(layer);
    }

    /// <summary>
    /// The units of a Winograd layer's kernel: output channel blocks for a whole-layer block, else tile rows. The same for a
    /// layer split by phase as for its <see cref="WinogradView"/>: both depend only on the output and the transformed input.
    /// </summary>
    public static int WinogradUnits(TargetIsa isa, LayerPlan layer) =>
        WinogradWholeLayer(layer) ? DenseChunks(For(isa, layer)) : WinogradTileRows(layer);

    /// <summary>
    /// Whole tile rows in one block of a Winograd layer: one, unless rows are short (at most <see cref="WinogradBlock"/>
    /// tiles) and the kernel slices large (<see cref="WinogradRowsSliceBytes"/>), when up to
    /// <see cref="WinogradRowsBlockTiles"/> tiles of whole rows go through the stages together.
    /// </summary>
    public static int WinogradBlockRows(LayerPlan layer)
    {
        int across = WinogradTilesAcross(layer);
        long slice = (long)WinogradInput(layer).C * layer.PaddedOutputs * sizeof(float);
        if (across > WinogradBlock || slice < WinogradRowsSliceBytes)
            return 1;
        return Math.Max(1, Math.Min(WinogradTileRows(layer), WinogradRowsBlockTiles / across));
    }

    /// <summary>Tiles in one block of a Winograd layer: <see cref="WinogradBlockRows"/> whole rows, or <see cref="WinogradBlock"/> tiles of a longer row.</summary>
    public static int WinogradBlockTiles(LayerPlan layer) => WinogradBlockRows(layer) * Math.Min(WinogradBlock, WinogradTilesAcross(layer));

    /// <summary>
    /// Floats of a Winograd layer's scratch: the transformed input [16][block tiles][input (or phase) channel stride],
    /// then the products [16][block tiles][padded outputs].
    /// </summary>
    public static int WinogradScratch(LayerPlan layer) => 16 * WinogradBlockTiles(layer) * (WinogradInput(layer).Cs + layer.PaddedOutputs);

    /// <summary>Floats of a Winograd layer's transformed kernel: [16][input (or phase) channels][padded outputs].</summary>
    public static int WinogradKernelLength(LayerPlan layer) => 16 * WinogradInput(layer).C * layer.PaddedOutputs;

    /// <summary>What a Winograd layer's input transform reads: its input, or its input split by phase.</summary>
    private static TensorSlot WinogradInput(LayerPlan layer) => layer.Phases ?? layer.In;

    /// <summary>Samples in the register tile of a dense layer run over a sample group, on every instruction set.</summary>
    public const int GroupTileSamples = 6;

    /// <summary>
    /// The register tile of a dense layer over a group of samples: <see cref="Tile.Pixels"/> is samples here.
    /// Each weight vector loaded feeds one multiply-add per sample in the tile.
    /// </summary>
    public static Tile GroupTile(TargetIsa isa, LayerPlan layer)
    {
        int vectors = ChannelVectors(isa, layer.Out.C);
        // 6 samples x 4 vectors = 24 zmm accumulators; AVX2 (and the portable path) keep 6 x 2 = 12 of 16 registers.
        return new Tile(Lanes(isa), GroupTileSamples, Math.Min(vectors, isa == TargetIsa.Avx512 ? 4 : 2), vectors);
    }

    /// <summary>Input values a dense group kernel runs through before moving to the next sample tile: 1024 rows of 4 zmm weights are 256 KB, which stay in L2.</summary>
    public const int GroupRows = 1024;

    /// <summary>Floats of one weight row in a group kernel's panel, at most: 4 zmm (AVX-512), more than 2 ymm or 2 scalars.</summary>
    public const int GroupPanelWidth = 64;

    /// <summary>
    /// Weight rows in one block of a dense group kernel: up to <see cref="GroupRows"/> input channels of a flat
    /// input, whole pixels of a spatial one (at least one pixel, so more rows when a pixel has more channels).
    /// </summary>
    public static int GroupBlockRows(LayerPlan layer)
    {
        int channels = layer.In.C;
        return layer.In.H * layer.In.W == 1 ? Math.Min(channels, GroupRows) : Math.Max(1, GroupRows / channels) * channels;
    }

    /// <summary>
    /// Whether a dense layer's single-sample kernel streams its weights row by row: weights larger than L2
    /// (1 MB) come from memory once per sample whatever the loop order, so they are read in their storage
    /// order (long sequential runs) with the outputs kept in L1, instead of a column block at a time, whose
    /// rows lie a whole output row apart and defeat the prefetcher and the TLB.
    /// </summary>
    public static bool StreamsWeights(LayerPlan layer) => layer.Layer.Op == OpKind.Dense && (long)layer.WeightLength * sizeof(float) > 1 << 20;

    /// <summary>
    /// Pixels per tile along a row of <paramref name="width"/>, at most <paramref name="most"/>, for tiles of
    /// <paramref name="vectors"/> accumulators per pixel: the fewest tiles per row, and among those the largest
    /// last tile (a row of 10 runs as 5 + 5, not 8 + 2), unless that last tile keeps fewer than
    /// <see cref="MinAccumulators"/> accumulators while another size does not (55 columns of 4 vectors run as
    /// 11 x 5, not 9 x 6 + 1): such a tile has too few independent accumulators to hide the multiply-add latency.
    /// A size narrower than <paramref name="most"/> whose full tiles keep no more than <see cref="MinAccumulators"/>
    /// counts as short too: those tiles hide the latency with nothing to spare, so every late load stalls them, and
    /// they load more per multiply-add. When every size is short, the fewest tiles win, then the largest last tile:
    /// AVX2 runs 56 columns of 2 vectors as 9 x 6 + 2, not 14 x 4, which is the 1x1 256 -> 64 case 2.5% faster
    /// (with its prefetch in the first channel block only) and the 3x3 64 -> 64 kernel at 56 columns 3% faster, and in
    /// a scratch program the 9 x 6 + 2 kernel lost less speed than 14 x 4 in the guest's slow spells.
    /// </summary>
    private static int RowTile(int width, int most, int vectors)
    {
        int best = most, bestTiles = int.MaxValue, bestLast = 0;
        bool bestShort = true;
        for (int p = most; p >= DivideUp(most, 2); p--)
        {
            int tiles = DivideUp(width, p), last = width - (tiles - 1) * p;
            bool isShort = last * vectors < MinAccumulators || p < most && p * vectors <= MinAccumulators;
            if (bestShort && !isShort || isShort == bestShort && (tiles < bestTiles || tiles == bestTiles && last > bestLast))
                (best, bestTiles, bestLast, bestShort) = (p, tiles, last, isShort);
        }
        return best;
    }

    /// <summary>Vector registers the JIT can allocate: 32 zmm with AVX-512, 16 ymm with AVX2.</summary>
    public static int Registers(TargetIsa isa) => isa == TargetIsa.Avx512 ? 32 : 16;

    /// <summary>
    /// Whether a convolution tile of <paramref name="pixels"/> output pixels by <paramref name="vectors"/> channel vectors
    /// reads each input value again at every tap that uses it. When the kernel is wider than the stride, taps share
    /// input columns (pixel t's tap k + stride is pixel t + 1's tap k), and the JIT keeps a value read twice in a register
    /// from its first use to its last: up to about pixels x stride values at once. Where those do not fit beside the
    /// accumulators and the weight vectors (AVX-512's 6 x 4 tile of a 7x7 stride-2 convolution), the JIT spills, a
    /// 64-byte store and load per value, so such tiles read every value afresh with one broadcast load instead. AVX-512
    /// only: with AVX2 the extra broadcast loads cost more than the spills (measured on the 7x7 stride-2 case's 6 x 2 tile
    /// and LeNet-5's first layer, both slower).
    /// </summary>
    public static bool RereadsInputs(TargetIsa isa, int pixels, int vectors, int strideW, int kernelW) =>
        isa == TargetIsa.Avx512 && kernelW > strideW && pixels > 1 && pixels * vectors + vectors + pixels * strideW > Registers(isa);

    /// <summary>Independent accumulators that hide the multiply-add latency (4 cycles, 2 per cycle).</summary>
    private const int MinAccumulators = 8;

    /// <summary>Chunks of a dense layer's outputs: the full register blocks, then the remainder block if any.</summary>
    public static int DenseChunks(Tile tile) => tile.Blocks + (tile.Remainder > 0 ? 1 : 0);

    public static Tile For(TargetIsa isa, LayerPlan layer)
    {
        int lanes = Lanes(isa);
        int vectors = ChannelVectors(isa, layer.Out.C);
        switch (layer.Layer.Op)
        {
            case OpKind.Conv:
            {
                // AVX2 has 16 registers: 2 vectors x 6 pixels leaves room for the weights and the broadcast.
                int block = Math.Min(vectors, isa == TargetIsa.Avx2 ? 2 : 4);
                // Up to 12 pixels: a single output vector still gets 8 or more independent accumulators.
                int most = Math.Max(1, Math.Min(Math.Min(AccumulatorBudget(isa) / block, 12), layer.Out.W));
                return new Tile(lanes, RowTile(layer.Out.W, most, block), block, vectors);
            }
            case OpKind.Dense:
                return new Tile(lanes, 1, Math.Min(vectors, isa == TargetIsa.Portable ? 4 : 8), vectors);
            default:
                return new Tile(lanes, 1, 1, vectors);
        }
    }

    /// <summary>
    /// Floats of one batch normalisation's block in the batch-statistics buffer, seven rows of its padded channel count:
    /// the scale and shift that normalise (gamma / sd, beta - mean gamma / sd), the batch mean and 1 / sd, and the
    /// backward coefficients a, b, c of dx = a dy + b x + c.
    /// </summary>
    public static int BatchNormStatistics(LayerPlan layer) => 7 * layer.PaddedOutputs;
}
