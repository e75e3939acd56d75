using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Unroll.Kernels;

/// <summary>Cache hints for generated kernels. Called by generated code.</summary>
public static class Cache
{
    /// <summary>
    /// Asks for the cache line holding the float <paramref name="offset"/> floats after <paramref name="origin"/> to be
    /// brought into every cache level. A hint only: the address may lie past the end of the buffer (nothing is read, and
    /// no reference to it is formed), and results do not depend on it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Prefetch(ref float origin, int offset)
    {
        // The pointer is not tracked by the GC: if the buffer moves before the hint, only the hint is wasted.
        if (Sse.IsSupported)
            Sse.Prefetch0((float*)Unsafe.AsPointer(ref origin) + offset);
    }
}
