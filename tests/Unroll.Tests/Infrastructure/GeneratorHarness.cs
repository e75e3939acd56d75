using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Unroll.Generator;

namespace Unroll.Tests.Infrastructure;

/// <summary>The result of running the generator over some source.</summary>
public sealed record GeneratorRun(CSharpCompilation Input, Compilation Output, GeneratorDriverRunResult Result, ImmutableArray<Diagnostic> GeneratorDiagnostics)
{
    /// <summary>Diagnostics of the generator and of compiling its output, errors and warnings only.</summary>
    public IReadOnlyList<Diagnostic> AllDiagnostics =>
        GeneratorDiagnostics.Concat(Output.GetDiagnostics()).Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();

    /// <summary>Generated sources by hint name.</summary>
    public IReadOnlyDictionary<string, string> Sources =>
        Result.Results.SelectMany(r => r.GeneratedSources).ToDictionary(s => s.HintName, s => s.SourceText.ToString());

    /// <summary>The generated kernels of network <paramref name="network"/> for instruction set <paramref name="isa"/> (Avx512, Avx2 or Portable).</summary>
    public string Kernels(string network, string isa) =>
        Result.Results.SelectMany(r => r.GeneratedSources).Single(s => s.HintName.EndsWith($"{network}.{isa}.g.cs", StringComparison.Ordinal)).SourceText.ToString();
}

/// <summary>Runs the Unroll generator in memory with a plain CSharpGeneratorDriver; references come from the running runtime, so nothing is downloaded.</summary>
public static class GeneratorHarness
{
    private static readonly Lazy<MetadataReference[]> LazyReferences = new(() =>
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .ToList();
        paths.Add(typeof(Network).Assembly.Location);
        return paths.Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToArray();
    });

    public static MetadataReference[] References => LazyReferences.Value;

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Preview);

    public static CSharpCompilation Compilation(string source, string assemblyName = "UserCode", OptimizationLevel optimization = OptimizationLevel.Debug) =>
        CSharpCompilation.Create(assemblyName,
            new[] { CSharpSyntaxTree.ParseText(source, ParseOptions, path: "Network.cs") },
            References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, optimizationLevel: optimization));

    /// <param name="additionalFiles">Paths of the project's AdditionalFiles items (ONNX models, read from disk by the generator).</param>
    public static GeneratorDriver CreateDriver(IEnumerable<string>? additionalFiles = null) =>
        CSharpGeneratorDriver.Create(new[] { new UnrollGenerator().AsSourceGenerator() },
            additionalTexts: (additionalFiles ?? Array.Empty<string>()).Select(p => (AdditionalText)new AdditionalFile(p)),
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <param name="additionalFiles">Paths of the project's AdditionalFiles items.</param>
    public static GeneratorRun Run(string source, OptimizationLevel optimization = OptimizationLevel.Debug, IEnumerable<string>? additionalFiles = null)
    {
        CSharpCompilation input = Compilation(source, optimization: optimization);
        GeneratorDriver driver = CreateDriver(additionalFiles).RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return new GeneratorRun(input, output, driver.GetRunResult(), diagnostics);
    }

    /// <summary>Generates, compiles (optimised) and loads <paramref name="source"/>; fails with every error if it does not compile.</summary>
    /// <param name="additionalFiles">Paths of the project's AdditionalFiles items.</param>
    public static Assembly CompileAndLoad(string source, IEnumerable<string>? additionalFiles = null)
    {
        GeneratorRun run = Run(source, OptimizationLevel.Release, additionalFiles);
        var errors = run.AllDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        if (errors.Count > 0)
            throw new InvalidOperationException("Generated code does not compile:\n" + string.Join("\n", errors.Take(20)));
        using var image = new MemoryStream();
        var emit = run.Output.Emit(image);
        if (!emit.Success)
            throw new InvalidOperationException("Emit failed:\n" + string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(20)));
        image.Position = 0;
        return new AssemblyLoadContext("unroll-test-" + Guid.NewGuid().ToString("N"), isCollectible: true).LoadFromStream(image);
    }

    /// <summary>Creates network <paramref name="className"/> from an assembly made by <see cref="CompileAndLoad"/>.</summary>
    public static Network Create(Assembly assembly, string className, NetworkOptions options) =>
        (Network)Activator.CreateInstance(assembly.GetType(className, throwOnError: true)!, options)!;
}

/// <summary>An AdditionalFiles item on disk, as the compiler hands it to generators (Unroll reads .onnx items by their path).</summary>
public sealed class AdditionalFile(string path) : AdditionalText
{
    public override string Path { get; } = path;

    public override Microsoft.CodeAnalysis.Text.SourceText? GetText(System.Threading.CancellationToken cancellationToken = default) =>
        Microsoft.CodeAnalysis.Text.SourceText.From(File.ReadAllText(Path));
}
