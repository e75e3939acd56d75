using System;
using System.Collections;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Unroll.Data;

/// <summary>
/// One mini-batch: <see cref="Count"/> samples copied out of a <see cref="Dataset"/> into a buffer
/// the <see cref="BatchLoader"/> owns and reuses. A batch is valid until the consumer asks for the
/// next one (the next <c>MoveNext</c> of the epoch's enumerator) or ends the epoch; after that its
/// buffers are refilled with other samples, so copy out anything to keep.
/// </summary>
public sealed class Batch
{
    private readonly float[] _images;
    private readonly int[] _labels;
    private readonly int[] _indices;

    internal Batch(int capacity, Shape sampleShape)
    {
        SampleShape = sampleShape;
        _images = new float[capacity * sampleShape.Length];
        _labels = new int[capacity];
        _indices = new int[capacity];
    }

    /// <summary>Number of samples in this batch: the loader's batch size, or fewer for the last batch of an epoch.</summary>
    public int Count { get; private set; }

    /// <summary>The epoch this batch belongs to.</summary>
    public int Epoch { get; private set; }

    /// <summary>Position of this batch in its epoch, from 0.</summary>
    public int Index { get; private set; }

    /// <summary>C x H x W of one sample.</summary>
    public Shape SampleShape { get; }

    /// <summary>The samples, <see cref="Count"/> x C x H x W values: the input of <c>Network.Forward(input, output, batch.Count)</c>. Writable, for in-place augmentation; writing changes only this copy.</summary>
    public Span<float> Images => _images.AsSpan(0, Count * SampleShape.Length);

    /// <summary>The class of each sample.</summary>
    public ReadOnlySpan<int> Labels => _labels.AsSpan(0, Count);

    /// <summary>Which dataset sample each position holds.</summary>
    public ReadOnlySpan<int> Indices => _indices.AsSpan(0, Count);

    internal void Fill(Dataset dataset, ReadOnlySpan<int> order, int epoch, int index)
    {
        int length = dataset.SampleLength;
        ReadOnlySpan<float> source = dataset.Images;
        Span<float> images = _images;
        for (int k = 0; k < order.Length; k++)
        {
            int sample = order[k];
            source.Slice(sample * length, length).CopyTo(images.Slice(k * length, length));
            _labels[k] = dataset.Labels[sample];
            _indices[k] = sample;
        }
        Count = order.Length;
        Epoch = epoch;
        Index = index;
    }
}

/// <summary>
/// Serves a <see cref="Dataset"/> as mini-batches, shuffled anew each epoch, prepared on a
/// background thread a few batches ahead of the consumer.
/// <list type="bullet">
/// <item>Order: epoch <c>e</c> visits the samples in a Fisher-Yates shuffle of 0 .. N - 1 driven by
/// <see cref="SeededRandom"/>, seeded from (<see cref="Seed"/>, <c>e</c>) alone. The same seed gives the
/// same batches on every run, machine and .NET version, whatever the timing and whichever epochs ran
/// before; <see cref="Order(int)"/> returns it.</item>
/// <item>Batches hold <see cref="BatchSize"/> samples; the last one of an epoch holds the rest,
/// unless <see cref="DropLast"/>.</item>
/// <item>With <see cref="Prefetch"/> above zero, one background thread (started at the first epoch,
/// stopped by <see cref="Dispose"/>) copies samples into a pool of <see cref="Prefetch"/> + 1 batch
/// buffers while the consumer trains on the current one; nothing is allocated per batch. With 0,
/// batches are prepared on the consumer's thread, in <c>MoveNext</c>. Both give identical batches.</item>
/// <item>An exception thrown while preparing a batch (by the <c>prepare</c> callback, say) is
/// rethrown to the consumer by <c>MoveNext</c>, after the batches prepared before it.</item>
/// </list>
/// One epoch can be enumerated at a time. Not thread-safe beyond that: one consumer thread.
/// </summary>
/// <example>
/// <code>
/// using var loader = new BatchLoader(train, batchSize: 64, seed: 42);
/// for (int epoch = 0; epoch &lt; 10; epoch++)
///     foreach (Batch batch in loader.Epoch(epoch, cancellationToken))
///         Train(batch.Images, batch.Labels, batch.Count);
/// </code>
/// </example>
public sealed class BatchLoader : IDisposable
{
    /// <summary>Batches prepared ahead by default.</summary>
    public const int DefaultPrefetch = 3;

    private readonly object _gate = new();
    private readonly Action<Batch>? _prepare;
    private readonly Batch[] _pool;
    private readonly Batch[] _free;
    private readonly Batch[] _ready;
    private readonly int[] _order;
    private int _freeCount, _readyHead, _readyCount;
    private Thread? _thread;
    private bool _epochActive, _jobPending, _jobRunning, _jobDone, _stop, _disposed;
    private int _jobEpoch;
    private CancellationToken _jobToken;
    private Exception? _failure;

