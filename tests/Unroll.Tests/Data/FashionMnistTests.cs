using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using Unroll.Data;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests.Data;

public sealed class FashionMnistTests
{
    /// <summary>Where the Debian package dataset-fashion-mnist puts the full dataset.</summary>
    private const string FullDataset = "/usr/share/datasets/fashion-mnist";

    // SHA-256 of the decoded pixel and label bytes (the IDX payloads, without headers) of the
    // committed subset, as tools/make-fashion-subset.py wrote them.
    private const string TrainImagesSha256 = "3c9d61b68fc96d75b12ac9982c63555eae88f8fa44725de2be77c3a8f3f78b2f";
    private const string TrainLabelsSha256 = "e63cc451ec8013f2ac3f87bcefb89f11b25c5ed3a5b86b11a29a5b85cd01d4eb";
    private const string TestImagesSha256 = "15862691d020c90559094211e7f678c6272156ecd93b60b0478a68a6f6b9c1f1";
    private const string TestLabelsSha256 = "c6eb13707c4c5dc57a1444d69f00b2db63be043593caa4c1ce5cf6693ddc9db8";

    /// <summary>The subset's seed and per-class counts, as data/fashion-mnist-subset/README.md documents.</summary>
    private const long SubsetSeed = 2017;

    private static readonly Lazy<(Dataset Train, Dataset Test)> Raw = new(() => FashionMnist.LoadEmbedded(ImagePreprocessing.Raw));

    private static string Sha256(IEnumerable<float> values) =>
        Convert.ToHexStringLower(SHA256.HashData(values.Select(v => checked((byte)v)).ToArray()));

    private static string Sha256(IEnumerable<int> values) =>
        Convert.ToHexStringLower(SHA256.HashData(values.Select(v => checked((byte)v)).ToArray()));

    [Fact]
    public void Embedded_subset_has_4000_training_and_1000_test_images_balanced_over_the_classes()
    {
        var (train, test) = FashionMnist.LoadEmbedded();
        Assert.Equal(FashionMnist.EmbeddedTrainCount, train.Count);
        Assert.Equal(4000, train.Count);
        Assert.Equal(1000, test.Count);
        Assert.Equal(new Shape(1, 28, 28), train.SampleShape);
        Assert.Equal(new Shape(1, 28, 28), test.SampleShape);
        Assert.Equal(10, train.ClassCount);
        Assert.All(train.CountPerClass(), n => Assert.Equal(400, n));
        Assert.All(test.CountPerClass(), n => Assert.Equal(100, n));
        Assert.Equal(4000 * 784, train.Images.Length);
        Assert.All(new[] { train, test }, d => Assert.True(d.Images.All(v => v >= 0f && v <= 1f), "pixel outside [0, 1]"));
    }

    [Fact]
    public void Embedded_subset_decodes_to_the_committed_bytes()
    {
        var (train, test) = Raw.Value;
        Assert.Equal(TrainImagesSha256, Sha256(train.Images));
        Assert.Equal(TrainLabelsSha256, Sha256(train.Labels));
        Assert.Equal(TestImagesSha256, Sha256(test.Images));
        Assert.Equal(TestLabelsSha256, Sha256(test.Labels));
    }

    [Fact]
    public void Embedded_subset_looks_like_fashion_mnist()
    {
        var (train, _) = FashionMnist.LoadEmbedded();
        double mean = train.Images.Average(v => (double)v);
        double std = Math.Sqrt(train.Images.Average(v => (v - mean) * (v - mean)));
        Assert.InRange(mean, FashionMnist.Mean - 0.005, FashionMnist.Mean + 0.005);
        Assert.InRange(std, FashionMnist.StandardDeviation - 0.005, FashionMnist.StandardDeviation + 0.005);
        Assert.Equal(1f, train.Images.Max());
        Assert.Equal(0f, train.Images.Min());
    }

    [Fact]
    public void Embedded_resources_are_the_committed_files()
    {
        string folder = Path.Combine(RepositoryRoot.Path, "data", "fashion-mnist-subset");
        foreach (string name in FashionMnist.FileNames)
        {
            using Stream stream = FashionMnist.OpenEmbedded(name + ".gz");
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            Assert.Equal(File.ReadAllBytes(Path.Combine(folder, name + ".gz")), copy.ToArray());
        }
        Assert.Throws<ArgumentException>(() => FashionMnist.OpenEmbedded("other-idx1-ubyte"));
    }

    [Fact]
    public void Load_reads_the_committed_folder_like_LoadEmbedded()
    {
        var (train, test) = FashionMnist.Load(Path.Combine(RepositoryRoot.Path, "data", "fashion-mnist-subset"), FashionMnist.LeNet5Preprocessing);
        var (embeddedTrain, embeddedTest) = FashionMnist.LoadEmbedded(FashionMnist.LeNet5Preprocessing);
        Assert.Equal(embeddedTrain.Images, train.Images);
        Assert.Equal(embeddedTrain.Labels, train.Labels);
        Assert.Equal(embeddedTest.Images, test.Images);
        Assert.Equal(embeddedTest.Labels, test.Labels);
    }

