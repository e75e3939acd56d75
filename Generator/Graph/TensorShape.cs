namespace Unroll.Generator.Graph;

/// <summary>The shape of one sample's tensor: C x H x W, or a flat vector of C features.</summary>
internal readonly record struct TensorShape(int C, int H, int W, bool Flat)
{
    public long Length => (long)C * H * W;

    public override string ToString() => Flat ? C.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{C}x{H}x{W}";

    /// <summary>Keras-style "(None, 6, 28, 28)".</summary>
    public string Keras => Flat ? $"(None, {C})" : $"(None, {C}, {H}, {W})";
}
