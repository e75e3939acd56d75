using System;
using System.Globalization;
using System.IO;
using Unroll;
using Unroll.Data;

namespace PackageSmoke;

/// <summary>A small network compiled by the generator that ships in the package: conv, pool, dense.</summary>
[Network(Input = "1x12x12")]
public partial class SmokeNet
{
    [Conv(4, Kernel = 3), ReLU] public partial Layer C { get; }   // 4x10x10
    [MaxPool(2)] public partial Layer P { get; }                   // 4x5x5
    [Dense(10), Softmax] public partial Layer D { get; }           // 10
}

public static class Program
{
    public static int Main()
    {
        try
        {
            return Run();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"package smoke: FAILED with {e}");
            return 1;
        }
    }

    private static int Run()
    {
        const int batch = 2;
        float[] input = new float[batch * SmokeNet.InputSize];
        for (int i = 0; i < input.Length; i++)
            input[i] = (float)Math.Sin(0.37 * i);

        using var net = new SmokeNet(new NetworkOptions { Seed = 1, Threads = 1 });
        float[] output = net.Predict(input);

        int failures = 0;
        void check(bool ok, string what)
        {
            if (!ok)
            {
                Console.Error.WriteLine("package smoke: check failed: " + what);
                failures++;
            }
        }

        check(SmokeNet.InputSize == 144 && net.InputLength == 144, $"input length {net.InputLength}, expected 144");
        check(SmokeNet.OutputSize == 10 && net.OutputLength == 10, $"output length {net.OutputLength}, expected 10");
        check(output.Length == batch * 10, $"Predict returned {output.Length} values, expected {batch * 10}");
        check(net.Layers.Count == 3, $"{net.Layers.Count} layers, expected 3");
        double worst = 0;
        for (int n = 0; n < batch && output.Length == batch * 10; n++)
        {
            double sum = 0;
            for (int k = 0; k < 10; k++)
            {
                float p = output[n * 10 + k];
                check(float.IsFinite(p) && p >= 0 && p <= 1, $"sample {n} output {k} is {p}, not a probability");
                sum += p;
            }
            worst = Math.Max(worst, Math.Abs(sum - 1));
            check(Math.Abs(sum - 1) < 1e-5, $"sample {n} softmax sums to {sum:R}, expected 1");
        }

        // The portable kernels agree with the default ones, and weights survive a save and load.
        using var portable = new SmokeNet(new NetworkOptions { Seed = 1, Threads = 1, Isa = Isa.Portable });
        float[] reference = portable.Predict(input);
        for (int i = 0; i < output.Length; i++)
            check(Math.Abs(reference[i] - output[i]) < 1e-5f, $"{net.Isa} output {i} = {output[i]}, portable {reference[i]}");

        var weights = new MemoryStream();
        net.Save(weights);
        using var loaded = new SmokeNet(new NetworkOptions { Seed = 2, Threads = 1 });
        weights.Position = 0;
        loaded.Load(weights);
        check(loaded.Predict(input).AsSpan().SequenceEqual(output), "outputs differ after Save and Load");

        // The Fashion-MNIST subset is embedded in Unroll.dll, so it loads from the package as well.
        var (train, test) = FashionMnist.LoadEmbedded(FashionMnist.LeNet5Preprocessing);
        check(train.Count == 4000 && test.Count == 1000, $"embedded Fashion-MNIST has {train.Count}/{test.Count} images, expected 4000/1000");
        check(train.SampleShape == new Shape(1, 32, 32), $"LeNet-5 samples are {train.SampleShape}, expected 1x32x32");
        int served = 0;
        using (var loader = new BatchLoader(train, batchSize: 64, seed: 1))
        {
            foreach (Batch b in loader.Epoch(0))
                served += b.Count;
        }
        check(served == train.Count, $"one epoch served {served} samples, expected {train.Count}");

        if (failures > 0)
        {
            Console.Error.WriteLine($"package smoke: {failures} check(s) failed");
            return 1;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"package smoke: {net.Info.Name} {net.Info.InputShape} -> {net.Info.OutputShape}, {net.Info.ParameterCount} parameters, {net.Isa} kernels, batch {batch}, softmax sums within {worst:E1} of 1, embedded Fashion-MNIST {train.Count}/{test.Count}"));
        return 0;
    }
}
