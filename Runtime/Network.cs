using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Unroll;

/// <summary>
/// Base class of every generated network. It owns the parameters (one 64-byte aligned buffer, with
/// per-layer views) and one workspace per thread, all allocated at construction: a forward pass
/// allocates nothing. The generated subclass supplies the shape-specialised kernels.
/// </summary>
public abstract class Network : IDisposable
{
    private readonly float[] _parameterArray;
    private readonly int _parameterStart;
    private float[]?[] _workspaces;
    private readonly Layer[] _layers;
    private readonly Action<int, int> _forwardPart;
    private WorkerPool? _pool;
    private int _threads;
    private unsafe float* _jobInput;
    private unsafe float* _jobOutput;
    private int _jobBatch;

    /// <summary>Creates the instance for the generated description <paramref name="info"/>.</summary>
    /// <exception cref="NotSupportedException">The requested instruction set is not supported by this machine.</exception>
    protected Network(NetworkInfo info, NetworkOptions? options)
    {
        ArgumentNullException.ThrowIfNull(info);
        Info = info;
        options ??= new NetworkOptions();
        Isa = options.Isa ?? IsaSupport.Default;
        if (!IsaSupport.IsSupported(Isa))
            throw new NotSupportedException($"This machine cannot run {Isa} kernels.");
        int threads = options.Threads ?? Environment.ProcessorCount;
        if (threads < 1)
            throw new ArgumentOutOfRangeException(nameof(options), threads, "Threads must be at least 1.");

        // One pinned buffer, its start aligned to 64 bytes (one cache line, one zmm register).
        _parameterArray = GC.AllocateArray<float>(info.ParameterStorageLength + 16, pinned: true);
        _parameterStart = AlignedStart(_parameterArray);
        _workspaces = new float[threads][];
        _threads = threads;
        _layers = new Layer[info.Layers.Count];
        for (int i = 0; i < _layers.Length; i++)
            _layers[i] = new Layer(this, info.Layers[i], i);
        _forwardPart = ForwardPart;
        InitializeParameters(options.Seed);
    }

    /// <summary>The compile-time description: shapes, layers, parameter count, FLOPs, summary.</summary>
    public NetworkInfo Info { get; }

    /// <summary>The instruction set the kernels run with.</summary>
    public Isa Isa { get; }

    /// <summary>Layers in execution order.</summary>
    public IReadOnlyList<Layer> Layers => _layers;

    /// <summary>The layer named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No layer has that name.</exception>
    public Layer this[string name]
    {
        get
        {
            foreach (Layer layer in _layers)
                if (layer.Name == name)
                    return layer;
            throw new KeyNotFoundException($"{Info.Name} has no layer named '{name}'.");
        }
    }

    /// <summary>Values of one input sample.</summary>
    public int InputLength => Info.InputShape.Length;

    /// <summary>Values of one output sample.</summary>
    public int OutputLength => Info.OutputShape.Length;

    /// <summary>The whole parameter buffer in storage order (see <see cref="TensorInfo"/> for where each tensor lives).</summary>
    public Span<float> Parameters => _parameterArray.AsSpan(_parameterStart, Info.ParameterStorageLength);

