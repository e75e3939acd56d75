using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests.Generator;

/// <summary>
/// No generated method may fall into JIT MinOpts (the JIT's fallback for methods that are too large).
/// Runs the CLI's jitcheck (every network in Networks/ and the CLI's probes, every supported ISA) in a child process with
/// DOTNET_JitStdOutFile and DOTNET_JitDisasmSummary=1, and reads the JIT's own list of compiled methods.
/// </summary>
public class JitTests
{
    [Fact]
    public void NoGeneratedMethodIsCompiledWithMinOpts()
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "Unroll.Cli.dll");
        string log = Path.Combine(Path.GetTempPath(), $"unroll-jit-{Guid.NewGuid():N}.txt");
        var start = new ProcessStartInfo("dotnet", $"exec \"{cli}\" jitcheck") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DOTNET_JitStdOutFile"] = log;
        start.Environment["DOTNET_JitDisasmSummary"] = "1";
        start.Environment["DOTNET_TieredPGO"] = "0";
        using (Process process = Process.Start(start)!)
        {
            string stdout = process.StandardOutput.ReadToEnd();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"jitcheck failed: {stdout}\n{stderr}");
        }
        try
        {
            string[] lines = File.ReadAllLines(log);
            var generated = lines.Where(l => l.Contains("Kernels:", StringComparison.Ordinal)).ToList();
            Assert.True(generated.Count >= 10, $"Expected the JIT to list the generated kernels; found {generated.Count} lines of {lines.Length}.");
            var minOpts = generated.Where(l => l.Contains("MinOpts", StringComparison.Ordinal)).ToList();
            Assert.True(minOpts.Count == 0, "Generated methods compiled with MinOpts:\n" + string.Join("\n", minOpts));
            Assert.Contains(generated, l => l.Contains("Avx512Kernels", StringComparison.Ordinal) || l.Contains("Avx2Kernels", StringComparison.Ordinal) || l.Contains("PortableKernels", StringComparison.Ordinal));
            // The CLI's probes reach the kernels that write the caller's planes on AVX-512.
            if (IsaSupport.IsSupported(Isa.Avx512))
                Assert.Contains(generated, l => l.Contains("Avx512Kernels:Conv2D_Conv_Planar_Planes(", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(log);
        }
    }
}
