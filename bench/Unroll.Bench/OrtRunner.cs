using System;
using System.Linq;
using Microsoft.ML.OnnxRuntime;

namespace Unroll.Bench;

/// <summary>
/// An ONNX Runtime session bound once to caller-owned input and output arrays, so that <see cref="Run"/> allocates
/// nothing: intra-op threads as asked, one inter-op thread, sequential execution, every graph optimisation. A model whose
/// batch is fixed runs a larger batch as several calls, each bound to its slice of the arrays.
/// </summary>
internal sealed class OrtRunner : IDisposable
{
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly RunOptions _run;
    private readonly OrtValue[] _inputs;
    private readonly OrtValue[] _outputs;
    private readonly OrtIoBinding[] _bindings;

    /// <param name="model">The serialised ONNX model (one input, one output).</param>
    /// <param name="threads">ONNX Runtime's intra-op threads (the calling thread counts as one).</param>
    /// <param name="input">The input values, in the input's shape; ideally a pinned array.</param>
    /// <param name="inputShape">The input's dimensions.</param>
    /// <param name="output">Receives the output values.</param>
    /// <param name="outputShape">The output's dimensions.</param>
    /// <param name="calls">Runs per <see cref="Run"/>, each on an equal slice of the arrays (the shapes are one call's).</param>
    public OrtRunner(byte[] model, int threads, float[] input, long[] inputShape, float[] output, long[] outputShape, int calls = 1)
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
        int inputLength = input.Length / calls, outputLength = output.Length / calls;
        _inputs = new OrtValue[calls];
        _outputs = new OrtValue[calls];
        _bindings = new OrtIoBinding[calls];
        for (int i = 0; i < calls; i++)
        {
            _inputs[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input.AsMemory(i * inputLength, inputLength), inputShape);
            _outputs[i] = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, output.AsMemory(i * outputLength, outputLength), outputShape);
            _bindings[i] = _session.CreateIoBinding();
            _bindings[i].BindInput(_session.InputNames.Single(), _inputs[i]);
            _bindings[i].BindOutput(_session.OutputNames.Single(), _outputs[i]);
        }
    }

    /// <summary>The ONNX Runtime version of the loaded native library.</summary>
    public static string Version => OrtEnv.Instance().GetVersionString();

    /// <summary>Runs the model on the bound input, writing the bound output (call by call).</summary>
    public void Run()
    {
        foreach (OrtIoBinding binding in _bindings)
            _session.RunWithBinding(_run, binding);
    }

    public void Dispose()
    {
        for (int i = 0; i < _bindings.Length; i++)
        {
            _bindings[i].Dispose();
            _inputs[i].Dispose();
            _outputs[i].Dispose();
        }
        _run.Dispose();
        _session.Dispose();
        _options.Dispose();
    }
}
