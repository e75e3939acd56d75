using System.Linq;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests;

public class HarnessTests
{
    [Fact]
    public void CompilesAndRunsAGeneratedNetwork()
    {
        var assembly = GeneratorHarness.CompileAndLoad("""
            using Unroll;
            [Network(Input = "2x5x5")]
            public partial class Tiny
            {
                [Conv(3, Kernel = 3, Pad = 1), ReLU] public partial Layer A { get; }
                [Dense(4)] public partial Layer B { get; }
            }
            """);
        using var net = GeneratorHarness.Create(assembly, "Tiny", new NetworkOptions { Isa = Isa.Portable, Threads = 1 });
        float[] y = net.Predict(new float[50]);
        Assert.Equal(4, y.Length);
    }
}
