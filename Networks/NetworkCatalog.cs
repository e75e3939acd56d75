using System;
using System.Collections.Generic;

namespace Unroll.Networks;

/// <summary>The networks this assembly declares, by name (case-insensitive).</summary>
public static class NetworkCatalog
{
    private static readonly Dictionary<string, (NetworkInfo Info, Func<NetworkOptions?, Network> Create)> Entries =
        new(StringComparer.OrdinalIgnoreCase)
        {
            ["LeNet5"] = (LeNet5.Description, options => new LeNet5(options)),
            ["AlexNet"] = (AlexNet.Description, options => new AlexNet(options)),
            ["VGG16"] = (VGG16.Description, options => new VGG16(options)),
            ["VGG19"] = (VGG19.Description, options => new VGG19(options)),
            ["ResNet18"] = (ResNet18.Description, options => new ResNet18(options)),
            ["ResNet34"] = (ResNet34.Description, options => new ResNet34(options)),
            ["ResNet50"] = (ResNet50.Description, options => new ResNet50(options)),
            ["ResNet101"] = (ResNet101.Description, options => new ResNet101(options)),
            ["ResNet152"] = (ResNet152.Description, options => new ResNet152(options)),
            ["GoogLeNet"] = (GoogLeNet.Description, options => new GoogLeNet(options)),
            ["NiN"] = (NiN.Description, options => new NiN(options)),
        };

    /// <summary>Names of every network, in declaration order.</summary>
    public static IReadOnlyCollection<string> Names => Entries.Keys;

    /// <summary>The compile-time description of network <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No network has that name.</exception>
    public static NetworkInfo Describe(string name) => Find(name).Info;

    /// <summary>Creates network <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No network has that name.</exception>
    public static Network Create(string name, NetworkOptions? options = null) => Find(name).Create(options);

    private static (NetworkInfo Info, Func<NetworkOptions?, Network> Create) Find(string name) =>
        Entries.TryGetValue(name, out var entry)
            ? entry
            : throw new KeyNotFoundException($"Unknown network '{name}'. Known: {string.Join(", ", Entries.Keys)}.");
}