    /// <summary>Creates a loader over <paramref name="dataset"/>.</summary>
    /// <param name="dataset">The samples.</param>
    /// <param name="batchSize">Samples per batch.</param>
    /// <param name="seed">Seed of the shuffles.</param>
    /// <param name="shuffle">False to visit samples in dataset order every epoch (for evaluation).</param>
    /// <param name="dropLast">True to skip an epoch's last batch when it holds fewer than <paramref name="batchSize"/> samples.</param>
    /// <param name="prefetch">Batches prepared ahead on a background thread; 0 for none (everything on the consumer's thread).</param>
    /// <param name="prepare">Called on each batch after its samples are copied, on the thread that prepares it: for augmentation. Seed any randomness from <see cref="Batch.Epoch"/> and <see cref="Batch.Index"/> to stay deterministic.</param>
    public BatchLoader(Dataset dataset, int batchSize, long seed, bool shuffle = true, bool dropLast = false, int prefetch = DefaultPrefetch, Action<Batch>? prepare = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(prefetch);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefetch, 64);
        if ((long)batchSize * dataset.SampleLength > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, $"A batch of {batchSize} samples of {dataset.SampleShape} is too large for one array.");
        Dataset = dataset;
        BatchSize = batchSize;
        Seed = seed;
        Shuffle = shuffle;
        DropLast = dropLast;
        Prefetch = prefetch;
        _prepare = prepare;
        int capacity = Math.Min(batchSize, Math.Max(dataset.Count, 1));
        _pool = new Batch[prefetch + 1];
        for (int i = 0; i < _pool.Length; i++)
            _pool[i] = new Batch(capacity, dataset.SampleShape);
        _free = new Batch[_pool.Length];
        _ready = new Batch[_pool.Length];
        _order = new int[dataset.Count];
    }

    /// <summary>The samples served.</summary>
    public Dataset Dataset { get; }

    /// <summary>Samples per batch (all but possibly the last of an epoch).</summary>
    public int BatchSize { get; }

    /// <summary>Seed of the shuffles.</summary>
    public long Seed { get; }

    /// <summary>Whether each epoch has its own random order (otherwise dataset order).</summary>
    public bool Shuffle { get; }

    /// <summary>Whether an epoch's last, partial batch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>Batches prepared ahead on the background thread (0: no background thread).</summary>
    public int Prefetch { get; }

    /// <summary>Batches in one epoch.</summary>
    public int BatchesPerEpoch => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>Samples visited in one epoch: all of them, or fewer with <see cref="DropLast"/>.</summary>
    public int SamplesPerEpoch => DropLast ? BatchesPerEpoch * BatchSize : Dataset.Count;

    /// <summary>The order in which epoch <paramref name="epoch"/> visits the samples: a permutation of 0 .. N - 1.</summary>
    public int[] Order(int epoch)
    {
        int[] order = new int[Dataset.Count];
        Order(epoch, order);
        return order;
    }

    /// <summary>Writes the order of epoch <paramref name="epoch"/> into <paramref name="destination"/> (N values).</summary>
    public void Order(int epoch, Span<int> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (destination.Length != Dataset.Count)
            throw new ArgumentException($"Expected {Dataset.Count} values.", nameof(destination));
        for (int i = 0; i < destination.Length; i++)
            destination[i] = i;
        if (!Shuffle)
            return;
        // Each epoch's generator is seeded with one output of the loader seed's sequence, so that
        // nearby seeds or epochs do not give overlapping (shifted) random streams.
        var random = new SeededRandom(unchecked((long)new SeededRandom(unchecked(Seed + epoch)).NextUInt64()));
        for (int i = destination.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (destination[i], destination[j]) = (destination[j], destination[i]);
        }
    }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/>, in order. Preparation starts at the first
    /// <c>MoveNext</c>; ending the enumeration (the end of a <c>foreach</c>, <c>break</c> or an
    /// exception) stops it and waits for the background thread to let go of the buffers.
    /// </summary>
    /// <param name="epoch">Epoch number, from 0; it picks the order.</param>
    /// <param name="cancellationToken">Stops the epoch: <c>MoveNext</c> throws <see cref="OperationCanceledException"/>, even while it waits for a batch.</param>
    /// <exception cref="InvalidOperationException">(On enumeration) another epoch of this loader is still being enumerated.</exception>
    public IEnumerable<Batch> Epoch(int epoch, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new EpochBatches(this, epoch, cancellationToken);
    }

    /// <summary>Stops the background thread and waits for it. An epoch being enumerated then throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        Thread? thread;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            thread = _thread;
            Monitor.PulseAll(_gate);
        }
        if (thread is not null && thread != Thread.CurrentThread)
            thread.Join();
    }

    private void Begin(int epoch, CancellationToken token)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_epochActive)
                throw new InvalidOperationException("Another epoch of this loader is still being enumerated; finish or dispose it first (epochs share the batch buffers).");
            _epochActive = true;
            ResetBuffers();
            _failure = null;
            _stop = false;
            _jobDone = false;
            if (Prefetch == 0)
                return;
            _jobEpoch = epoch;
            _jobToken = token;
            _jobPending = true;
            if (_thread is null)
            {
                _thread = new Thread(Produce) { IsBackground = true, Name = "Unroll batch loader" };
                _thread.Start();
            }
            Monitor.PulseAll(_gate);
        }
    }

    private void End()
    {
        lock (_gate)
        {
            _stop = true;
            _jobPending = false;
            Monitor.PulseAll(_gate);
            while (_jobRunning)
                Monitor.Wait(_gate);
            ResetBuffers();
            _failure = null;
            _epochActive = false;
        }
    }

    private void ResetBuffers()
    {
        _pool.CopyTo(_free, 0);
        _freeCount = _pool.Length;
        Array.Clear(_ready);
        _readyHead = _readyCount = 0;
    }

    private void Wake()
    {
        lock (_gate)
            Monitor.PulseAll(_gate);
    }

    /// <summary>The next background batch; gives <paramref name="previous"/> back to the pool first.</summary>
    private Batch? Take(Batch? previous, CancellationToken token)
    {
        Exception? failure;
        lock (_gate)
        {
            if (previous is not null)
            {
                _free[_freeCount++] = previous;
                Monitor.PulseAll(_gate);
            }
            while (true)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                token.ThrowIfCancellationRequested();
                if (_readyCount > 0)
                {
                    Batch batch = _ready[_readyHead];
                    _ready[_readyHead] = null!;
                    _readyHead = (_readyHead + 1) % _ready.Length;
                    _readyCount--;
                    return batch;
                }
                failure = _failure;
                if (failure is not null || _jobDone)
                    break;
                Monitor.Wait(_gate);
            }
        }
        if (failure is not null)
            ExceptionDispatchInfo.Capture(failure).Throw();
        return null;
    }

    private void Produce()
    {
        while (true)
        {
            int epoch;
            CancellationToken token;
            lock (_gate)
            {
                while (!_jobPending && !_disposed)
                    Monitor.Wait(_gate);
                if (_disposed)
                    return;
                _jobPending = false;
                _jobRunning = true;
                epoch = _jobEpoch;
                token = _jobToken;
            }
            try
            {
                Order(epoch, _order);
                int batches = BatchesPerEpoch;
                for (int b = 0; b < batches; b++)
                {
                    Batch batch;
                    lock (_gate)
                    {
                        while (_freeCount == 0 && !_stop && !_disposed && !token.IsCancellationRequested)
                            Monitor.Wait(_gate);
                        if (_stop || _disposed || token.IsCancellationRequested)
                            break;
                        batch = _free[--_freeCount];
                    }
                    Prepare(batch, _order, epoch, b);
                    lock (_gate)
                    {
                        _ready[(_readyHead + _readyCount) % _ready.Length] = batch;
                        _readyCount++;
                        Monitor.PulseAll(_gate);
                    }
                }
            }
            catch (Exception e)
            {
                lock (_gate)
                    _failure = e;
            }
            finally
            {
                lock (_gate)
                {
                    _jobRunning = false;
                    _jobDone = true;
                    Monitor.PulseAll(_gate);
                }
            }
        }
    }

    private void Prepare(Batch batch, int[] order, int epoch, int index)
    {
        int start = index * BatchSize;
        batch.Fill(Dataset, order.AsSpan(start, Math.Min(BatchSize, order.Length - start)), epoch, index);
        _prepare?.Invoke(batch);
    }

    private sealed class EpochBatches(BatchLoader loader, int epoch, CancellationToken token) : IEnumerable<Batch>
    {
        public IEnumerator<Batch> GetEnumerator() => new EpochEnumerator(loader, epoch, token);

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class EpochEnumerator(BatchLoader loader, int epoch, CancellationToken token) : IEnumerator<Batch>
    {
        private bool _started, _ended;
        private int _next;
        private Batch? _current;
        private CancellationTokenRegistration _registration;

        public Batch Current => _current ?? throw new InvalidOperationException("No current batch: call MoveNext first.");

        object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            if (_ended)
                return false;
            if (!_started)
            {
                token.ThrowIfCancellationRequested();
                loader.Begin(epoch, token);
                _started = true;
                if (loader.Prefetch > 0 && token.CanBeCanceled)
                    _registration = token.UnsafeRegister(static state => ((BatchLoader)state!).Wake(), loader);
            }
            if (loader.Prefetch == 0)
            {
                ObjectDisposedException.ThrowIf(loader._disposed, loader);
                token.ThrowIfCancellationRequested();
                if (_next == 0)
                    loader.Order(epoch, loader._order);
                if (_next >= loader.BatchesPerEpoch)
                {
                    _current = null;
                    return false;
                }
                Batch batch = loader._pool[0];
                loader.Prepare(batch, loader._order, epoch, _next++);
                _current = batch;
                return true;
            }
            Batch? previous = _current;
            _current = null;
            _current = loader.Take(previous, token);
            return _current is not null;
        }

        public void Reset() => throw new NotSupportedException();

        public void Dispose()
        {
            if (!_started || _ended)
                return;
            _ended = true;
            _current = null;
            _registration.Dispose();
            loader.End();
        }
    }
}
