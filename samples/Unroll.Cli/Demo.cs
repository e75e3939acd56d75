using System;
using System.Diagnostics;
using System.Globalization;
using Unroll.Networks;

namespace Unroll.Cli;

/// <summary>A one-channel 3x3 convolution, to run the classic edge filters.</summary>
[Network(Input = "1x6x6")]
internal partial class EdgeDetector
{
    [Conv(1, Kernel = 3, Bias = false)] public partial Layer Edges { get; }
}

internal static class Demo
{
    public static void Run()
    {
        Console.WriteLine("Edge detection: a 6x6 image, 10 on the left half and 0 on the right, convolved with the 3x3 vertical-edge filter");
        float[] image = new float[36];
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 3; x++)
                image[y * 6 + x] = 10;
        using var detector = new EdgeDetector();
        detector.Edges.SetWeights(Filters.Vertical);
        float[] edges = detector.Predict(image);
        for (int y = 0; y < 4; y++)
            Console.WriteLine("  " + string.Join(" ", Array.ConvertAll(edges[(y * 4)..(y * 4 + 4)], v => v.ToString("0", CultureInfo.InvariantCulture).PadLeft(3))));
        Console.WriteLine();
        Console.Write(LeNet5.SummaryTable);
        Console.WriteLine();
        Time("LeNet5", 64, null, Environment.ProcessorCount);
    }

    public static void Time(string name, int batch, Isa? isa, int threads, bool json = false)
    {
        using Network network = NetworkCatalog.Create(name, new NetworkOptions { Isa = isa, Threads = threads, Seed = 1 });
        var random = new SeededRandom(7);
        float[] input = new float[batch * network.InputLength];
        for (int i = 0; i < input.Length; i++)
            input[i] = random.Uniform(0, 1);
        float[] output = new float[batch * network.OutputLength];
        network.Forward(input, output, batch);
        int runs = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < 1 || runs < 5)
        {
            network.Forward(input, output, batch);
            runs++;
        }
        double ms = clock.Elapsed.TotalMilliseconds / runs;
        double gflops = network.Info.Flops * (double)batch / (ms * 1e6);
        if (json)
        {
            // The median of 21 timed rounds, each long enough to be measured well.
            double[] rounds = new double[21];
            int reps = Math.Max(1, (int)(20 / ms));
            for (int r = 0; r < rounds.Length; r++)
            {
                var round = Stopwatch.StartNew();
                for (int k = 0; k < reps; k++)
                    network.Forward(input, output, batch);
                rounds[r] = round.Elapsed.TotalMilliseconds / reps;
            }
            Array.Sort(rounds);
            Console.WriteLine(FormattableString.Invariant($"{{\"framework\":\"unroll\",\"network\":\"{name}\",\"isa\":\"{network.Isa}\",\"threads\":{threads},\"batch\":{batch},\"ms_per_batch\":{rounds[rounds.Length / 2]:0.000000}}}"));
            return;
        }
        Console.WriteLine(FormattableString.Invariant($"{name} forward, batch {batch}, {network.Isa}, {threads} thread(s): {ms:F3} ms per batch ({batch * 1000 / ms:N0} images/s, {gflops:F1} GFLOP/s)"));
        Console.WriteLine("first output: " + string.Join(" ", Array.ConvertAll(output[..Math.Min(10, network.OutputLength)], v => v.ToString("0.0000", CultureInfo.InvariantCulture))));
    }
}
