using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Unroll.Onnx;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Onnx.Conformance;

/// <summary>
/// ONNX's own backend node tests (libonnx-testdata, see README.md here): every case that Unroll's model fits is compiled
/// through [OnnxNetwork] at build time (ConformanceCases.g.cs), fed its inputs (the first as data, the others as the weights
/// they are) and compared with its expected outputs with the tolerances of ONNX's backend test runner. The cases that do not
/// fit are listed in excluded.txt; each must still fail to compile, with the generator's own reason printed.
/// </summary>
public sealed class ConformanceTests(ITestOutputHelper output)
{
    /// <summary>ONNX's backend runner compares with numpy's assert_allclose(rtol=1e-3, atol=1e-7).</summary>
    private const double RelativeTolerance = 1e-3, AbsoluteTolerance = 1e-7;

    private static string Folder => Path.Combine(RepositoryRoot.Path, "tests", "Unroll.Tests", "Onnx", "Conformance");

    private static IReadOnlyList<(string Name, string Reason)> Excluded() =>
        File.ReadAllLines(Path.Combine(Folder, "excluded.txt")).Where(l => l.Length > 0)
            .Select(l => l.Split('\t')).Select(p => (p[0], p[1])).ToList();

    [Fact]
    public void EveryCompiledNodeTestMatchesItsExpectedOutputs()
    {
        var failures = new List<string>();
        foreach ((string name, Type type) in ConformanceCases.Compiled)
        {
            string result;
            try
            {
                result = Run(name, type);
            }
            catch (Exception e) when (e is InvalidDataException or ArgumentException or InvalidOperationException)
            {
                result = $"FAIL {e.GetType().Name}: {e.Message}";
            }
            output.WriteLine($"{name}: {result}");
            if (result.StartsWith("FAIL", StringComparison.Ordinal))
                failures.Add(name);
        }
        int ran = ConformanceCases.Compiled.Length, passed = ran - failures.Count;
        output.WriteLine("");
        output.WriteLine($"ONNX node tests (libonnx-testdata 1.12.0): {ran} cases ran, {passed} passed, {failures.Count} failed; {Excluded().Count} excluded (see ExcludedNodeTestsStillDoNotCompile)");
        Assert.True(failures.Count == 0, "Failed: " + string.Join(", ", failures));
    }

    [Fact]
    public void ExcludedNodeTestsStillDoNotCompile()
    {
        var compiles = new List<string>();
        IReadOnlyList<(string Name, string Reason)> excluded = Excluded();
        foreach ((string name, string reason) in excluded)
        {
            string model = Path.Combine(Folder, "cases", name, "model.onnx");
            if (!File.Exists(model))
            {
                output.WriteLine($"excluded {name}: {reason} (not copied)");
                continue;
            }
            GeneratorRun run = GeneratorHarness.Run($"using Unroll; [OnnxNetwork(\"{name}/model.onnx\")] public partial class Case {{ }}", additionalFiles: [model]);
            Diagnostic? error = run.GeneratorDiagnostics.FirstOrDefault(d => d.Severity == DiagnosticSeverity.Error);
            output.WriteLine($"excluded {name}: {reason}" + (error is null ? " -- BUT IT NOW COMPILES" : $" ({error.Id}: {error.GetMessage()})"));
            if (error is null)
                compiles.Add(name);
        }
        output.WriteLine("");
        output.WriteLine($"ONNX node tests (libonnx-testdata 1.12.0): {excluded.Count} excluded");
        // A case that compiles now belongs among the compiled ones: remove it from excluded.txt and run tools/onnx-conformance.sh.
        Assert.True(compiles.Count == 0, "These excluded cases compile now: " + string.Join(", ", compiles));
    }

    /// <summary>Runs one case; returns "PASS ..." or "FAIL ..." with the largest difference.</summary>
    private static string Run(string name, Type type)
    {
        string folder = Path.Combine(Folder, "cases", name);
        byte[] model = File.ReadAllBytes(Path.Combine(folder, "model.onnx"));
        OnnxGraphProto graph = OnnxReader.ReadModel(model).Graph;
        var initializers = graph.Initializers.Select(t => t.Name).ToHashSet();
        List<string> inputs = graph.Inputs.Select(i => i.Name).Where(n => !initializers.Contains(n)).ToList();

        // Input 0 is the data; the others are weights, loaded as the model's bindings say.
        var weights = new Dictionary<string, byte[]>();
        for (int k = 1; k < inputs.Count; k++)
            weights[inputs[k]] = Data(folder, $"input_{k}.pb");
        using var net = (Network)Activator.CreateInstance(type, new NetworkOptions { Threads = 1 })!;
        var bindings = (IReadOnlyList<OnnxWeightBinding>)type.GetProperty("OnnxWeightBindings")!.GetValue(null)!;
        OnnxWeights.Load(net, model, bindings, weights);

        OnnxTensorProto data = OnnxReader.ReadTensor(Data(folder, "input_0.pb"));
        float[] x = data.ToFloats();
        int batch = (int)data.Dims[0];
        if (x.Length != batch * net.InputLength)
            return $"FAIL the input holds {x.Length} values, not {batch} x {net.InputLength}";
        float[] y = new float[batch * net.OutputLength];
        net.Forward(x, y, batch);

        // Each graph output is one of the network's outputs (named after it): values [Offset, Offset + length) of each sample.
        double worst = 0;
        for (int k = 0; k < graph.Outputs.Count; k++)
        {
            float[] expected = OnnxReader.ReadTensor(Data(folder, $"output_{k}.pb")).ToFloats();
            int offset = 0, length = net.OutputLength;
            if (graph.Outputs.Count > 1)
            {
                string layer = Identifier(graph.Outputs[k].Name);
                OutputInfo? o = net.Info.Outputs.FirstOrDefault(o => o.Layer == layer);
                if (o is null)
                    return $"FAIL no output named {layer}";
                (offset, length) = (o.Offset, o.Length);
            }
            if (expected.Length != batch * length)
                return $"FAIL output {k} holds {batch * length} values, ONNX's {expected.Length}";
            for (int n = 0; n < batch; n++)
                for (int i = 0; i < length; i++)
                {
                    double e = expected[n * length + i], a = y[n * net.OutputLength + offset + i];
                    if (double.IsNaN(e) && double.IsNaN(a))
                        continue;
                    double excess = Math.Abs(a - e) - (AbsoluteTolerance + RelativeTolerance * Math.Abs(e));
                    if (!(excess <= 0))
                        return $"FAIL output {k}[{n * length + i}] = {a}, expected {e}";
                    worst = Math.Max(worst, Math.Abs(a - e));
                }
        }
        return FormattableString.Invariant($"PASS ({string.Join(", ", net.Layers.Select(l => l.Info.Kind))}; max |diff| {worst:E1})");
    }

    private static byte[] Data(string folder, string file)
    {
        using var gzip = new GZipStream(File.OpenRead(Path.Combine(folder, file + ".gz")), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        gzip.CopyTo(bytes);
        return bytes.ToArray();
    }

    /// <summary>A value's name as the importer names a layer after it (runs of other characters become one underscore).</summary>
    private static string Identifier(string text)
    {
        string name = Regex.Replace(text, "[^A-Za-z0-9]+", "_").Trim('_');
        return name.Length > 0 && char.IsDigit(name[0]) ? "L" + name : name;
    }
}
