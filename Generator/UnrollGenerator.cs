using System;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Unroll.Generator.Emit;
using Unroll.Generator.Front;
using Unroll.Generator.Graph;
using Unroll.Generator.Model;
using Unroll.Generator.Plan;

namespace Unroll.Generator;

/// <summary>
/// The Unroll source generator. Stages: front end (attributes to <see cref="NetworkSpec"/>), graph
/// (<see cref="ShapeInference"/>: checks and shapes), plan (<see cref="Planner"/>: memory layout),
/// emit (<see cref="NetworkEmitter"/>: C#). Every value between stages is equatable, so unchanged
/// networks are not regenerated.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class UnrollGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline stages, for incrementality tests.</summary>
    public static class Stages
    {
        public const string Spec = "Unroll.Spec";
        public const string Model = "Unroll.Model";
        public const string Plan = "Unroll.Plan";
        public const string OnnxModel = "Unroll.OnnxModel";
    }

    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<NetworkSpec?> specs = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeNames.Network,
                static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax,
                static (context, cancellation) => SafeParse(context, cancellation))
            .WithTrackingName(Stages.Spec);
        Compile(context, specs);

        // [OnnxNetwork]: each .onnx AdditionalFiles item is read and translated once per change of the item, as a value
        // (not the AdditionalText); each class is joined with the translated models and then compiled like any network.
        IncrementalValueProvider<ImmutableArray<OnnxImport>> models = context.AdditionalTextsProvider
            .Where(static text => OnnxFrontEnd.IsModel(text))
            .Select(static (text, cancellation) => OnnxFrontEnd.Read(text, cancellation))
            .WithTrackingName(Stages.OnnxModel)
            .Collect();
        IncrementalValuesProvider<NetworkSpec?> onnxSpecs = context.SyntaxProvider
            .ForAttributeWithMetadataName(AttributeNames.OnnxNetwork,
                static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax,
                static (context, cancellation) => OnnxFrontEnd.Parse(context, cancellation))
            .Combine(models)
            .Select(static NetworkSpec? (pair, _) => SafeJoin(pair.Left, pair.Right))
            .WithTrackingName(Stages.Spec);
        Compile(context, onnxSpecs);
    }

    /// <summary>The stages after the front end, the same for networks declared with attributes and compiled from ONNX models.</summary>
    private static void Compile(IncrementalGeneratorInitializationContext context, IncrementalValuesProvider<NetworkSpec?> specs)
    {
        IncrementalValuesProvider<ModelResult> models = specs
            .Where(static spec => spec is not null)
            .Select(static (spec, _) => SafeInfer(spec!))
            .WithTrackingName(Stages.Model);

        // Diagnostics are reported against the real syntax trees (found again by path), so that
        // #pragma warning disable and .editorconfig severities apply to them. Only this cheap step
        // sees the compilation; the stages before it stay cached.
        IncrementalValuesProvider<EquatableArray<DiagnosticInfo>> diagnostics = models
            .Select(static (result, _) => result.Diagnostics)
            .Where(static list => list.Count > 0);
        context.RegisterSourceOutput(diagnostics.Combine(context.CompilationProvider), static (output, pair) =>
        {
            foreach (DiagnosticInfo diagnostic in pair.Left)
                output.ReportDiagnostic(diagnostic.ToDiagnostic(pair.Right));
        });

        // A declaration with errors still gets its layer properties implemented, so the user sees
        // Unroll's diagnostics rather than a cascade of "partial member has no implementation".
        IncrementalValuesProvider<NetworkSpec> failed = models
            .Where(static result => result.Model is null)
            .Select(static (result, _) => result.Spec);
        context.RegisterSourceOutput(failed, static (output, spec) =>
        {
            if (NetworkEmitter.Stub(spec) is { } stub)
                output.AddSource(NetworkEmitter.HintName(spec.Namespace, spec.ClassName, ""), stub);
        });

        IncrementalValuesProvider<NetworkPlan> plans = models
            .Where(static result => result.Model is not null)
            .Select(static (result, _) => Planner.Create(result.Model!))
            .WithTrackingName(Stages.Plan);

        // The shell is what user code sees; the kernels only implement its optional partial methods,
        // so the IDE may skip generating them without breaking the semantic model.
        context.RegisterSourceOutput(plans, static (output, plan) =>
            Guard(output, plan, () => output.AddSource(NetworkEmitter.HintName(plan.Model, ""), NetworkEmitter.Shell(plan))));
        context.RegisterImplementationSourceOutput(plans, static (output, plan) =>
            Guard(output, plan, () =>
            {
                foreach (VectorIsa isa in VectorIsa.All)
                    output.AddSource(NetworkEmitter.HintName(plan.Model, isa.Name), NetworkEmitter.Kernels(plan, isa));
            }));
    }

    private static void Guard(SourceProductionContext output, NetworkPlan plan, Action emit)
    {
        try
        {
            emit();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            output.ReportDiagnostic(Diagnostic.Create(Diagnostics.InternalError, Location.None, plan.Model.ClassName, e.GetType().Name + ": " + e.Message));
        }
    }

    /// <summary>The graph stage's result: a model when the declaration is valid, and the diagnostics either way.</summary>
    internal sealed record ModelResult(NetworkSpec Spec, NetworkModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);

    private static NetworkSpec? SafeParse(GeneratorAttributeSyntaxContext context, System.Threading.CancellationToken cancellation)
    {
        try
        {
            return NetworkParser.Parse(context, cancellation);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            string name = context.TargetSymbol.Name;
            var diagnostic = DiagnosticInfo.Create(Diagnostics.InternalError, LocationInfo.From(context.TargetNode.GetLocation()), name, e.GetType().Name + ": " + e.Message);
            return new NetworkSpec(null, name, "", null, null, null, EquatableArray<LayerSpec>.Empty, new[] { diagnostic }.ToEquatableArray());
        }
    }

    private static NetworkSpec SafeJoin(OnnxTarget target, ImmutableArray<OnnxImport> models)
    {
        try
        {
            return OnnxFrontEnd.Join(target, models);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var diagnostic = DiagnosticInfo.Create(Diagnostics.InternalError, target.ClassLocation, target.ClassName, e.GetType().Name + ": " + e.Message);
            return new NetworkSpec(null, target.ClassName, "", null, null, null, EquatableArray<LayerSpec>.Empty, new[] { diagnostic }.ToEquatableArray());
        }
    }

    private static ModelResult SafeInfer(NetworkSpec spec)
    {
        try
        {
            (NetworkModel? model, EquatableArray<DiagnosticInfo> diagnostics) = ShapeInference.Infer(spec);
            return new ModelResult(spec, model, diagnostics);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var diagnostic = DiagnosticInfo.Create(Diagnostics.InternalError, spec.ClassLocation, spec.ClassName, e.GetType().Name + ": " + e.Message);
            return new ModelResult(spec, null, spec.Diagnostics.Concat(new[] { diagnostic }).ToEquatableArray());
        }
    }
}
