using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the Winograd F(2x2, 3x3) inference kernel of a 3x3 stride-1 convolution (<see cref="Schedule.UsesWinograd"/>),
/// or of a strided one over its input split by phase (<see cref="Schedule.WinogradView"/>), for one instruction set. Output tile (2x2 pixels) rows are the units; blocks of tiles (up to
/// <see cref="Schedule.WinogradBlock"/> along a long row, or several whole short rows when the kernel is large, see
/// <see cref="Schedule.WinogradBlockRows"/>) go through three stages in the layer's scratch:
/// the input transform V = Bᵀ d B of each 4x4 input patch (padding read as zero), 16 independent products
/// M[xi] = V[xi] · U[xi] over the input channels (register tiles of tiles x output vectors), and the output transform
/// Y = Aᵀ M A with bias and a fused activation into the channels-last output, partial tiles clipped at odd sizes.
/// </summary>
/// <remarks>
/// Accuracy: the transforms use only 0, ±1 and ±1/2. An output is rounded as a sum over the 16 elements xi and the
/// input channels of |V||U| products, each V a ±sum of 4 inputs and each U at most 9 weights times 1/4, so the
/// rounding error is bounded by eps (a few times the summation length) times a sum of |input| x |weight| products
/// with at most 16 x 4 x 9 / 4 = 144 terms per input channel where the direct kernel has 9: for inputs and weights
/// of comparable size, within about 16 times the direct kernel's bound. The tests' rule (1e-5 of the sum of
/// absolute direct terms, plus 1e-6) sits over 100 times above eps there; WinogradTests measure at most 2.5% of it.
/// </remarks>
internal static class WinogradEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Name of the kernel that <see cref="Emit"/> writes for the layer whose direct kernel is <paramref name="name"/>.</summary>
    public static string KernelName(string name) => name + "_Winograd";

    /// <summary>
    /// The call of a Winograd kernel over units [<paramref name="from"/>, <paramref name="to"/>) (see <see cref="Schedule.WinogradUnits"/>);
    /// the other arguments are refs, <paramref name="residual"/> only for a layer that completes a residual sum.
    /// </summary>
    public static string Call(string name, string input, string output, string transformed, string bias, string scratch, string from, string to, string? residual = null) =>
        $"{KernelName(name)}({input}, {output}, {transformed}, {bias}, {scratch}, {(residual is null ? "" : residual + ", ")}{from}, {to});";

    public static void Emit(CodeWriter w, LayerPlan layer, VectorIsa v, string name)
    {
        // A strided layer split by phase is, to every stage here, the 3x3 stride-1 convolution over its phase channels.
        LayerPlan p = Schedule.WinogradView(layer);
        Graph.LayerModel l = p.Layer;
        Graph.LayerModel d = layer.Layer;
        string of = layer.Phases is null ? $"{l.Input} -> {l.Output}, pads (t,l,b,r) {l.PadTop},{l.PadLeft},{l.PadBottom},{l.PadRight}"
            : $"{d.Input} -> {l.Output} ({I(d.KernelH)}x{I(d.KernelW)} stride {I(d.StrideH)}x{I(d.StrideW)}, pads (t,l,b,r) {d.PadTop},{d.PadLeft},{d.PadBottom},{d.PadRight}) as 3x3 over its input split by phase, {l.Input}";
        string kernel = KernelName(name);
        int across = Schedule.WinogradTilesAcross(p), block = Schedule.WinogradBlockTiles(p), blockRows = Schedule.WinogradBlockRows(p);
        int cs = p.In.Cs, op = p.PaddedOutputs;
        Tile tile = Schedule.For(v.Target, p);
        int pixels = Math.Min(tile.Pixels, block);
        // Blocks of one tile row split a long row; blocks of several rows take 1..blockRows whole rows (fewer at the end of the range).
        var blocks = new List<(int First, int Count)>();
        if (blockRows == 1)
            for (int t = 0; t < across; t += block)
                blocks.Add((t, Math.Min(block, across - t)));
        var counts = blockRows == 1 ? blocks.Select(b => b.Count) : Enumerable.Range(1, blockRows).Select(rows => rows * across);
        var sizes = new SortedSet<int>();
        foreach (int count in counts)
        {
            if (count >= pixels)
                sizes.Add(pixels);
            if (count % pixels > 0)
                sizes.Add(count % pixels);
        }

        bool whole = Schedule.WinogradWholeLayer(p);
        int chunks = Schedule.DenseChunks(tile);
        string units = whole
            ? $"Computes output channel blocks [blockFrom, blockTo) of {I(chunks)} ({I(tile.Vectors * v.Lanes)} channels each) over all {I(Schedule.WinogradTileRows(p) * across)} tiles as one block, "
                + "so each thread reads only its channels of the transformed kernel (the input transform is repeated by each)"
            : $"Computes tile rows [rowFrom, rowTo) of {I(Schedule.WinogradTileRows(p))} (output rows 2 x tile row and the next), in blocks of "
                + (blockRows == 1 ? $"at most {I(block)} tiles" : $"up to {I(blockRows)} whole tile rows ({I(block)} tiles), so each slice of the transformed kernel is read once for many tiles");
        // A residual sum completed here: its other input is read at the output's indices (see LayerPlan.Residual).
        string residual = p.Residual is null ? "" : ", ref float residual";
        string residualArg = p.Residual is null ? "" : ", ref residual";
        w.Line($"/// <summary>{l.Name}: Winograd F(2x2, 3x3) of {of}, {(p.Residual is null ? "" : "plus the residual, then ")}{l.ActivationName}; "
            + $"{v.Name}: products in register tiles of {I(pixels)} tile(s) x {I(tile.Vectors)} vector(s). {units}; transformed kernel [16][{I(p.In.C)}][{I(op)}].</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {kernel}(ref float input, ref float output, ref float transformed, ref float bias, ref float scratch{residual}, {(whole ? "int blockFrom, int blockTo" : "int rowFrom, int rowTo")})");
        w.Line($"ref float products = ref Unsafe.Add(ref scratch, {I(16 * block * cs)});");
        string all = $"0, {I(chunks)}";
        // Whole rows r = 0..rows-1 from tile row tr: each row's tiles go to its place in the block, then one product.
        void WholeRows(string tr, string rows, string channels)
        {
            w.Line($"for (int r = 0; r < {rows}; r++)");
            w.Line($"    {kernel}_In(ref input, ref Unsafe.Add(ref scratch, r * {I(across * cs)}), {tr} + r, 0, {I(across)});");
            w.Line($"{kernel}_Products(ref scratch, ref transformed, ref products, {rows} * {I(across)}, {channels});");
            w.Line($"for (int r = 0; r < {rows}; r++)");
            w.Line($"    {kernel}_Out(ref Unsafe.Add(ref products, r * {I(across * op)}), ref output, ref bias{residualArg}, {tr} + r, 0, {I(across)}, {channels});");
        }
        if (whole)
            WholeRows("0", I(Schedule.WinogradTileRows(p)), "blockFrom, blockTo");
        else if (blockRows == 1)
        {
            w.Open("for (int tr = rowFrom; tr < rowTo; tr++)");
            foreach ((int first, int count) in blocks)
            {
                w.Line($"{kernel}_In(ref input, ref scratch, tr, {I(first)}, {I(count)});");
                w.Line($"{kernel}_Products(ref scratch, ref transformed, ref products, {I(count)}, {all});");
                w.Line($"{kernel}_Out(ref products, ref output, ref bias{residualArg}, tr, {I(first)}, {I(count)}, {all});");
            }
            w.Close();
        }
        else
        {
            w.Open($"for (int tr = rowFrom; tr < rowTo; tr += {I(blockRows)})");
            w.Line($"int rows = Math.Min({I(blockRows)}, rowTo - tr);");
            WholeRows("tr", "rows", all);
            w.Close();
        }
        w.Close();

        EmitInputTransform(w, p, v, kernel, block);
        EmitProducts(w, p, v, kernel, tile, block, pixels, sizes);
        foreach (int size in sizes)
        {
            if (tile.Blocks > 0)
                EmitProductTile(w, p, v, kernel, size, tile.Vectors);
            if (tile.Remainder > 0)
                EmitProductTile(w, p, v, kernel, size, tile.Remainder);
        }
        EmitOutputTransform(w, p, v, kernel, tile, block);
    }

    /// <summary>V = Bᵀ d B for <c>count</c> tiles from tile column <c>first</c> of tile row tr, into [16][block][cs].</summary>
    private static void EmitInputTransform(CodeWriter w, LayerPlan p, VectorIsa v, string kernel, int block)
    {
        Graph.LayerModel l = p.Layer;
        int h = p.In.H, width = p.In.W, cs = p.In.Cs;
        w.Line();
        w.Line($"/// <summary>Input transform Bᵀ d B of the 4x4 patches under tiles [first, first + count) of tile row tr; patch values outside the {I(h)}x{I(width)} input (padding) are zero.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {kernel}_In(ref float input, ref float v, int tr, int first, int count)");
        w.Line($"int r0 = tr * 2 - {I(l.PadTop)};");
        w.Open("for (int t = 0; t < count; t++)");
        w.Line($"int c0 = (first + t) * 2 - {I(l.PadLeft)};");
        w.Line($"ref float vt = ref Unsafe.Add(ref v, t * {I(cs)});");
        w.Open($"if (r0 >= 0 && r0 <= {I(h - 4)} && c0 >= 0 && c0 <= {I(width - 4)})");
        w.Line($"ref float d = ref Unsafe.Add(ref input, (r0 * {I(width)} + c0) * {I(cs)});");
        w.Open($"for (int c = 0; c < {I(cs)}; c += {I(v.Lanes)})");
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                w.Line($"{v.Type} d{i}{j} = {v.Load("d", $"{I((i * width + j) * cs)} + c")};");
        InputTransformBody(w, v, block, cs);
        w.Close();
        w.Close();
        w.Open("else");
        for (int i = 0; i < 4; i++)
            w.Line($"bool row{i} = (uint)(r0 + {I(i)}) < {I(h)}u, col{i} = (uint)(c0 + {I(i)}) < {I(width)}u;");
        w.Open($"for (int c = 0; c < {I(cs)}; c += {I(v.Lanes)})");
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                w.Line($"{v.Type} d{i}{j} = row{i} && col{j} ? {v.Load("input", $"((r0 + {I(i)}) * {I(width)} + c0 + {I(j)}) * {I(cs)} + c")} : {v.Zero};");
        InputTransformBody(w, v, block, cs);
        w.Close();
        w.Close();
        w.Close();
        w.Close();
    }

    /// <summary>From d00..d33 in scope: t = Bᵀ d by columns, then V = t B by rows, stored at vt + xi x block x cs + c.</summary>
    private static void InputTransformBody(CodeWriter w, VectorIsa v, int block, int cs)
    {
        for (int j = 0; j < 4; j++)
            w.Line($"{v.Type} t0{j} = d0{j} - d2{j}, t1{j} = d1{j} + d2{j}, t2{j} = d2{j} - d1{j}, t3{j} = d1{j} - d3{j};");
        for (int i = 0; i < 4; i++)
        {
            string[] row = { $"t{i}0 - t{i}2", $"t{i}1 + t{i}2", $"t{i}2 - t{i}1", $"t{i}1 - t{i}3" };
            for (int k = 0; k < 4; k++)
                w.Line(v.Store(row[k], "vt", $"{I((4 * i + k) * block * cs)} + c"));
        }
    }

    /// <summary>
    /// The 16 products M[xi] = V[xi] · U[xi] of one block. Output channel blocks are outside the tiles, so a block's
    /// columns of U[xi] stay in cache while every tile of the block runs over them: full register tiles, then the rest.
    /// </summary>
    private static void EmitProducts(CodeWriter w, LayerPlan p, VectorIsa v, string kernel, Tile tile, int block, int pixels, SortedSet<int> sizes)
    {
        int cs = p.In.Cs, op = p.PaddedOutputs;
        w.Line();
        w.Line($"/// <summary>M[xi] = V[xi] · U[xi] for the 16 elements xi of the 4x4 transform, over <paramref name=\"count\"/> tiles: [count][{I(p.In.C)}] x [{I(p.In.C)}][{I(op)}], output channel blocks [chunkFrom, chunkTo).</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {kernel}_Products(ref float v, ref float u, ref float m, int count, int chunkFrom, int chunkTo)");
        w.Open("for (int xi = 0; xi < 16; xi++)");
        w.Line($"ref float vx = ref Unsafe.Add(ref v, xi * {I(block * cs)});");
        w.Line($"ref float ux = ref Unsafe.Add(ref u, xi * {I(p.In.C * op)});");
        w.Line($"ref float mx = ref Unsafe.Add(ref m, xi * {I(block * op)});");
        KernelEmitter.ChunkRange(w, tile, v.Lanes, vectors =>
        {
            string Call(int size) =>
                $"{TileName(kernel, size, vectors)}(ref Unsafe.Add(ref vx, t * {I(cs)}), ref Unsafe.Add(ref ux, oc0), ref Unsafe.Add(ref mx, t * {I(op)} + oc0));";
            w.Line("int t = 0;");
            w.Line($"for (; t + {I(pixels)} <= count; t += {I(pixels)})");
            w.Line("    " + Call(pixels));
            var rest = sizes.Where(size => size != pixels).ToList();
            if (rest.Count > 0)
            {
                w.Open("switch (count - t)");
                foreach (int size in rest)
                {
                    w.Line($"case {I(size)}:");
                    w.Line("    " + Call(size));
                    w.Line("    break;");
                }
                w.Close();
            }
        });
        w.Close();
        w.Close();
    }

    /// <summary>The product tile method of <paramref name="tiles"/> tiles by <paramref name="vectors"/> output vectors.</summary>
    private static string TileName(string kernel, int tiles, int vectors) => $"{kernel}_Tile{I(tiles)}x{I(vectors)}";

    /// <summary>A register tile of <paramref name="tiles"/> tiles x <paramref name="vectors"/> output vectors of one product M[xi], from the output channel u and m point at.</summary>
    private static void EmitProductTile(CodeWriter w, LayerPlan p, VectorIsa v, string kernel, int tiles, int vectors)
    {
        int cs = p.In.Cs, op = p.PaddedOutputs, cin = p.In.C;
        w.Line();
        w.Line($"/// <summary>{I(tiles)} tile(s) x {I(vectors)} output vector(s) of one product: rows of V at stride {I(cs)}, U rows of {I(op)} outputs.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {TileName(kernel, tiles, vectors)}(ref float v, ref float u, ref float m)");
        for (int t = 0; t < tiles; t++)
            for (int k = 0; k < vectors; k++)
                w.Line($"{v.Type} a{t}_{k} = {v.Zero};");
        w.Line("ref float x = ref v;");
        w.Line("ref float ur = ref u;");
        w.Open($"for (int ic = 0; ic < {I(cin)}; ic++)");
        KernelEmitter.MultiplyAddStep(w, v, "u", vectors, k => v.Load("ur", I(k * v.Lanes)),
            Enumerable.Range(0, tiles).Select(t => (t, $"Unsafe.Add(ref x, {I(t * cs)})")));
        w.Line("x = ref Unsafe.Add(ref x, 1);");
        w.Line($"ur = ref Unsafe.Add(ref ur, {I(op)});");
        w.Close();
        for (int t = 0; t < tiles; t++)
            for (int k = 0; k < vectors; k++)
                w.Line(v.Store($"a{t}_{k}", "m", I(t * op + k * v.Lanes)));
        w.Close();
    }

    /// <summary>Y = Aᵀ M A plus bias, activated, into the 2x2 output pixels of each tile; pixels past an odd edge are skipped.</summary>
    private static void EmitOutputTransform(CodeWriter w, LayerPlan p, VectorIsa v, string kernel, Tile tile, int block)
    {
        Graph.LayerModel l = p.Layer;
        int oh = p.Out.H, ow = p.Out.W, ocs = p.Out.Cs, op = p.PaddedOutputs;
        bool oddRows = oh % 2 == 1, oddColumns = ow % 2 == 1;
        w.Line();
        w.Line($"/// <summary>Output transform Aᵀ M A of tiles [first, first + count) of tile row tr, output channel blocks [chunkFrom, chunkTo), plus bias{(p.Residual is null ? "" : " and the residual")} and {l.ActivationName}, into the {I(oh)}x{I(ow)} output.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {kernel}_Out(ref float m, ref float output, ref float bias{(p.Residual is null ? "" : ", ref float residual")}, int tr, int first, int count, int chunkFrom, int chunkTo)");
        int chunk = tile.Vectors * v.Lanes;
        w.Line($"int cFrom = chunkFrom * {I(chunk)}, cTo = Math.Min(chunkTo * {I(chunk)}, {I(op)});");
        if (oddRows)
            w.Line($"bool lower = tr * 2 + 1 < {I(oh)};");
        w.Open("for (int t = 0; t < count; t++)");
        w.Line("int ow = (first + t) * 2;");
        if (oddColumns)
            w.Line($"bool right = ow + 1 < {I(ow)};");
        w.Line($"ref float mt = ref Unsafe.Add(ref m, t * {I(op)});");
        w.Line($"ref float y = ref Unsafe.Add(ref output, (tr * {I(2 * ow)} + ow) * {I(ocs)});");
        if (p.Residual is not null)
            w.Line($"ref float z = ref Unsafe.Add(ref residual, (tr * {I(2 * ow)} + ow) * {I(ocs)});");
        w.Open($"for (int c = cFrom; c < cTo; c += {I(v.Lanes)})");
        for (int xi = 0; xi < 16; xi++)
            w.Line($"{v.Type} m{xi / 4}{xi % 4} = {v.Load("mt", $"{I(xi * block * op)} + c")};");
        for (int j = 0; j < 4; j++)
            w.Line($"{v.Type} s0{j} = m0{j} + m1{j} + m2{j}, s1{j} = m1{j} - m2{j} - m3{j};");
        string b = l.Bias ? " + b" : "";
        if (l.Bias)
            w.Line($"{v.Type} b = {v.Load("bias", "c")};");
        (string Value, string Offset, string? Condition)[] pixels =
        {
            ("s00 + s01 + s02", "c", null),
            ("s01 - s02 - s03", $"{I(ocs)} + c", oddColumns ? "right" : null),
            ("s10 + s11 + s12", $"{I(ow * ocs)} + c", oddRows ? "lower" : null),
            ("s11 - s12 - s13", $"{I((ow + 1) * ocs)} + c", oddRows && oddColumns ? "lower && right" : oddRows ? "lower" : oddColumns ? "right" : null),
        };
        for (int k = 0; k < 4; k++)
        {
            w.Line($"{v.Type} y{k} = {pixels[k].Value}{b}{(p.Residual is null ? "" : " + " + v.Load("z", pixels[k].Offset))};");
            string value = v.Activate(l, $"y{k}") ?? $"y{k}";
            string store = v.Store(value, "y", pixels[k].Offset);
            w.Line(pixels[k].Condition is string condition ? $"if ({condition}) {store}" : store);
        }
        w.Close();
        w.Close();
        w.Close();
    }
}
