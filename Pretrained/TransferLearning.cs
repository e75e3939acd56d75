using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Threading;
using Unroll.Data;
using Unroll.Training;

namespace Unroll.Pretrained;

/// <summary>The classifier trained on ResNet-18's 512 features: one dense layer to 10 classes and a softmax.</summary>
[Network(Input = "512x1x1")]
public partial class TransferHead
{
    /// <summary>The class probabilities.</summary>
    [Dense(10), Softmax] public partial Layer Output { get; }
}

/// <summary>Settings of <see cref="TransferLearning.Train"/>.</summary>
public sealed record TransferOptions
{
    /// <summary>Training images taken from the training set (spread evenly over it); 0 takes all.</summary>
    public int TrainCount { get; init; } = 1000;

    /// <summary>Test images taken from the test set (spread evenly over it); 0 takes all.</summary>
    public int TestCount { get; init; } = 500;

    /// <summary>Epochs of the head's training.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Mini-batch of the head's training.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam's learning rate for the head.</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Images that go through the frozen network at once.</summary>
    public int FeatureBatch { get; init; } = 8;

    /// <summary>Seeds the head's initialisation and the shuffling.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Threads of the head (the extractor has its own options).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A count is negative or a size, rate or thread count is not positive.</exception>
    public void Validate()
    {
        if (TrainCount < 0 || TestCount < 0)
            throw new ArgumentException($"Image counts must not be negative (train {TrainCount}, test {TestCount}).");
        if (Epochs < 1 || BatchSize < 1 || FeatureBatch < 1 || Threads < 1)
            throw new ArgumentException($"Epochs ({Epochs}), batch sizes ({BatchSize}, {FeatureBatch}) and threads ({Threads}) must be at least 1.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentException($"The learning rate must be positive, not {LearningRate}.");
    }
}

/// <summary>What <see cref="TransferLearning.Train"/> produced. Dispose it to release the head.</summary>
/// <param name="Head">The trained head (owned by the result).</param>
/// <param name="History">The head's training, epoch by epoch.</param>
/// <param name="Test">Loss and accuracy of the head on the test features.</param>
/// <param name="TrainFeatures">The frozen network's features of the training images, with their labels.</param>
/// <param name="TestFeatures">Likewise for the test images.</param>
/// <param name="FeatureTime">Time spent in the frozen network.</param>
/// <param name="TrainTime">Time spent training the head.</param>
public sealed record TransferResult(TransferHead Head, TrainingHistory History, Evaluation Test, Dataset TrainFeatures, Dataset TestFeatures,
    TimeSpan FeatureTime, TimeSpan TrainTime) : IDisposable
{
    /// <summary>Disposes the head.</summary>
    public void Dispose() => Head.Dispose();
}

/// <summary>
/// Transfer learning with the pretrained ResNet-18 as a frozen feature extractor: each image goes through the preprocessing
/// and the network once (the extractor never changes, so its features are computed once), then a new
/// <see cref="TransferHead"/> learns the classes from the 512 features.
/// </summary>
public static class TransferLearning
{
    /// <summary>Computes the features of <paramref name="train"/> and <paramref name="test"/>, then trains a new head on them.</summary>
    /// <param name="extractor">The frozen network with its weights loaded; only read.</param>
    /// <param name="preprocess">The network's preprocessing, with its mean image loaded; only read.</param>
    /// <param name="train">Grey (1 x H x W) or colour (3 x H x W) images with values in 0-255, any size.</param>
    /// <param name="test">Test images of the same kind.</param>
    /// <param name="options">Subset sizes and the head's training; null for the defaults.</param>
    /// <param name="progress">Progress lines (feature extraction, then one per epoch); null for none.</param>
    /// <param name="cancellationToken">Stops between feature batches and between training steps.</param>
    /// <exception cref="ArgumentException">Invalid options, or images that are neither grey nor colour.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public static TransferResult Train(ResNet18 extractor, ResNetPreprocess preprocess, Dataset train, Dataset test, TransferOptions? options = null,
        TextWriter? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(extractor);
        ArgumentNullException.ThrowIfNull(preprocess);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        options ??= new TransferOptions();
        options.Validate();
        var clock = Stopwatch.StartNew();
        Dataset trainFeatures = ExtractFeatures(extractor, preprocess, Subset(train, options.TrainCount), options.FeatureBatch, progress, "training", cancellationToken);
        Dataset testFeatures = ExtractFeatures(extractor, preprocess, Subset(test, options.TestCount), options.FeatureBatch, progress, "test", cancellationToken);
        TimeSpan featureTime = clock.Elapsed;

