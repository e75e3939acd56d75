using System;
using System.IO;

namespace Unroll.Data;

/// <summary>
/// How bytes become network input, one pixel at a time, in single precision:
/// <c>x = ((ScaleToUnitRange ? b / 255f : b) - Mean) / StandardDeviation</c>; then, with
/// <see cref="Pad"/> above zero, the image is surrounded by <see cref="Pad"/> pixels of
/// <see cref="PadValue"/> on each side. The padding is added after normalisation, so the default
/// pad value 0 is 0 in normalised space (what PyTorch's <c>ToTensor, Normalize, Pad</c> gives),
/// not the normalised value of a black pixel.
/// </summary>
public sealed record ImagePreprocessing
{
    /// <summary>Bytes scaled to [0, 1], nothing else: the default.</summary>
    public static ImagePreprocessing UnitRange { get; } = new();

    /// <summary>The bytes' values 0 to 255 as floats, unchanged.</summary>
    public static ImagePreprocessing Raw { get; } = new() { ScaleToUnitRange = false };

    /// <summary>Divide each byte by 255 first (true by default), as PyTorch's <c>ToTensor</c> does.</summary>
    public bool ScaleToUnitRange { get; init; } = true;

    /// <summary>Subtracted after scaling (0 by default).</summary>
    public float Mean { get; init; }

    /// <summary>Divides after the mean is subtracted (1 by default); must be positive and finite.</summary>
    public float StandardDeviation { get; init; } = 1f;

    /// <summary>Pixels added on each of the four sides, after normalisation (0 by default).</summary>
    public int Pad { get; init; }

    /// <summary>The value of padding pixels, in normalised space (0 by default).</summary>
    public float PadValue { get; init; }

    /// <summary>The value a byte becomes (before padding).</summary>
    public float Transform(byte value) => ((ScaleToUnitRange ? value / 255f : value) - Mean) / StandardDeviation;

    /// <summary>The shape of a sample of shape <paramref name="input"/> after padding.</summary>
    public Shape OutputShape(Shape input) => new(input.Channels, input.Height + 2 * Pad, input.Width + 2 * Pad);

    /// <summary>Throws if the settings cannot be applied.</summary>
    /// <exception cref="ArgumentException">A negative pad, a standard deviation that is not positive and finite, or a mean or pad value that is not finite.</exception>
    public void Validate()
    {
        if (Pad < 0)
            throw new ArgumentException($"Pad is {Pad}; it must be 0 or more.");
        if (!(StandardDeviation > 0) || !float.IsFinite(StandardDeviation))
            throw new ArgumentException($"StandardDeviation is {StandardDeviation}; it must be positive and finite.");
        if (!float.IsFinite(Mean) || !float.IsFinite(PadValue))
            throw new ArgumentException("Mean and PadValue must be finite.");
    }
}

