using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.OnnxRuntime;

namespace Unroll.Tests.Onnx;

/// <summary>ONNX Runtime as the oracle of the export and import tests: one model run on one batch, and the difference measured.</summary>
internal static class OnnxRuntimeOracle
{
    /// <summary>
    /// Runs <paramref name="model"/> (one input, one output) on <paramref name="batch"/> samples of <paramref name="shape"/>,
    /// single-threaded: in one run, or sample by sample for a model whose batch is fixed at 1.
    /// </summary>
    public static float[] Run(byte[] model, float[] input, Shape shape, int batch, bool oneByOne = false)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        var output = new List<float>();
        int runs = oneByOne ? batch : 1, per = oneByOne ? 1 : batch;
        for (int r = 0; r < runs; r++)
        {
            float[] part = input[(r * per * shape.Length)..((r + 1) * per * shape.Length)];
            using var tensor = OrtValue.CreateTensorValueFromMemory(part, new long[] { per, shape.Channels, shape.Height, shape.Width });
            using var run = new RunOptions();
            using IDisposableReadOnlyCollection<OrtValue> results = session.Run(run, new[] { session.InputNames[0] }, new[] { tensor }, session.OutputNames);
            output.AddRange(results.Single().GetTensorDataAsSpan<float>().ToArray());
        }
        return output.ToArray();
    }

    /// <summary>max |reference - actual| and max |reference|, in double.</summary>
    public static (double Difference, double Max) Compare(float[] reference, float[] actual)
    {
        Assert.Equal(reference.Length, actual.Length);
        double difference = 0, max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            difference = Math.Max(difference, Math.Abs((double)reference[i] - actual[i]));
            max = Math.Max(max, Math.Abs((double)reference[i]));
        }
        return (difference, max);
    }
}
