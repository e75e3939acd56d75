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
