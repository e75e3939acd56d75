using System;
using System.IO;
using System.Linq;
using System.Threading;
using Unroll.Data;
using Unroll.Pretrained;
using Xunit.Abstractions;

namespace Unroll.Tests.Onnx;

/// <summary>
/// ML.NET's pretrained ResNet-18 (the NuGet package's ResNet18.onnx, compiled by [OnnxNetwork] in Unroll.Pretrained) against
/// ONNX Runtime on the same file, its preprocessing against ONNX Runtime on ResNetPreprocess.onnx, and transfer learning
/// leaving the pretrained weights as they were.
/// </summary>
public sealed class PretrainedResNet18Tests
{
    /// <summary>max |Unroll - ONNX Runtime| over max |ONNX Runtime|, per image, must stay below this.</summary>
    private const double Tolerance = 1e-4;

    private const int Images = 16;

    private readonly ITestOutputHelper _output;

    public PretrainedResNet18Tests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// <paramref name="count"/> plausible RGB images in 0-255: a random 8x8 colour field per image, resized to 224x224
    /// (smooth regions and edges, as photographs have), plus a little pixel noise.
    /// </summary>
    private static float[] ImageLike(int count, int seed)
    {
        var random = new SeededRandom(seed);
        int length = ResNet18.Description.InputShape.Length;
        var images = new float[count * length];
        var coarse = new float[3 * 8 * 8];
        for (int n = 0; n < count; n++)
        {
            for (int i = 0; i < coarse.Length; i++)
                coarse[i] = random.Uniform(0, 255);
            Span<float> image = images.AsSpan(n * length, length);
            TransferLearning.ResizeToRgb(coarse, new Shape(3, 8, 8), image);
            for (int i = 0; i < length; i++)
                image[i] = Math.Clamp(image[i] + random.Uniform(-8, 8), 0, 255);
        }
        return images;
    }

    [Fact]
    public void TheFeaturesOfSixteenImagesMatchOnnxRuntime()
    {
        float[] images = ImageLike(Images, 61);
        var input = new float[images.Length];
        using (ResNetPreprocess preprocess = PretrainedModels.LoadPreprocess(new NetworkOptions { Threads = 1 }))
            preprocess.Forward(images, input, Images);
        using ResNet18 net = PretrainedModels.LoadResNet18(new NetworkOptions { Threads = 2 });
        Assert.Equal(new Shape(3, 224, 224), net.Info.InputShape);
        Assert.Equal(512, net.OutputLength);

        var features = new float[Images * 512];
        net.Forward(input, features, Images);
        // The file fixes the batch at 1: ONNX Runtime runs image by image.
        float[] reference = OnnxRuntimeOracle.Run(File.ReadAllBytes(PretrainedModels.ResNet18Path), input, net.Info.InputShape, Images, oneByOne: true);

        double worst = 0;
        for (int n = 0; n < Images; n++)
        {
            (double difference, double max) = OnnxRuntimeOracle.Compare(reference[(n * 512)..((n + 1) * 512)], features[(n * 512)..((n + 1) * 512)]);
            double relative = difference / max;
            worst = Math.Max(worst, relative);
            _output.WriteLine(FormattableString.Invariant($"image {n,2}: max |difference| {difference:0.000e+00}, max |feature| {max:0.000}, relative {relative:0.000e+00}"));
            Assert.True(relative < Tolerance, FormattableString.Invariant($"image {n}: relative difference {relative:0.000e+00} from ONNX Runtime"));
        }
        _output.WriteLine(FormattableString.Invariant($"worst relative difference {worst:0.000e+00}"));
    }

    [Fact]
    public void ThePreprocessingMatchesOnnxRuntimeOnItsFile()
    {
        float[] images = ImageLike(2, 62);
        var mine = new float[images.Length];
        using (ResNetPreprocess preprocess = PretrainedModels.LoadPreprocess(new NetworkOptions { Threads = 1 }))
            preprocess.Forward(images, mine, 2);
        float[] reference = OnnxRuntimeOracle.Run(File.ReadAllBytes(PretrainedModels.PreprocessPath), images, ResNet18.Description.InputShape, 2, oneByOne: true);
        (double difference, double max) = OnnxRuntimeOracle.Compare(reference, mine);
        _output.WriteLine(FormattableString.Invariant($"preprocessing: max |difference| {difference}, max |value| {max:0.000}"));
        Assert.Equal(0, difference);
    }

