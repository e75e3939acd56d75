using System;

namespace Unroll;

/// <summary>The shape of one sample's tensor: channels x height x width, or a flat vector of features.</summary>
/// <param name="Channels">Channels, or the number of features of a flat vector.</param>
/// <param name="Height">Height in pixels (1 for a flat vector).</param>
/// <param name="Width">Width in pixels (1 for a flat vector).</param>
/// <param name="IsFlat">True for the output of a dense layer.</param>
public readonly record struct Shape(int Channels, int Height, int Width, bool IsFlat = false)
{
    /// <summary>Number of values in one sample.</summary>
    public int Length => Channels * Height * Width;

    /// <summary>A flat vector of <paramref name="features"/> values.</summary>
    public static Shape Flat(int features) => new(features, 1, 1, true);

    /// <summary><c>6x28x28</c>, or <c>120</c> for a flat vector.</summary>
    public override string ToString() => IsFlat ? Channels.ToString(System.Globalization.CultureInfo.InvariantCulture) : FormattableString.Invariant($"{Channels}x{Height}x{Width}");
}
