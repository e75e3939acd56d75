using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Unroll.Tests.Reference;

namespace Unroll.Tests.Numerics;

/// <summary>One declared layer: the attribute text and what the reference computes for it.</summary>
public sealed record LayerCase(string Attributes, RefLayer Ref);

/// <summary>One random network: a few layers over a random input, with its C# declaration.</summary>
public sealed class RandomCase
{
    public RandomCase(int index, string kind, Shape input, IReadOnlyList<LayerCase> layers, int batch, int threads)
    {
        Index = index;
        Kind = kind;
        Input = input;
        Layers = layers;
        Batch = batch;
        Threads = threads;
        var text = new StringBuilder();
        text.Append("/// <summary>Random case ").Append(index).Append(": ").Append(kind).AppendLine(".</summary>");
        text.Append("[Network(Input = \"").Append(input.Channels).Append('x').Append(input.Height).Append('x').Append(input.Width).AppendLine("\")]");
        text.Append("public partial class ").AppendLine(ClassName);
        text.AppendLine("{");
        for (int i = 0; i < layers.Count; i++)
            text.Append("    ").Append(layers[i].Attributes).Append(" public partial Layer L").Append(i).AppendLine(" { get; }");
        text.AppendLine("}");
        Declaration = text.ToString();
    }

    public int Index { get; }
    public string Kind { get; }
    public Shape Input { get; }
    public IReadOnlyList<LayerCase> Layers { get; }
    public int Batch { get; }
    public int Threads { get; }
    public string ClassName => "Case" + Index.ToString("D3", CultureInfo.InvariantCulture);
    public string Declaration { get; }
    public IEnumerable<RefLayer> RefLayers => Layers.Select(l => l.Ref);

    /// <summary>The shape after each layer, computed by the reference.</summary>
    public IReadOnlyList<Shape> Shapes
    {
        get
        {
            var shapes = new List<Shape>();
            Shape s = Input;
            foreach (LayerCase l in Layers)
                shapes.Add(s = l.Ref.OutputShape(s));
            return shapes;
        }
    }
}

/// <summary>
/// Draws random but valid layer declarations from a fixed seed, so any failure reproduces. Every case is
/// checked here for validity (the window fits the padded input, pool padding is at most half the window)
/// and for cost (the double-precision reference must stay fast).
/// </summary>
public sealed class RandomCaseGenerator
{
    /// <summary>Multiply-adds per sample the reference may spend on one layer, by default.</summary>
    public const long DefaultBudget = 1_000_000;

    /// <summary>Channel counts that must appear: 1, odd sizes, exact and off-by-one vector widths.</summary>
    public static readonly int[] RequiredChannels = { 1, 3, 8, 16, 17, 33 };
    private static readonly int[] FavouredChannels = { 1, 3, 8, 16, 17, 33, 2, 5, 7, 9, 15, 24, 31, 32, 40 };
    private static readonly float[] Alphas = { 0.1f, 0.2f, 0.3f, 0.05f };

    /// <summary>Clip bounds inside the values the layers see (of order 1), so that both bounds are hit.</summary>
    private static readonly float[] ClipLows = { -0.5f, -0.25f, 0f, 0.1f };
    private static readonly float[] ClipHighs = { 0.25f, 0.5f, 0.75f, 1f };

    /// <summary>Case kinds, drawn in turn so that every kind gets its share.</summary>
    public static readonly string[] Kinds =
    {
        "conv-valid", "conv-same", "conv-pad", "conv-rect", "conv-nobias", "conv-relu", "conv-leaky", "conv-tanh", "conv-sigmoid",
        "maxpool", "avgpool", "avgpool-inclpad", "dense-spatial", "dense-dense", "dense-softmax", "act-spatial", "act-flat",
        "conv-conv", "act-conv", "pool-conv", "conv-pool", "pool-dense", "conv-dense", "conv-wide", "dense-wide",
        "conv-valid", "conv-same", "conv-pad", "conv-rect", "maxpool", "avgpool-inclpad", "act-act", "dense-act-dense",
    };

    private readonly SeededRandom _random;
    private readonly int _maxSize;
    private readonly long _budget;
    private readonly int[] _favoured;

