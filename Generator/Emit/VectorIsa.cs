using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// The text of vector operations on one instruction set. Emitters are written once against this
/// and produce the AVX-512, AVX2 and portable (scalar, one lane) variants of every kernel.
/// </summary>
internal sealed class VectorIsa
{
    private VectorIsa(TargetIsa target, string name, int lanes, string type, string fma)
    {
        Target = target;
        Name = name;
        Lanes = lanes;
        Type = type;
        _fma = fma;
    }

    private readonly string _fma;

    public static readonly VectorIsa Avx512 = new(TargetIsa.Avx512, "Avx512", 16, "Vector512<float>", "Avx512F.FusedMultiplyAdd");
    public static readonly VectorIsa Avx2 = new(TargetIsa.Avx2, "Avx2", 8, "Vector256<float>", "Fma.MultiplyAdd");
    public static readonly VectorIsa Portable = new(TargetIsa.Portable, "Portable", 1, "float", "");

    public static readonly VectorIsa[] All = { Avx512, Avx2, Portable };

    public TargetIsa Target { get; }

    /// <summary>Name used in method and class names.</summary>
    public string Name { get; }

    /// <summary>Floats per vector (1 for the portable path).</summary>
    public int Lanes { get; }

    /// <summary>C# type of one vector.</summary>
    public string Type { get; }

    private bool Scalar => Lanes == 1;

    /// <summary>The static class of the vector type's operations ("Vector512" or "Vector256"; not for the portable path).</summary>
    public string VectorClass => Lanes == 16 ? "Vector512" : "Vector256";

    /// <summary>Whether a vector holds one float: the portable path, where vectors are plain floats.</summary>
    public bool IsScalar => Scalar;

    /// <summary>Loads one vector at element offset <paramref name="offset"/> from <paramref name="reference"/>.</summary>
    public string Load(string reference, string offset) =>
        Scalar ? $"Unsafe.Add(ref {reference}, {offset})" : $"{VectorClass}.LoadUnsafe(ref {reference}, (nuint)({offset}))";

    /// <summary>A statement storing <paramref name="value"/> at element offset <paramref name="offset"/>; a compound value is parenthesised, since vector stores call a method on it.</summary>
    public string Store(string value, string reference, string offset) =>
        Scalar ? $"Unsafe.Add(ref {reference}, {offset}) = {value};" : $"{Operand(value)}.StoreUnsafe(ref {reference}, (nuint)({offset}));";

    /// <summary>Wraps an expression in parentheses unless it is a plain name.</summary>
    private static string Operand(string expression) =>
        System.Text.RegularExpressions.Regex.IsMatch(expression, @"^[A-Za-z_][A-Za-z0-9_]*$") ? expression : "(" + expression + ")";

    /// <summary>Every lane set to the scalar <paramref name="value"/>.</summary>
    public string Broadcast(string value) => Scalar ? value : $"{VectorClass}.Create({value})";

    /// <summary><paramref name="a"/> * <paramref name="b"/> + <paramref name="c"/>, fused where the hardware fuses.</summary>
    public string MultiplyAdd(string a, string b, string c) => Scalar ? $"{c} + {a} * {b}" : $"{_fma}({a}, {b}, {c})";

    public string Zero => Scalar ? "0f" : $"{Type}.Zero";

    public string Max(string a, string b) => Scalar ? $"MathF.Max({a}, {b})" : $"{VectorClass}.Max({a}, {b})";

    public string NegativeInfinity => Broadcast("float.NegativeInfinity");

    /// <summary>An activation applied in registers, or null when the activation runs as a separate pass.</summary>
    public string? Activate(Front.ActivationKind activation, float alpha, string x) => activation switch
    {
        Front.ActivationKind.None => x,
        Front.ActivationKind.ReLU => Max(x, Zero),
        Front.ActivationKind.LeakyReLU => Scalar
            ? $"({x} > 0f ? {x} : {x} * {Literal(alpha)})"
            : $"{VectorClass}.ConditionalSelect({VectorClass}.GreaterThan({x}, {Zero}), {x}, {x} * {Literal(alpha)})",
        _ => null,
    };

    public static string Literal(float value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f";
}
