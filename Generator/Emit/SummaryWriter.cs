using System;
using System.Globalization;
using System.Text;
using Unroll.Generator.Graph;

namespace Unroll.Generator.Emit;

/// <summary>Writes the Keras-style summary table and the layer table of the generated file header.</summary>
internal static class SummaryWriter
{
    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    public static string Summary(NetworkModel model)
    {
        // A graph (a layer reading something other than the layer before it) gets Keras's "Connected to" column; a block's
        // layers follow a row naming the block, indented under it.
        bool graph = !model.IsChain;
        const int shapeWidth = 26, paramWidth = 12;
        int nameWidth = 34;
        foreach (LayerModel layer in model.Layers)
        {
            nameWidth = Math.Max(nameWidth, layer.Name.Length + layer.KindName.Length + 8 + (layer.Block.Length > 0 ? 2 : 0));
            // A clip's bounds may make its row longer than the room that suffices for the names of the other activations.
            if (layer.Activation == Front.ActivationKind.Clip)
                nameWidth = Math.Max(nameWidth, Label(layer).Length + 1);
        }
        int width = nameWidth + shapeWidth + (graph ? paramWidth + 24 : 16);
        var text = new StringBuilder();
        string rule = new('_', width), doubleRule = new('=', width);
        text.Append("Model: \"").Append(model.ClassName).Append("\"\n");
        text.Append(rule).Append('\n');
        text.Append(Pad(" Layer (type)", nameWidth)).Append(Pad("Output Shape", shapeWidth)).Append(graph ? Pad("Param #", paramWidth) + "Connected to\n" : "Param #\n");
        text.Append(doubleRule).Append('\n');
        text.Append(Pad(" input (Input)", nameWidth)).Append(Pad(model.Input.Keras, shapeWidth)).Append("0\n");
        long total = 0;
        string block = "";
        for (int i = 0; i < model.Layers.Count; i++)
        {
            LayerModel layer = model.Layers[i];
            if (layer.Block != block)
            {
                block = layer.Block;
                if (block.Length > 0)
                {
                    long blockParameters = 0;
                    foreach (LayerModel inner in model.Layers)
                        if (inner.Block == block)
                            blockParameters += inner.ParameterCount;
                    text.Append(Pad(" " + block, nameWidth + shapeWidth)).Append(N(blockParameters)).Append('\n');
                }
            }
            text.Append(Pad(Label(layer), nameWidth)).Append(Pad(layer.Output.Keras, shapeWidth));
            if (graph)
            {
                var inputs = new System.Collections.Generic.List<string>();
                foreach (int j in layer.Inputs)
                    inputs.Add(model.NameOf(j));
                text.Append(Pad(N(layer.ParameterCount), paramWidth)).Append(string.Join(", ", inputs)).Append('\n');
            }
            else
                text.Append(N(layer.ParameterCount)).Append('\n');
            total += layer.ParameterCount;
        }
        text.Append(doubleRule).Append('\n');
        // Non-trainable: batch normalisations' running statistics (kept and saved, trained by no optimizer).
        long state = 0;
        foreach (LayerModel layer in model.Layers)
            if (layer.Op == Front.OpKind.BatchNorm)
                state += 2L * layer.Output.C;
        text.Append("Total params: ").Append(N(total + state)).Append(" (").Append(Bytes((total + state) * 4)).Append(")\n");
        text.Append("Trainable params: ").Append(N(total)).Append('\n');
        text.Append("Non-trainable params: ").Append(N(state)).Append('\n');
        long flops = 0;
        foreach (LayerModel layer in model.Layers)
            flops += layer.Flops;
        text.Append("FLOPs per sample: ").Append(N(flops)).Append('\n');
        if (model.Outputs.Count > 1)
        {
            // Several outputs: which ones inference computes, and which only training (with their loss weights).
            var main = new System.Collections.Generic.List<string>();
            var auxiliary = new System.Collections.Generic.List<string>();
            foreach (OutputModel o in model.Outputs)
                (o.Auxiliary ? auxiliary : main).Add(model.Layers[o.Layer].Name
                    + (o.LossWeight != 1f ? " (loss weight " + o.LossWeight.ToString("R", CultureInfo.InvariantCulture) + ")" : ""));
            text.Append("Outputs: ").Append(string.Join(", ", main));
            if (auxiliary.Count > 0)
                text.Append("; auxiliary, training only: ").Append(string.Join(", ", auxiliary));
            text.Append('\n');
        }
        text.Append(rule).Append('\n');
        return text.ToString();
    }

    /// <summary>A layer's row label: " Conv1 (Conv2D, relu)", " Act (Activation: clip(0, 6))", indented further in a block.</summary>
    private static string Label(LayerModel layer)
    {
        string type = layer.KindName + (layer.Activation != Front.ActivationKind.None && layer.Op != Front.OpKind.Activation ? ", " + layer.ActivationName.ToLowerInvariant() : "")
            + (layer.Op == Front.OpKind.Activation ? ": " + layer.ActivationName.ToLowerInvariant() : "");
        string indent = layer.Block.Length > 0 ? "   " : " ";
        return $"{indent}{layer.Name} ({type})";
    }

    /// <summary>The comment table at the top of the generated file.</summary>
    public static string[] LayerTable(NetworkModel model)
    {
        var rows = new System.Collections.Generic.List<string[]> { new[] { "#", "Layer", "Type", "Input", "Output", "Kernel/stride/pads", "Activation", "Params", "FLOPs" } };
        int i = 0;
        foreach (LayerModel l in model.Layers)
            rows.Add(new[] { (i++).ToString(CultureInfo.InvariantCulture), l.Name, l.KindName, l.Input.ToString(), l.Output.ToString(), l.Op == Front.OpKind.Activation ? "" : l.Details, l.ActivationName, N(l.ParameterCount), N(l.Flops) });
        int[] widths = new int[rows[0].Length];
        foreach (string[] row in rows)
            for (int c = 0; c < row.Length; c++)
                widths[c] = Math.Max(widths[c], row[c].Length);
        var lines = new string[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            var line = new StringBuilder();
            for (int c = 0; c < widths.Length; c++)
                line.Append(c == 0 ? "" : "  ").Append(c >= 7 ? rows[r][c].PadLeft(widths[c]) : rows[r][c].PadRight(widths[c]));
            lines[r] = line.ToString().TrimEnd();
        }
        return lines;
    }

    private static string Pad(string text, int width) => text.Length >= width ? text + " " : text.PadRight(width);

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1L << 30 => (bytes / (double)(1L << 30)).ToString("F2", CultureInfo.InvariantCulture) + " GB",
        >= 1L << 20 => (bytes / (double)(1L << 20)).ToString("F2", CultureInfo.InvariantCulture) + " MB",
        _ => (bytes / 1024.0).ToString("F2", CultureInfo.InvariantCulture) + " KB",
    };
}
