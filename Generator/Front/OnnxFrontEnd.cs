using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Unroll.Generator.Model;

namespace Unroll.Generator.Front;

/// <summary>An [OnnxNetwork] class as declared: everything but the model, which comes from the AdditionalFiles.</summary>
/// <param name="Path">The model's path as the attribute gives it.</param>
/// <param name="PathLocation">The attribute's argument: where the ONNX diagnostics point.</param>
internal sealed record OnnxTarget(string? Namespace, string ClassName, string Modifiers, string Path, LocationInfo? PathLocation,
    LocationInfo? ClassLocation, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>
/// Front end of [OnnxNetwork] classes. Three steps, each cached on its own: the class (<see cref="Parse"/>), each .onnx
/// AdditionalFiles item read and translated once per change of the file (<see cref="Read"/>), and the two joined into the
/// <see cref="NetworkSpec"/> the rest of the generator compiles (<see cref="Join"/>).
/// </summary>
internal static class OnnxFrontEnd
{
    public static OnnxTarget Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellation)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var syntax = (ClassDeclarationSyntax)context.TargetNode;
        var diagnostics = new List<DiagnosticInfo>();
        LocationInfo? classLocation = NetworkParser.CheckClass(type, syntax, diagnostics);
        AttributeData attribute = context.Attributes[0];
        string path = attribute.ConstructorArguments.Length > 0 && attribute.ConstructorArguments[0].Value is string p ? p : "";
        SyntaxNode? attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellation);
        LocationInfo? pathLocation = attributeSyntax is AttributeSyntax { ArgumentList.Arguments: { Count: > 0 } arguments }
            ? LocationInfo.From(arguments[0])
            : LocationInfo.From(attributeSyntax);
        return new OnnxTarget(NetworkParser.Namespace(type), type.Name, NetworkParser.ClassModifiers(syntax), path, pathLocation, classLocation,
            diagnostics.ToEquatableArray());
    }

    /// <summary>Whether an AdditionalFiles item is an ONNX model (by its extension).</summary>
    public static bool IsModel(AdditionalText text) => text.Path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads and translates one model file; a file that cannot be read becomes an import that says why.</summary>
    public static OnnxImport Read(AdditionalText text, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        byte[] bytes;
        try
        {
            // A model is binary, and AdditionalText.GetText decodes text (the compiler turns a file with NUL bytes into an
            // error), so the bytes come from the file itself. The pipeline reruns this step when the item changes.
#pragma warning disable RS1035 // File IO: the one way to read a binary AdditionalFiles item.
            bytes = File.ReadAllBytes(text.Path);
#pragma warning restore RS1035
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return new OnnxImport(text.Path, null, EquatableArray<LayerSpec>.Empty, EquatableArray<OnnxBinding>.Empty,
                EquatableArray<OnnxProblem>.Empty, e.Message);
        }
        try
        {
            return OnnxTranslator.Translate(text.Path, bytes);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug of the importer, not of the file: said as such rather than crashing the generator.
            return new OnnxImport(text.Path, null, EquatableArray<LayerSpec>.Empty, EquatableArray<OnnxBinding>.Empty,
                EquatableArray<OnnxProblem>.Empty, $"the importer failed ({e.GetType().Name}: {e.Message}); please report this with the model");
        }
    }

    /// <summary>The network of <paramref name="target"/>: its model found among <paramref name="models"/> by the end of its path.</summary>
    public static NetworkSpec Join(OnnxTarget target, ImmutableArray<OnnxImport> models)
    {
        var diagnostics = new List<DiagnosticInfo>(target.Diagnostics);
        string wanted = Normalise(target.Path).TrimStart('/');
        if (wanted.StartsWith("./", StringComparison.Ordinal))
            wanted = wanted.Substring(2);
        var matches = wanted.Length == 0 ? new List<OnnxImport>() : models
            .Where(m => Normalise(m.Path).Equals(wanted, StringComparison.OrdinalIgnoreCase)
                || Normalise(m.Path).EndsWith("/" + wanted, StringComparison.OrdinalIgnoreCase))
            .OrderBy(m => m.Path, StringComparer.Ordinal)
            .ToList();
        OnnxImport? model = null;
        if (matches.Count == 0)
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.OnnxFileNotFound, target.PathLocation, target.ClassName, target.Path));
        else if (matches.Count > 1)
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.OnnxFileAmbiguous, target.PathLocation, target.ClassName, target.Path,
                string.Join(", ", matches.Select(m => m.Path))));
        else
            model = matches[0];

        if (model?.Damage is { } damage)
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.OnnxFileDamaged, target.PathLocation, target.ClassName, target.Path, damage));
        foreach (OnnxProblem problem in model?.Problems ?? EquatableArray<OnnxProblem>.Empty)
            diagnostics.Add(problem.Node.Length == 0 && problem.Op.Length == 0
                ? DiagnosticInfo.Create(Diagnostics.OnnxGraphUnsupported, target.PathLocation, target.ClassName, target.Path, problem.Message)
                : DiagnosticInfo.Create(Diagnostics.OnnxNodeUnsupported, target.PathLocation, target.ClassName, problem.Node, problem.Op, problem.Message));

        // Every layer points at the attribute's path: shape diagnostics of the graph stage land there too.
        EquatableArray<LayerSpec> layers = (model?.Layers ?? EquatableArray<LayerSpec>.Empty)
            .Select(l => l with { Location = target.PathLocation }).ToEquatableArray();
        var source = new OnnxSource(target.Path, model?.Bindings ?? EquatableArray<OnnxBinding>.Empty)
        {
            InputName = model?.InputName ?? "",
            OutputNames = model?.OutputNames ?? EquatableArray<OnnxOutputName>.Empty,
        };
        return new NetworkSpec(target.Namespace, target.ClassName, target.Modifiers, model?.Input, target.PathLocation, target.ClassLocation,
            layers, diagnostics.ToEquatableArray(), source);
    }

    private static string Normalise(string path) => path.Replace('\\', '/');
}