    /// <summary>Threads a forward pass splits its batch over. Raising it allocates the new threads' workspaces on their first use.</summary>
    public int ThreadCount
    {
        get => _threads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            lock (_layers)
            {
                if (value > _workspaces.Length)
                    Array.Resize(ref _workspaces, value);
            }
            _threads = value;
        }
    }

    /// <summary>The Keras-style summary table.</summary>
    public string Summary() => Info.Summary;

    /// <summary>
    /// Runs the network on <paramref name="batch"/> samples: <paramref name="input"/> holds batch x
    /// <see cref="InputLength"/> values (C, H, W order per sample), <paramref name="output"/> receives
    /// batch x <see cref="OutputLength"/>. Allocates nothing once each thread's workspace exists.
    /// </summary>
    /// <exception cref="ArgumentException">A buffer length does not match the batch.</exception>
    public unsafe void Forward(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (input.Length != batch * InputLength)
            throw new ArgumentException($"Input must hold batch x {InputLength} = {batch * InputLength} values for batch {batch}; it holds {input.Length}.", nameof(input));
        if (output.Length != batch * OutputLength)
            throw new ArgumentException($"Output must hold batch x {OutputLength} = {batch * OutputLength} values for batch {batch}; it holds {output.Length}.", nameof(output));
        if (batch == 0)
            return;
        int parts = Math.Min(_threads, batch);
        if (parts == 1)
        {
            float[] ws = Workspace(0);
            for (int n = 0; n < batch; n++)
                RunSample(input.Slice(n * InputLength, InputLength), output.Slice(n * OutputLength, OutputLength), WorkspaceSpan(ws));
            return;
        }
        if (_pool is null || _pool.Parts < parts)
        {
            _pool?.Dispose();
            _pool = new WorkerPool(parts);
        }
        fixed (float* pin = input)
        fixed (float* pout = output)
        {
            _jobInput = pin;
            _jobOutput = pout;
            _jobBatch = batch;
            try
            {
                _pool.Run(_forwardPart, parts);
            }
            finally
            {
                _jobInput = null;
                _jobOutput = null;
            }
        }
    }

    /// <summary>Runs the network on <paramref name="input"/> (a whole number of samples) and returns the outputs.</summary>
    /// <exception cref="ArgumentException">The input length is not a multiple of <see cref="InputLength"/>.</exception>
    public float[] Predict(ReadOnlySpan<float> input)
    {
        if (input.Length == 0 || input.Length % InputLength != 0)
            throw new ArgumentException($"Input must hold a whole number of samples of {InputLength} values; it holds {input.Length}.", nameof(input));
        int batch = input.Length / InputLength;
        float[] output = new float[batch * OutputLength];
        Forward(input, output, batch);
        return output;
    }

    /// <summary>
    /// Re-initialises every weight from <paramref name="seed"/>: He normal before ReLU-family activations (fused into the
    /// layer or a stand-alone activation layer right after it), Glorot uniform otherwise; biases zero.
    /// </summary>
    public void InitializeParameters(int seed)
    {
        Parameters.Clear();
        for (int i = 0; i < _layers.Length; i++)
        {
            LayerInfo layer = _layers[i].Info;
            if (layer.Weights is not { } weights)
                continue;
            var random = new SeededRandom(seed * 1_000_003L + i);
            float[] values = new float[weights.Count];
            (int fanIn, int fanOut) = Initializers.Fans(weights);
            // The activation the layer feeds: its fused one, or else a stand-alone activation layer right after it.
            Activation activation = layer.Activation;
            if (activation == Activation.None && i + 1 < _layers.Length && _layers[i + 1].Info.Kind == LayerKind.Activation)
                activation = _layers[i + 1].Info.Activation;
            if (activation is Activation.ReLU or Activation.LeakyReLU)
                Initializers.HeNormal(values, fanIn, random);
            else
                Initializers.GlorotUniform(values, fanIn, fanOut, random);
            TensorLayouts.ToStorage(weights, values, Parameters.Slice(weights.Offset, weights.Length));
        }
    }

    /// <summary>Saves the weights to <paramref name="path"/> (see <see cref="WeightFile"/>), through a temporary file renamed into place.</summary>
    public void Save(string path) => WeightFile.WriteAtomically(path, Save);

    /// <summary>Saves the weights to <paramref name="stream"/> (see <see cref="WeightFile"/>).</summary>
    public void Save(Stream stream) => WeightFile.Write(stream, Info, Canonical);

    /// <summary>Loads weights saved by <see cref="Save(string)"/>. On any error the weights stay unchanged.</summary>
    /// <exception cref="InvalidDataException">The file is damaged, truncated or for another architecture.</exception>
    public void Load(string path)
    {
        using var file = File.OpenRead(path);
        Load(file);
    }

    /// <summary>Loads weights saved by <see cref="Save(Stream)"/>. On any error the weights stay unchanged.</summary>
    /// <exception cref="InvalidDataException">The data is damaged, truncated or for another architecture.</exception>
    public void Load(Stream stream)
    {
        Dictionary<string, float[]> values = WeightFile.Read(stream, Info);
        foreach (TensorInfo tensor in Info.Tensors)
            TensorLayouts.ToStorage(tensor, values[tensor.Name], Parameters.Slice(tensor.Offset, tensor.Length));
    }

    /// <summary>Runs one sample with the kernels of <see cref="Isa"/>. <paramref name="workspace"/> holds at least <see cref="NetworkInfo.WorkspaceLength"/> floats, 64-byte aligned.</summary>
    protected abstract void RunSample(ReadOnlySpan<float> input, Span<float> output, Span<float> workspace);

    /// <summary>Reference to the first parameter, for generated kernels.</summary>
    protected ref float ParameterBase => ref _parameterArray[_parameterStart];

    /// <summary>Stops the worker threads, if any were started.</summary>
    public void Dispose()
    {
        _pool?.Dispose();
        _pool = null;
        GC.SuppressFinalize(this);
    }

    private float[] Canonical(TensorInfo tensor)
    {
        float[] result = new float[tensor.Count];
        TensorLayouts.ToCanonical(tensor, Parameters.Slice(tensor.Offset, tensor.Length), result);
        return result;
    }

    private unsafe void ForwardPart(int part, int parts)
    {
        int start = (int)((long)_jobBatch * part / parts), end = (int)((long)_jobBatch * (part + 1) / parts);
        float[] ws = Workspace(part);
        var input = new ReadOnlySpan<float>(_jobInput, _jobBatch * InputLength);
        var output = new Span<float>(_jobOutput, _jobBatch * OutputLength);
        for (int n = start; n < end; n++)
            RunSample(input.Slice(n * InputLength, InputLength), output.Slice(n * OutputLength, OutputLength), WorkspaceSpan(ws));
    }

    private Span<float> WorkspaceSpan(float[] ws) => ws.AsSpan(AlignedStart(ws), Info.WorkspaceLength);

    private float[] Workspace(int part)
    {
        lock (_layers)
            return _workspaces[part] ??= GC.AllocateArray<float>(Info.WorkspaceLength + 16, pinned: true);
    }

    private static unsafe int AlignedStart(float[] array)
    {
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        int misalignment = (int)(address & 63);
        return misalignment == 0 ? 0 : (64 - misalignment) / sizeof(float);
    }
}