    [Fact]
    public void BadInputIsRejectedWithTheExpectedLengthOrTheMissingPath()
    {
        using ResNetPreprocess preprocess = PretrainedModels.LoadPreprocess(new NetworkOptions { Threads = 1 });
        var e = Assert.Throws<ArgumentException>(() => preprocess.Forward(new float[10], new float[150528], 1));
        Assert.Contains("150528", e.Message.Replace(",", ""));
        var resize = Assert.Throws<ArgumentException>(() => TransferLearning.ResizeToRgb(new float[784], new Shape(1, 28, 28), new float[10]));
        Assert.Contains("150528", resize.Message);
        string missing = Path.Combine(Path.GetTempPath(), "unroll-no-such-folder", "ResNetPreprocess.onnx");
        Assert.ThrowsAny<IOException>(() => preprocess.LoadOnnx(missing));
        // Every place the helper looks at is named when the file is in none of them.
        var notFound = Assert.Throws<FileNotFoundException>(() => PretrainedModels.Locate("ResNet18Onnx/missing.onnx"));
        Assert.All(PretrainedModels.Candidates("ResNet18Onnx/missing.onnx"), path => Assert.Contains(path, notFound.Message));
        Assert.Contains(PretrainedModels.FolderVariable, notFound.Message);
    }

    [Fact]
    public void TransferLearningTrainsTheHeadAndLeavesThePretrainedWeightsAsTheyWere()
    {
        (Dataset train, Dataset test) = FashionMnist.LoadEmbedded(ImagePreprocessing.Raw);
        using ResNet18 extractor = PretrainedModels.LoadResNet18(new NetworkOptions { Threads = 2 });
        using ResNetPreprocess preprocess = PretrainedModels.LoadPreprocess(new NetworkOptions { Threads = 2 });
        Dataset probe = TransferLearning.Subset(test, 4);
        float[] parametersBefore = extractor.Parameters.ToArray(), meanBefore = preprocess.Parameters.ToArray();
        float[] featuresBefore = TransferLearning.ExtractFeatures(extractor, preprocess, probe).Images;

        var options = new TransferOptions { TrainCount = 40, TestCount = 20, Epochs = 3, BatchSize = 8, Threads = 1 };
        using (TransferResult result = TransferLearning.Train(extractor, preprocess, train, test, options, progress: null, CancellationToken.None))
        {
            Assert.Equal(3, result.History.Epochs.Count);
            Assert.Equal(40, result.TrainFeatures.Count);
            Assert.Equal(20, result.Test.Count);
            Assert.True(double.IsFinite(result.Test.Loss));
            Assert.True(result.History.Epochs[^1].Loss < result.History.Epochs[0].Loss, "the head's loss did not fall");
            _output.WriteLine(FormattableString.Invariant($"40 training images, 3 epochs: test accuracy {result.Test.Accuracy:0.000} on 20 images"));
        }

        Assert.True(parametersBefore.AsSpan().SequenceEqual(extractor.Parameters), "the pretrained parameters changed");
        Assert.True(meanBefore.AsSpan().SequenceEqual(preprocess.Parameters), "the preprocessing's mean image changed");
        float[] featuresAfter = TransferLearning.ExtractFeatures(extractor, preprocess, probe).Images;
        Assert.True(featuresBefore.AsSpan().SequenceEqual(featuresAfter), "the pretrained network's features changed");
    }

    [Fact]
    public void TransferLearningStopsWhenCancelled()
    {
        (Dataset train, Dataset test) = FashionMnist.LoadEmbedded(ImagePreprocessing.Raw);
        using ResNet18 extractor = PretrainedModels.LoadResNet18(new NetworkOptions { Threads = 1 });
        using ResNetPreprocess preprocess = PretrainedModels.LoadPreprocess(new NetworkOptions { Threads = 1 });
        using var cancellation = new CancellationTokenSource();
        cancellation.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            TransferLearning.Train(extractor, preprocess, train, test, new TransferOptions { TrainCount = 8 }, null, cancellation.Token));
    }
}
