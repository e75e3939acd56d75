using System;
using System.Linq;
using Microsoft.ML.OnnxRuntime;

namespace Unroll.Bench;

/// <summary>
/// An ONNX Runtime session bound once to caller-owned input and output arrays, so that <see cref="Run"/> allocates
/// nothing: intra-op threads as asked, one inter-op thread, sequential execution, every graph optimisation.
/// </summary>
internal sealed class OrtRunner : IDisposable
{
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly RunOptions _run;
    private readonly OrtValue _input;
    private readonly OrtValue _output;
    private readonly OrtIoBinding _binding;

    /// <param name="model">The serialised ONNX model (one input, one output).</param>
    /// <param name="threads">ONNX Runtime's intra-op threads (the calling thread counts as one).</param>
    /// <param name="input">The input values, in the input's shape; ideally a pinned array.</param>
    /// <param name="inputShape">The input's dimensions.</param>
    /// <param name="output">Receives the output values.</param>
    /// <param name="outputShape">The output's dimensions.</param>
    public OrtRunner(byte[] model, int threads, float[] input, long[] inputShape, float[] output, long[] outputShape)
    {
        _options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(model, _options);
        _run = new RunOptions();
        _input = OrtValue.CreateTensorValueFromMemory(input, inputShape);
        _output = OrtValue.CreateTensorValueFromMemory(output, outputShape);
        _binding = _session.CreateIoBinding();
        _binding.BindInput(_session.InputNames.Single(), _input);
        _binding.BindOutput(_session.OutputNames.Single(), _output);
    }

    /// <summary>The ONNX Runtime version of the loaded native library.</summary>
    public static string Version => OrtEnv.Instance().GetVersionString();

    /// <summary>Runs the model on the bound input, writing the bound output.</summary>
    public void Run() => _session.RunWithBinding(_run, _binding);

    public void Dispose()
    {
        _binding.Dispose();
        _input.Dispose();
        _output.Dispose();
        _run.Dispose();
        _session.Dispose();
        _options.Dispose();
    }
}