    /// <summary>
    /// Cases from <paramref name="seed"/>. <paramref name="maxSize"/> caps channel counts, spatial sizes and dense units
    /// (the "wide" kinds keep their wide layer), <paramref name="budget"/> the multiply-adds per sample of one layer;
    /// with the defaults the draws are the forward suite's, case for case.
    /// </summary>
    public RandomCaseGenerator(long seed, int maxSize = 40, long budget = DefaultBudget)
    {
        _random = new SeededRandom(seed);
        _maxSize = maxSize;
        _budget = budget;
        _favoured = FavouredChannels.Where(c => c <= maxSize).ToArray();
    }

    public List<RandomCase> Generate(int count)
    {
        var cases = new List<RandomCase>();
        for (int i = 0; i < count; i++)
        {
            string kind = Kinds[i % Kinds.Length];
            RandomCase? c = null;
            for (int attempt = 0; c is null; attempt++)
            {
                if (attempt == 10_000)
                    throw new InvalidOperationException($"No valid case of kind {kind} found.");
                c = TryCase(i, kind);
            }
            cases.Add(c);
        }
        return cases;
    }

    private int Next(int low, int high) => low + _random.Next(high - low + 1); // inclusive
    private bool Coin(int oneIn = 2) => _random.Next(oneIn) == 0;
    private int Channels() => Coin() ? _favoured[_random.Next(_favoured.Length)] : Next(1, _maxSize);
    private int Spatial() => Next(1, _maxSize);
    private Shape SpatialInput() => new(Channels(), Spatial(), Spatial());

    private RandomCase? TryCase(int index, string kind)
    {
        Shape input = SpatialInput();
        var layers = new List<LayerCase>();
        bool ok = true;
        void Add(LayerCase? layer)
        {
            if (layer is null)
                ok = false;
            else if (ok)
                layers.Add(layer);
        }
        Shape Current() => layers.Aggregate(input, (s, l) => l.Ref.OutputShape(s));

        switch (kind)
        {
            case "conv-valid": Add(Conv(input, Channels(), "valid")); break;
            case "conv-same": Add(Conv(input, Channels(), "same")); break;
            case "conv-pad": Add(Conv(input, Channels(), "pad")); break;
            case "conv-rect": Add(Conv(input, Channels(), AnyPadding(), rectangular: true)); break;
            case "conv-nobias": Add(Conv(input, Channels(), AnyPadding(), bias: false, rectangular: Coin(3))); break;
            case "conv-relu": Add(Conv(input, Channels(), AnyPadding(), activation: Activation.ReLU)); break;
            case "conv-leaky": Add(Conv(input, Channels(), AnyPadding(), activation: Activation.LeakyReLU)); break;
            case "conv-tanh": Add(Conv(input, Channels(), AnyPadding(), activation: Activation.Tanh, bias: Coin(4) == false)); break;
            case "conv-sigmoid": Add(Conv(input, Channels(), AnyPadding(), activation: Activation.Sigmoid, rectangular: Coin(3))); break;
            case "conv-wide":
                input = new Shape(Channels(), Next(1, Math.Min(12, _maxSize)), Next(1, Math.Min(12, _maxSize)));
                Add(Conv(input, Next(41, 80), AnyPadding(), activation: Coin() ? Activation.ReLU : Activation.None));
                break;
            case "maxpool": Add(Pool(input, max: true, includePad: false)); break;
            case "avgpool": Add(Pool(input, max: false, includePad: false)); break;
            case "avgpool-inclpad": Add(Pool(input, max: false, includePad: true, forcePad: true)); break;
            case "dense-spatial": Add(Dense(input, Next(1, _maxSize), AnyActivation(softmax: true))); break;
            case "dense-wide": Add(Dense(input, Next(65, 150), AnyActivation(softmax: true))); break;
            case "dense-dense":
                Add(Dense(input, Next(1, _maxSize), AnyActivation(softmax: false)));
                if (ok) Add(Dense(Current(), Next(1, _maxSize), AnyActivation(softmax: true)));
                break;
            case "dense-softmax":
                // Softmax after a dense layer: fused, or as a stand-alone layer.
                if (Coin())
                    Add(Dense(input, Next(1, _maxSize), Activation.Softmax));
                else
                {
                    Add(Dense(input, Next(1, _maxSize), Activation.None));
                    Add(StandAlone(Activation.Softmax));
                }
                break;
            case "act-spatial": Add(StandAlone(AnyActivation(softmax: false, none: false))); break;
            case "act-flat":
                Add(Dense(input, Next(1, _maxSize), AnyActivation(softmax: false)));
                Add(StandAlone(AnyActivation(softmax: true, none: false)));
                break;
            case "act-act":
                Add(StandAlone(AnyActivation(softmax: false, none: false)));
                Add(StandAlone(AnyActivation(softmax: false, none: false)));
                break;
            case "dense-act-dense":
                Add(Dense(input, Next(1, _maxSize), Activation.None));
                Add(StandAlone(AnyActivation(softmax: true, none: false)));
                if (ok) Add(Dense(Current(), Next(1, _maxSize), AnyActivation(softmax: true)));
                break;
            case "conv-conv":
                Add(Conv(input, Channels(), AnyPadding(), activation: AnyActivation(softmax: false)));
                if (ok) Add(Conv(Current(), Channels(), AnyPadding(), activation: AnyActivation(softmax: false), rectangular: Coin(4)));
                break;
            case "act-conv":
                Add(StandAlone(AnyActivation(softmax: false, none: false)));
                Add(Conv(input, Channels(), AnyPadding()));
                break;
            case "pool-conv":
                Add(Pool(input, max: Coin(), includePad: Coin(3)));
                if (ok) Add(Conv(Current(), Channels(), AnyPadding(), activation: AnyActivation(softmax: false)));
                break;
            case "conv-pool":
                Add(Conv(input, Channels(), AnyPadding(), activation: AnyActivation(softmax: false)));
                if (ok) Add(Pool(Current(), max: Coin(), includePad: Coin(3)));
                break;
            case "pool-dense":
                Add(Pool(input, max: Coin(), includePad: Coin(3)));
                if (ok) Add(Dense(Current(), Next(1, _maxSize), AnyActivation(softmax: true)));
                break;
            case "conv-dense":
                Add(Conv(input, Channels(), AnyPadding(), activation: AnyActivation(softmax: false)));
                if (ok) Add(Dense(Current(), Next(1, _maxSize), AnyActivation(softmax: true)));
                break;
            default:
                throw new ArgumentException($"Unknown kind {kind}.");
        }
        if (!ok)
            return null;
        int batch = Next(1, 5);
        int threads = batch > 1 && Coin(3) ? 2 : 1;
        return new RandomCase(index, kind, input, layers, batch, threads);
    }

