using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Unroll.Generator.Model;

namespace Unroll.Generator.Front;

/// <summary>
/// Front end of blocks: expands a block property (<c>[Block(typeof(T), ...)]</c>, <c>[ResidualBlock]</c>,
/// <c>[BottleneckBlock]</c>, <c>[Inception]</c>) into the layers it stands for, repeated, as if they had been declared one
/// by one. A template's layers are read like a network's; built-in blocks are written here in the same terms. Every
/// inner layer is named <c>Member_r_Layer</c> (<c>Member_Layer</c> without repetition); the property is the last one.
/// </summary>
internal static class BlockExpander
{
    /// <summary>The block attribute on <paramref name="property"/>, if any.</summary>
    public static AttributeData? BlockAttribute(IPropertySymbol property) =>
        property.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() is AttributeNames.Block or AttributeNames.ResidualBlock
            or AttributeNames.BottleneckBlock or AttributeNames.Inception);

    /// <param name="previous">The name of the layer declared before the block (or the network input): the block's input unless it says <c>From</c>.</param>
    public static List<LayerSpec> Expand(IPropertySymbol property, AttributeData block, string previous, List<DiagnosticInfo> diagnostics, CancellationToken cancellation)
    {
        LocationInfo? location = LocationInfo.From(block.ApplicationSyntaxReference?.GetSyntax(cancellation));
        var result = new List<LayerSpec>();
        string kind = block.AttributeClass!.Name.Substring(0, block.AttributeClass.Name.Length - "Attribute".Length);
        int[] numbers = block.ConstructorArguments.Where(a => a.Value is int).Select(a => (int)a.Value!).ToArray();
        int stride = NetworkParser.Named(block, "Stride", 1), repeat = NetworkParser.Named(block, "Repeat", 1);
        string input = NetworkParser.Named<string?>(block, "From", null) ?? previous;
        if (repeat < 1 || stride < 1)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.NonPositiveStride, location, property.Name, repeat < 1 ? repeat : stride));
            return result;
        }

        // The template, with Block.Channels and Block.Stride still standing for the block's numbers.
        List<LayerSpec> template;
        string title;
        switch (kind)
        {
            case "Block":
                if (block.ConstructorArguments.Length == 0 || block.ConstructorArguments[0].Value is not INamedTypeSymbol type)
                    return result;
                template = type.GetMembers().OfType<IPropertySymbol>()
                    .Where(p => p.DeclaringSyntaxReferences.Length > 0)
                    .OrderBy(p => p.DeclaringSyntaxReferences[0].Span.Start)
                    .Select(p => NetworkParser.ParseLayer(p, diagnostics, cancellation, template: true))
                    .OfType<LayerSpec>().ToList();
                title = $"{type.Name}({Number(numbers, 0)}{(stride > 1 ? $", stride {stride}" : "")})";
                break;
            case "ResidualBlock":
                template = Residual(location, bottleneck: false, expansion: 1);
                title = $"ResidualBlock({Number(numbers, 0)}{(stride > 1 ? $", stride {stride}" : "")})";
                break;
            case "BottleneckBlock":
            {
                int expansion = NetworkParser.Named(block, "Expansion", 4);
                template = Residual(location, bottleneck: true, expansion);
                title = $"BottleneckBlock({Number(numbers, 0)}{(stride > 1 ? $", stride {stride}" : "")})";
                break;
            }
            default:
                template = Inception(location, numbers);
                title = $"Inception({string.Join(", ", numbers)})";
                break;
        }
        if (template.Count == 0)
        {
            if (kind == "Block")
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.EmptyBlock, location, property.Name, ((ITypeSymbol)block.ConstructorArguments[0].Value!).Name));
            return result;
        }
        int channels = numbers.Length > 0 ? numbers[0] : 0;
        // [Output] on the block's property marks its last layer.
        var outputArguments = new List<ArgumentLocation>();
        (OutputRole role, float lossWeight) = NetworkParser.OutputOf(property, outputArguments, cancellation);
        title = property.Name + ": " + title + (repeat > 1 ? $" x {repeat}" : "");

        for (int r = 0; r < repeat; r++)
        {
            string prefix = property.Name + "_" + (repeat > 1 ? r.ToString(CultureInfo.InvariantCulture) + "_" : "");
            var local = new Dictionary<string, string>(System.StringComparer.Ordinal);
            foreach (LayerSpec t in template)
            {
                local[t.Name] = prefix + t.Name;
                local[t.Member] = prefix + t.Name;
            }
            string Rename(string name) => name == AttributeNames.BlockInput ? input : local.TryGetValue(name, out string? inner) ? inner : name;
            for (int k = 0; k < template.Count; k++)
            {
                LayerSpec t = template[k];
                bool last = r == repeat - 1 && k == template.Count - 1;
                // The first layer reads the block's input; the others keep what they read, renamed into this repetition.
                EquatableArray<string> inputs = k == 0 && t.Inputs.Count == 0
                    ? new[] { input }.ToEquatableArray()
                    : t.Inputs.Select(Rename).ToEquatableArray();
                result.Add(t with
                {
                    Member = last ? property.Name : "",
                    Name = prefix + t.Name,
                    Modifiers = last ? Modifiers(property, cancellation) : "",
                    Count = Scale(t.Count, channels),
                    Stride = t.Stride >= AttributeNames.BlockParameter ? (r == 0 ? stride : 1) : t.Stride,
                    Inputs = inputs,
                    Location = location,
                    Block = title,
                    Output = last ? role : OutputRole.None,
                    LossWeight = last ? lossWeight : 1f,
                    Arguments = last ? t.Arguments.Concat(outputArguments).ToEquatableArray() : t.Arguments,
                });
            }
            input = prefix + template[template.Count - 1].Name;
        }
        return result;
    }

    /// <summary>A template count: the block's channels times count / Block.Channels when it is a multiple of Block.Channels / 16.</summary>
    private static int Scale(int count, int channels)
    {
        const int unit = AttributeNames.BlockParameter / 16;
        return count >= unit && count % unit == 0 ? (int)((long)channels * (count / unit) / 16) : count;
    }

    private static string Number(int[] numbers, int index) => numbers.Length > index ? numbers[index].ToString(CultureInfo.InvariantCulture) : "?";

    private static string Modifiers(IPropertySymbol property, CancellationToken cancellation) =>
        property.DeclaringSyntaxReferences[0].GetSyntax(cancellation) is Microsoft.CodeAnalysis.CSharp.Syntax.PropertyDeclarationSyntax syntax
            ? string.Join(" ", syntax.Modifiers.Where(m => !m.IsKind(Microsoft.CodeAnalysis.CSharp.SyntaxKind.PartialKeyword)).Select(m => m.Text))
            : "";

    // ---------------------------------------------------------------- built-in templates

    private const int Channels = AttributeNames.BlockParameter, Stride = AttributeNames.BlockParameter;

    /// <summary>One template layer, written as its attributes would say it.</summary>
    private static LayerSpec Layer(LocationInfo? location, string name, OpKind op, int count = 0, int kernel = 1, int stride = 1, int pad = 0, bool bias = true,
        ActivationKind activation = ActivationKind.None, string[]? inputs = null, bool project = false) =>
        new(name, name, "", op, count, kernel, kernel, stride, op is OpKind.MaxPool or OpKind.AvgPool || stride != 1, false, pad, pad > 0, bias, false,
            activation, 0.01f, location, EquatableArray<ArgumentLocation>.Empty, (inputs ?? System.Array.Empty<string>()).ToEquatableArray(), Project: project);

    /// <summary>ResNet's basic block (two 3x3 convolutions) or bottleneck block (1x1, 3x3 with the stride, 1x1 to expansion x channels).</summary>
    private static List<LayerSpec> Residual(LocationInfo? at, bool bottleneck, int expansion)
    {
        var layers = new List<LayerSpec>();
        if (bottleneck)
        {
            layers.Add(Layer(at, "Conv1", OpKind.Conv, Channels, 1, bias: false));
            layers.Add(Layer(at, "BN1", OpKind.BatchNorm, activation: ActivationKind.ReLU));
            layers.Add(Layer(at, "Conv2", OpKind.Conv, Channels, 3, Stride, 1, bias: false));
            layers.Add(Layer(at, "BN2", OpKind.BatchNorm, activation: ActivationKind.ReLU));
            layers.Add(Layer(at, "Conv3", OpKind.Conv, Channels * expansion, 1, bias: false));
            layers.Add(Layer(at, "BN3", OpKind.BatchNorm));
        }
        else
        {
            layers.Add(Layer(at, "Conv1", OpKind.Conv, Channels, 3, Stride, 1, bias: false));
            layers.Add(Layer(at, "BN1", OpKind.BatchNorm, activation: ActivationKind.ReLU));
            layers.Add(Layer(at, "Conv2", OpKind.Conv, Channels, 3, 1, 1, bias: false));
            layers.Add(Layer(at, "BN2", OpKind.BatchNorm));
        }
        layers.Add(Layer(at, "Add", OpKind.Add, activation: ActivationKind.ReLU, inputs: new[] { AttributeNames.BlockInput }, project: true));
        return layers;
    }

    /// <summary>GoogLeNet's Inception module from the six widths of its table.</summary>
    private static List<LayerSpec> Inception(LocationInfo? at, int[] widths)
    {
        if (widths.Length != 6)
            return new List<LayerSpec>();
        string[] fromInput = { AttributeNames.BlockInput };
        return new List<LayerSpec>
        {
            Layer(at, "Branch1", OpKind.Conv, widths[0], 1, activation: ActivationKind.ReLU, inputs: fromInput),
            Layer(at, "Branch2Reduce", OpKind.Conv, widths[1], 1, activation: ActivationKind.ReLU, inputs: fromInput),
            Layer(at, "Branch2", OpKind.Conv, widths[2], 3, 1, 1, activation: ActivationKind.ReLU),
            Layer(at, "Branch3Reduce", OpKind.Conv, widths[3], 1, activation: ActivationKind.ReLU, inputs: fromInput),
            Layer(at, "Branch3", OpKind.Conv, widths[4], 5, 1, 2, activation: ActivationKind.ReLU),
            Layer(at, "Branch4Pool", OpKind.MaxPool, 0, 3, 1, 1, inputs: fromInput),
            Layer(at, "Branch4", OpKind.Conv, widths[5], 1, activation: ActivationKind.ReLU),
            Layer(at, "Concat", OpKind.Concat, inputs: new[] { "Branch1", "Branch2", "Branch3", "Branch4" }),
        };
    }
}