        clock.Restart();
        var head = new TransferHead(new NetworkOptions { Seed = options.Seed, Threads = options.Threads });
        try
        {
            var optimizer = new Adam(head.Info, options.LearningRate);
            TrainingHistory history = head.Fit(trainFeatures, optimizer, new FitOptions
            {
                Epochs = options.Epochs,
                BatchSize = options.BatchSize,
                Seed = options.Seed,
                Validation = testFeatures,
                Progress = progress,
            }, cancellationToken);
            Evaluation evaluation = head.Evaluate(testFeatures);
            return new TransferResult(head, history, evaluation, trainFeatures, testFeatures, featureTime, clock.Elapsed);
        }
        catch
        {
            head.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The features of every image of <paramref name="images"/>: resized to 224 x 224 (bilinear), grey copied to the three
    /// channels, preprocessed, and run through <paramref name="extractor"/> <paramref name="batch"/> images at a time.
    /// </summary>
    /// <returns>512 x 1 x 1 features per image, with the images' labels.</returns>
    /// <exception cref="ArgumentException">The images are neither 1 x H x W nor 3 x H x W, or <paramref name="batch"/> is below 1.</exception>
    /// <exception cref="OperationCanceledException">Cancelled (checked between batches).</exception>
    public static Dataset ExtractFeatures(ResNet18 extractor, ResNetPreprocess preprocess, Dataset images, int batch = 8, TextWriter? progress = null,
        string what = "", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(extractor);
        ArgumentNullException.ThrowIfNull(preprocess);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        Shape shape = images.SampleShape;
        if (shape.Channels is not (1 or 3))
            throw new ArgumentException($"Images of {shape} are neither grey (1 x H x W) nor colour (3 x H x W).", nameof(images));
        int imageLength = extractor.InputLength, featureLength = extractor.OutputLength;
        var features = new float[(long)images.Count * featureLength];
        var rgb = new float[batch * imageLength];
        var input = new float[batch * imageLength];
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < images.Count; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(batch, images.Count - start);
            Span<float> part = rgb.AsSpan(0, count * imageLength);
            for (int n = 0; n < count; n++)
                ResizeToRgb(images.Image(start + n), shape, part.Slice(n * imageLength, imageLength));
            preprocess.Forward(part, input.AsSpan(0, count * imageLength), count);
            extractor.Forward(input.AsSpan(0, count * imageLength), features.AsSpan(start * featureLength, count * featureLength), count);
            int done = start + count;
            if (progress is not null && (done == images.Count || done / batch % 25 == 0))
                progress.WriteLine(FormattableString.Invariant($"features of {what} images: {done:N0}/{images.Count:N0}, {done / clock.Elapsed.TotalSeconds:0.0} images/s"));
        }
        return new Dataset(features, (int[])images.Labels.Clone(), new Shape(featureLength, 1, 1), images.ClassCount);
    }

    /// <summary><paramref name="count"/> samples spread evenly over <paramref name="data"/> (all when 0 or at least its size).</summary>
    public static Dataset Subset(Dataset data, int count)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (count <= 0 || count >= data.Count)
            return data;
        int length = data.SampleLength;
        var images = new float[(long)count * length];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int from = (int)((long)i * data.Count / count);
            data.Image(from).CopyTo(images.AsSpan(i * length, length));
            labels[i] = data.Labels[from];
        }
        return new Dataset(images, labels, data.SampleShape, data.ClassCount);
    }

    /// <summary>
    /// One image of 1 or 3 channels, any size, to 3 x 224 x 224 by bilinear interpolation with pixel centres aligned
    /// (as most image libraries resize); a grey image fills all three channels.
    /// </summary>
    public static void ResizeToRgb(ReadOnlySpan<float> image, Shape shape, Span<float> rgb)
    {
        Shape target = ResNet18.Description.InputShape;
        if (image.Length != shape.Length)
            throw new ArgumentException($"The image needs {shape.Length} values ({shape}), not {image.Length}.", nameof(image));
        if (rgb.Length != target.Length)
            throw new ArgumentException($"The output needs {target.Length} values ({target}), not {rgb.Length}.", nameof(rgb));
        int h = shape.Height, w = shape.Width, plane = target.Height * target.Width;
        for (int c = 0; c < 3; c++)
        {
            ReadOnlySpan<float> source = image.Slice((shape.Channels == 1 ? 0 : c) * h * w, h * w);
            Span<float> channel = rgb.Slice(c * plane, plane);
            if (c > 0 && shape.Channels == 1)
            {
                rgb.Slice(0, plane).CopyTo(channel);
                continue;
            }
            for (int y = 0; y < target.Height; y++)
            {
                (int y0, int y1, float fy) = Tap(y, h, target.Height);
                for (int x = 0; x < target.Width; x++)
                {
                    (int x0, int x1, float fx) = Tap(x, w, target.Width);
                    float top = source[y0 * w + x0] + fx * (source[y0 * w + x1] - source[y0 * w + x0]);
                    float bottom = source[y1 * w + x0] + fx * (source[y1 * w + x1] - source[y1 * w + x0]);
                    channel[y * target.Width + x] = top + fy * (bottom - top);
                }
            }
        }
    }

    /// <summary>The two source pixels and the weight of the second for output pixel <paramref name="i"/> (half-pixel centres, edges clamped).</summary>
    private static (int Low, int High, float Weight) Tap(int i, int from, int to)
    {
        double position = Math.Max(0, (i + 0.5) * from / to - 0.5);
        int low = Math.Min((int)position, from - 1);
        int high = Math.Min(low + 1, from - 1);
        return (low, high, (float)(position - low));
    }
}