    private string AnyPadding() => _random.Next(3) switch { 0 => "valid", 1 => "same", _ => "pad" };

    private Activation AnyActivation(bool softmax, bool none = true)
    {
        var choices = new List<Activation> { Activation.ReLU, Activation.LeakyReLU, Activation.Tanh, Activation.Sigmoid, Activation.Clip };
        if (none)
            choices.Add(Activation.None);
        if (softmax)
            choices.Add(Activation.Softmax);
        return choices[_random.Next(choices.Count)];
    }

    /// <summary>
    /// The activation attribute text (with a leading ", ") and the reference layer's activation parameters: the slope a leaky
    /// ReLU gets, the bounds a clip gets (ReLU6, one side open, or both bounds inside the values of order 1).
    /// </summary>
    private (string Text, RefLayer Parameters) ActivationText(Activation activation)
    {
        var parameters = new RefLayer(RefOp.Activation, activation);
        if (activation == Activation.LeakyReLU)
        {
            if (Coin(3))
                return (", LeakyReLU", parameters);
            float alpha = Alphas[_random.Next(Alphas.Length)];
            return ($", LeakyReLU({Literal(alpha)})", parameters with { Alpha = alpha });
        }
        if (activation == Activation.Clip)
        {
            (float min, float max) = _random.Next(5) switch
            {
                0 => (0f, 6f),
                1 => (ClipLows[_random.Next(ClipLows.Length)], float.PositiveInfinity),
                2 => (float.NegativeInfinity, ClipHighs[_random.Next(ClipHighs.Length)]),
                _ => (ClipLows[_random.Next(ClipLows.Length)], ClipHighs[_random.Next(ClipHighs.Length)]),
            };
            return ($", Clip({Literal(min)}, {Literal(max)})", parameters with { ClipMin = min, ClipMax = max });
        }
        return (activation == Activation.None ? "" : ", " + activation, parameters);
    }

    private static string Literal(float value) =>
        float.IsNegativeInfinity(value) ? "float.NegativeInfinity" : float.IsPositiveInfinity(value) ? "float.PositiveInfinity" : value.ToString("R", CultureInfo.InvariantCulture) + "f";

