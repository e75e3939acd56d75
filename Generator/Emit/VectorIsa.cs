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

    public string Min(string a, string b) => Scalar ? $"MathF.Min({a}, {b})" : $"{VectorClass}.Min({a}, {b})";

    public string NegativeInfinity => Broadcast("float.NegativeInfinity");

    /// <summary>The layer's activation of <paramref name="x"/> applied in registers, or null when the activation runs as a separate pass.</summary>
    public string? Activate(Graph.LayerModel layer, string x) => layer.Activation switch
    {
        Front.ActivationKind.None => x,
        Front.ActivationKind.ReLU => Max(x, Zero),
        Front.ActivationKind.LeakyReLU => Scalar
            ? $"({x} > 0f ? {x} : {x} * {Literal(layer.Alpha)})"
            : $"{VectorClass}.ConditionalSelect({VectorClass}.GreaterThan({x}, {Zero}), {x}, {x} * {Literal(layer.Alpha)})",
        // max, then min (ONNX's order); an open side costs nothing.
        Front.ActivationKind.Clip => Clip(x, layer.ClipMin, layer.ClipMax),
        _ => null,
    };

    private string Clip(string x, float min, float max)
    {
        string raised = float.IsNegativeInfinity(min) ? x : Max(x, Broadcast(Literal(min)));
        return float.IsPositiveInfinity(max) ? raised : Min(raised, Broadcast(Literal(max)));
    }

    /// <summary>
    /// What the layer's activation makes of 0 when it is not 0 (a clip whose range leaves 0 out), for values a kernel writes
    /// without computing them, such as a zero padding's border; null when it is 0 or computed in a pass over the whole tensor.
    /// </summary>
    public static float? ActivatedZero(Graph.LayerModel layer) =>
        layer.Activation == Front.ActivationKind.Clip && (layer.ClipMin > 0f || layer.ClipMax < 0f) ? System.Math.Min(System.Math.Max(0f, layer.ClipMin), layer.ClipMax) : null;

    /// <summary>A float literal; the infinities as float.PositiveInfinity and float.NegativeInfinity.</summary>
    public static string Literal(float value) =>
        float.IsPositiveInfinity(value) ? "float.PositiveInfinity"
        : float.IsNegativeInfinity(value) ? "float.NegativeInfinity"
        : value.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f";
}
