using System;
using System.Collections.Generic;
using System.IO;

namespace Unroll.Data;

/// <summary>
/// Fashion-MNIST (Zalando Research, MIT licence): 28x28 grayscale images of clothing in 10 classes,
/// 60,000 for training and 10,000 for testing. <see cref="Load"/> reads the full dataset from a
/// folder; <see cref="LoadEmbedded"/> reads the class-balanced 4,000 / 1,000 image subset built
/// into this assembly (see <c>data/fashion-mnist-subset/README.md</c> in the repository).
/// </summary>
/// <example>
/// <code>
/// var (train, test) = FashionMnist.LoadEmbedded(FashionMnist.LeNet5Preprocessing);   // 1x32x32 samples
/// using var loader = new BatchLoader(train, batchSize: 64, seed: 1);
/// foreach (Batch batch in loader.Epoch(0))
///     net.Forward(batch.Images, output, batch.Count);
/// </code>
/// </example>
public static class FashionMnist
{
    /// <summary>Mean of the training pixels scaled to [0, 1], the usual normalisation constant.</summary>
    public const float Mean = 0.2860f;

    /// <summary>Standard deviation of the training pixels scaled to [0, 1].</summary>
    public const float StandardDeviation = 0.3530f;

    /// <summary>Number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>Height and width of an image.</summary>
    public const int ImageSize = 28;

    /// <summary>Images in the embedded training subset (400 per class).</summary>
    public const int EmbeddedTrainCount = 4000;

    /// <summary>Images in the embedded test subset (100 per class).</summary>
    public const int EmbeddedTestCount = 1000;

    /// <summary>The file names of the four IDX files (without <c>.gz</c>): training images and labels, test images and labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>
    /// The LeNet-5 recipe: scale to [0, 1], normalise with <see cref="Mean"/> and
    /// <see cref="StandardDeviation"/>, then pad 28x28 to 32x32 with zeros (2 pixels a side; zero in
    /// normalised space, as PyTorch's <c>ToTensor, Normalize(0.2860, 0.3530), Pad(2)</c>).
    /// Samples come out 1x32x32.
    /// </summary>
    public static ImagePreprocessing LeNet5Preprocessing { get; } = new() { Mean = Mean, StandardDeviation = StandardDeviation, Pad = 2 };

    /// <summary>Scale to [0, 1] and normalise, no padding: 1x28x28 samples.</summary>
    public static ImagePreprocessing NormalizedPreprocessing { get; } = new() { Mean = Mean, StandardDeviation = StandardDeviation };

    /// <summary>
    /// Reads the full dataset from <paramref name="directory"/>, which holds the four files of
    /// <see cref="FileNames"/>, each gzipped (<c>.gz</c>) or not (also accepted: the
    /// <c>train-images.idx3-ubyte</c> spelling). Pixels are converted as
    /// <paramref name="preprocessing"/> says (<see cref="ImagePreprocessing.UnitRange"/> when null).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file is missing; the message lists the names tried.</exception>
    /// <exception cref="InvalidDataException">A file is damaged, or the files do not fit together.</exception>
    public static (Dataset Train, Dataset Test) Load(string directory, ImagePreprocessing? preprocessing = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Fashion-MNIST folder '{directory}' does not exist.");
        IdxArray Read(string name) => IdxReader.Read(Find(directory, name));
        return (Build(Read(FileNames[0]), Read(FileNames[1]), preprocessing),
                Build(Read(FileNames[2]), Read(FileNames[3]), preprocessing));
    }

    /// <summary>
    /// Reads the subset built into this assembly: <see cref="EmbeddedTrainCount"/> training and
    /// <see cref="EmbeddedTestCount"/> test images, a tenth of each per class.
    /// </summary>
    public static (Dataset Train, Dataset Test) LoadEmbedded(ImagePreprocessing? preprocessing = null)
    {
        IdxArray Read(string name)
        {
            using Stream stream = OpenEmbedded(name);
            return IdxReader.Read(stream);
        }
        return (Build(Read(FileNames[0]), Read(FileNames[1]), preprocessing),
                Build(Read(FileNames[2]), Read(FileNames[3]), preprocessing));
    }

    /// <summary>
    /// Opens one gzipped file of the embedded subset as it was committed, for example to copy it to
    /// disk. <paramref name="fileName"/> is one of <see cref="FileNames"/>, with or without <c>.gz</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="FileNames"/>.</exception>
    public static Stream OpenEmbedded(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        string stem = fileName.EndsWith(".gz", StringComparison.Ordinal) ? fileName[..^3] : fileName;
        if (!((IList<string>)FileNames).Contains(stem))
            throw new ArgumentException($"'{fileName}' is not one of the embedded files: {string.Join(", ", FileNames)}.", nameof(fileName));
        string resource = ResourcePrefix + stem + ".gz";
        return typeof(FashionMnist).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The embedded resource '{resource}' is missing from {typeof(FashionMnist).Assembly.GetName().Name}; the assembly was built without data/fashion-mnist-subset.");
    }

    private const string ResourcePrefix = "Unroll.Data.FashionMnist.";

    private static Dataset Build(IdxArray images, IdxArray labels, ImagePreprocessing? preprocessing)
    {
        if (images.Shape.Length != 3 || images.Shape[1] != ImageSize || images.Shape[2] != ImageSize)
            throw new InvalidDataException($"Fashion-MNIST images are N x {ImageSize} x {ImageSize}; this file holds {images}.");
        return Dataset.FromIdx(images, labels, ClassCount, preprocessing);
    }

    private static string Find(string directory, string stem)
    {
        // "train-images.idx3-ubyte" is how some mirrors spell the uncompressed files.
        string dotted = stem.Replace("-idx", ".idx", StringComparison.Ordinal);
        string[] candidates = [stem + ".gz", stem, dotted + ".gz", dotted];
        foreach (string name in candidates)
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path))
                return path;
        }
        throw new FileNotFoundException($"Fashion-MNIST file missing in '{directory}': tried {string.Join(", ", candidates)}.", Path.Combine(directory, stem + ".gz"));
    }
}
