using System;
using System.Globalization;
using System.Linq;
using Unroll.Generator.Front;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the shape-specialised kernels of one layer for one instruction set. Every bound, stride and
/// offset is a literal; the micro-kernel over the kernel width, the pixel tile and the channel vectors
/// is straight-line code. Activations that map to vector instructions are applied in registers before
/// the store; the others (tanh, sigmoid, softmax) run as a pass over the output afterwards.
/// </summary>
internal static class KernelEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The one-line description of a layer's kernel, used in comments.</summary>
    public static string Describe(LayerPlan p, VectorIsa v)
    {
        Graph.LayerModel l = p.Layer;
        Tile tile = Schedule.For(v.Target, p);
        string shapes = $"{l.Input} -> {l.Output}";
        return l.Op switch
        {
            OpKind.Conv => $"{ConvShapes(p)}; "
                + (Schedule.PixelVectors(v.Target, p)
                    ? $"{v.Name}: vectors of {v.Lanes} pixels along the row, one per output channel"
                    : $"{v.Name}: register tile {tile.Pixels} pixel(s) x {tile.Vectors} vector(s) of {v.Lanes} channel(s)"),
            OpKind.Dense => $"{l.KindName} {shapes}, {l.ActivationName}; {v.Name}: {tile.Vectors} vector(s) of {v.Lanes} output(s) per block",
            OpKind.MaxPool or OpKind.AvgPool => $"{l.KindName} {shapes}, window {l.KernelH}x{l.KernelW}, stride {l.StrideH}, pads {l.PadTop},{l.PadLeft},{l.PadBottom},{l.PadRight}; {v.Name}: {v.Lanes} channel(s) per vector",
            _ => $"{l.ActivationName} over {l.Input}; {v.Name}",
        };
    }

    /// <summary>A convolution's shapes, kernel, stride, padding and activation, as its kernels' comments give them.</summary>
    private static string ConvShapes(LayerPlan p)
    {
        Graph.LayerModel l = p.Layer;
        string stride = l.StrideH == l.StrideW ? I(l.StrideH) : $"{I(l.StrideH)}x{I(l.StrideW)}";
        return $"{l.KindName} {l.Input} -> {l.Output}, kernel {l.KernelH}x{l.KernelW}, stride {stride}, pads (t,l,b,r) {l.PadTop},{l.PadLeft},{l.PadBottom},{l.PadRight}, {(p.Residual is null ? "" : "plus the residual, then ")}{l.ActivationName}";
    }

    public static void Emit(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        switch (p.Layer.Op)
        {
            case OpKind.Conv:
                EmitConv(w, p, v, name);
                break;
            case OpKind.Dense:
                EmitDense(w, p, v, name);
                break;
            case OpKind.MaxPool:
            case OpKind.AvgPool:
                EmitPool(w, p, v, name);
                break;
            case OpKind.Add:
            case OpKind.Concat:
            case OpKind.GlobalAvgPool:
                MergeEmitter.Emit(w, p, v, name);
                break;
            case OpKind.BatchNorm:
                BatchNormEmitter.Emit(w, p, v, name);
                break;
            case OpKind.Dropout:
                DropoutEmitter.Emit(w, p, v, name);
                break;
            case OpKind.LRN:
                LrnEmitter.Emit(w, p, v, name);
                break;
            case OpKind.ZeroPad:
                ZeroPadEmitter.Emit(w, p, v, name);
                break;
            case OpKind.Affine:
                AffineEmitter.Emit(w, p, v, name);
                break;
            default:
                EmitActivation(w, p, v, name);
                break;
        }
    }

    /// <summary>Whether the layer's activation needs a separate pass after its kernel.</summary>
    public static bool NeedsActivationPass(LayerPlan p, VectorIsa v) =>
        p.Layer.Op != OpKind.Activation && v.Activate(p.Layer, "x") is null;

    private static void Summary(CodeWriter w, LayerPlan p, VectorIsa v, string extra = "")
    {
        w.Line($"/// <summary>{p.Layer.Name}: {Describe(p, v)}.{extra}</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
    }

    // ---------------------------------------------------------------- convolution

    private static void EmitConv(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        if (Schedule.PixelVectors(v.Target, p))
        {
            EmitPixelConv(w, p, v, name);
            return;
        }
        Graph.LayerModel l = p.Layer;
        Tile tile = Schedule.For(v.Target, p);
        ConvLoops loops = Schedule.ConvLoops(v.Target, p);
        int ow = p.Out.W;
        (int owLo, int owHi) = Interior(p.In.W, l.KernelW, l.StrideW, l.PadLeft, ow);
        (int ohLo, int ohHi) = Interior(p.In.H, l.KernelH, l.StrideH, l.PadTop, p.Out.H);
        bool clipRows = ohLo > 0 || ohHi < p.Out.H;
        // The tile computes one channel block (b) when weights are outermost, and one pass over a slice of the input
        // channels (pass) when the sums are gathered in passes, with either loop order.
        string blockArgs = (loops.BlocksOuter ? ", b" : "") + (loops.Passes > 1 ? ", pass" : "");
        string blockParameters = (loops.BlocksOuter ? ", int b" : "") + (loops.Passes > 1 ? ", int pass" : "");
        // A residual sum completed here: its other input is read at the output's indices (see LayerPlan.Residual).
        string residualArgs = p.Residual is null ? "" : ", ref residual";
        string residualParameters = p.Residual is null ? "" : ", ref float residual";
        string args = "ref input, ref output, ref weights, ref bias" + residualArgs + ", oh" + blockArgs;
        string parameters = "ref float input, ref float output, ref float weights, ref float bias" + residualParameters + ", int oh" + blockParameters;

        // Columns: full register tiles over the interior, where every tap is inside the input, and tiles at fixed
        // positions for the columns left over on either side (the edges and the interior's remainder), whose taps
        // that fall in the padding are dropped when the code is generated.
        int interiorTiles = owHi > owLo ? (owHi - owLo) / tile.Pixels : 0;
        int interiorEnd = owLo + interiorTiles * tile.Pixels;
        var fixedTiles = new System.Collections.Generic.List<(int First, int Pixels)>();
        for (int c = 0; c < owLo; c += tile.Pixels)
            fixedTiles.Add((c, Math.Min(tile.Pixels, owLo - c)));
        int rightStart = interiorTiles > 0 ? interiorEnd : owLo;
        for (int c = rightStart; c < ow; c += tile.Pixels)
            fixedTiles.Add((c, Math.Min(tile.Pixels, ow - c)));

        string columns = interiorTiles == 0
            ? "every column in tiles at fixed positions that skip the taps in the padding"
            : $"columns {I(owLo)}..{I(interiorEnd - 1)} in tiles of {I(tile.Pixels)} whose windows lie inside the input"
                + (fixedTiles.Count > 0 ? ", the other columns in tiles at fixed positions that skip the taps in the padding" : "");
        string order = !loops.BlocksOuter
            ? $"Computes output rows [rowFrom, rowTo) of {I(p.Out.H)}"
                + (loops.Passes > 1 ? $", each in {I(loops.Passes)} passes over {I(loops.PassChannels)} input channels whose input lines and weights stay in L1 (partial sums wait in the output)" : "")
                + (Schedule.PrefetchesPlanarLines(v.Target, p) ? $"; each interior tile prefetches every channel's input {I(PrefetchColumns)} columns on" : "")
            : $"Weights outermost: computes output channel blocks [blockFrom, blockTo) of {I(Schedule.ConvUnits(v.Target, p))} ({I(tile.Vectors * v.Lanes)} channels each)"
                + (loops.Passes > 1 ? $", each in {I(loops.Passes)} passes over {I(loops.PassChannels)} input channels whose weights stay in L2 (partial sums wait in the output)" : ", each with its weights kept in L2")
                + $", over every output row";
        string residual = p.Residual is null ? "" : " Completes a residual sum: the finished accumulators plus the sum's other input (residual, same layout as the output), then the sum's activation.";
        Summary(w, p, v, $"{(p.In.Planar ? " Reads the caller's input in C, H, W order." : "")}{residual} {order}: {columns}{(clipRows ? "; rows near the top and bottom clip the kernel rows" : "")}.");
        w.Open($"private static void {name}(ref float input, ref float output, ref float weights, ref float bias{residualParameters}, {(loops.BlocksOuter ? "int blockFrom, int blockTo" : "int rowFrom, int rowTo")})");
        string[] loopHeads = (!loops.BlocksOuter
            ? new[] { "for (int oh = rowFrom; oh < rowTo; oh++)", loops.Passes > 1 ? $"for (int pass = 0; pass < {I(loops.Passes)}; pass++)" : null }
            : new[] { "for (int b = blockFrom; b < blockTo; b++)", loops.Passes > 1 ? $"for (int pass = 0; pass < {I(loops.Passes)}; pass++)" : null, $"for (int oh = 0; oh < {I(p.Out.H)}; oh++)" })
            .OfType<string>().ToArray();
        foreach (string head in loopHeads)
            w.Open(head);
        foreach ((int first, int _) in fixedTiles)
            if (first < owLo)
                w.Line($"{name}_At{I(first)}({args});");
        if (interiorTiles > 0)
            w.Line($"for (int ow = {I(owLo)}; ow < {I(interiorEnd)}; ow += {I(tile.Pixels)}) {name}_Tile({args}, ow);");
        foreach ((int first, int _) in fixedTiles)
            if (first >= owLo)
                w.Line($"{name}_At{I(first)}({args});");
        foreach (string _ in loopHeads)
            w.Close();
        w.Close();

        if (interiorTiles > 0)
            EmitConvTileMethod(w, p, v, name, tile, loops, tile.Pixels, null, parameters, clipRows);
        foreach ((int first, int pixels) in fixedTiles)
            EmitConvTileMethod(w, p, v, name, tile, loops, pixels, first, parameters, clipRows);
    }

    /// <summary>Accumulators of a pixel-vector convolution tile: output channels times row strips.</summary>
    private const int PixelTileAccumulators = 24;

    /// <summary>
    /// A convolution with few output channels over an input whose pixels are adjacent (<see cref="Schedule.PixelVectors"/>):
    /// each vector holds one output channel at 16 adjacent pixels of the row (a strip), and each weight is broadcast, so
    /// every lane does useful work. The summation order is the channel-vector kernel's (bias, then kernel rows, input
    /// channels and kernel columns in turn), so both give the same bits. The finished strip is transposed in registers to
    /// the channels-last output: 8 channels per pixel, the rest of the pixel's 16 floats zero.
    /// </summary>
    /// <param name="pool">
    /// The 2x2 stride-2 max pool after the convolution, when the kernel computes it too (<see cref="Schedule.PoolsInKernel"/>):
    /// its units are then pooled rows, each accumulating the two convolution rows under it (the same sums, so the same
    /// bits), and it stores the pooled pixels into the pool's output, activated after the maximum, with which the
    /// activation commutes.
    /// </param>
    public static void EmitPixelConv(CodeWriter w, LayerPlan p, VectorIsa v, string name, LayerPlan? pool = null)
    {
        Graph.LayerModel l = p.Layer;
        int lanes = v.Lanes, cin = p.In.C, op = p.PaddedOutputs, cout = p.Out.C;
        // Convolution rows per unit, and the columns the unit computes: the whole row, or the columns the pooled row covers.
        int rows = pool is null ? 1 : 2, width = pool is null ? p.Out.W : 2 * pool.Out.W;
        // Strips of one vector along the row; the last one ends at the row's end, overlapping the one before it when the
        // width is not a multiple of the vector (its overlapping pixels are computed twice, with the same result). Pooled,
        // every strip starts at an even column, so that it pools into whole pixels.
        int[] strips = Enumerable.Range(0, Schedule.DivideUp(width, lanes)).Select(s => Math.Min(s * lanes, width - lanes)).ToArray();
        // Registers: the accumulators, one input vector per strip and row, and the broadcast weight (32 zmm in all).
        int perTile = Math.Max(1, Math.Min(PixelTileAccumulators / (cout * rows), 31 / ((cout + 1) * rows)));
        string columns = string.Join(", ", strips.Select(c => $"{I(c)}..{I(c + lanes - 1)}"));
        string units = pool is null
            ? $"Computes output rows [rowFrom, rowTo) of {I(p.Out.H)}, each in strips of columns {columns}"
            : $"Computes the 2x2 stride-2 max pool {pool.Layer.Name} after it too, {pool.Layer.Output}: pooled rows [rowFrom, rowTo) of {I(pool.Out.H)}, "
                + $"each from the two convolution rows under it in strips of columns {columns}, the maximum of each window taken in registers before the activation; the convolution's own output is not stored";
        Summary(w, p, v, $"{(p.In.Planar ? " Reads the caller's input in C, H, W order." : "")} {units}{(strips.Length > perTile ? $", {I(perTile)} strips at a time" : "")}.");
        w.Open($"private static void {name}(ref float input, ref float output, ref float weights, ref float bias, int rowFrom, int rowTo)");
        w.Open("for (int oh = rowFrom; oh < rowTo; oh++)");
        // The input row of the first kernel row of each convolution row the unit computes (x, or x0 and x1 when pooled).
        string X(int r) => pool is null ? "x" : $"x{I(r)}";
        for (int r = 0; r < rows; r++)
            w.Line(pool is null ? $"int ih0 = oh * {I(l.StrideH)};" : $"int ih{I(r)} = oh * {I(2 * l.StrideH)}{(r > 0 ? $" + {I(r * l.StrideH)}" : "")};");
        for (int first = 0; first < strips.Length; first += perTile)
        {
            int[] tile = strips.Skip(first).Take(perTile).ToArray();
            // Accumulator k = r x tile + m: convolution row r, strip m.
            int count = rows * tile.Length;
            w.Open("");
            w.Line(pool is null
                ? $"// Columns {string.Join(", ", tile.Select(c => $"{I(c)}..{I(c + lanes - 1)}"))}: accumulator a<channel>_<strip>, input strip s<strip>, weight w<channel>."
                : $"// Columns {string.Join(", ", tile.Select(c => $"{I(c)}..{I(c + lanes - 1)}"))} of rows 2 oh and 2 oh + 1: accumulator a<channel>_<k> and input strip s<k> for row k / {I(tile.Length)}, strip k % {I(tile.Length)}; weight w<channel>.");
            for (int c = 0; c < cout; c++)
                for (int k = 0; k < count; k++)
                    w.Line($"{v.Type} a{c}_{k} = {(l.Bias ? v.Broadcast($"Unsafe.Add(ref bias, {I(c)})") : v.Zero)};");
            w.Open($"for (int kh = 0; kh < {I(l.KernelH)}; kh++)");
            for (int r = 0; r < rows; r++)
                w.Line($"ref float {X(r)} = ref Unsafe.Add(ref input, (ih{I(r)} + kh) * {I(p.In.W)});");
            w.Line($"ref float wr = ref Unsafe.Add(ref weights, kh * {I(l.KernelW * cin * op)});");
            w.Open($"for (int ic = 0; ic < {I(cin)}; ic++)");
            for (int kw = 0; kw < l.KernelW; kw++)
            {
                // The strips' input columns are the vectors loaded; each channel's weight at this tap is broadcast.
                int row = kw * cin * op;
                w.Open("");
                MultiplyAddStep(w, v, "s", count, k => v.Load(X(k / tile.Length), I(tile[k % tile.Length] + kw)),
                    Enumerable.Range(0, cout).Select(c => (c, $"Unsafe.Add(ref wr, {I(row + c)})")), broadcast: "w");
                w.Close();
            }
            for (int r = 0; r < rows; r++)
                w.Line($"{X(r)} = ref Unsafe.Add(ref {X(r)}, {I(p.In.ChannelStride)});");
            w.Line($"wr = ref Unsafe.Add(ref wr, {I(op)});");
            w.Close();
            w.Close();
            if (pool is null)
                for (int m = 0; m < tile.Length; m++)
                {
                    string[] channels = Enumerable.Range(0, Schedule.PixelVectorChannels)
                        .Select(c => c < cout ? v.Activate(l, $"a{c}_{m}") ?? $"a{c}_{m}" : v.Zero).ToArray();
                    w.Line($"Layout.StorePixels16x8(ref Unsafe.Add(ref output, (oh * {I(p.Out.W)} + {I(tile[m])}) * {I(p.Out.Cs)}), {string.Join(", ", channels)});");
                }
            else
                EmitPooledStores(w, p, v, pool, tile);
            w.Close();
        }
        w.Close();
        w.Close();
    }

    /// <summary>
    /// The pooled stores of a tile of <see cref="EmitPixelConv"/>: per channel, the maximum of the two rows, then of each
    /// pair of neighbouring columns (two strips at a time, one per vector half), activated and stored as 8 pooled pixels
    /// per strip, channels-last.
    /// </summary>
    private static void EmitPooledStores(CodeWriter w, LayerPlan p, VectorIsa v, LayerPlan pool, int[] tile)
    {
        int cout = p.Out.C, t = tile.Length;
        string Slot(int m) => $"ref Unsafe.Add(ref output, (oh * {I(pool.Out.W)} + {I(tile[m] / 2)}) * {I(pool.Out.Cs)})";
        for (int m = 0; m < t; m += 2)
        {
            bool pair = m + 1 < t;
            for (int c = 0; c < cout; c++)
            {
                // The maximum of rows 2 oh and 2 oh + 1 of strips m and m + 1 (or of strip m alone, in both halves).
                string first = $"{v.VectorClass}.Max(a{c}_{m}, a{c}_{t + m})", second = first;
                if (pair)
                    second = $"{v.VectorClass}.Max(a{c}_{m + 1}, a{c}_{t + m + 1})";
                else
                {
                    w.Line($"{v.Type} r{c}_{m} = {first};");
                    first = second = $"r{c}_{m}";
                }
                string q = $"q{c}_{m}";
                w.Line($"{v.Type} {q} = Layout.MaxOfPairs({first}, {second});");
                if (v.Activate(p.Layer, q) is { } activated && activated != q)
                    w.Line($"{q} = {activated};");
            }
            string[] channels = Enumerable.Range(0, Schedule.PixelVectorChannels).Select(c => c < cout ? $"q{c}_{m}" : v.Zero).ToArray();
            w.Line(pair
                ? $"Layout.StorePixels16x8({Slot(m)}, {Slot(m + 1)}, {string.Join(", ", channels)});"
                : $"Layout.StorePixels8x8({Slot(m)}, {string.Join(", ", channels)});");
        }
    }

    /// <summary>
    /// A convolution that writes the network's output in C, H, W order itself (<see cref="Schedule.WritesPlanes"/>): each
    /// vector holds one output channel at 16 adjacent pixels of the row (a strip), each weight is broadcast, and the
    /// finished strips are stored where they go in the caller's output. It reads the input planes where they lie, or
    /// the padded planes split by column phase (<see cref="Schedule.PlaneSplit"/>), so that every tap of every strip is
    /// one vector load and no tap is left out at an edge: taps in the padding multiply zeros. The summation order is the
    /// channel-vector kernel's (bias, then kernel rows, input channels and kernel columns in turn).
    /// </summary>
    public static void EmitPlanesConv(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int lanes = v.Lanes, cin = p.In.C, op = p.PaddedOutputs, cout = p.Out.C, plane = p.Out.H * p.Out.W;
        PlaneSplit? split = Schedule.PlaneSplit(p);
        // Where input channel ic, padded row r, phase k, column j lies: ic * channel + r * row + k * phaseRow + j.
        int channel = split?.ChannelLength ?? p.In.H * p.In.W, row = split?.RowLength ?? p.In.W, phaseRow = split?.Width ?? 0, phases = split?.Phases ?? 1;
        // The strips of a row, in tiles of perTile and a shorter last one.
        int strips = p.Out.W / lanes, perTile = Schedule.PlaneTileStrips(p);
        int[] tileStrips = Enumerable.Range(0, Schedule.DivideUp(strips, perTile)).Select(t => Math.Min(perTile, strips - t * perTile)).ToArray();
        string tiles = string.Join(" and ", tileStrips.Distinct().Select(count => $"{I(count)} strip(s) x {I(Schedule.PlaneTileChannels(p, count))} channel(s)"));
        string source = split is { } s
            ? $"Reads the network's input padded and split by column phase ({I(s.Rows)} rows of {I(s.Phases)} x {I(s.Width)} floats per channel)."
            : p.In.Planar ? "Reads the caller's input in C, H, W order." : "Reads the network's one-channel input as it was copied to the workspace.";
        w.Line($"/// <summary>{l.Name}: {ConvShapes(p)}; {v.Name}: vectors of {I(lanes)} pixels along the row, strips of {I(lanes)} columns in tiles of {tiles} at a time."
            + $" {source} Writes output rows [rowFrom, rowTo) of {I(p.Out.H)} straight into the caller's output, in C, H, W order.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}(ref float input, ref float output, ref float weights, ref float bias, int rowFrom, int rowTo)");
        w.Open("for (int oh = rowFrom; oh < rowTo; oh++)");
        int first = 0;
        foreach (int count in tileStrips)
        {
            int column = first * lanes, group = Schedule.PlaneTileChannels(p, count);
            first += count;
            void Tile(int channels)
            {
                w.Line($"// Channels oc0..oc0 + {I(channels - 1)}, columns {I(column)}..{I(column + count * lanes - 1)}: accumulator a<channel>_<strip>, input strip s<strip>, weight w<channel>.");
                for (int c = 0; c < channels; c++)
                    for (int m = 0; m < count; m++)
                        w.Line($"{v.Type} a{c}_{m} = {(l.Bias ? v.Broadcast($"Unsafe.Add(ref bias, oc0 + {I(c)})") : v.Zero)};");
                w.Open($"for (int kh = 0; kh < {I(l.KernelH)}; kh++)");
                w.Open($"for (int ic = 0; ic < {I(cin)}; ic++)");
                w.Line($"ref float x = ref Unsafe.Add(ref input, ic * {I(channel)} + (oh * {I(l.StrideH)} + kh) * {I(row)} + {I(column)});");
                w.Line($"ref float wr = ref Unsafe.Add(ref weights, (kh * {I(l.KernelW * cin)} + ic) * {I(op)} + oc0);");
                for (int k = 0; k < l.KernelW; k++)
                {
                    // Kernel column k of output column ow reads phase k % stride at ow + k / stride (the column itself without a split).
                    int offset = split is null ? k : k % phases * phaseRow + k / phases;
                    w.Open("");
                    MultiplyAddStep(w, v, "s", count, m => v.Load("x", I(offset + m * lanes)),
                        Enumerable.Range(0, channels).Select(c => (c, $"Unsafe.Add(ref wr, {I(k * cin * op + c)})")), broadcast: "w");
                    w.Close();
                }
                w.Close();
                w.Close();
                for (int c = 0; c < channels; c++)
                    for (int m = 0; m < count; m++)
                        w.Line(v.Store(v.Activate(l, $"a{c}_{m}")!, "output", $"(oc0 + {I(c)}) * {I(plane)} + oh * {I(p.Out.W)} + {I(column + m * lanes)}"));
            }
            // Channel groups as channel blocks of one-lane "vectors": full groups from oc0, then the rest.
            ChannelBlocks(w, new Tile(1, count, group, cout), 1, Tile);
        }
        w.Close();
        w.Close();
    }

    /// <summary>The output range [lo, hi) whose windows need no padding (empty when the kernel is wider than the input).</summary>
    private static (int Lo, int Hi) Interior(int n, int k, int s, int padBefore, int outputs)
    {
        int lo = Math.Min(outputs, Schedule.DivideUp(padBefore, s));
        int last = n - k + padBefore;
        int hi = last < 0 ? 0 : Math.Min(outputs, last / s + 1);
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>Runs <paramref name="body"/> over the output channel blocks of <paramref name="tile"/>, each with a variable or constant oc0 in scope.</summary>
    internal static void ChannelBlocks(CodeWriter w, Tile tile, int lanes, Action<int> body)
    {
        int block = tile.Vectors * lanes;
        if (tile.Blocks == 1)
        {
            w.Open("");
            w.Line("const int oc0 = 0;");
            body(tile.Vectors);
            w.Close();
        }
        else if (tile.Blocks > 1)
        {
            w.Open($"for (int oc0 = 0; oc0 < {I(tile.Blocks * block)}; oc0 += {I(block)})");
            body(tile.Vectors);
            w.Close();
        }
        if (tile.Remainder > 0)
        {
            w.Open("");
            w.Line($"const int oc0 = {I(tile.Blocks * block)};");
            body(tile.Remainder);
            w.Close();
        }
    }

    /// <summary>Runs <paramref name="body"/> for the one output channel block b of <paramref name="tile"/> (a full block, or the remainder block after them), with oc0 in scope.</summary>
    private static void OneChannelBlock(CodeWriter w, Tile tile, int lanes, Action<int> body)
    {
        int block = tile.Vectors * lanes;
        if (tile.Remainder > 0 && tile.Blocks > 0)
            w.Open($"if (b < {I(tile.Blocks)})");
        else
            w.Open("");
        if (tile.Blocks > 0)
        {
            w.Line($"int oc0 = b * {I(block)};");
            body(tile.Vectors);
        }
        if (tile.Remainder > 0)
        {
            if (tile.Blocks > 0)
            {
                w.Close();
                w.Open("else");
            }
            w.Line($"const int oc0 = {I(tile.Blocks * block)};");
            body(tile.Remainder);
        }
        w.Close();
    }

    /// <summary>
    /// Declares the accumulators a<i>t</i>_<i>m</i>, starting from the bias (or zero). With <paramref name="partial"/>
    /// (the output index of each accumulator) only the first pass starts there; the others go on from the partial sums
    /// the previous pass stored.
    /// </summary>
    private static void InitAccumulators(CodeWriter w, VectorIsa v, bool bias, int pixels, int vectors, Func<int, int, string>? partial = null)
    {
        for (int t = 0; t < pixels; t++)
            for (int m = 0; m < vectors; m++)
            {
                string start = bias ? v.Load("bias", $"oc0 + {I(m * v.Lanes)}") : v.Zero;
                w.Line($"{v.Type} a{t}_{m} = {(partial is null ? start : $"pass == 0 ? {start} : {v.Load("output", partial(t, m))}")};");
            }
    }

    /// <summary>The output index of accumulator a<i>t</i>_<i>m</i> of a convolution tile whose first pixel is <paramref name="pixelBase"/>.</summary>
    private static string OutputIndex(LayerPlan p, VectorIsa v, string pixelBase, int t, int m) =>
        $"({pixelBase} + {I(t)}) * {I(p.Out.Cs)} + oc0 + {I(m * v.Lanes)}";

    /// <summary>
    /// Stores the accumulators. The last store of a sum (<paramref name="activate"/>) adds the residual first, when the
    /// kernel completes a residual sum, and applies the activation; a pass's partial sums are stored as they are.
    /// </summary>
    private static void StoreAccumulators(CodeWriter w, LayerPlan p, VectorIsa v, int pixels, int vectors, string pixelBase, bool activate = true)
    {
        for (int t = 0; t < pixels; t++)
            for (int m = 0; m < vectors; m++)
            {
                string index = OutputIndex(p, v, pixelBase, t, m);
                if (activate && p.Residual is not null)
                    w.Line($"a{t}_{m} += {v.Load("residual", index)};");
                string value = (activate ? v.Activate(p.Layer, $"a{t}_{m}") : null) ?? $"a{t}_{m}";
                w.Line(v.Store(value, "output", index));
            }
    }

    /// <summary>
    /// A register tile of <paramref name="pixels"/> output pixels of row oh, all output channels. With
    /// <paramref name="fixedColumn"/> null the tile starts at column ow (a parameter) and its windows lie inside
    /// the input columns; otherwise it starts at that column, and taps that fall in the padding are left out
    /// when the code is generated.
    /// </summary>
    private static void EmitConvTileMethod(CodeWriter w, LayerPlan p, VectorIsa v, string name, Tile tile, ConvLoops loops, int pixels, int? fixedColumn, string parameters, bool clipRows)
    {
        Graph.LayerModel l = p.Layer;
        int cin = p.In.C, ps = p.In.PixelStride, op = p.PaddedOutputs, kw = l.KernelW, sw = l.StrideW;
        Func<int, int, string?> tap;
        string rowOffset, pixelBase;
        w.Line();
        if (fixedColumn is int column)
        {
            int iw0 = column * sw - l.PadLeft;
            w.Line($"/// <summary>Output columns {I(column)}..{I(column + pixels - 1)} of row oh, all channels; taps on input columns outside 0..{I(p.In.W - 1)} (padding) are left out.</summary>");
            w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
            w.Open($"private static void {name}_At{I(column)}({parameters})");
            tap = (t, k) =>
            {
                int iw = iw0 + t * sw + k;
                return iw >= 0 && iw < p.In.W ? I(iw * ps) : null;
            };
            rowOffset = "";
            pixelBase = $"oh * {I(p.Out.W)} + {I(column)}";
        }
        else
        {
            w.Line($"/// <summary>{I(pixels)} output pixels of row oh from column ow, all channels; every window lies inside the input columns.</summary>");
            w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
            w.Open($"private static void {name}_Tile({parameters}, int ow)");
            tap = (t, k) => I((t * sw + k) * ps);
            rowOffset = $" + ow * {I(sw)} - {I(l.PadLeft)}";
            pixelBase = $"oh * {I(p.Out.W)} + ow";
        }
        w.Line($"int ih0 = oh * {I(l.StrideH)} - {I(l.PadTop)};");
        if (clipRows)
            w.Line($"int khLo = Math.Max(0, -ih0), khHi = Math.Min({I(l.KernelH)}, {I(p.In.H)} - ih0);");
        bool passes = loops.Passes > 1;
        if (passes)
            w.Line($"int icFrom = pass * {I(loops.PassChannels)}, icTo = Math.Min({I(cin)}, icFrom + {I(loops.PassChannels)});");
        Action<Action<int>> blocks = loops.BlocksOuter ? body => OneChannelBlock(w, tile, v.Lanes, body) : body => ChannelBlocks(w, tile, v.Lanes, body);
        blocks(vectors =>
        {
            bool reread = Schedule.RereadsInputs(v.Target, pixels, vectors, sw, kw);
            InitAccumulators(w, v, l.Bias, pixels, vectors, passes ? (t, m) => OutputIndex(p, v, pixelBase, t, m) : null);
            w.Open(clipRows ? "for (int kh = khLo; kh < khHi; kh++)" : $"for (int kh = 0; kh < {I(l.KernelH)}; kh++)");
            string channelStart = passes ? $" + icFrom * {I(p.In.ChannelStride)}" : "";
            w.Line($"ref float x = ref Unsafe.Add(ref input, ((ih0 + kh) * {I(p.In.W)}{rowOffset}){(ps == 1 ? "" : $" * {I(ps)}")}{channelStart});");
            w.Line($"ref float wr = ref Unsafe.Add(ref weights, kh * {I(kw * cin * op)}{(passes ? $" + icFrom * {I(op)}" : "")} + oc0);");
            if (reread)
                w.Line("// Taps share input values; each is read again where used. Volatile.Read only keeps the JIT from holding them in registers between taps, where they would spill the accumulators (no threading is involved).");
            w.Open(passes ? "for (int ic = icFrom; ic < icTo; ic++)" : $"for (int ic = 0; ic < {I(cin)}; ic++)");
            for (int k = 0; k < kw; k++)
            {
                var taps = new System.Collections.Generic.List<(int T, string Source)>();
                for (int t = 0; t < pixels; t++)
                    if (tap(t, k) is string offset)
                        taps.Add((t, reread ? $"global::System.Threading.Volatile.Read(ref Unsafe.Add(ref x, {offset}))" : $"Unsafe.Add(ref x, {offset})"));
                if (taps.Count == 0)
                    continue;
                int row = k * cin * op;
                w.Open("");
                MultiplyAddStep(w, v, "w", vectors, m => v.Load("wr", I(row + m * v.Lanes)), taps);
                w.Close();
            }
            if (Schedule.PrefetchesPlanarLines(v.Target, p) && fixedColumn is null)
            {
                // The first channel block brings the line in; the tile's other blocks read the same lines. Full blocks
                // after the first run in a loop (oc0 a variable there); the remainder after them (oc0 a constant) does
                // not prefetch, and no test of a constant is written, which the compiler would warn of as dead code.
                string prefetch = $"global::Unroll.Kernels.Cache.Prefetch(ref x, {I(PrefetchColumns)});";
                bool remainder = vectors < tile.Vectors;
                if (!remainder && tile.Blocks > 1 && !loops.BlocksOuter)
                    w.Line($"if (oc0 == 0) {prefetch}");
                else if (!remainder || tile.Blocks == 0)
                    w.Line(prefetch);
            }
            w.Line($"x = ref Unsafe.Add(ref x, {I(p.In.ChannelStride)});");
            w.Line($"wr = ref Unsafe.Add(ref wr, {I(op)});");
            w.Close();
            w.Close();
            if (passes && (p.Residual is not null || v.Activate(l, "a") is string activated && activated != "a"))
            {
                // Only the last pass has the whole sum to complete and activate.
                w.Open($"if (pass == {I(loops.Passes - 1)})");
                StoreAccumulators(w, p, v, pixels, vectors, pixelBase);
                w.Close();
                w.Open("else");
                StoreAccumulators(w, p, v, pixels, vectors, pixelBase, activate: false);
                w.Close();
            }
            else
                StoreAccumulators(w, p, v, pixels, vectors, pixelBase);
        });
        w.Close();
    }

    /// <summary>How far ahead along its row a tile over many planar channels prefetches each channel's input: one 64-byte cache line.</summary>
    private const int PrefetchColumns = 16;

    // ---------------------------------------------------------------- dense

    private static void EmitDense(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        if (Schedule.StreamsWeights(p))
        {
            EmitStreamingDense(w, p, v, name);
            return;
        }
        Graph.LayerModel l = p.Layer;
        Tile tile = Schedule.For(v.Target, p);
        int pixels = p.In.H * p.In.W, op = p.PaddedOutputs;
        Summary(w, p, v, $" Weights are [H][W][C][{op}]: one row of padded outputs per input value. Computes output chunks [chunkFrom, chunkTo) of {I(Schedule.DenseChunks(tile))}, a chunk being one block of {I(tile.Vectors)} vector(s) (the last may be shorter).");
        w.Open($"private static void {name}(ref float input, ref float output, ref float weights, ref float bias, int chunkFrom, int chunkTo)");
        ChunkRange(w, tile, v.Lanes, vectors =>
        {
            InitAccumulators(w, v, l.Bias, 1, vectors);
            w.Line("ref float wr = ref Unsafe.Add(ref weights, oc0);");
            if (pixels > 1)
            {
                w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
                w.Line($"ref float x = ref Unsafe.Add(ref input, px * {I(p.In.Cs)});");
            }
            else
            {
                w.Open("");
                w.Line("ref float x = ref input;");
            }
            w.Open($"for (int c = 0; c < {I(p.In.C)}; c++)");
            w.Line($"{v.Type} x0 = {v.Broadcast("Unsafe.Add(ref x, c)")};");
            for (int m = 0; m < vectors; m++)
                w.Line($"a0_{m} = {v.MultiplyAdd("x0", v.Load("wr", I(m * v.Lanes)), $"a0_{m}")};");
            w.Line($"wr = ref Unsafe.Add(ref wr, {I(op)});");
            w.Close();
            w.Close();
            StoreAccumulators(w, p, v, 1, vectors, "0");
        });
        w.Close();
    }

    /// <summary>Rows of weights a streaming dense kernel multiplies into the outputs per pass over them.</summary>
    private const int StreamRows = 8;

    /// <summary>
    /// One sample through a dense layer whose weights exceed L2: the outputs of the chunk range start as the
    /// bias, then each block of <see cref="StreamRows"/> weight rows is read front to back and added in, two
    /// output vectors at a time, in row order, so every output sums its terms in the same order as the other
    /// dense kernels (identical results).
    /// </summary>
    private static void EmitStreamingDense(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        Tile tile = Schedule.For(v.Target, p);
        int pixels = p.In.H * p.In.W, channels = p.In.C, op = p.PaddedOutputs, block = tile.Vectors * v.Lanes, lanes = v.Lanes;
        int outputs = tile.ChannelVectors * lanes;
        Summary(w, p, v, $" Weights ({I(p.WeightLength * 4 / 1024)} KB) exceed L2: streamed in storage order, {I(StreamRows)} rows per pass over the outputs. "
            + $"Computes output chunks [chunkFrom, chunkTo) of {I(Schedule.DenseChunks(tile))}, a chunk being {I(block)} outputs.");
        w.Open($"private static void {name}(ref float input, ref float output, ref float weights, ref float bias, int chunkFrom, int chunkTo)");
        w.Line($"int from = chunkFrom * {I(block)}, to = Math.Min(chunkTo * {I(block)}, {I(outputs)});");
        w.Line($"for (int o = from; o < to; o += {I(lanes)})");
        w.Line($"    {v.Store(l.Bias ? v.Load("bias", "o") : v.Zero, "output", "o")}");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Line($"ref float x = ref Unsafe.Add(ref input, px * {I(p.In.Cs)});");
        w.Line($"ref float wr = ref Unsafe.Add(ref weights, px * {I(channels * op)});");
        w.Line("int c = 0;");
        w.Open($"for (; c + {I(StreamRows)} <= {I(channels)}; c += {I(StreamRows)})");
        for (int r = 0; r < StreamRows; r++)
            w.Line($"{v.Type} x{r} = {v.Broadcast($"Unsafe.Add(ref x, c + {I(r)})")};");
        w.Line($"ref float rows = ref Unsafe.Add(ref wr, c * {I(op)});");
        w.Line("int o = from;");
        w.Open($"for (; o + {I(2 * lanes)} <= to; o += {I(2 * lanes)})");
        for (int m = 0; m < 2; m++)
            w.Line($"{v.Type} a{m} = {v.Load("output", $"o + {I(m * lanes)}")};");
        for (int r = 0; r < StreamRows; r++)
            for (int m = 0; m < 2; m++)
                w.Line($"a{m} = {v.MultiplyAdd($"x{r}", v.Load("rows", $"{I(r * op + m * lanes)} + o"), $"a{m}")};");
        for (int m = 0; m < 2; m++)
            w.Line(v.Store($"a{m}", "output", $"o + {I(m * lanes)}"));
        w.Close();
        w.Open("if (o < to)");
        w.Line($"{v.Type} a0 = {v.Load("output", "o")};");
        for (int r = 0; r < StreamRows; r++)
            w.Line($"a0 = {v.MultiplyAdd($"x{r}", v.Load("rows", $"{I(r * op)} + o"), "a0")};");
        w.Line(v.Store("a0", "output", "o"));
        w.Close();
        w.Close();
        w.Open($"for (; c < {I(channels)}; c++)");
        w.Line($"{v.Type} x0 = {v.Broadcast("Unsafe.Add(ref x, c)")};");
        w.Line($"ref float row = ref Unsafe.Add(ref wr, c * {I(op)});");
        w.Line($"for (int o = from; o < to; o += {I(lanes)})");
        w.Line($"    {v.Store(v.MultiplyAdd("x0", v.Load("row", "o"), v.Load("output", "o")), "output", "o")}");
        w.Close();
        w.Close();
        if (v.Activate(l, "x") is string act && act != "x")
        {
            w.Open($"for (int o = from; o < to; o += {I(lanes)})");
            w.Line($"{v.Type} x = {v.Load("output", "o")};");
            w.Line(v.Store(act, "output", "o"));
            w.Close();
        }
        w.Close();
    }

    /// <summary>
    /// The dense layer over a group of samples whose workspaces lie <paramref name="sampleStride"/> floats apart:
    /// a register tile of samples x output vectors, so every weight vector loaded serves each sample of the tile.
    /// The input rows are taken in blocks whose weights stay in L2 while every sample tile passes over them
    /// (copied first into <c>panel</c>, contiguous, when more than one tile will read them: rows of the
    /// weight matrix lie a whole output row apart, which would make them collide in the cache); partial
    /// sums go through the output between blocks.
    /// </summary>
    public static void EmitDenseGroup(CodeWriter w, LayerPlan p, VectorIsa v, string name, int sampleStride)
    {
        Graph.LayerModel l = p.Layer;
        Tile tile = Schedule.GroupTile(v.Target, p);
        int pixels = p.In.H * p.In.W, channels = p.In.C, op = p.PaddedOutputs, samples = tile.Pixels;
        // Block over input channels for a flat input, over whole pixels otherwise.
        bool flat = pixels == 1;
        int rowsPerBlock = Schedule.GroupBlockRows(p);
        int blocks = Schedule.DivideUp(flat ? channels : pixels * channels, rowsPerBlock);
        string fused = v.Activate(l, "x") is null ? "" : $", {l.ActivationName} applied before the last store";
        w.Line($"/// <summary>{l.Name} over a group of samples (workspace stride {I(sampleStride)}): tiles of {I(samples)} samples x {I(tile.Vectors)} vector(s), "
            + $"{I(blocks)} block(s) of input rows{fused}. Runs <paramref name=\"tiles\"/> tiles of {I(samples)} samples.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Group(ref float input, ref float output, ref float weights, ref float bias, ref float panel, int tiles)");
        ChannelBlocks(w, tile, v.Lanes, vectors =>
        {
            string blockStart = flat ? "r0" : "px0";
            if (blocks == 1)
            {
                w.Open("");
                w.Line($"const int {blockStart} = 0;");
            }
            else
                w.Open(flat
                    ? $"for (int r0 = 0; r0 < {I(channels)}; r0 += {I(rowsPerBlock)})"
                    : $"for (int px0 = 0; px0 < {I(pixels)}; px0 += {I(rowsPerBlock / channels)})");
            string firstRow = flat ? "r0" : $"px0 * {I(channels)}";
            string rowEnd = flat ? $"Math.Min(r0 + {I(rowsPerBlock)}, {I(channels)})" : $"Math.Min(px0 + {I(rowsPerBlock / channels)}, {I(pixels)}) * {I(channels)}";
            int panelWidth = vectors * v.Lanes;
            w.Line($"int rows = {rowEnd} - {firstRow};");
            w.Line($"ref float source = ref Unsafe.Add(ref weights, {firstRow} * {I(op)} + oc0);");
            w.Line($"int step = {I(op)};");
            w.Open("if (tiles > 1)");
            w.Open("for (int r = 0; r < rows; r++)");
            for (int m = 0; m < vectors; m++)
                w.Line(v.Store(v.Load("source", $"r * {I(op)} + {I(m * v.Lanes)}"), "panel", $"r * {I(panelWidth)} + {I(m * v.Lanes)}"));
            w.Close();
            w.Line("source = ref panel;");
            w.Line($"step = {I(panelWidth)};");
            w.Close();
            w.Open("for (int tile = 0; tile < tiles; tile++)");
            w.Line($"ref float x = ref Unsafe.Add(ref input, tile * {I(samples * sampleStride)});");
            w.Line($"ref float o = ref Unsafe.Add(ref output, tile * {I(samples * sampleStride)} + oc0);");
            if (blocks == 1)
                InitAccumulators(w, v, l.Bias, samples, vectors);
            else
            {
                // The first block starts from the bias, later ones from the partial sums stored in the output.
                for (int t = 0; t < samples; t++)
                    for (int m = 0; m < vectors; m++)
                        w.Line($"{v.Type} a{t}_{m};");
                w.Open($"if ({blockStart} == 0)");
                for (int t = 0; t < samples; t++)
                    for (int m = 0; m < vectors; m++)
                        w.Line($"a{t}_{m} = {(l.Bias ? v.Load("bias", $"oc0 + {I(m * v.Lanes)}") : v.Zero)};");
                w.Close();
                w.Open("else");
                for (int t = 0; t < samples; t++)
                    for (int m = 0; m < vectors; m++)
                        w.Line($"a{t}_{m} = {v.Load("o", I(t * sampleStride + m * v.Lanes))};");
                w.Close();
            }
            w.Line("ref float wr = ref source;");
            if (flat)
            {
                w.Open($"for (int c = r0; c < {rowEnd}; c++)");
                EmitGroupRow(w, v, samples, vectors, sampleStride, "c");
                w.Line("wr = ref Unsafe.Add(ref wr, step);");
                w.Close();
            }
            else
            {
                w.Open($"for (int px = px0; px < Math.Min(px0 + {I(rowsPerBlock / channels)}, {I(pixels)}); px++)");
                w.Open($"for (int c = 0; c < {I(channels)}; c++)");
                EmitGroupRow(w, v, samples, vectors, sampleStride, $"px * {I(p.In.Cs)} + c");
                w.Line("wr = ref Unsafe.Add(ref wr, step);");
                w.Close();
                w.Close();
            }
            // The last block applies the fused activation; earlier ones store partial sums.
            string last = flat ? $"r0 + {I(rowsPerBlock)} >= {I(channels)}" : $"px0 + {I(rowsPerBlock / channels)} >= {I(pixels)}";
            bool activates = v.Activate(l, "x") is string act && act != "x";
            if (activates && blocks > 1)
            {
                w.Open($"if ({last})");
                EmitGroupStore(w, p, v, samples, vectors, sampleStride, activate: true);
                w.Close();
                w.Open("else");
                EmitGroupStore(w, p, v, samples, vectors, sampleStride, activate: false);
                w.Close();
            }
            else
                EmitGroupStore(w, p, v, samples, vectors, sampleStride, activate: activates);
            w.Close();
            w.Close();
        });
        w.Close();
    }

    private static void EmitGroupRow(CodeWriter w, VectorIsa v, int samples, int vectors, int sampleStride, string index) =>
        MultiplyAddStep(w, v, "w", vectors, m => v.Load("wr", I(m * v.Lanes)),
            Enumerable.Range(0, samples).Select(t => (t, $"Unsafe.Add(ref x, {I(t * sampleStride)} + {index})")));

    /// <summary>
    /// One step of a register tile, the core of every multiply kernel: loads <paramref name="vectors"/> weight
    /// vectors (<paramref name="weight"/>0, 1, ...), then for each input (t, source) broadcasts the source into
    /// x<i>t</i> (<paramref name="broadcast"/><i>t</i>) and adds it times each loaded vector into the accumulators
    /// a<i>t</i>_<i>m</i>. A kernel whose vectors run along the row loads input strips and broadcasts weights instead,
    /// and names them so.
    /// </summary>
    internal static void MultiplyAddStep(CodeWriter w, VectorIsa v, string weight, int vectors, Func<int, string> loadWeight,
        System.Collections.Generic.IEnumerable<(int T, string Source)> inputs, string broadcast = "x")
    {
        for (int m = 0; m < vectors; m++)
            w.Line($"{v.Type} {weight}{m} = {loadWeight(m)};");
        foreach ((int t, string source) in inputs)
        {
            w.Line($"{v.Type} {broadcast}{t} = {v.Broadcast(source)};");
            for (int m = 0; m < vectors; m++)
                w.Line($"a{t}_{m} = {v.MultiplyAdd($"{broadcast}{t}", $"{weight}{m}", $"a{t}_{m}")};");
        }
    }

    private static void EmitGroupStore(CodeWriter w, LayerPlan p, VectorIsa v, int samples, int vectors, int sampleStride, bool activate)
    {
        for (int t = 0; t < samples; t++)
            for (int m = 0; m < vectors; m++)
            {
                string value = activate ? v.Activate(p.Layer, $"a{t}_{m}")! : $"a{t}_{m}";
                w.Line(v.Store(value, "o", I(t * sampleStride + m * v.Lanes)));
            }
    }

    /// <summary>
    /// Loops over the output chunks [chunkFrom, chunkTo): full blocks of <see cref="Tile.Vectors"/> vectors
    /// starting at channel <c>oc0</c>, then the shorter remainder block when the range reaches it.
    /// </summary>
    internal static void ChunkRange(CodeWriter w, Tile tile, int lanes, Action<int> body)
    {
        int block = tile.Vectors * lanes;
        if (tile.Blocks > 0)
        {
            w.Open($"for (int oc0 = chunkFrom * {I(block)}; oc0 < Math.Min(chunkTo, {I(tile.Blocks)}) * {I(block)}; oc0 += {I(block)})");
            body(tile.Vectors);
            w.Close();
        }
        if (tile.Remainder > 0)
        {
            w.Open($"if (chunkTo > {I(tile.Blocks)})");
            w.Line($"const int oc0 = {I(tile.Blocks * block)};");
            body(tile.Remainder);
            w.Close();
        }
    }

    // ---------------------------------------------------------------- pooling

    /// <summary>
    /// Opens the loops over output pixels of a pooling layer and clips each window to the input
    /// (khLo..khHi, kwLo..kwHi); for average pooling also defines <c>scale</c>, one over the divisor.
    /// Shared by the forward and backward kernels so both use the same windows and divisors. The forward
    /// kernel covers output rows [rowFrom, rowTo) (<paramref name="rowRange"/>); the backward kernel all rows.
    /// With <paramref name="insideWindow"/>, a window that lies wholly inside the input runs that code instead
    /// (with ih0 and iw0 in scope; it closes whatever it opens) and goes on to the next pixel. Returns whether clipped
    /// windows remain, whose code the caller writes next; either way the caller closes the two loops (oh, ow) opened here.
    /// </summary>
    public static bool OpenPoolWindows(CodeWriter w, LayerPlan p, VectorIsa v, bool rowRange = false, Action? insideWindow = null)
    {
        Graph.LayerModel l = p.Layer;
        (int owLo, int owHi) = Interior(p.In.W, l.KernelW, l.StrideW, l.PadLeft, p.Out.W);
        (int ohLo, int ohHi) = Interior(p.In.H, l.KernelH, l.StrideH, l.PadTop, p.Out.H);
        bool clippedRows = ohLo > 0 || ohHi < p.Out.H, clippedColumns = owLo > 0 || owHi < p.Out.W;
        if (owHi == owLo || ohHi == ohLo)
            insideWindow = null;
        w.Open(rowRange ? "for (int oh = rowFrom; oh < rowTo; oh++)" : $"for (int oh = 0; oh < {I(p.Out.H)}; oh++)");
        w.Line($"int ih0 = oh * {I(l.StrideH)} - {I(l.PadTop)};");
        if (insideWindow is not null && !clippedRows && !clippedColumns)
        {
            // Every window lies inside the input: nothing to clip.
            w.Open($"for (int ow = 0; ow < {I(p.Out.W)}; ow++)");
            w.Line($"int iw0 = ow * {I(l.StrideW)} - {I(l.PadLeft)};");
            insideWindow();
            return false;
        }
        w.Line($"int khLo = Math.Max(0, -ih0), khHi = Math.Min({I(l.KernelH)}, {I(p.In.H)} - ih0);");
        if (insideWindow is not null && clippedRows)
            w.Line($"bool rowInside = {string.Join(" && ", new[] { ohLo > 0 ? $"oh >= {I(ohLo)}" : null, ohHi < p.Out.H ? $"oh < {I(ohHi)}" : null }.OfType<string>())};");
        w.Open($"for (int ow = 0; ow < {I(p.Out.W)}; ow++)");
        w.Line($"int iw0 = ow * {I(l.StrideW)} - {I(l.PadLeft)};");
        if (insideWindow is not null)
        {
            var tests = new System.Collections.Generic.List<string>();
            if (clippedRows)
                tests.Add("rowInside");
            if (owLo > 0)
                tests.Add($"ow >= {I(owLo)}");
            if (owHi < p.Out.W)
                tests.Add($"ow < {I(owHi)}");
            w.Open($"if ({string.Join(" && ", tests)})");
            insideWindow();
            w.Line("continue;");
            w.Close();
        }
        w.Line($"int kwLo = Math.Max(0, -iw0), kwHi = Math.Min({I(l.KernelW)}, {I(p.In.W)} - iw0);");
        if (l.Op == OpKind.AvgPool)
        {
            string count = l.CountIncludePad
                ? $"(Math.Min({I(l.KernelH)}, {I(p.In.H + l.PadBottom)} - ih0)) * (Math.Min({I(l.KernelW)}, {I(p.In.W + l.PadRight)} - iw0))"
                : "(khHi - khLo) * (kwHi - kwLo)";
            w.Line($"{v.Type} scale = {v.Broadcast($"1f / ({count})")};");
        }
        return true;
    }

    private static void EmitPool(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        // The value stored, activated in registers when the pool has an activation that maps to vector instructions (the
        // others run as a pass over the output, see NeedsActivationPass).
        string Activated(string value)
        {
            if (p.Layer.Activation == ActivationKind.None || v.Activate(p.Layer, "acc") is not { } activated)
                return value;
            if (value != "acc")
                w.Line($"acc = {value};");
            return activated;
        }
        Graph.LayerModel l = p.Layer;
        bool max = l.Op == OpKind.MaxPool;
        int vectors = Schedule.ChannelVectors(v.Target, p.In.C);
        Summary(w, p, v, (max ? "" : l.CountIncludePad ? " Divides by the window size within the padded input." : " Divides by the number of real (unpadded) pixels in the window.")
            + $" Computes output rows [rowFrom, rowTo) of {I(p.Out.H)}: a window inside the input is straight-line code, one at the edge is clipped to the input.");
        w.Open($"private static void {name}(ref float input, ref float output, int rowFrom, int rowTo)");
        bool clipped = OpenPoolWindows(w, p, v, rowRange: true, insideWindow: () =>
        {
            // Every tap at a constant offset from the window's corner; the same order of taps as the clipped window.
            w.Line($"ref float pixel = ref Unsafe.Add(ref output, (oh * {I(p.Out.W)} + ow) * {I(p.Out.Cs)});");
            w.Line($"ref float window = ref Unsafe.Add(ref input, ih0 * {I(p.In.W * p.In.Cs)} + iw0 * {I(p.In.Cs)});");
            w.Open($"for (int cv = 0; cv < {I(vectors * v.Lanes)}; cv += {I(v.Lanes)})");
            for (int kh = 0; kh < l.KernelH; kh++)
                for (int kw = 0; kw < l.KernelW; kw++)
                {
                    string tap = v.Load("window", $"cv + {I(kh * p.In.W * p.In.Cs + kw * p.In.Cs)}");
                    w.Line(kh == 0 && kw == 0 ? $"{v.Type} acc = {tap};" : max ? $"acc = {v.Max("acc", tap)};" : $"acc += {tap};");
                }
            w.Line(v.Store(Activated(max ? "acc" : $"acc * {v.Broadcast(VectorIsa.Literal(1f / (l.KernelH * l.KernelW)))}"), "pixel", "cv"));
            w.Close();
        });
        if (!clipped)
        {
            w.Close();
            w.Close();
            w.Close();
            return;
        }
        w.Line($"ref float o = ref Unsafe.Add(ref output, (oh * {I(p.Out.W)} + ow) * {I(p.Out.Cs)});");
        w.Open($"for (int cv = 0; cv < {I(vectors * v.Lanes)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} acc = {(max ? v.NegativeInfinity : v.Zero)};");
        w.Open("for (int kh = khLo; kh < khHi; kh++)");
        w.Line($"ref float row = ref Unsafe.Add(ref input, (ih0 + kh) * {I(p.In.W * p.In.Cs)} + cv);");
        w.Open("for (int kw = kwLo; kw < kwHi; kw++)");
        string load = v.Load("row", $"(iw0 + kw) * {I(p.In.Cs)}");
        w.Line(max ? $"acc = {v.Max("acc", load)};" : $"acc += {load};");
        w.Close();
        w.Close();
        // Parenthesised: the vector store is a member call on the value, which binds tighter than "*".
        w.Line(v.Store(Activated(max ? "acc" : "acc * scale"), "o", "cv"));
        w.Close();
        w.Close();
        w.Close();
        w.Close();
    }

    // ---------------------------------------------------------------- activations

    private static void EmitActivation(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        Summary(w, p, v, " Works in place.");
        w.Open($"private static void {name}(ref float data)");
        string? inRegisters = v.Activate(l, "x");
        if (inRegisters is not null)
        {
            w.Open($"for (int i = 0; i < {I(p.Out.Length)}; i += {I(v.Lanes)})");
            w.Line($"{v.Type} x = {v.Load("data", "i")};");
            w.Line(v.Store(inRegisters, "data", "i"));
            w.Close();
        }
        else
            w.Line(ActivationPass(p, "data") + ";");
        w.Close();
    }

    /// <summary>A call to the runtime's element-wise pass for activations that have no vector instruction.</summary>
    public static string ActivationPass(LayerPlan p, string data) => p.Layer.Activation switch
    {
        ActivationKind.Tanh => $"Activations.Tanh(ref {data}, {I(p.Out.Length)})",
        ActivationKind.Sigmoid => $"Activations.Sigmoid(ref {data}, {I(p.Out.Length)})",
        ActivationKind.Softmax => $"Activations.Softmax(ref {data}, {I(p.Out.C)})",
        _ => throw new InvalidOperationException($"No pass for {p.Layer.Activation}."),
    };
}