    /// <summary><paramref name="layer"/> with the activation parameters of <paramref name="parameters"/>.</summary>
    private static RefLayer WithActivation(RefLayer layer, RefLayer parameters) =>
        layer with { Alpha = parameters.Alpha, ClipMin = parameters.ClipMin, ClipMax = parameters.ClipMax };

    private LayerCase StandAlone(Activation activation)
    {
        (string text, RefLayer parameters) = ActivationText(activation);
        return new LayerCase("[" + text.Substring(2) + "]", parameters);
    }

    private LayerCase? Conv(Shape x, int filters, string padding, bool bias = true, Activation activation = Activation.None, bool rectangular = false)
    {
        if (x.IsFlat)
            return null;
        int kh = Next(1, 7), kw = kh;
        if (rectangular)
            while (kw == kh)
                kw = Next(1, 7);
        int stride = Next(1, 3);
        int pt = 0, pl = 0, pb = 0, pr = 0;
        var args = new List<string> { filters.ToString(CultureInfo.InvariantCulture) };
        if (rectangular)
        {
            args.Add($"KernelHeight = {kh}");
            args.Add($"KernelWidth = {kw}");
        }
        else
            args.Add($"Kernel = {kh}");
        if (stride != 1 || Coin(4))
            args.Add($"Stride = {stride}");
        switch (padding)
        {
            case "valid":
                if (Coin(4))
                    args.Add("Padding = Padding.Valid");
                break;
            case "same":
                args.Add("Padding = Padding.Same");
                (pt, pb) = ReferenceOps.SamePadding(x.Height, kh, stride);
                (pl, pr) = ReferenceOps.SamePadding(x.Width, kw, stride);
                break;
            default:
                pt = pl = pb = pr = Next(0, 3);
                args.Add($"Pad = {pt}");
                break;
        }
        if (!bias)
            args.Add("Bias = false");
        else if (Coin(8))
            args.Add("Bias = true");
        if (kh > x.Height + pt + pb || kw > x.Width + pl + pr)
            return null;
        var layer = new RefLayer(RefOp.Conv, activation, 0.01f, filters, kh, kw, stride, pt, pl, pb, pr, bias);
        (string text, RefLayer parameters) = ActivationText(activation);
        layer = WithActivation(layer, parameters);
        Shape y = layer.OutputShape(x);
        if ((long)filters * x.Channels * kh * kw * y.Height * y.Width > _budget)
            return null;
        return new LayerCase($"[Conv({string.Join(", ", args)}){text}]", layer);
    }

    private LayerCase? Pool(Shape x, bool max, bool includePad, bool forcePad = false)
    {
        if (x.IsFlat)
            return null;
        int size = Next(1, 7);
        int stride = size;
        var args = new List<string> { size.ToString(CultureInfo.InvariantCulture) };
        if (Coin(3) == false)
        {
            stride = Next(1, 3);
            args.Add($"Stride = {stride}");
        }
        int pad = 0;
        if (size / 2 > 0 && (forcePad || Coin(3) == false))
            pad = Next(forcePad ? 1 : 0, Math.Min(3, size / 2)); // at most half the window
        else if (forcePad)
            return null;
        if (pad > 0 || Coin(5))
            args.Add($"Pad = {pad}");
        if (!max && includePad)
            args.Add("CountIncludePad = true");
        else if (!max && Coin(5))
            args.Add("CountIncludePad = false");
        if (size > x.Height + 2 * pad || size > x.Width + 2 * pad)
            return null;
        var layer = new RefLayer(max ? RefOp.MaxPool : RefOp.AvgPool, Activation.None, 0.01f, 0, size, size, stride, pad, pad, pad, pad, true, !max && includePad);
        Shape y = layer.OutputShape(x);
        if ((long)x.Channels * size * size * y.Height * y.Width > _budget)
            return null;
        return new LayerCase($"[{(max ? "MaxPool" : "AvgPool")}({string.Join(", ", args)})]", layer);
    }

    private LayerCase? Dense(Shape x, int units, Activation activation)
    {
        if ((long)units * x.Length > _budget)
            return null;
        bool bias = Coin(5) == false;
        (string text, RefLayer parameters) = ActivationText(activation);
        var layer = WithActivation(new RefLayer(RefOp.Dense, activation, Units: units, Bias: bias), parameters);
        return new LayerCase($"[Dense({units}{(bias ? "" : ", Bias = false")}){text}]", layer);
    }
}
