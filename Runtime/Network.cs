using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using Unroll.Kernels;

namespace Unroll;

/// <summary>
/// Base class of every generated network. It owns the parameters (one 64-byte aligned buffer, with
/// per-layer views) and one workspace per thread, all allocated at construction: a forward pass
/// allocates nothing. The generated subclass supplies the shape-specialised kernels.
/// </summary>
public abstract class Network : INetwork
{
    /// <summary>A batch with fewer FLOPs than this runs on one thread: about 40 microseconds of work.</summary>
    private const long MinParallelFlops = 8_000_000;

    private readonly float[] _parameterArray;
    private readonly int _parameterStart;
    private float[]?[] _workspaces;
    private readonly Layer[] _layers;
    private readonly Action<int, int> _forwardPart;
    private readonly Action<int, int> _trainPart;
    private TrainingState? _training;
    private WorkerPool? _pool;
    private int _threads;
    private unsafe float* _jobInput;
    private unsafe float* _jobOutput;
    private int _jobBatch;
    private readonly long _flopsPerSample;
    private bool _jobShared;
    private PartBarrier? _barrier;
    private long _parameterVersion;
    private long _transformedVersion = -1;
    private float[]? _transformed;
    private readonly object _transformLock = new();
    private readonly ulong _seedNoise;
    private readonly GraphTensor[] _inputs;
    private readonly GraphTensor[] _outputs;
    private readonly int[] _outputOffsets;
    private float[]? _runOutput;

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
        _flopsPerSample = info.Flops;
        _forwardPart = ForwardPart;
        _trainPart = TrainPart;
        _seedNoise = DropoutNoise.SeedNoise(options.Seed);
        _inputs = [new GraphTensor(info.InputName, info.InputShape)];
        var outputs = new List<GraphTensor>();
        var offsets = new List<int>();
        foreach (OutputInfo output in info.Outputs)
        {
            if (output.Auxiliary)
                continue;
            outputs.Add(new GraphTensor(output.Name, output.Shape));
            offsets.Add(output.Offset);
        }
        _outputs = [.. outputs];
        _outputOffsets = [.. offsets];
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

    /// <summary>Values of one output sample: the main outputs, one after the other (see <see cref="NetworkInfo.Outputs"/>).</summary>
    public int OutputLength => Info.OutputShape.Length;

    /// <summary>
    /// Values of one sample's output in training, which the loss given to <see cref="ComputeGradients"/> sees: the main outputs,
    /// then the auxiliary ones (see <see cref="OutputAttribute.Auxiliary"/>); <see cref="OutputLength"/> when there are none.
    /// </summary>
    public int TrainingOutputLength => Info.TrainingOutputLength;

    /// <summary>The whole parameter buffer in storage order (see <see cref="TensorInfo"/> for where each tensor lives).</summary>
    /// <remarks>
    /// Every call counts as a change of the parameters (whoever holds the span may write), so the next <see cref="Forward"/>
    /// recomputes the weight forms derived from them (Winograd kernels). Write through a span taken after the last
    /// Forward that should not see the change, not through one kept from before.
    /// </remarks>
    public Span<float> Parameters
    {
        get
        {
            Interlocked.Increment(ref _parameterVersion);
            return _parameterArray.AsSpan(_parameterStart, Info.ParameterStorageLength);
        }
    }

    /// <summary>The parameter buffer, for reading only: taking it does not count as a change.</summary>
    internal ReadOnlySpan<float> StoredParameters => _parameterArray.AsSpan(_parameterStart, Info.ParameterStorageLength);

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

    /// <summary>The class name of the network.</summary>
    public string Name => Info.Name;

    /// <inheritdoc/>
    public IReadOnlyList<GraphTensor> Inputs => _inputs;

