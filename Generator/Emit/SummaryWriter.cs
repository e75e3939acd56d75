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
        const int nameWidth = 34, shapeWidth = 26;
        var text = new StringBuilder();
        string rule = new('_', 76), doubleRule = new('=', 76);
        text.Append("Model: \"").Append(model.ClassName).Append("\"\n");
        text.Append(rule).Append('\n');
        text.Append(Pad(" Layer (type)", nameWidth)).Append(Pad("Output Shape", shapeWidth)).Append("Param #\n");
        text.Append(doubleRule).Append('\n');
        text.Append(Pad(" input (Input)", nameWidth)).Append(Pad(model.Input.Keras, shapeWidth)).Append("0\n");
        long total = 0;
        foreach (LayerModel layer in model.Layers)
        {
            string type = layer.KindName + (layer.Activation != Front.ActivationKind.None && layer.Op != Front.OpKind.Activation ? ", " + layer.Activation.ToString().ToLowerInvariant() : "")
                + (layer.Op == Front.OpKind.Activation ? ": " + layer.Activation.ToString().ToLowerInvariant() : "");
            text.Append(Pad($" {layer.Name} ({type})", nameWidth)).Append(Pad(layer.Output.Keras, shapeWidth)).Append(N(layer.ParameterCount)).Append('\n');
            total += layer.ParameterCount;
        }
        text.Append(doubleRule).Append('\n');
        text.Append("Total params: ").Append(N(total)).Append(" (").Append(Bytes(total * 4)).Append(")\n");
        text.Append("Trainable params: ").Append(N(total)).Append('\n');
        text.Append("Non-trainable params: 0\n");
        long flops = 0;
        foreach (LayerModel layer in model.Layers)
            flops += layer.Flops;
        text.Append("FLOPs per sample: ").Append(N(flops)).Append('\n');
        text.Append(rule).Append('\n');
        return text.ToString();
    }

    /// <summary>The comment table at the top of the generated file.</summary>
    public static string[] LayerTable(NetworkModel model)
    {
        var rows = new System.Collections.Generic.List<string[]> { new[] { "#", "Layer", "Type", "Input", "Output", "Kernel/stride/pads", "Activation", "Params", "FLOPs" } };
        int i = 0;
        foreach (LayerModel l in model.Layers)
            rows.Add(new[] { (i++).ToString(CultureInfo.InvariantCulture), l.Name, l.KindName, l.Input.ToString(), l.Output.ToString(), l.Op == Front.OpKind.Activation ? "" : l.Details, l.Activation.ToString(), N(l.ParameterCount), N(l.Flops) });
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