    [Fact]
    public void First_embedded_images_match_the_full_dataset()
    {
        if (!Directory.Exists(FullDataset))
            return; // The checksums above still pin the embedded data.
        var (train, test) = Raw.Value;
        foreach (var (subset, images, labels) in new[] { (train, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), (test, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz") })
        {
            IdxArray fullImages = IdxReader.Read(Path.Combine(FullDataset, images));
            IdxArray fullLabels = IdxReader.Read(Path.Combine(FullDataset, labels));
            // The subset keeps file order; its first image is the full set's image 5 (README).
            Assert.Equal(fullImages.Data.AsSpan(5 * 784, 784).ToArray().Select(b => (float)b), subset.Image(0).ToArray());
            Assert.Equal(fullLabels.Data[5], subset.Labels[0]);
        }
    }

    [Fact]
    public void Embedded_subset_is_the_documented_seeded_sample_of_the_full_dataset()
    {
        if (!Directory.Exists(FullDataset))
            return;
        // The sampling of tools/make-fashion-subset.py, redone with Unroll.SeededRandom (the script's
        // SplitMix64 is the same generator): per class, Fisher-Yates over that class's indices, keep
        // the first N; the kept images in file order. One generator for training, then test.
        var random = new SeededRandom(SubsetSeed);
        var (train, test) = Raw.Value;
        foreach (var (subset, prefix, perClass) in new[] { (train, "train", 400), (test, "t10k", 100) })
        {
            IdxArray images = IdxReader.Read(Path.Combine(FullDataset, prefix + "-images-idx3-ubyte.gz"));
            IdxArray labels = IdxReader.Read(Path.Combine(FullDataset, prefix + "-labels-idx1-ubyte.gz"));
            var kept = new List<int>();
            for (int c = 0; c < 10; c++)
            {
                int[] indices = Enumerable.Range(0, labels.Count).Where(i => labels.Data[i] == c).ToArray();
                for (int i = indices.Length - 1; i > 0; i--)
                {
                    int j = random.Next(i + 1);
                    (indices[i], indices[j]) = (indices[j], indices[i]);
                }
                kept.AddRange(indices.Take(perClass));
            }
            kept.Sort();
            Assert.Equal(subset.Count, kept.Count);
            for (int k = 0; k < kept.Count; k++)
            {
                Assert.Equal(labels.Data[kept[k]], subset.Labels[k]);
                ReadOnlySpan<byte> expected = images.Data.AsSpan(kept[k] * 784, 784);
                ReadOnlySpan<float> actual = subset.Image(k);
                for (int p = 0; p < 784; p++)
                {
                    if (expected[p] != actual[p])
                        Assert.Fail($"{prefix} subset image {k} (full-set image {kept[k]}) differs at pixel {p}: {actual[p]} != {expected[p]}");
                }
            }
        }
    }

    [Fact]
    public void LeNet5_preprocessing_normalises_then_pads_with_zero()
    {
        var (raw, _) = Raw.Value;
        var (train, _) = FashionMnist.LoadEmbedded(FashionMnist.LeNet5Preprocessing);
        Assert.Equal(new Shape(1, 32, 32), train.SampleShape);
        Assert.Equal(0.2860f, FashionMnist.Mean);
        Assert.Equal(0.3530f, FashionMnist.StandardDeviation);
        float black = (0f - 0.2860f) / 0.3530f;
        float white = (1f - 0.2860f) / 0.3530f;
        Assert.Equal(black, FashionMnist.LeNet5Preprocessing.Transform(0));
        Assert.Equal(white, FashionMnist.LeNet5Preprocessing.Transform(255));
        for (int n = 0; n < 50; n++)
        {
            ReadOnlySpan<float> image = train.Image(n);
            ReadOnlySpan<float> bytes = raw.Image(n);
            for (int y = 0; y < 32; y++)
            {
                for (int x = 0; x < 32; x++)
                {
                    float v = image[y * 32 + x];
                    if (y < 2 || y >= 30 || x < 2 || x >= 30)
                    {
                        Assert.Equal(0f, v);
                        continue;
                    }
                    float b = bytes[(y - 2) * 28 + (x - 2)];
                    Assert.Equal((b / 255f - 0.2860f) / 0.3530f, v);
                    if (b == 0)
                        Assert.Equal(black, v);
                }
            }
        }
        // Fashion-MNIST images have black borders: the first image's corner pixel becomes the normalised black.
        Assert.Equal(0f, raw.Image(0)[0]);
        Assert.Equal(black, train.Image(0)[2 * 32 + 2]);
    }

    [Fact]
    public void Normalised_preprocessing_keeps_28x28()
    {
        var (_, test) = FashionMnist.LoadEmbedded(FashionMnist.NormalizedPreprocessing);
        Assert.Equal(new Shape(1, 28, 28), test.SampleShape);
        Dataset raw = Raw.Value.Test;
        Assert.Equal((raw.Images[400] / 255f - FashionMnist.Mean) / FashionMnist.StandardDeviation, test.Images[400]);
    }

    [Fact]
    public void FromIdx_pads_with_the_pad_value_and_keeps_channels()
    {
        // Two samples of 2 channels x 2 x 3, bytes 0..23.
        byte[] bytes = Enumerable.Range(0, 24).Select(i => (byte)(i * 10)).ToArray();
        var images = new IdxArray(bytes, [2, 2, 2, 3]);
        var labels = new IdxArray([1, 0], [2]);
        var options = new ImagePreprocessing { ScaleToUnitRange = false, Mean = 5, StandardDeviation = 2, Pad = 1, PadValue = -7 };
        Dataset d = Dataset.FromIdx(images, labels, 2, options);
        Assert.Equal(new Shape(2, 4, 5), d.SampleShape);
        Assert.Equal([1, 0], d.Labels);
        for (int s = 0; s < 2; s++)
        {
            for (int c = 0; c < 2; c++)
            {
                for (int y = 0; y < 4; y++)
                {
                    for (int x = 0; x < 5; x++)
                    {
                        float v = d.Image(s)[(c * 4 + y) * 5 + x];
                        bool border = y == 0 || y == 3 || x == 0 || x == 4;
                        float expected = border ? -7f : (bytes[((s * 2 + c) * 2 + y - 1) * 3 + x - 1] - 5f) / 2f;
                        Assert.Equal(expected, v);
                    }
                }
            }
        }
    }

    [Fact]
    public void FromIdx_rejects_mismatched_or_out_of_range_labels()
    {
        var images = new IdxArray(new byte[3 * 4], [3, 2, 2]);
        Assert.Throws<InvalidDataException>(() => Dataset.FromIdx(images, new IdxArray([0, 1], [2]), 10));
        Assert.Throws<InvalidDataException>(() => Dataset.FromIdx(images, new IdxArray([0, 1, 10], [3]), 10));
        Assert.Throws<InvalidDataException>(() => Dataset.FromIdx(images, new IdxArray([0, 1, 2, 3, 4, 5], [3, 2]), 10));
        Assert.Throws<InvalidDataException>(() => Dataset.FromIdx(new IdxArray(new byte[12], [12]), new IdxArray(new byte[12], [12]), 10));
        Assert.Throws<ArgumentException>(() => Dataset.FromIdx(images, new IdxArray([0, 1, 2], [3]), 10, new ImagePreprocessing { StandardDeviation = 0 }));
        Assert.Throws<ArgumentException>(() => Dataset.FromIdx(images, new IdxArray([0, 1, 2], [3]), 10, new ImagePreprocessing { Pad = -1 }));
    }

    [Fact]
    public void Dataset_checks_its_arguments()
    {
        Assert.Throws<ArgumentException>(() => new Dataset(new float[10], [0, 1], new Shape(1, 2, 2), 2));
        Assert.Throws<ArgumentException>(() => new Dataset(new float[8], [0, 2], new Shape(1, 2, 2), 2));
        var d = new Dataset(new float[8], [0, 1], new Shape(1, 2, 2), 2);
        Assert.Equal(2, d.Count);
        Assert.Equal(4, d.SampleLength);
        Assert.Throws<ArgumentOutOfRangeException>(() => d.Image(2).Length);
    }

    [Fact]
    public void Load_accepts_uncompressed_files_and_names_a_missing_one()
    {
        string folder = Path.Combine(Path.GetTempPath(), "unroll-fmnist-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            byte[] pixels = Enumerable.Range(0, 3 * 784).Select(i => (byte)i).ToArray();
            File.WriteAllBytes(Path.Combine(folder, "train-images-idx3-ubyte"), IdxReaderTests.Idx([3, 28, 28], pixels));
            File.WriteAllBytes(Path.Combine(folder, "train-labels-idx1-ubyte"), IdxReaderTests.Idx([3], [7, 8, 9]));
            File.WriteAllBytes(Path.Combine(folder, "t10k-images.idx3-ubyte"), IdxReaderTests.Idx([1, 28, 28], pixels[..784]));
            var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(folder));
            Assert.Contains("t10k-labels-idx1-ubyte.gz", e.Message);

            File.WriteAllBytes(Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"), IdxReaderTests.Gzip(IdxReaderTests.Idx([1], [4])));
            var (train, test) = FashionMnist.Load(folder, ImagePreprocessing.Raw);
            Assert.Equal([7, 8, 9], train.Labels);
            Assert.Equal([4], test.Labels);
            Assert.Equal(pixels.Select(b => (float)b), train.Images);

            File.WriteAllBytes(Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"), IdxReaderTests.Gzip(IdxReaderTests.Idx([1], [10])));
            Assert.Throws<InvalidDataException>(() => FashionMnist.Load(folder));
            Assert.Throws<DirectoryNotFoundException>(() => FashionMnist.Load(Path.Combine(folder, "missing")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
