using System;
using System.Globalization;
using System.Linq;
using System.Threading;
using Unroll.Data;
using Unroll.Networks;
using Unroll.Training;

namespace Unroll.Cli;

/// <summary>The train command: LeNet-5 (or another catalogue network with a 1x32x32 input) on Fashion-MNIST.</summary>
internal static class Train
{
    public static int Run(CommandLine options, CancellationToken cancellation)
    {
        string name = options.Name ?? "LeNet5";
        using Network network = NetworkCatalog.Create(name, new NetworkOptions { Isa = options.Isa, Threads = options.Threads, Seed = (int)options.Seed });
        ImagePreprocessing preprocessing = network.Info.InputShape == new Shape(1, 32, 32) ? FashionMnist.LeNet5Preprocessing
            : network.Info.InputShape == new Shape(1, 28, 28) ? FashionMnist.NormalizedPreprocessing
            : throw new ArgumentException($"{name} takes {network.Info.InputShape}; Fashion-MNIST needs a 1x32x32 or 1x28x28 input.");
        (Dataset train, Dataset test) = options.Data is null ? FashionMnist.LoadEmbedded(preprocessing) : FashionMnist.Load(options.Data, preprocessing);
        if (!options.Json)
        {
            Console.WriteLine($"{name}: {network.Info.ParameterCount:N0} parameters, {network.Isa} kernels, {options.Threads} thread(s)");
            Console.WriteLine($"Fashion-MNIST from {(options.Data ?? "the embedded subset")}: {train.Count:N0} training and {test.Count:N0} test images");
        }
        var optimizer = new Sgd(network.Info, options.LearningRate, momentum: options.Momentum);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        TrainingHistory history = network.Fit(train, optimizer, new FitOptions
        {
            Epochs = options.Epochs,
            BatchSize = options.Batch,
            Seed = options.Seed,
            Validation = test,
            CheckpointPath = options.Save,
            Progress = Console.Out,
        }, cancellation);
        clock.Stop();
        Evaluation result = network.Evaluate(test);
        double[] rates = history.Epochs.Select(e => e.ImagesPerSecond).OrderBy(r => r).ToArray();
        double median = rates.Length == 0 ? 0 : rates[rates.Length / 2];
        Console.WriteLine(FormattableString.Invariant($"Test accuracy {result.Accuracy:0.0000} (loss {result.Loss:0.0000}) on {result.Count:N0} images after {history.Epochs.Count} epoch(s), {clock.Elapsed.TotalSeconds:0.0}s; median {median:N0} training images/s"));
        if (options.Save is not null)
            Console.WriteLine($"Best weights (by test accuracy) saved to {options.Save}");
        if (options.Json)
        {
            string perEpoch = string.Join(",", history.Epochs.Select(e => (e.ValidationAccuracy ?? 0).ToString("0.0000", CultureInfo.InvariantCulture)));
            Console.WriteLine(FormattableString.Invariant(
                $"{{\"framework\":\"unroll\",\"network\":\"{name}\",\"isa\":\"{network.Isa}\",\"threads\":{options.Threads},\"epochs\":{history.Epochs.Count},\"batch\":{options.Batch},\"test_accuracy\":{result.Accuracy:0.0000},\"accuracy_per_epoch\":[{perEpoch}],\"train_images_per_second\":{median:0},\"seconds\":{clock.Elapsed.TotalSeconds:0.00}}}"));
        }
        return 0;
    }
}
