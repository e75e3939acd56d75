using System;
using System.Globalization;

namespace Unroll.Cli;

/// <summary>The options the commands share.</summary>
internal sealed record CommandLine(string? Name, int Batch, Isa? Isa, int Threads, string? Data, int Epochs, long Seed, string? Save,
    bool Json, double LearningRate, double Momentum)
{
    public static CommandLine Parse(string[] args, int defaultBatch)
    {
        string? name = null, data = null, save = null;
        int batch = defaultBatch, threads = Environment.ProcessorCount, epochs = 8;
        long seed = 1;
        double lr = 0.01, momentum = 0.9;
        bool json = false;
        Isa? isa = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"Option {args[i]} needs a value.");
            int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--batch":
                    batch = Int();
                    break;
                case "--threads":
                    threads = Int();
                    break;
                case "--epochs":
                    epochs = Int();
                    break;
                case "--seed":
                    seed = long.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--lr":
                    lr = double.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--momentum":
                    momentum = double.Parse(Value(), CultureInfo.InvariantCulture);
                    break;
                case "--data":
                    data = Value();
                    break;
                case "--save":
                    save = Value();
                    break;
                case "--json":
                    json = true;
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
        if (batch < 1 || threads < 1 || epochs < 1)
            throw new ArgumentException("--batch, --threads and --epochs must be at least 1.");
        if (!(lr > 0) || momentum < 0)
            throw new ArgumentException("--lr must be positive and --momentum not negative.");
        return new CommandLine(name, batch, isa, threads, data, epochs, seed, save, json, lr, momentum);
    }
}
