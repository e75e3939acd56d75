using System.Threading;

namespace Unroll.Kernels;

/// <summary>
/// A reusable barrier for the threads that run one sample together: each step that splits its work
/// across them ends with <see cref="Wait"/>, so the next step sees every part's output. It spins (the
/// steps between waits are short) and yields to the scheduler when a wait runs long. Called by
/// generated code.
/// </summary>
public sealed class PartBarrier
{
    private readonly int _parts;
    private int _remaining;
    private int _phase;

    /// <summary>Creates a barrier for <paramref name="parts"/> threads.</summary>
    public PartBarrier(int parts)
    {
        _parts = parts;
        _remaining = parts;
    }

    /// <summary>Number of threads that meet at this barrier.</summary>
    public int Parts => _parts;

    /// <summary>Returns once every part has called it for the current phase.</summary>
    public void Wait()
    {
        int phase = Volatile.Read(ref _phase);
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            // The last part to arrive resets the count for the next phase, then releases the others.
            Volatile.Write(ref _remaining, _parts);
            Volatile.Write(ref _phase, phase + 1);
            return;
        }
        var spinner = new SpinWait();
        while (Volatile.Read(ref _phase) == phase)
            spinner.SpinOnce(sleep1Threshold: -1);
    }
}
