using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Unroll.Generator;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests.Generator;

/// <summary>A second run over an unchanged network reuses every cached stage.</summary>
public class IncrementalTests
{
    private const string Source = """
        using Unroll;
        [Network(Input = "1x12x12")]
        public partial class Net
        {
            [Conv(4, Kernel = 3), ReLU] public partial Layer A { get; }
            [Dense(3)] public partial Layer B { get; }
        }
        """;

    [Fact]
    public void UnrelatedEditKeepsEveryStageCached()
    {
        CSharpCompilation first = GeneratorHarness.Compilation(Source);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGenerators(first);
        CSharpCompilation second = first.AddSyntaxTrees(CSharpSyntaxTree.ParseText("public class Unrelated { }", GeneratorHarness.ParseOptions));
        driver = driver.RunGenerators(second);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        foreach (string stage in new[] { UnrollGenerator.Stages.Spec, UnrollGenerator.Stages.Model, UnrollGenerator.Stages.Plan })
        {
            var outputs = result.TrackedSteps[stage].SelectMany(step => step.Outputs).ToList();
            Assert.NotEmpty(outputs);
            Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{stage}: {o.Reason}"));
        }
    }

    [Fact]
    public void ChangedShapeRegenerates()
    {
        CSharpCompilation first = GeneratorHarness.Compilation(Source);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGenerators(first);
        SyntaxTree old = first.SyntaxTrees.Single();
        CSharpCompilation second = first.ReplaceSyntaxTree(old, CSharpSyntaxTree.ParseText(Source.Replace("Dense(3)", "Dense(5)"), GeneratorHarness.ParseOptions, path: old.FilePath));
        driver = driver.RunGenerators(second);
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Contains(result.TrackedSteps[UnrollGenerator.Stages.Plan].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }
}
