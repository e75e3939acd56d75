using System.Linq;
using Microsoft.CodeAnalysis;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests.Generator;

/// <summary>Every diagnostic: its ID, its exact message, and the exact span it points at.</summary>
public class DiagnosticTests
{
    private static void Check(string markedSource, string id, string message)
    {
        MarkedSource source = MarkedSource.Parse("using Unroll;\n" + markedSource);
        GeneratorRun run = GeneratorHarness.Run(source.Text);
        Assert.Null(run.Result.Results.Single().Exception);
        var ours = run.GeneratorDiagnostics.Where(d => d.Id.StartsWith("UNR", System.StringComparison.Ordinal)).ToList();
        Diagnostic diagnostic = Assert.Single(ours);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal(message, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
        Assert.Equal("Network.cs", diagnostic.Location.SourceTree?.FilePath);
    }

    [Fact]
    public void NotPartial() => Check("""
        [Network(Input = "1x8x8")]
        public class [|Net|]
        {
            [Dense(4)] public partial Layer A { get; }
        }
        """, "UNR0001", "Network class 'Net' must be declared partial so that Unroll can generate its members");

    [Fact]
    public void MissingInput() => Check("""
        [[|Network|]]
        public partial class Net
        {
            [Dense(4)] public partial Layer A { get; }
        }
        """, "UNR0002", "Network 'Net' has no input shape: set [Network(Input = \"C x H x W\")], for example Input = \"1x32x32\"");

    [Theory]
    [InlineData("1x0x8")]
    [InlineData("1x8")]
    [InlineData("a x 8 x 8")]
    [InlineData("-1x8x8")]
    public void InvalidInput(string input) => Check($$"""
        [Network([|Input = "{{input}}"|])]
        public partial class Net
        {
            [Dense(4)] public partial Layer A { get; }
        }
        """, "UNR0003", $"Network 'Net' input shape '{input}' is not C x H x W with three positive whole numbers, for example \"3x224x224\"");

    [Fact]
    public void ZeroFilters() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv([|0|], Kernel = 3)] public partial Layer A { get; }
        }
        """, "UNR0004", "Layer 'A': the filter count must be at least 1, but is 0");

    [Fact]
    public void NegativeUnits() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Dense([|-3|])] public partial Layer A { get; }
        }
        """, "UNR0004", "Layer 'A': the unit count must be at least 1, but is -3");

    [Fact]
    public void ZeroKernel() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, [|Kernel = 0|])] public partial Layer A { get; }
        }
        """, "UNR0005", "Layer 'A': the kernel height must be at least 1, but is 0");

    [Fact]
    public void MissingKernel() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [[|Conv(4)|]] public partial Layer A { get; }
        }
        """, "UNR0005", "Layer 'A': the kernel height must be at least 1, but is 0");

    [Fact]
    public void ZeroPoolWindow() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [MaxPool([|0|])] public partial Layer A { get; }
        }
        """, "UNR0005", "Layer 'A': the window size must be at least 1, but is 0");

    [Fact]
    public void ZeroStride() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 3, [|Stride = 0|])] public partial Layer A { get; }
        }
        """, "UNR0006", "Layer 'A': stride must be at least 1, but is 0");

    [Fact]
    public void NegativePadding() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 3, [|Pad = -1|])] public partial Layer A { get; }
        }
        """, "UNR0007", "Layer 'A': padding must be 0 or more, but is -1");

    [Fact]
    public void KernelLargerThanInput() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, [|Kernel = 9|])] public partial Layer A { get; }
        }
        """, "UNR0008", "Layer 'A': the 9x9 window does not fit its input 1x8x8 padded to 8x8");

    [Fact]
    public void KernelLargerThanShrunkInput() => Check("""
        [Network(Input = "3x28x28")]
        public partial class Net
        {
            [Conv(6, Kernel = 5, Pad = 2)] public partial Layer A { get; }
            [MaxPool(2)] public partial Layer B { get; }
            [Conv(16, Kernel = 5)] public partial Layer C { get; }
            [MaxPool(2)] public partial Layer D { get; }
            [Conv(16, KernelHeight = 3, [|KernelWidth = 6|])] public partial Layer E { get; }
        }
        """, "UNR0008", "Layer 'E': the 3x6 window does not fit its input 16x5x5 padded to 5x5");

    [Fact]
    public void PoolLargerThanInput() => Check("""
        [Network(Input = "2x3x3")]
        public partial class Net
        {
            [AvgPool([|4|], Pad = 0)] public partial Layer A { get; }
        }
        """, "UNR0008", "Layer 'A': the 4x4 window does not fit its input 2x3x3 padded to 3x3");

    [Fact]
    public void DuplicateName() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 3, Name = "features")] public partial Layer A { get; }
            [Conv(4, Kernel = 3, [|Name = "features"|])] public partial Layer B { get; }
        }
        """, "UNR0009", "Layer name 'features' is already used by member 'A'; layer names must be unique within network 'Net'");

    [Fact]
    public void LayerNotPartial() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Dense(4)] public Layer [|A|] { get; }
        }
        """, "UNR0010", "Member 'A' carries a layer attribute but is not declared as 'partial Layer A { get; }' (it is not partial)");

    [Fact]
    public void LayerWrongType() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Dense(4)] public partial int [|A|] { get; }
        }
        """, "UNR0010", "Member 'A' carries a layer attribute but is not declared as 'partial Layer A { get; }' (its type is 'int')");

    [Fact]
    public void TwoOperations() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 3), [|Dense(3)|]] public partial Layer A { get; }
        }
        """, "UNR0011", "Member 'A' carries both Conv and Dense; declare one operation and at most one activation per layer");

    [Fact]
    public void NoLayers() => Check("""
        [Network(Input = "1x8x8")]
        public partial class [|Net|]
        {
        }
        """, "UNR0012", "Network 'Net' declares no layers: add properties such as [Conv(6, Kernel = 5)] partial Layer C1 { get; }");

    [Fact]
    public void SoftmaxOnSpatial() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 3), [|Softmax|]] public partial Layer A { get; }
        }
        """, "UNR0013", "Layer 'A': softmax needs a flat input (a dense layer's output), but its input is 4x6x6");

    [Fact]
    public void SameAndExplicitPadding() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 3, Padding = Padding.Same, [|Pad = 1|])] public partial Layer A { get; }
        }
        """, "UNR0014", "Layer 'A': Padding = Same and Pad = 1 both set the padding; keep one");

    [Fact]
    public void PoolPaddingTooLarge() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [MaxPool(2, [|Pad = 2|])] public partial Layer A { get; }
        }
        """, "UNR0015", "Layer 'A': padding 2 is more than half the 2x2 window, so some windows would see only padding");

    [Fact]
    public void NestedClass() => Check("""
        public partial class Outer
        {
            [Network(Input = "1x8x8")]
            public partial class [|Net|]
            {
                [Dense(4)] public partial Layer A { get; }
            }
        }
        """, "UNR0016", "Network class 'Net' is nested in another type; declare it as a top-level, non-generic partial class without a base class");

    [Fact]
    public void TooLarge() => Check("""
        [Network(Input = "3x224x224")]
        public partial class Net
        {
            [[|Dense(100000)|]] public partial Layer A { get; }
        }
        """, "UNR0017", "Layer 'A': 15052800000 weights exceeds the supported size (2^31 - 1 floats)");

    [Fact]
    public void ValidDeclarationHasNoDiagnostics()
    {
        GeneratorRun run = GeneratorHarness.Run("""
            using Unroll;
            [Network(Input = "3x16x16")]
            public partial class Net
            {
                [Conv(8, Kernel = 3, Padding = Padding.Same), LeakyReLU(0.1f)] public partial Layer A { get; }
                [AvgPool(2)] public partial Layer B { get; }
                [Sigmoid] public partial Layer C { get; }
                [Dense(4), Softmax] public partial Layer D { get; }
            }
            """);
        Assert.Empty(run.AllDiagnostics);
    }

    [Fact]
    public void AnInvalidNetworkReportsOnlyItsOwnErrors()
    {
        GeneratorRun run = GeneratorHarness.Run("""
            using Unroll;
            [Network(Input = "1x8x8")]
            public partial class Net
            {
                [Conv(4, Kernel = 9)] public partial Layer A { get; }
                [Dense(3)] public partial Layer B { get; }
            }
            """);
        Assert.Equal(new[] { "UNR0008" }, run.AllDiagnostics.Select(d => d.Id).ToArray());
    }

    [Fact]
    public void UnknownInput() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 3)] public partial Layer A { get; }
            [Conv(4, Kernel = 3, [|From = "Missing"|])] public partial Layer B { get; }
        }
        """, "UNR0018", "Layer 'B' reads from 'Missing', but the network has no layer of that name (layers declared before it: A)");

    [Fact]
    public void InputCycle() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 1, [|From = nameof(C)|])] public partial Layer A { get; }
            [Conv(4, Kernel = 1)] public partial Layer B { get; }
            [Conv(4, Kernel = 1)] public partial Layer C { get; }
        }
        """, "UNR0019", "Layer 'A' reads from 'C', which makes a cycle: A -> C -> B -> A");

    [Fact]
    public void InputDeclaredLater() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(4, Kernel = 1)] public partial Layer A { get; }
            [Conv(4, Kernel = 1, [|From = nameof(C)|])] public partial Layer B { get; }
            [Conv(4, Kernel = 1, From = nameof(A))] public partial Layer C { get; }
            [Add(nameof(B))] public partial Layer D { get; }
        }
        """, "UNR0020", "Layer 'B' reads from 'C', which is declared after it; layers run in declaration order, so declare 'C' first");

    [Fact]
    public void AddShapeMismatch() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(8, Kernel = 3, Padding = Padding.Same)] public partial Layer A { get; }
            [Conv(8, Kernel = 3)] public partial Layer B { get; }
            [Add([|nameof(A)|])] public partial Layer Sum { get; }
        }
        """, "UNR0021", "Layer 'Sum': Add needs inputs of one shape, but 'B' is 8x6x6 and 'A' is 8x8x8");

    [Fact]
    public void ConcatShapeMismatch() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(8, Kernel = 1)] public partial Layer A { get; }
            [Conv(6, Kernel = 3, From = Layer.NetworkInput)] public partial Layer B { get; }
            [Concat(nameof(A), [|nameof(B)|])] public partial Layer Joined { get; }
        }
        """, "UNR0021", "Layer 'Joined': Concat needs inputs of one height and width (or all flat), but 'A' is 8x8x8 and 'B' is 6x6x6");

    [Fact]
    public void MergeWithoutInputs() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(8, Kernel = 1)] public partial Layer A { get; }
            [[|Add|]] public partial Layer Sum { get; }
        }
        """, "UNR0022", "Layer 'Sum': Add needs at least one layer name (with one name, the layer declared before it is the other input)");

    [Fact]
    public void ReservedInputName() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(8, Kernel = 1, [|Name = "input"|])] public partial Layer A { get; }
        }
        """, "UNR0009", "Layer name 'input' is already used by member 'Layer.NetworkInput'; layer names must be unique within network 'Net'");

    [Fact]
    public void EmptyBlockTemplate() => Check("""
        public abstract class Nothing { }
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [[|Block(typeof(Nothing), 8)|]] public partial Layer A { get; }
        }
        """, "UNR0027", "Block 'A': template 'Nothing' declares no layers; a template is a class of this project whose Layer properties carry layer attributes");

    [Fact]
    public void BatchNormMomentumOutOfRange() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [BatchNorm([|Momentum = 1.5f|])] public partial Layer A { get; }
        }
        """, "UNR0024", "Layer 'A': Momentum must be between 0 and 1, but is 1.5");

    [Fact]
    public void OnlyAuxiliaryOutputs() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(8, Kernel = 1)] public partial Layer A { get; }
            [Dense(3), [|Output(Auxiliary = true)|]] public partial Layer B { get; }
        }
        """, "UNR0028", "Network 'Net' has auxiliary outputs only; mark the output inference computes with [Output] (without Auxiliary)");

    [Fact]
    public void LossWeightOutOfRange() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(8, Kernel = 1), Output(Auxiliary = true, [|LossWeight = 0f|])] public partial Layer A { get; }
            [Dense(3)] public partial Layer B { get; }
        }
        """, "UNR0024", "Layer 'A': the loss weight must be finite and above 0, but is 0");

    [Fact]
    public void AnOutputIsNotUnused()
    {
        // A layer nothing reads is no mistake when it is an output; the warning names every output.
        GeneratorRun run = GeneratorHarness.Run("""
            using Unroll;
            [Network(Input = "4x8x8")]
            public partial class Net
            {
                [Conv(8, Kernel = 1), Output(Auxiliary = true)] public partial Layer Side { get; }
                [Conv(8, Kernel = 3, From = Layer.NetworkInput)] public partial Layer Main { get; }
                [Conv(8, Kernel = 3, From = Layer.NetworkInput)] public partial Layer Lost { get; }
                [Dense(2, From = nameof(Main)), Output] public partial Layer Head { get; }
            }
            """);
        Diagnostic diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("Layer 'Lost' is computed but its output reaches neither another layer nor an output of the network (Head, Side)", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void UnusedLayerIsAWarning()
    {
        MarkedSource source = MarkedSource.Parse("""
            using Unroll;
            [Network(Input = "4x8x8")]
            public partial class Net
            {
                [[|Conv(8, Kernel = 1)|]] public partial Layer Side { get; }
                [Conv(8, Kernel = 3, From = Layer.NetworkInput)] public partial Layer Main { get; }
            }
            """);
        GeneratorRun run = GeneratorHarness.Run(source.Text);
        Diagnostic diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("UNR0023", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
        Assert.Equal("Layer 'Side' is computed but its output reaches neither another layer nor an output of the network (Main)", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
    }

    [Fact]
    public void DiagnosticsLiveInTheUsersSyntaxTree()
    {
        // A location inside the compilation's own tree is what lets #pragma and .editorconfig act on it.
        GeneratorRun run = GeneratorHarness.Run("""
            using Unroll;
            [Network(Input = "1x8x8")]
            public partial class Net
            {
                [Conv(4, Kernel = 9)] public partial Layer A { get; }
            }
            """);
        Diagnostic diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Same(run.Input.SyntaxTrees.Single(), diagnostic.Location.SourceTree);
    }

    [Theory]
    [InlineData("1f", "1")]
    [InlineData("-0.5f", "-0.5")]
    [InlineData("float.NaN", "NaN")]
    public void DropoutRateOutOfRange(string rate, string shown) => Check($$"""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Dropout([|{{rate}}|])] public partial Layer A { get; }
        }
        """, "UNR0024", $"Layer 'A': the dropout rate must be at least 0 and below 1, but is {shown}");

    [Theory]
    [InlineData("6f, 0f", "[6, 0]")]
    [InlineData("float.NaN, 1f", "[NaN, 1]")]
    [InlineData("float.NegativeInfinity, float.PositiveInfinity", "[-Infinity, Infinity]")]
    [InlineData("float.PositiveInfinity, float.PositiveInfinity", "[Infinity, Infinity]")]
    public void ClipRangeNotOrderedOrUnbounded(string bounds, string shown) => Check($$"""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [Conv(8, Kernel = 1), [|Clip({{bounds}})|]] public partial Layer A { get; }
        }
        """, "UNR0024", $"Layer 'A': the clip range [min, max] must be ordered (min <= max) with a finite bound, but is {shown}");

    [Fact]
    public void LrnConstantNotPositive() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [LRN(Size = 3, [|K = 0f|])] public partial Layer A { get; }
        }
        """, "UNR0024", "Layer 'A': k must be finite and above 0, but is 0");

    [Fact]
    public void LrnNegativeBeta() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [LRN([|Beta = -1f|])] public partial Layer A { get; }
        }
        """, "UNR0024", "Layer 'A': beta must be finite and 0 or more, but is -1");

    [Fact]
    public void LrnEmptyWindow() => Check("""
        [Network(Input = "4x8x8")]
        public partial class Net
        {
            [LRN([|Size = 0|])] public partial Layer A { get; }
        }
        """, "UNR0005", "Layer 'A': the window size must be at least 1, but is 0");

    [Fact]
    public void ZeroPadNegative() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [ZeroPad(1, [|Left = -2|])] public partial Layer A { get; }
        }
        """, "UNR0007", "Layer 'A': padding must be 0 or more, but is -2");

    [Fact]
    public void ZeroPadOfAFlatVector() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Dense(4)] public partial Layer A { get; }
            [[|ZeroPad(1)|]] public partial Layer B { get; }
        }
        """, "UNR0025", "Layer 'B': ZeroPad needs a spatial input (C x H x W), but its input is the flat vector 4");

    [Fact]
    public void DropoutWithAnActivation() => Check("""
        [Network(Input = "1x8x8")]
        public partial class Net
        {
            [Dropout(0.5f), [|ReLU|]] public partial Layer A { get; }
        }
        """, "UNR0026", "Layer 'A': Dropout takes no activation; put [ReLU] on the layer before it, or on a member of its own");

    [Fact]
    public void CatalogueMatchesReleaseNotes()
    {
        string notes = System.IO.File.ReadAllText(System.IO.Path.Combine(RepositoryRoot.Path, "Generator", "AnalyzerReleases.Unshipped.md"));
        var ids = typeof(Unroll.Generator.UnrollGenerator).Assembly.GetType("Unroll.Generator.Diagnostics")!
            .GetFields(System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public)
            .Select(f => ((DiagnosticDescriptor)f.GetValue(null)!).Id).ToList();
        Assert.Equal(34, ids.Count);
        foreach (string id in ids)
            Assert.Contains(id + " ", notes);
    }
}
