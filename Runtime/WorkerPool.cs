using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Unroll;

/// <summary>
/// A fixed set of background threads that run one job split in parts, with no allocation per job.
/// The calling thread runs part 0 itself. Used by networks to split a batch across cores.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _threads;
    private readonly object _gate = new();
    private Action<int, int>? _job;
    private int _parts;
    private long _generation;
    private int _pending;
    private bool _disposed;
    private Exception? _failure;

    /// <summary>Creates a pool that runs jobs in <paramref name="parts"/> parts (parts - 1 background threads).</summary>
    public WorkerPool(int parts)
    {
        if (parts < 1)
            throw new ArgumentOutOfRangeException(nameof(parts), parts, "A pool needs at least one part.");
        _threads = new Thread[parts - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int part = i + 1;
            _threads[i] = new Thread(() => Work(part)) { IsBackground = true, Name = $"Unroll worker {part}" };
            _threads[i].Start();
        }
    }

    /// <summary>Number of parts a job is split into.</summary>
    public int Parts => _threads.Length + 1;

    /// <summary>Runs <paramref name="job"/>(part, parts) for parts 0 .. <paramref name="parts"/> - 1 at once and waits for all.</summary>
    public void Run(Action<int, int> job, int parts)
    {
        if (parts < 1 || parts > Parts)
            throw new ArgumentOutOfRangeException(nameof(parts), parts, $"This pool runs 1 to {Parts} parts.");
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (parts == 1)
        {
            job(0, 1);
            return;
        }
        lock (_gate)
        {
            _job = job;
            _parts = parts;
            _pending = parts - 1;
            _failure = null;
            _generation++;
            Monitor.PulseAll(_gate);
        }
        try
        {
            job(0, parts);
        }
        finally
        {
            long spinEnd = SpinDeadline();
            var spinner = new SpinWait();
            while (Volatile.Read(ref _pending) > 0 && System.Diagnostics.Stopwatch.GetTimestamp() < spinEnd)
                spinner.SpinOnce(sleep1Threshold: -1);
            lock (_gate)
            {
                while (_pending > 0)
                    Monitor.Wait(_gate);
                _job = null;
            }
        }
        if (_failure is { } failure)
            ExceptionDispatchInfo.Capture(failure).Throw();
    }

    private void Work(int part)
    {
        long seen = 0;
        while (true)
        {
            Action<int, int>? job;
            int parts;
            // Jobs often come back to back (one per batch): spin a little before sleeping, since waking
            // a sleeping thread costs tens of microseconds.
            long spinEnd = SpinDeadline();
            var spinner = new SpinWait();
            while (Volatile.Read(ref _generation) == seen && !_disposed && System.Diagnostics.Stopwatch.GetTimestamp() < spinEnd)
                spinner.SpinOnce(sleep1Threshold: -1);
            lock (_gate)
            {
                while (_generation == seen && !_disposed)
                    Monitor.Wait(_gate);
                if (_disposed)
                    return;
                seen = _generation;
                job = _job;
                parts = _parts;
            }
            if (part < parts && job is not null)
            {
                try
                {
                    job(part, parts);
                }
                catch (Exception e)
                {
                    lock (_gate)
                        _failure ??= e;
                }
                lock (_gate)
                {
                    if (--_pending == 0)
                        Monitor.PulseAll(_gate);
                }
            }
        }
    }

    /// <summary>How long a thread spins for work or for the other parts before it blocks: 50 microseconds.</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 20_000;

    private static long SpinDeadline() => System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;

    /// <summary>Stops the background threads.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }
}
