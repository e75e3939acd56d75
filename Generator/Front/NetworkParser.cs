using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Unroll.Generator.Model;

namespace Unroll.Generator.Front;

/// <summary>Front end: reads a [Network] class's attributes into a <see cref="NetworkSpec"/>. Checks only what the declaration itself shows.</summary>
internal static class NetworkParser
{
    public static NetworkSpec Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellation)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var syntax = (ClassDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();
        LocationInfo? classLocation = CheckClass(type, syntax, diagnostics);

        // The input shape, from [Network(Input = "...")].
        AttributeData networkAttribute = context.Attributes[0];
        string? input = null;
        LocationInfo? inputLocation = LocationInfo.From(networkAttribute.ApplicationSyntaxReference?.GetSyntax(cancellation));
        foreach (KeyValuePair<string, TypedConstant> named in networkAttribute.NamedArguments)
            if (named.Key == "Input" && named.Value.Value is string text)
                input = text;
        if (networkAttribute.ApplicationSyntaxReference?.GetSyntax(cancellation) is AttributeSyntax networkSyntax)
            foreach (AttributeArgumentSyntax argument in networkSyntax.ArgumentList?.Arguments ?? default)
                if (argument.NameEquals?.Name.Identifier.Text == "Input")
                    inputLocation = LocationInfo.From(argument);

        // Layers: partial Layer properties with a layer attribute, in source order.
        var layers = new List<LayerSpec>();
        var properties = type.GetMembers().OfType<IPropertySymbol>()
            .Where(p => p.DeclaringSyntaxReferences.Length > 0)
            .OrderBy(p => p.DeclaringSyntaxReferences[0].SyntaxTree.FilePath, System.StringComparer.Ordinal)
            .ThenBy(p => p.DeclaringSyntaxReferences[0].Span.Start);
        foreach (IPropertySymbol property in properties)
        {
            cancellation.ThrowIfCancellationRequested();
            if (BlockExpander.BlockAttribute(property) is { } block)
            {
                if (MemberProblem(property, cancellation, template: false) is { } problem)
                    diagnostics.Add(DiagnosticInfo.Create(Diagnostics.BadLayerMember, LocationInfo.From(property.Locations.FirstOrDefault()), property.Name, problem));
                else
                    layers.AddRange(BlockExpander.Expand(property, block, layers.Count > 0 ? layers[layers.Count - 1].Name : AttributeNames.NetworkInput, diagnostics, cancellation));
                continue;
            }
            LayerSpec? layer = ParseLayer(property, diagnostics, cancellation);
            if (layer is not null)
                layers.Add(layer);
        }

        return new NetworkSpec(Namespace(type), type.Name, ClassModifiers(syntax), input, inputLocation, classLocation,
            layers.ToEquatableArray(), diagnostics.ToEquatableArray());
    }

    /// <summary>
    /// Checks that a network class can take generated members (partial, top-level, not generic, no base class, not static
    /// or abstract), for [Network] and [OnnxNetwork] alike. Returns the location of the class's name.
    /// </summary>
    internal static LocationInfo? CheckClass(INamedTypeSymbol type, ClassDeclarationSyntax syntax, List<DiagnosticInfo> diagnostics)
    {
        LocationInfo? classLocation = LocationInfo.From(syntax.Identifier.GetLocation());
        if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword))
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.NotPartial, classLocation, type.Name));
        if (type.ContainingType is not null)
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.BadNetworkClass, classLocation, type.Name, "is nested in another type"));
        else if (type.IsGenericType)
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.BadNetworkClass, classLocation, type.Name, "is generic"));
        else if (type.BaseType is { SpecialType: not SpecialType.System_Object } baseType)
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.BadNetworkClass, classLocation, type.Name, $"derives from '{baseType.Name}'"));
        else if (type.IsStatic || type.IsAbstract)
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.BadNetworkClass, classLocation, type.Name, "is static or abstract"));
        return classLocation;
    }

    /// <summary>The class's modifiers other than partial, as written ("public sealed").</summary>
    internal static string ClassModifiers(ClassDeclarationSyntax syntax) =>
        string.Join(" ", syntax.Modifiers.Where(m => !m.IsKind(SyntaxKind.PartialKeyword)).Select(m => m.Text));

    /// <summary>The class's namespace, or null in the global namespace.</summary>
    internal static string? Namespace(INamedTypeSymbol type) =>
        type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();

    /// <summary>
    /// Reads one layer property. In a block template (<paramref name="template"/>) the property may be any property of type
    /// Layer (usually <c>abstract Layer X { get; }</c>); in a network it must be <c>partial Layer X { get; }</c>.
    /// </summary>
    internal static LayerSpec? ParseLayer(IPropertySymbol property, List<DiagnosticInfo> diagnostics, CancellationToken cancellation, bool template = false)
    {
        AttributeData? op = null;
        AttributeData? activation = null;
        foreach (AttributeData attribute in property.GetAttributes())
        {
            string? name = attribute.AttributeClass?.ToDisplayString();
            bool isOp = name is AttributeNames.Conv or AttributeNames.MaxPool or AttributeNames.AvgPool or AttributeNames.Dense
                or AttributeNames.Add or AttributeNames.Concat or AttributeNames.GlobalAvgPool or AttributeNames.BatchNorm
                or AttributeNames.Dropout or AttributeNames.LRN or AttributeNames.ZeroPad;
            bool isActivation = name is AttributeNames.ReLU or AttributeNames.LeakyReLU or AttributeNames.Clip or AttributeNames.Tanh or AttributeNames.Sigmoid or AttributeNames.Softmax;
            if (!isOp && !isActivation)
                continue;
            ref AttributeData? slot = ref isOp ? ref op : ref activation;
            if (slot is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.ConflictingAttributes,
                    LocationInfo.From(attribute.ApplicationSyntaxReference?.GetSyntax(cancellation)),
                    property.Name, ShortName(slot), ShortName(attribute)));
                continue;
            }
            slot = attribute;
        }
        AttributeData? main = op ?? activation;
        if (main is null)
            return null;

        var syntax = property.DeclaringSyntaxReferences[0].GetSyntax(cancellation) as PropertyDeclarationSyntax;
        string? problem = MemberProblem(property, cancellation, template);
        if (problem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.BadLayerMember,
                LocationInfo.From(property.Locations.FirstOrDefault()), property.Name, problem));
            return null;
        }

        var arguments = new List<ArgumentLocation>();
        Collect(op, arguments, cancellation);
        Collect(activation, arguments, cancellation);
        if (activation is not null && LocationInfo.From(activation.ApplicationSyntaxReference?.GetSyntax(cancellation)) is { } activationLocation)
            arguments.Add(new ArgumentLocation("@activation", activationLocation));

        OpKind kind = op is null ? OpKind.Activation : ShortName(op) switch
        {
            "Conv" => OpKind.Conv,
            "MaxPool" => OpKind.MaxPool,
            "AvgPool" => OpKind.AvgPool,
            "Add" => OpKind.Add,
            "Concat" => OpKind.Concat,
            "GlobalAvgPool" => OpKind.GlobalAvgPool,
            "BatchNorm" => OpKind.BatchNorm,
            "Dropout" => OpKind.Dropout,
            "LRN" => OpKind.LRN,
            "ZeroPad" => OpKind.ZeroPad,
            _ => OpKind.Dense,
        };
        int count = op is not null && op.ConstructorArguments.Length > 0 && op.ConstructorArguments[0].Kind != TypedConstantKind.Array && op.ConstructorArguments[0].Value is int c ? c : 0;

        // Inputs: a merge lists them in its constructor (params string[]); any layer may name one with From.
        var inputs = new List<string>();
        if (kind is OpKind.Add or OpKind.Concat && op!.ConstructorArguments.Length > 0 && op.ConstructorArguments[0].Kind == TypedConstantKind.Array)
            foreach (TypedConstant value in op.ConstructorArguments[0].Values)
                inputs.Add(value.Value as string ?? "");
        else if (Named<string?>(op ?? activation, "From", null) is { } from)
            inputs.Add(from);
        int kernel = Named(op, "Kernel", 0);
        int kernelH = Named(op, "KernelHeight", 0), kernelW = Named(op, "KernelWidth", 0);
        if (kind is OpKind.MaxPool or OpKind.AvgPool)
            kernel = count;
        bool strideSet = HasNamed(op, "Stride");
        int stride = Named(op, "Stride", kind is OpKind.MaxPool or OpKind.AvgPool ? 0 : 1);
        bool padSet = HasNamed(op, "Pad");
        int pad = Named(op, "Pad", 0);
        bool same = Named(op, "Padding", 0) == 1;

        ActivationKind act = activation is null ? ActivationKind.None : ShortName(activation) switch
        {
            "ReLU" => ActivationKind.ReLU,
            "LeakyReLU" => ActivationKind.LeakyReLU,
            "Clip" => ActivationKind.Clip,
            "Tanh" => ActivationKind.Tanh,
            "Sigmoid" => ActivationKind.Sigmoid,
            _ => ActivationKind.Softmax,
        };
        // The activation's arguments: a leaky ReLU's slope, a clip's bounds (checked in shape inference).
        float Argument(int index, float fallback) =>
            activation is not null && activation.ConstructorArguments.Length > index && activation.ConstructorArguments[index].Value is float value ? value : fallback;
        float alpha = act == ActivationKind.LeakyReLU ? Argument(0, 0.01f) : 0.01f;
        (float clipMin, float clipMax) = act == ActivationKind.Clip ? (Argument(0, float.NegativeInfinity), Argument(1, float.PositiveInfinity)) : (float.NegativeInfinity, float.PositiveInfinity);

        string layerName = property.Name;
        foreach (AttributeData? attribute in new[] { op, activation })
            if (attribute is not null)
                foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
                    if (named.Key == "Name" && named.Value.Value is string n)
                        layerName = n;

        // [Output] belongs to the network's declaration: a template's layers cannot be outputs.
        (OutputRole role, float lossWeight) = template ? (OutputRole.None, 1f) : OutputOf(property, arguments, cancellation);

        string modifiers = template ? "" : string.Join(" ", syntax!.Modifiers.Where(m => !m.IsKind(SyntaxKind.PartialKeyword)).Select(m => m.Text));
        return new LayerSpec(property.Name, layerName, modifiers, kind, count,
            kernelH > 0 ? kernelH : kernel, kernelW > 0 ? kernelW : kernel,
            stride, strideSet, same, pad, padSet,
            Named(op, "Bias", true), Named(op, "CountIncludePad", false), act, alpha,
            LocationInfo.From(main.ApplicationSyntaxReference?.GetSyntax(cancellation)), arguments.ToEquatableArray(), inputs.ToEquatableArray(),
            Named(op, "Epsilon", 1e-5f), Named(op, "Momentum", 0.1f), Named(op, "Project", false), "",
            kind == OpKind.Dropout && op!.ConstructorArguments.Length > 0 && op.ConstructorArguments[0].Value is float rate ? rate : 0f,
            kind == OpKind.LRN ? new LrnParameters(Named(op, "Size", 5), Named(op, "Alpha", 1e-4f), Named(op, "Beta", 0.75f), Named(op, "K", 2f)) : null,
            kind == OpKind.ZeroPad ? new Sides(Named(op, "Top", count), Named(op, "Left", count), Named(op, "Bottom", count), Named(op, "Right", count)) : null,
            role, lossWeight, ClipMin: clipMin, ClipMax: clipMax);
    }

    /// <summary>
    /// What <c>[Output]</c> on <paramref name="property"/> says: none, main or auxiliary, and the loss weight. Its arguments'
    /// locations join <paramref name="arguments"/>, the attribute's own as "@output".
    /// </summary>
    internal static (OutputRole Role, float LossWeight) OutputOf(IPropertySymbol property, List<ArgumentLocation> arguments, CancellationToken cancellation)
    {
        AttributeData? output = property.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == AttributeNames.Output);
        if (output is null)
            return (OutputRole.None, 1f);
        Collect(output, arguments, cancellation);
        if (LocationInfo.From(output.ApplicationSyntaxReference?.GetSyntax(cancellation)) is { } location)
            arguments.Add(new ArgumentLocation("@output", location));
        return (Named(output, "Auxiliary", false) ? OutputRole.Auxiliary : OutputRole.Main, Named(output, "LossWeight", 1f));
    }

    /// <summary>What is wrong with a layer property's declaration, or null.</summary>
    internal static string? MemberProblem(IPropertySymbol property, CancellationToken cancellation, bool template)
    {
        var syntax = property.DeclaringSyntaxReferences[0].GetSyntax(cancellation) as PropertyDeclarationSyntax;
        if (syntax is null)
            return "it is not a property";
        if (property.Type.ToDisplayString() != AttributeNames.LayerType)
            return $"its type is '{property.Type.ToDisplayString()}'";
        if (template)
            return null;
        return !syntax.Modifiers.Any(SyntaxKind.PartialKeyword) ? "it is not partial"
            : syntax.Modifiers.Any(SyntaxKind.StaticKeyword) ? "it is static"
            : syntax.ExpressionBody is not null || syntax.AccessorList is null
              || syntax.AccessorList.Accessors.Count != 1 || !syntax.AccessorList.Accessors[0].IsKind(SyntaxKind.GetAccessorDeclaration)
              || syntax.AccessorList.Accessors[0].Body is not null || syntax.AccessorList.Accessors[0].ExpressionBody is not null
                ? "it needs exactly '{ get; }'"
                : null;
    }

    private static void Collect(AttributeData? attribute, List<ArgumentLocation> into, CancellationToken cancellation)
    {
        if (attribute?.ApplicationSyntaxReference?.GetSyntax(cancellation) is not AttributeSyntax syntax)
            return;
        int position = 0;
        foreach (AttributeArgumentSyntax argument in syntax.ArgumentList?.Arguments ?? default)
        {
            string name = argument.NameEquals?.Name.Identifier.Text ?? argument.NameColon?.Name.Identifier.Text ?? (position++).ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (LocationInfo.From(argument) is { } location)
                into.Add(new ArgumentLocation(name, location));
        }
    }

    internal static bool HasNamed(AttributeData? attribute, string name) =>
        attribute is not null && attribute.NamedArguments.Any(a => a.Key == name);

    internal static T Named<T>(AttributeData? attribute, string name, T fallback)
    {
        if (attribute is not null)
            foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
                if (named.Key == name && named.Value.Value is T value)
                    return value;
        return fallback;
    }

    private static string ShortName(AttributeData attribute)
    {
        string name = attribute.AttributeClass?.Name ?? "?";
        return name.EndsWith("Attribute", System.StringComparison.Ordinal) ? name.Substring(0, name.Length - "Attribute".Length) : name;
    }
}
