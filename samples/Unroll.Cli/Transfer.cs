using System;
using System.Threading;
using Unroll.Data;
using Unroll.Pretrained;

namespace Unroll.Cli;

/// <summary>
/// The transfer command: ML.NET's pretrained ResNet-18 (with its preprocessing) as a frozen feature extractor, and a new
/// 10-way dense head trained on its 512 features of Fashion-MNIST images (28x28 grey, resized to 224x224 and copied to the
/// three channels, 0-255).
/// </summary>
internal static class Transfer
{
    public static int Run(CommandLine options, CancellationToken cancellation)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        (Dataset train, Dataset test) = options.Data is null ? FashionMnist.LoadEmbedded(ImagePreprocessing.Raw) : FashionMnist.Load(options.Data, ImagePreprocessing.Raw);
        using ResNet18 extractor = PretrainedModels.LoadResNet18(new NetworkOptions { Isa = options.Isa, Threads = options.Threads });
        using ResNetPreprocess preprocess = PretrainedModels.LoadPreprocess(new NetworkOptions { Isa = options.Isa, Threads = options.Threads });
        var settings = new TransferOptions
        {
            TrainCount = options.TrainCount, TestCount = options.TestCount, Epochs = options.Epochs, BatchSize = options.Batch,
            LearningRate = options.LearningRate, Seed = (int)options.Seed, Threads = options.Threads,
        };
        int trainCount = settings.TrainCount == 0 ? train.Count : Math.Min(settings.TrainCount, train.Count);
        int testCount = settings.TestCount == 0 ? test.Count : Math.Min(settings.TestCount, test.Count);
        Console.WriteLine($"Pretrained ResNet-18 ({PretrainedModels.ResNet18Path}): {extractor.Info.ParameterCount:N0} frozen parameters, {extractor.Isa} kernels, {options.Threads} thread(s)");
        Console.WriteLine($"Fashion-MNIST from {options.Data ?? "the embedded subset"}: {trainCount:N0} training and {testCount:N0} test images (--train N, --test N; 0 for all)");
        Console.WriteLine($"Head: {TransferHead.ParameterCount:N0} parameters (dense 512 -> 10, softmax), Adam lr {options.LearningRate}, {settings.Epochs} epochs of batch {settings.BatchSize}");
        using TransferResult result = TransferLearning.Train(extractor, preprocess, train, test, settings, Console.Out, cancellation);
        Console.WriteLine(FormattableString.Invariant(
            $"Test accuracy {result.Test.Accuracy:0.0000} (loss {result.Test.Loss:0.0000}) on {result.Test.Count:N0} images; features {result.FeatureTime.TotalSeconds:0.0}s, head {result.TrainTime.TotalSeconds:0.0}s, total {clock.Elapsed.TotalSeconds:0.0}s"));
        return 0;
    }
}
