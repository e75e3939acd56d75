using System;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests.Generator;

/// <summary>The generator never throws: malformed and random declarations give diagnostics (or code), never an exception.</summary>
public class RobustnessTests
{
    private static readonly string[] Inputs = { "1x8x8", "3x32x32", "0x1x1", "", "x", "1x1x1", "2147483647x2x2", "4 x 5 x 6", "1x8", "-3x4x4", "7x1x40" };
    private static readonly string[] Sane = { "1", "2", "3" };
    private static readonly string[] Values = { "0", "1", "2", "3", "5", "-1", "-100", "int.MaxValue", "int.MinValue", "40", "1000000" };

    private static string RandomLayer(Random random, int index)
    {
        string v() => random.Next(4) == 0 ? Values[random.Next(Values.Length)] : Sane[random.Next(Sane.Length)];
        string op = random.Next(8) switch
        {
            0 => $"Conv({v()}, Kernel = {v()}, Stride = {v()}, Pad = {v()})",
            1 => $"Conv({v()}, KernelHeight = {v()}, KernelWidth = {v()}, Padding = Padding.Same)",
            2 => $"MaxPool({v()}, Stride = {v()}, Pad = {v()})",
            3 => $"AvgPool({v()}, CountIncludePad = true, Pad = {v()})",
            4 => $"Dense({v()}, Bias = false)",
            5 => "Softmax",
            6 => $"Conv({v()}), Dense({v()})",
            _ => $"Dense({v()}, Name = \"dup\")",
        };
        string activation = random.Next(3) == 0 ? ", Tanh" : random.Next(2) == 0 ? ", ReLU, Sigmoid" : "";
        string member = random.Next(10) switch
        {
            0 => $"public Layer L{index} {{ get; }}",
            1 => $"public partial Layer L{index} {{ get; set; }}",
            2 => $"public static partial Layer L{index} {{ get; }}",
            3 => $"public partial string L{index} {{ get; }}",
            _ => $"public partial Layer L{index} {{ get; }}",
        };
        return $"    [{op}{activation}] {member}";
    }

    [Fact]
    public void RandomMalformedDeclarationsNeverCrashTheGenerator()
    {
        var random = new Random(1234);
        int withDiagnostics = 0, generated = 0;
        for (int n = 0; n < 150; n++)
        {
            var source = new StringBuilder("using Unroll;\n");
            string input = random.Next(2) == 0 ? "3x32x32" : Inputs[random.Next(Inputs.Length)];
            source.Append(random.Next(6) == 0 ? "[Network]\n" : $"[Network(Input = \"{input}\")]\n");
            source.Append(random.Next(8) == 0 ? "public class Net\n{\n" : "public partial class Net\n{\n");
            int layers = random.Next(0, 6);
            for (int i = 0; i < layers; i++)
                source.Append(RandomLayer(random, i)).Append('\n');
            source.Append("}\n");
            GeneratorRun run = GeneratorHarness.Run(source.ToString());
            GeneratorRunResult result = run.Result.Results.Single();
            Assert.True(result.Exception is null, $"Generator threw on:\n{source}\n{result.Exception}");
            Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "UNR9999" || d.Id.StartsWith("CS8785", StringComparison.Ordinal));
            if (run.GeneratorDiagnostics.Any(d => d.Id.StartsWith("UNR", StringComparison.Ordinal)))
                withDiagnostics++;
            else if (result.GeneratedSources.Length > 0)
            {
                generated++;
                var errors = run.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true).ToList();
                Assert.True(errors.Count == 0, $"Generated code does not compile for:\n{source}\n{string.Join("\n", errors.Take(5))}");
            }
        }
        Assert.True(withDiagnostics > 50, $"only {withDiagnostics} declarations were diagnosed");
        Assert.True(generated > 0, "no random declaration was valid");
    }

    [Fact]
    public void SyntaxErrorsInTheDeclarationDoNotCrash()
    {
        string[] broken =
        {
            "using Unroll; [Network(Input = )] public partial class Net { [Dense(4)] public partial Layer A { get; } }",
            "using Unroll; [Network(Input = \"1x8x8\")] public partial class Net { [Conv(] public partial Layer A { get; } }",
            "using Unroll; [Network(Input = \"1x8x8\")] public partial class Net { [Conv(4, Kernel = \"3\")] public partial Layer A { get; } }",
            "using Unroll; [Network(Input = \"1x8x8\")] public partial class Net { [Dense(4)] public partial Layer { get; } }",
            "using Unroll; [Network(Input = \"1x8x8\")] public partial class Net<T> { [Dense(4)] public partial Layer A { get; } }",
            "using Unroll; [Network(Input = \"1x8x8\")] public partial class Net : System.Exception { [Dense(4)] public partial Layer A { get; } }",
        };
        foreach (string source in broken)
        {
            GeneratorRun run = GeneratorHarness.Run(source);
            Assert.True(run.Result.Results.Single().Exception is null, $"Generator threw on: {source}");
            Assert.DoesNotContain(run.GeneratorDiagnostics, d => d.Id == "UNR9999");
        }
    }
}
