using System;
using System.Diagnostics;
using System.IO;
using System.Threading.Tasks;

namespace Unroll.Tests.Onnx;

/// <summary>The CLI's transfer command end to end, at a small size, in a child process.</summary>
public class TransferCommandTests
{
    [Fact]
    public async Task TransferTrainsAHeadAndPrintsTheTestAccuracy()
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "Unroll.Cli.dll");
        var start = new ProcessStartInfo("dotnet", $"exec \"{cli}\" transfer --train 16 --test 8 --epochs 2 --batch 8")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"transfer failed: {stdout}\n{await stderr}");
        Assert.Contains("Epoch 2/2", stdout);
        Assert.Contains("Test accuracy", stdout);
        Assert.Contains("on 8 images", stdout);
    }
}
