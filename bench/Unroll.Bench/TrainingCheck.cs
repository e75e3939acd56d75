using System;

namespace Unroll.Bench;

/// <summary>
/// Checks the parameter gradients of a one-convolution network trained with the loss of half the squared output
/// norm, whose gradient with respect to the output is the output: a double-precision reference from the input and a
/// trusted forward output (ONNX Runtime's), over every bias and a seeded sample of the weights.
/// </summary>
internal static class TrainingCheck
{
    private const int SampledWeights = 256;

    /// <summary>max |Unroll's gradient - reference| and max |reference| over the checked entries.</summary>
    /// <param name="network">A network of one convolution without activation, after <see cref="Network.ComputeGradients"/>.</param>
    /// <param name="input">The batch's input.</param>
    /// <param name="output">The batch's forward output from another implementation.</param>
    /// <param name="batch">Samples in the batch.</param>
    public static (double Diff, double Reference) Compare(Network network, float[] input, float[] output, int batch)
    {
        if (network.Layers.Count != 1 || network.Layers[0].Info is not { Kind: LayerKind.Conv2D, Activation: Activation.None } conv)
            throw new NotSupportedException("The training check handles a single convolution without activation.");
        LayerSettings window = conv.Settings ?? throw new NotSupportedException($"Layer '{conv.Name}' has no settings.");
        Shape x = conv.InputShape, y = conv.OutputShape;
        TensorInfo weights = conv.Weights!;

        float[] weightGradient = Canonical(network, weights);
        double diff = 0, max = 0;
        void Check(double actual, double expected)
        {
            diff = Math.Max(diff, Math.Abs(actual - expected));
            max = Math.Max(max, Math.Abs(expected));
        }

        var random = new SeededRandom(5);
        for (int s = 0; s < SampledWeights; s++)
        {
            int index = random.Next(weightGradient.Length);
            int kx = index % window.KernelWidth, ky = index / window.KernelWidth % window.KernelHeight;
            int i = index / (window.KernelWidth * window.KernelHeight) % x.Channels, o = index / (window.KernelWidth * window.KernelHeight * x.Channels);
            double sum = 0;
            for (int n = 0; n < batch; n++)
                for (int oy = 0; oy < y.Height; oy++)
                {
                    int iy = oy * window.StrideHeight + ky - window.PadTop;
                    if (iy < 0 || iy >= x.Height)
                        continue;
                    for (int ox = 0; ox < y.Width; ox++)
                    {
                        int ix = ox * window.StrideWidth + kx - window.PadLeft;
                        if (ix < 0 || ix >= x.Width)
                            continue;
                        sum += (double)output[((n * y.Channels + o) * y.Height + oy) * y.Width + ox]
                            * input[((n * x.Channels + i) * x.Height + iy) * x.Width + ix];
                    }
                }
            Check(weightGradient[index], sum);
        }

        if (conv.Bias is { } biasTensor)
        {
            float[] biasGradient = Canonical(network, biasTensor);
            int pixels = y.Height * y.Width;
            for (int o = 0; o < y.Channels; o++)
            {
                double sum = 0;
                for (int n = 0; n < batch; n++)
                    for (int p = 0; p < pixels; p++)
                        sum += output[(n * y.Channels + o) * pixels + p];
                Check(biasGradient[o], sum);
            }
        }
        return (diff, max);
    }

    private static float[] Canonical(Network network, TensorInfo tensor)
    {
        float[] values = new float[tensor.Count];
        TensorLayouts.ToCanonical(tensor, network.Gradients.Slice(tensor.Offset, tensor.Length), values);
        return values;
    }
}
