using System;
using System.Globalization;

namespace Unroll.Cli;

/// <summary>The options the commands share.</summary>
internal sealed record CommandLine(string? Name, int Batch, Isa? Isa, int Threads)
{
    public static CommandLine Parse(string[] args)
    {
        string? name = null;
        int batch = 1, threads = 1;
        Isa? isa = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"Option {args[i]} needs a value.");
            switch (args[i])
            {
                case "--batch":
                    batch = int.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--threads":
                    threads = int.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--isa":
                    isa = IsaSupport.Parse(Value());
                    break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal))
                        throw new ArgumentException($"Unknown option {args[i]}.");
                    name = args[i];
                    break;
            }
        }
        if (batch < 1 || threads < 1)
            throw new ArgumentException("--batch and --threads must be at least 1.");
        return new CommandLine(name, batch, isa, threads);
    }
}