    /// <inheritdoc/>
    public IReadOnlyList<GraphTensor> Outputs => _outputs;

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
        PrepareTransformed();
        // Fewer samples than threads: the threads share each sample (its large steps split by rows), if it has any.
        // Too little work for a second thread (waking one costs tens of microseconds): one thread runs it all.
        bool shareSamples = batch < _threads && SplitsSamples;
        int parts = shareSamples ? _threads : _flopsPerSample * batch < MinParallelFlops ? 1 : Math.Min(_threads, batch);
        if (parts == 1)
        {
            RunSamples(input, output, 0, batch, WorkspaceSpan(Workspace(0)));
            return;
        }
        WorkerPool pool = Pool(parts);
        _jobShared = shareSamples;
        if (shareSamples && (_barrier is null || _barrier.Parts != parts))
            _barrier = new PartBarrier(parts);
        fixed (float* pin = input)
        fixed (float* pout = output)
        {
            _jobInput = pin;
            _jobOutput = pout;
            _jobBatch = batch;
            try
            {
                pool.Run(_forwardPart, parts);
            }
            finally
            {
                _jobInput = null;
                _jobOutput = null;
            }
        }
    }

    /// <inheritdoc/>
    public float[][] Run(params float[][] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        CheckCount(inputs.Length, _inputs.Length, "input", nameof(inputs));
        ArgumentNullException.ThrowIfNull(inputs[0], nameof(inputs));
        if (inputs[0].Length % InputLength != 0)
            throw new ArgumentException($"Input '{_inputs[0].Name}' must hold a whole number of samples of {InputLength} values; it holds {inputs[0].Length}.", nameof(inputs));
        int batch = inputs[0].Length / InputLength;
        var outputs = new float[_outputs.Length][];
        for (int k = 0; k < outputs.Length; k++)
            outputs[k] = new float[batch * _outputs[k].Length];
        Run(inputs, outputs, batch);
        return outputs;
    }

    /// <inheritdoc/>
    public void Run(IReadOnlyList<float[]> inputs, IReadOnlyList<float[]> outputs, int batch)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        CheckCount(inputs.Count, _inputs.Length, "input", nameof(inputs));
        CheckCount(outputs.Count, _outputs.Length, "output", nameof(outputs));
        for (int k = 0; k < _outputs.Length; k++)
        {
            ArgumentNullException.ThrowIfNull(outputs[k], nameof(outputs));
            if (outputs[k].Length != batch * _outputs[k].Length)
                throw new ArgumentException($"Output '{_outputs[k].Name}' must hold batch x {_outputs[k].Length} = {batch * _outputs[k].Length} values for batch {batch}; it holds {outputs[k].Length}.", nameof(outputs));
        }
        ArgumentNullException.ThrowIfNull(inputs[0], nameof(inputs));
        if (_outputs.Length == 1)
        {
            Forward(inputs[0], outputs[0], batch);
            return;
        }
        // Several outputs: Forward writes each sample's outputs one after the other; they are dealt out per output.
        int length = batch * OutputLength;
        if (_runOutput is null || _runOutput.Length < length)
            _runOutput = new float[length];
        Forward(inputs[0], _runOutput.AsSpan(0, length), batch);
        for (int k = 0; k < _outputs.Length; k++)
        {
            int n = _outputs[k].Length;
            for (int sample = 0; sample < batch; sample++)
                _runOutput.AsSpan(sample * OutputLength + _outputOffsets[k], n).CopyTo(outputs[k].AsSpan(sample * n, n));
        }
    }

    private static void CheckCount(int count, int expected, string what, string parameter)
    {
        if (count != expected)
            throw new ArgumentException($"The network has {expected} {what}{(expected == 1 ? "" : "s")}; {count} array{(count == 1 ? " was" : "s were")} given.", parameter);
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
    /// layer or a stand-alone activation layer right after it), Glorot uniform otherwise; biases zero; batch-normalisation and
    /// affine scales 1.
    /// </summary>
    public void InitializeParameters(int seed)
    {
        Parameters.Clear();
        for (int i = 0; i < _layers.Length; i++)
        {
            LayerInfo layer = _layers[i].Info;
            if (layer.Weights is not { } weights)
                continue;
            if (layer.Kind == LayerKind.Affine)
            {
                // Scale 1 (the shift stays 0): the identity until the model's constants are loaded.
                float[] ones = new float[weights.Count];
                Array.Fill(ones, 1f);
                TensorLayouts.ToStorage(weights, ones, Parameters.Slice(weights.Offset, weights.Length));
                continue;
            }
            if (layer.Kind == LayerKind.BatchNorm)
            {
                // gamma 1 (beta and the running mean stay 0), running variance 1: the identity until trained.
                Parameters.Slice(weights.Offset, weights.Count).Fill(1f);
                TensorInfo variance = layer.State![1];
                Parameters.Slice(variance.Offset, variance.Count).Fill(1f);
                continue;
            }
            var random = new SeededRandom(seed * 1_000_003L + i);
            float[] values = new float[weights.Count];
            (int fanIn, int fanOut) = Initializers.Fans(weights);
            // The activation the layer feeds: its fused one, or else a stand-alone activation layer right after it. A clip
            // that cuts off the negative values (ReLU6) is of the ReLU family.
            LayerInfo activated = layer;
            if (layer.Activation == Activation.None && i + 1 < _layers.Length && _layers[i + 1].Info.Kind == LayerKind.Activation)
                activated = _layers[i + 1].Info;
            Activation activation = activated.Activation;
            if (activation is Activation.ReLU or Activation.LeakyReLU || activation == Activation.Clip && activated.Settings is { ClipMin: >= 0 })
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
    /// <remarks>
    /// With <paramref name="parts"/> above 1, that many threads call this at once for the same sample and
    /// workspace, each with its own <paramref name="part"/>; the generated code splits its large steps
    /// among them and meets at <paramref name="barrier"/> between steps.
    /// </remarks>
    protected abstract void RunSample(ReadOnlySpan<float> input, Span<float> output, Span<float> workspace, int part, int parts, PartBarrier? barrier);

    /// <summary>
    /// Samples the generated network runs together, its dense layers over the whole group (1: it has no group kernels). Each sample
    /// of a group has its own workspace of <see cref="NetworkInfo.WorkspaceLength"/> floats, one after another.
    /// </summary>
    protected virtual int GroupSize => 1;

    /// <summary>Floats of a thread's inference workspace: the <see cref="GroupSize"/> sample workspaces plus the group kernels' scratch.</summary>
    protected virtual int GroupWorkspaceLength => Info.WorkspaceLength;

    /// <summary>
    /// Runs <paramref name="count"/> (2 to <see cref="GroupSize"/>) consecutive samples with the kernels of <see cref="Isa"/>;
    /// <paramref name="workspace"/> holds <see cref="GroupSize"/> sample workspaces, 64-byte aligned.
    /// </summary>
    protected virtual void RunGroup(ReadOnlySpan<float> input, Span<float> output, Span<float> workspace, int count) =>
        throw new NotSupportedException($"{Info.Name} has no group kernels.");

    /// <summary>Floats of the weight forms the inference kernels read besides the parameters (Winograd kernels); 0: none.</summary>
    protected virtual int TransformedWeightLength => 0;

    /// <summary>Writes the inference weight forms derived from <paramref name="parameters"/> into <paramref name="transformed"/> (<see cref="TransformedWeightLength"/> floats).</summary>
    protected virtual void PrepareInference(ReadOnlySpan<float> parameters, Span<float> transformed)
    {
    }

    /// <summary>Reference to the first transformed weight, for generated kernels; valid during <see cref="Forward"/>.</summary>
    protected ref float TransformedBase => ref _transformed![AlignedStart(_transformed)];

    /// <summary>
    /// The workspace whose scratch area <paramref name="part"/> of <paramref name="parts"/> may use: its own, since parts that
    /// share a sample share part 0's workspace for the tensors but need scratch of their own.
    /// </summary>
    protected Span<float> PartWorkspace(Span<float> workspace, int part, int parts) => parts == 1 ? workspace : WorkspaceSpan(Workspace(part));

    /// <summary>
    /// Recomputes the transformed weights when the parameters changed since they were last computed (the first call
    /// allocates their buffer). Concurrent callers wait on one lock; the version is read before the transform, so a
    /// change made during it is seen by the next call.
    /// </summary>
    private void PrepareTransformed()
    {
        int length = TransformedWeightLength;
        if (length == 0)
            return;
        long version = Interlocked.Read(ref _parameterVersion);
        if (Interlocked.Read(ref _transformedVersion) == version)
            return;
        lock (_transformLock)
        {
            if (_transformedVersion == version)
                return;
            _transformed ??= GC.AllocateArray<float>(length + 16, pinned: true);
            PrepareInference(StoredParameters, _transformed.AsSpan(AlignedStart(_transformed), length));
            Interlocked.Exchange(ref _transformedVersion, version);
        }
    }

    /// <summary>Whether the generated network has steps large enough to split one sample across threads.</summary>
    protected virtual bool SplitsSamples => false;

    /// <summary>
    /// Runs training segment <paramref name="segment"/> of one sample forward with the kernels of <see cref="Isa"/>, keeping every
    /// layer's output in <paramref name="workspace"/> (at least <see cref="NetworkInfo.TrainingWorkspaceLength"/> floats, 64-byte
    /// aligned) for <see cref="BackwardSample"/>. A network without batch normalisation has one segment; with it, every sample of
    /// a batch runs a segment before any runs the next, each segment but the last adding the sample's sums to
    /// <paramref name="sums"/>, and the next reading the batch's statistics from <paramref name="statistics"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="noise"/> is the sample's dropout noise (see <see cref="DropoutNoise"/>): the same value for every segment
    /// of the sample and for its <see cref="BackwardSample"/>, which recomputes the dropout masks from it.
    /// </remarks>
    protected abstract void TrainSample(int segment, ReadOnlySpan<float> input, Span<float> output, Span<float> workspace, Span<double> sums, ReadOnlySpan<float> statistics, ulong noise);

    /// <summary>The batch normalisations of the generated network, in layer order (empty: none).</summary>
    protected virtual BatchNormSite[] BatchNorms => [];

    /// <summary>Floats of the batch-statistics buffer the batch normalisations share during a training step.</summary>
    protected virtual int StatisticsLength => 0;

    /// <summary>
    /// Backward pass of the sample <see cref="TrainSample"/> last ran in <paramref name="workspace"/>: adds its parameter
    /// gradients (storage order) to <paramref name="gradients"/>, and writes the gradient with respect to the input
    /// (C, H, W order) to <paramref name="inputGradient"/> unless it is empty. With <paramref name="foldOutputSoftmax"/>,
    /// <paramref name="outputGradient"/> is already taken with respect to the input of a final softmax, whose backward is skipped.
    /// </summary>
    /// <remarks>
    /// With batch normalisation, segments run from the last down to 0, each for every sample before the next; each but the
    /// first ends by adding the sample's sums to <paramref name="sums"/>, from which the runtime computes the coefficients
    /// the next segment reads from <paramref name="statistics"/>. <paramref name="noise"/> is the one the sample's
    /// <see cref="TrainSample"/> had.
    /// </remarks>
    protected abstract void BackwardSample(int segment, ReadOnlySpan<float> outputGradient, Span<float> gradients, ReadOnlySpan<float> transposed, Span<float> workspace, Span<float> inputGradient, bool foldOutputSoftmax,
        Span<double> sums, ReadOnlySpan<float> statistics, ulong noise);

    /// <summary>Writes every convolution kernel, transposed for the input-gradient pass, into <paramref name="transposed"/>.</summary>
    protected abstract void PrepareBackward(Span<float> transposed);

    /// <summary>
    /// Training steps taken: the number of <see cref="ComputeGradients"/> calls so far (0 for a new network). Each call draws its
    /// dropout masks from this number, <see cref="NetworkOptions.Seed"/> and each sample's index in the batch (see
    /// <see cref="DropoutNoise"/>), then adds 1. Setting it replays a step's masks: a gradient check sets it back before each
    /// call so that every call sees the same masks; resuming training from a checkpoint sets it to the steps taken.
    /// </summary>
    public long TrainingStep { get; set; }

    /// <summary>The parameter gradients of the last <see cref="ComputeGradients"/> call, in storage order (same layout as <see cref="Parameters"/>).</summary>
    public Span<float> Gradients => _training is null ? Span<float>.Empty : _training.Gradients.AsSpan(_training.GradientStart, Info.ParameterStorageLength);

    /// <summary>Whether every output (main and auxiliary) is a softmax, so that a cross-entropy loss may fold its backward in.</summary>
    public bool EndsInSoftmax
    {
        get
        {
            foreach (OutputInfo output in Info.Outputs)
                if (this[output.Layer].Info.Activation != Activation.Softmax)
                    return false;
            return true;
        }
    }

    /// <summary>
    /// Runs forward and backward over <paramref name="batch"/> samples and leaves the summed parameter gradients in
    /// <see cref="Gradients"/> (cleared first). For each sample, <paramref name="loss"/> receives the network's training output
    /// (<see cref="TrainingOutputLength"/> values: every output, auxiliary ones after the main ones) and writes dLoss/dOutput
    /// for each of them; it may run on several threads at once, so it must only touch its own sample. With the same
    /// thread count, results are identical from run to run. Returns the sum of the per-sample losses.
    /// </summary>
    /// <param name="input">batch x <see cref="InputLength"/> values.</param>
    /// <param name="batch">Samples in the batch.</param>
    /// <param name="loss">Per-sample loss: (sample index, output, output gradient to fill) -> loss value.</param>
    /// <param name="inputGradient">Empty, or batch x <see cref="InputLength"/> values to receive dLoss/dInput.</param>
    /// <param name="foldOutputSoftmax">
    /// True when <paramref name="loss"/> returns the gradient with respect to the input of the network's final softmax
    /// (cross-entropy folded with softmax gives p - onehot), so the softmax backward is skipped. Only valid when every
    /// output ends in a softmax (<see cref="EndsInSoftmax"/>).
    /// </param>
    /// <exception cref="ArgumentException">A buffer length does not match the batch.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="foldOutputSoftmax"/> is set but the network does not end in a softmax.</exception>
    public double ComputeGradients(ReadOnlySpan<float> input, int batch, LossFunction loss, Span<float> inputGradient = default, bool foldOutputSoftmax = false)
    {
        if (foldOutputSoftmax && !EndsInSoftmax)
            throw new InvalidOperationException($"{Info.Name} does not end in a softmax on every output, so there is no softmax backward to fold into the loss.");
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        if (input.Length != batch * InputLength)
            throw new ArgumentException($"Input must hold batch x {InputLength} = {batch * InputLength} values for batch {batch}; it holds {input.Length}.", nameof(input));
        if (!inputGradient.IsEmpty && inputGradient.Length != batch * InputLength)
            throw new ArgumentException($"The input gradient must be empty or hold batch x {InputLength} = {batch * InputLength} values; it holds {inputGradient.Length}.", nameof(inputGradient));
        int parts = Math.Max(1, Math.Min(_threads, batch));
        TrainingState state = Training(parts);
        state.Step = TrainingStep++;
        state.SeedNoise = _seedNoise;
        PrepareBackward(state.Transposed);
        state.Loss = loss;
        unsafe
        {
            fixed (float* pin = input)
            fixed (float* pgrad = inputGradient)
            {
                state.Input = pin;
                state.InputGradient = pgrad;
                state.WantInputGradient = !inputGradient.IsEmpty;
                state.FoldSoftmax = foldOutputSoftmax;
                state.Batch = batch;
                try
                {
                    if (BatchNorms.Length > 0)
                        TrainInSegments(state, parts);
                    else if (parts == 1)
                        TrainPart(0, 1);
                    else
                        Pool(parts).Run(_trainPart, parts);
                }
                finally
                {
                    state.Input = null;
                    state.InputGradient = null;
                    state.Loss = null;
                }
            }
        }
        // Reduce in part order, so that the same thread count always gives the same sums.
        Span<float> total = Gradients;
        double sum = state.PartLoss[0];
        for (int part = 1; part < parts; part++)
        {
            AddInto(total, state.PartGradients(part));
            sum += state.PartLoss[part];
        }
        return sum;
    }

    private unsafe void TrainPart(int part, int parts)
    {
        TrainingState state = _training!;
        int start = (int)((long)state.Batch * part / parts), end = (int)((long)state.Batch * (part + 1) / parts);
        Span<float> gradients = state.PartGradients(part);
        gradients.Clear();
        Span<float> workspace = state.Workspace(part);
        Span<float> output = state.Output(part), outputGradient = state.OutputGradient(part);
        var input = new ReadOnlySpan<float>(state.Input, state.Batch * InputLength);
        var inputGradient = state.WantInputGradient ? new Span<float>(state.InputGradient, state.Batch * InputLength) : Span<float>.Empty;
        double loss = 0;
        for (int n = start; n < end; n++)
        {
            ulong noise = state.Noise(n);
            TrainSample(0, input.Slice(n * InputLength, InputLength), output, workspace, Span<double>.Empty, ReadOnlySpan<float>.Empty, noise);
            outputGradient.Clear();
            loss += state.Loss!(n, output, outputGradient);
            BackwardSample(0, outputGradient, gradients, state.Transposed, workspace,
                state.WantInputGradient ? inputGradient.Slice(n * InputLength, InputLength) : Span<float>.Empty, state.FoldSoftmax,
                Span<double>.Empty, ReadOnlySpan<float>.Empty, noise);
        }
        state.PartLoss[part] = loss;
    }

    /// <summary>
    /// A training step of a network with batch normalisation: every sample keeps its own workspace, and the batch runs one
    /// segment at a time, forward then backward, with the batch statistics (and then the backward coefficients) of each
    /// batch normalisation reduced between segments on this thread, in part order, so a thread count always gives the
    /// same bits.
    /// </summary>
    private unsafe void TrainInSegments(TrainingState state, int parts)
    {
        BatchNormSite[] sites = BatchNorms;
        int segments = sites.Length + 1, batch = state.Batch;
        state.PrepareSegments(batch, StatisticsLength, sites);
        for (int part = 0; part < parts; part++)
            state.PartGradients(part).Clear();

        void Run(Action<int, int> job)
        {
            if (parts == 1)
                job(0, 1);
            else
                Pool(parts).Run(job, parts);
        }
        // The batch's sums, in part order.
        Span<double> Reduce()
        {
            Span<double> total = state.Sums(0);
            for (int part = 1; part < parts; part++)
            {
                Span<double> other = state.Sums(part);
                for (int i = 0; i < total.Length; i++)
                    total[i] += other[i];
            }
            return total;
        }

        for (int segment = 0; segment < segments; segment++)
        {
            int current = segment;
            Run((part, count) =>
            {
                int start = (int)((long)batch * part / count), end = (int)((long)batch * (part + 1) / count);
                Span<double> sums = state.Sums(part);
                sums.Clear();
                var input = new ReadOnlySpan<float>(state.Input, batch * InputLength);
                double loss = 0;
                for (int n = start; n < end; n++)
                {
                    Span<float> output = state.SampleOutput(n), outputGradient = state.SampleOutputGradient(n);
                    TrainSample(current, input.Slice(n * InputLength, InputLength), output, state.SampleWorkspace(n), sums, state.Statistics, state.Noise(n));
                    if (current == segments - 1)
                    {
                        outputGradient.Clear();
                        loss += state.Loss!(n, output, outputGradient);
                    }
                }
                state.PartLoss[part] = loss;
            });
            if (segment < segments - 1)
                BatchNormKernels.Normalize(sites[segment], Reduce(), batch, Parameters, state.Statistics);
        }
        for (int segment = segments - 1; segment >= 0; segment--)
        {
            int current = segment;
            Run((part, count) =>
            {
                int start = (int)((long)batch * part / count), end = (int)((long)batch * (part + 1) / count);
                Span<double> sums = state.Sums(part);
                sums.Clear();
                Span<float> gradients = state.PartGradients(part);
                var inputGradient = state.WantInputGradient ? new Span<float>(state.InputGradient, batch * InputLength) : Span<float>.Empty;
                for (int n = start; n < end; n++)
                    BackwardSample(current, state.SampleOutputGradient(n), gradients, state.Transposed, state.SampleWorkspace(n),
                        state.WantInputGradient ? inputGradient.Slice(n * InputLength, InputLength) : Span<float>.Empty, state.FoldSoftmax, sums, state.Statistics, state.Noise(n));
            });
            if (segment > 0)
                BatchNormKernels.Coefficients(sites[segment - 1], Reduce(), batch, StoredParameters, state.PartGradients(0), state.Statistics);
        }
    }

    private TrainingState Training(int parts)
    {
        if (_training is null || _training.Parts < parts)
            _training = new TrainingState(Info, Math.Max(parts, _threads), _training);
        return _training;
    }

    /// <summary>Per-thread training buffers, allocated on first use and kept.</summary>
    private sealed unsafe class TrainingState
    {
        private readonly float[][] _gradients;
        private readonly float[][] _workspaces;
        private readonly float[][] _outputs;
        private readonly int _parameterLength, _workspaceLength, _outputLength;

        public TrainingState(NetworkInfo info, int parts, TrainingState? previous)
        {
            Parts = parts;
            _parameterLength = info.ParameterStorageLength;
            _workspaceLength = info.TrainingWorkspaceLength;
            _outputLength = info.TrainingOutputLength;
            _gradients = new float[parts][];
            _workspaces = new float[parts][];
            _outputs = new float[parts][];
            for (int i = 0; i < parts; i++)
            {
                _gradients[i] = i == 0 && previous is not null ? previous.Gradients : GC.AllocateArray<float>(_parameterLength + 16, pinned: true);
                _workspaces[i] = GC.AllocateArray<float>(_workspaceLength + 16, pinned: true);
                _outputs[i] = new float[2 * _outputLength];
            }
            Gradients = _gradients[0];
            GradientStart = AlignedStart(Gradients);
            Transposed = GC.AllocateArray<float>(Math.Max(info.TransposedKernelLength, 16), pinned: true);
            PartLoss = new double[parts];
        }

        public int Parts { get; }
        public float[] Gradients { get; }
        public int GradientStart { get; }
        public float[] Transposed { get; }
        public double[] PartLoss { get; }
        public LossFunction? Loss { get; set; }
        public float* Input { get; set; }
        public float* InputGradient { get; set; }
        public bool WantInputGradient { get; set; }
        public bool FoldSoftmax { get; set; }
        public int Batch { get; set; }
        public long Step { get; set; }
        public ulong SeedNoise { get; set; }

        /// <summary>Sample <paramref name="n"/>'s dropout noise in this step: a function of the seed, the step and n only.</summary>
        public ulong Noise(int n) => DropoutNoise.SampleNoise(SeedNoise, Step, n);

        public Span<float> PartGradients(int part) => _gradients[part].AsSpan(AlignedStart(_gradients[part]), _parameterLength);

        // Segmented training (batch normalisation): a workspace, output and output gradient per sample, sums per part,
        // and the shared batch statistics; grown on demand and kept.
        private float[][] _sampleWorkspaces = [];
        private float[] _sampleOutputs = [];
        private double[][] _sums = [];
        private int _sumLength;

        public float[] Statistics { get; private set; } = [];

        public void PrepareSegments(int batch, int statisticsLength, BatchNormSite[] sites)
        {
            if (_sampleWorkspaces.Length < batch)
            {
                int old = _sampleWorkspaces.Length;
                Array.Resize(ref _sampleWorkspaces, batch);
                for (int n = old; n < batch; n++)
                    _sampleWorkspaces[n] = GC.AllocateArray<float>(_workspaceLength + 16, pinned: true);
                _sampleOutputs = new float[2 * batch * _outputLength];
            }
            if (Statistics.Length < statisticsLength)
                Statistics = new float[statisticsLength];
            int sumLength = 0;
            foreach (BatchNormSite site in sites)
                sumLength = Math.Max(sumLength, 2 * site.PaddedChannels);
            if (_sums.Length < Parts || _sumLength < sumLength)
            {
                _sumLength = sumLength;
                _sums = new double[Parts][];
                for (int i = 0; i < Parts; i++)
                    _sums[i] = new double[sumLength];
            }
        }

        public Span<float> SampleWorkspace(int n) => _sampleWorkspaces[n].AsSpan(AlignedStart(_sampleWorkspaces[n]), _workspaceLength);
        public Span<float> SampleOutput(int n) => _sampleOutputs.AsSpan(2 * n * _outputLength, _outputLength);
        public Span<float> SampleOutputGradient(int n) => _sampleOutputs.AsSpan((2 * n + 1) * _outputLength, _outputLength);
        public Span<double> Sums(int part) => _sums[part];
        public Span<float> Workspace(int part) => _workspaces[part].AsSpan(AlignedStart(_workspaces[part]), _workspaceLength);
        public Span<float> Output(int part) => _outputs[part].AsSpan(0, _outputLength);
        public Span<float> OutputGradient(int part) => _outputs[part].AsSpan(_outputLength, _outputLength);
    }

    /// <summary>Reference to the first parameter, for generated kernels.</summary>
    protected ref float ParameterBase => ref _parameterArray[_parameterStart];

    /// <summary>Stops the worker threads, if any were started.</summary>
    public void Dispose()
    {
        _pool?.Dispose();
        _pool = null;
        GC.SuppressFinalize(this);
    }

    /// <summary>The values of <paramref name="tensor"/> (weights, bias or state of one of the layers) in canonical order, copied.</summary>
    internal float[] Canonical(TensorInfo tensor)
    {
        float[] result = new float[tensor.Count];
        TensorLayouts.ToCanonical(tensor, StoredParameters.Slice(tensor.Offset, tensor.Length), result);
        return result;
    }

    private unsafe void ForwardPart(int part, int parts)
    {
        if (_jobShared)
        {
            // Every part works on every sample, in part 0's workspace.
            Span<float> shared = WorkspaceSpan(Workspace(0));
            var allInput = new ReadOnlySpan<float>(_jobInput, _jobBatch * InputLength);
            var allOutput = new Span<float>(_jobOutput, _jobBatch * OutputLength);
            for (int n = 0; n < _jobBatch; n++)
            {
                // A part that finishes its share of one sample must not start writing the next into the shared
                // workspace while another part still reads the last step's tensor there (the output's slot may be the
                // first layer's): every part finishes a sample before any starts the next.
                if (n > 0)
                    _barrier!.Wait();
                RunSample(allInput.Slice(n * InputLength, InputLength), allOutput.Slice(n * OutputLength, OutputLength), shared, part, parts, _barrier);
            }
            return;
        }
        int start = (int)((long)_jobBatch * part / parts), end = (int)((long)_jobBatch * (part + 1) / parts);
        var input = new ReadOnlySpan<float>(_jobInput, _jobBatch * InputLength);
        var output = new Span<float>(_jobOutput, _jobBatch * OutputLength);
        RunSamples(input, output, start, end, WorkspaceSpan(Workspace(part)));
    }

    /// <summary>Runs samples [start, end) on this thread: in groups when the network has them and there are two or more samples, else one by one.</summary>
    private void RunSamples(ReadOnlySpan<float> input, Span<float> output, int start, int end, Span<float> workspace)
    {
        int group = GroupSize;
        if (group > 1 && end - start > 1)
        {
            // Groups of near-equal size: 64 samples run as 2 x 32 rather than 60 + 4.
            int groups = (end - start + group - 1) / group;
            for (int g = 0; g < groups; g++)
            {
                int n = start + (end - start) * g / groups, count = start + (end - start) * (g + 1) / groups - n;
                RunGroup(input.Slice(n * InputLength, count * InputLength), output.Slice(n * OutputLength, count * OutputLength), workspace, count);
            }
            return;
        }
        for (int n = start; n < end; n++)
            RunSample(input.Slice(n * InputLength, InputLength), output.Slice(n * OutputLength, OutputLength), workspace, 0, 1, null);
    }

    /// <summary>A thread's inference workspace: room for one sample group and its scratch (one sample when the network has no groups).</summary>
    private Span<float> WorkspaceSpan(float[] ws) => ws.AsSpan(AlignedStart(ws), GroupWorkspaceLength);

    /// <summary>Part <paramref name="part"/>'s workspace, allocated on first use; the lock is taken only then.</summary>
    private float[] Workspace(int part)
    {
        if (Volatile.Read(ref _workspaces)[part] is { } existing)
            return existing;
        lock (_layers)
            return _workspaces[part] ??= GC.AllocateArray<float>(GroupWorkspaceLength + 16, pinned: true);
    }

    /// <summary>The worker pool, (re)created when it has fewer parts than asked for.</summary>
    private WorkerPool Pool(int parts)
    {
        if (_pool is null || _pool.Parts < parts)
        {
            _pool?.Dispose();
            _pool = new WorkerPool(parts);
        }
        return _pool;
    }

    private static void AddInto(Span<float> total, ReadOnlySpan<float> part)
    {
        Span<System.Numerics.Vector<float>> vt = MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(total);
        ReadOnlySpan<System.Numerics.Vector<float>> vp = MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(part);
        for (int v = 0; v < vt.Length; v++)
            vt[v] += vp[v];
        int i = vt.Length * System.Numerics.Vector<float>.Count;
        for (; i < total.Length; i++)
            total[i] += part[i];
    }

    private static unsafe int AlignedStart(float[] array)
    {
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        int misalignment = (int)(address & 63);
        return misalignment == 0 ? 0 : (64 - misalignment) / sizeof(float);
    }
}
