using System;
using System.Runtime.Intrinsics.X86;

namespace Unroll;

/// <summary>The instruction sets the generated kernels exist for.</summary>
public enum Isa
{
    /// <summary>Plain scalar C#: runs everywhere.</summary>
    Portable = 0,
    /// <summary>256-bit AVX2 with FMA.</summary>
    Avx2 = 1,
    /// <summary>512-bit AVX-512F.</summary>
    Avx512 = 2,
}

/// <summary>Which instruction sets this machine runs, and which one networks use by default.</summary>
public static class IsaSupport
{
    /// <summary>Name of the environment variable that forces an instruction set for every network created without an explicit choice (<c>portable</c>, <c>avx2</c> or <c>avx512</c>).</summary>
    public const string EnvironmentVariable = "UNROLL_ISA";

    /// <summary>True if this machine can run kernels for <paramref name="isa"/>.</summary>
    public static bool IsSupported(Isa isa) => isa switch
    {
        Isa.Portable => true,
        Isa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        Isa.Avx512 => Avx512F.IsSupported,
        _ => false,
    };

    /// <summary>The fastest supported instruction set, unless <see cref="EnvironmentVariable"/> names another.</summary>
    public static Isa Default
    {
        get
        {
            string? forced = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(forced))
                return Parse(forced);
            return IsSupported(Isa.Avx512) ? Isa.Avx512 : IsSupported(Isa.Avx2) ? Isa.Avx2 : Isa.Portable;
        }
    }

    /// <summary>Every instruction set this machine supports, slowest first.</summary>
    public static Isa[] Supported()
    {
        var list = new System.Collections.Generic.List<Isa>();
        foreach (Isa isa in Enum.GetValues<Isa>())
            if (IsSupported(isa))
                list.Add(isa);
        return list.ToArray();
    }

    /// <summary>Parses <c>portable</c>, <c>avx2</c> or <c>avx512</c> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">The text names no instruction set.</exception>
    public static Isa Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "portable" or "scalar" => Isa.Portable,
        "avx2" => Isa.Avx2,
        "avx512" or "avx-512" or "avx512f" => Isa.Avx512,
        _ => throw new ArgumentException($"Unknown instruction set '{text}': expected portable, avx2 or avx512.", nameof(text)),
    };
}