/// <summary>
/// Labelled images in memory: <see cref="Count"/> samples of <see cref="SampleShape"/>, stored one
/// after another in C, H, W order (the input layout of every Unroll network), and one class label
/// per sample. Feed it to a <see cref="BatchLoader"/> for shuffled mini-batches.
/// </summary>
public sealed class Dataset
{
    /// <summary>Wraps <paramref name="images"/> and <paramref name="labels"/> (not copied).</summary>
    /// <param name="images">Count x C x H x W values.</param>
    /// <param name="labels">One label in [0, <paramref name="classCount"/>) per sample.</param>
    /// <param name="sampleShape">C x H x W of one sample.</param>
    /// <param name="classCount">Number of classes.</param>
    /// <exception cref="ArgumentException">The lengths do not agree, or a label is out of range.</exception>
    public Dataset(float[] images, int[] labels, Shape sampleShape, int classCount)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (sampleShape.Length <= 0)
            throw new ArgumentException($"Sample shape {sampleShape} is empty.", nameof(sampleShape));
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if ((long)labels.Length * sampleShape.Length != images.Length)
            throw new ArgumentException($"{labels.Length} labels need {(long)labels.Length * sampleShape.Length} image values ({sampleShape} each), not {images.Length}.", nameof(images));
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classCount)
                throw new ArgumentException($"Label {labels[i]} of sample {i} is outside [0, {classCount}).", nameof(labels));
        }
        Images = images;
        Labels = labels;
        SampleShape = sampleShape;
        ClassCount = classCount;
    }

    /// <summary>All samples, <see cref="Count"/> x <see cref="SampleLength"/> values in C, H, W order. Treat it as read-only.</summary>
    public float[] Images { get; }

    /// <summary>The class of each sample. Treat it as read-only.</summary>
    public int[] Labels { get; }

    /// <summary>C x H x W of one sample.</summary>
    public Shape SampleShape { get; }

    /// <summary>Values per sample: C x H x W.</summary>
    public int SampleLength => SampleShape.Length;

    /// <summary>Number of samples.</summary>
    public int Count => Labels.Length;

    /// <summary>Number of classes; every label is below it.</summary>
    public int ClassCount { get; }

    /// <summary>The values of sample <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        return Images.AsSpan(index * SampleLength, SampleLength);
    }

    /// <summary>How many samples each class has.</summary>
    public int[] CountPerClass()
    {
        int[] counts = new int[ClassCount];
        foreach (int label in Labels)
            counts[label]++;
        return counts;
    }

    /// <summary>
    /// Builds a dataset from an IDX image array (N x H x W for one channel, or N x C x H x W) and an
    /// IDX label array (N), converting every pixel as <paramref name="preprocessing"/> says
    /// (<see cref="ImagePreprocessing.UnitRange"/> when null).
    /// </summary>
    /// <exception cref="InvalidDataException">The arrays' shapes do not fit together, or a label is out of range.</exception>
    public static Dataset FromIdx(IdxArray images, IdxArray labels, int classCount, ImagePreprocessing? preprocessing = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        preprocessing ??= ImagePreprocessing.UnitRange;
        preprocessing.Validate();

        int[] s = images.Shape;
        Shape input = s.Length switch
        {
            3 => new Shape(1, s[1], s[2]),
            4 => new Shape(s[1], s[2], s[3]),
            _ => throw new InvalidDataException($"Images must be N x H x W or N x C x H x W; the IDX array is {images}."),
        };
        if (labels.Shape.Length != 1)
            throw new InvalidDataException($"Labels must be a vector; the IDX array is {labels}.");
        if (labels.Count != images.Count)
            throw new InvalidDataException($"There are {images.Count} images but {labels.Count} labels.");
        Shape output = preprocessing.OutputShape(input);
        int n = images.Count;
        if ((long)n * output.Length > Array.MaxLength)
            throw new ArgumentException($"{n} samples of {output} are too many for one array.", nameof(images));

        int[] labelValues = new int[n];
        for (int i = 0; i < n; i++)
        {
            labelValues[i] = labels.Data[i];
            if (labelValues[i] >= classCount)
                throw new InvalidDataException($"Label {labelValues[i]} of sample {i} is outside [0, {classCount}).");
        }

        Span<float> table = stackalloc float[256];
        for (int b = 0; b < 256; b++)
            table[b] = preprocessing.Transform((byte)b);

        float[] values = new float[(long)n * output.Length];
        int pad = preprocessing.Pad, h = input.Height, w = input.Width, ow = output.Width;
        if (pad > 0 && preprocessing.PadValue != 0f)
            values.AsSpan().Fill(preprocessing.PadValue);
        ReadOnlySpan<byte> source = images.Data;
        int planes = n * input.Channels;
        for (int p = 0; p < planes; p++)
        {
            ReadOnlySpan<byte> plane = source.Slice(p * h * w, h * w);
            Span<float> target = values.AsSpan(p * output.Height * ow, output.Height * ow);
            for (int y = 0; y < h; y++)
            {
                ReadOnlySpan<byte> row = plane.Slice(y * w, w);
                Span<float> dest = target.Slice((y + pad) * ow + pad, w);
                for (int x = 0; x < w; x++)
                    dest[x] = table[row[x]];
            }
        }
        return new Dataset(values, labelValues, output, classCount);
    }
}
