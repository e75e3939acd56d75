using System;
using System.Buffers;
using System.IO;
using System.Linq;
using Unroll.Onnx;

namespace Unroll.Pretrained;

/// <summary>
/// What the package's ResNetPreprocess.onnx computes, in C#: an RGB image of 3 x 224 x 224 values in 0-255 (C, H, W order)
/// becomes the BGR image minus the mean image (the file's initializer, read from it). The file's graph is Split on the
/// channels, Concat in the order B, G, R, then Sub of the mean; the mean is loaded from the file, the two moves are written
/// here. (This stands in for compiling the file through [OnnxNetwork] until the translator supports Split and Sub.)
/// </summary>
public sealed class ResNetPreprocess
{
    /// <summary>Channels, height and width of one image.</summary>
    public static Shape ImageShape { get; } = new(3, 224, 224);

    private readonly float[] _mean;

    private ResNetPreprocess(float[] mean) => _mean = mean;

    /// <summary>The mean image (BGR, 3 x 224 x 224), as the file gives it. Read-only.</summary>
    public ReadOnlySpan<float> Mean => _mean;

    /// <summary>Reads the mean image from ResNetPreprocess.onnx.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not the expected model (the message says what is missing).</exception>
    public static ResNetPreprocess Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The ResNet preprocessing model {Path.GetFullPath(path)} does not exist.", path);
        OnnxModelProto model = OnnxReader.ReadModel(File.ReadAllBytes(path));
        OnnxNodeProto[] nodes = model.Graph.Nodes.ToArray();
        string[] ops = nodes.Select(n => n.OpType).ToArray();
        if (!ops.SequenceEqual(new[] { "Split", "Concat", "Sub" }))
            throw new InvalidDataException($"{path} computes {string.Join(", ", ops)}; the ResNet preprocessing (Split, Concat, Sub) was expected.");
        OnnxNodeProto split = nodes[0], concat = nodes[1], sub = nodes[2];
        // Concat must take the split's outputs in reverse (B, G, R), and Sub must take the concatenation minus an initializer.
        if (split.Outputs.Count != 3 || !concat.Inputs.SequenceEqual(split.Outputs.AsEnumerable().Reverse()) || sub.Input(0) != concat.Outputs[0])
            throw new InvalidDataException($"{path} does not reorder RGB to BGR before subtracting the mean.");
        OnnxTensorProto? mean = model.Graph.Initializers.FirstOrDefault(t => t.Name == sub.Input(1));
        if (mean is null || mean.DataType != OnnxDataType.Float || mean.ElementCount != ImageShape.Length)
            throw new InvalidDataException($"{path} has no FLOAT mean image '{sub.Input(1)}' of {ImageShape.Length} values.");
        return new ResNetPreprocess(mean.ToFloats());
    }

    /// <summary>Writes <paramref name="batch"/> preprocessed images: BGR minus the mean.</summary>
    /// <param name="rgb">batch x 3 x 224 x 224 values, RGB in 0-255.</param>
    /// <param name="output">As many values: the network's input. May not overlap <paramref name="rgb"/> unless it is the same span.</param>
    /// <param name="batch">The number of images.</param>
    /// <exception cref="ArgumentException">A span's length is not batch x 150,528.</exception>
    public void Apply(ReadOnlySpan<float> rgb, Span<float> output, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 0);
        long expected = (long)batch * ImageShape.Length;
        if (rgb.Length != expected)
            throw new ArgumentException($"The input needs {expected} values ({batch} x {ImageShape}), not {rgb.Length}.", nameof(rgb));
        if (output.Length != expected)
            throw new ArgumentException($"The output needs {expected} values ({batch} x {ImageShape}), not {output.Length}.", nameof(output));
        int plane = ImageShape.Height * ImageShape.Width;
        float[] red = ArrayPool<float>.Shared.Rent(plane);
        for (int n = 0; n < batch; n++)
        {
            int at = n * ImageShape.Length;
            // Swap R and B through a copy of R, so that rgb and output may be one span.
            rgb.Slice(at, plane).CopyTo(red);
            for (int c = 0; c < 3; c++)
            {
                ReadOnlySpan<float> source = c == 0 ? rgb.Slice(at + 2 * plane, plane) : c == 1 ? rgb.Slice(at + plane, plane) : red.AsSpan(0, plane);
                Span<float> target = output.Slice(at + c * plane, plane);
                ReadOnlySpan<float> mean = _mean.AsSpan(c * plane, plane);
                for (int i = 0; i < plane; i++)
                    target[i] = source[i] - mean[i];
            }
        }
        ArrayPool<float>.Shared.Return(red);
    }
}
