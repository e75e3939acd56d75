using System;
using System.Globalization;

namespace Unroll.Cli;

/// <summary>The options the commands share.</summary>
internal sealed record CommandLine(string? Name, int Batch, Isa? Isa, int Threads, string? Data, int Epochs, long Seed, string? Save,
    bool Json, double LearningRate, double Momentum, int TrainCount, int TestCount)
{
    public static CommandLine Parse(string[] args, int defaultBatch, double defaultLearningRate = 0.01, int defaultEpochs = 8,
        int defaultTrainCount = 0, int defaultTestCount = 0)
    {
        string? name = null, data = null, save = null;
        int batch = defaultBatch, threads = Environment.ProcessorCount, epochs = defaultEpochs;
        long seed = 1;
        double lr = defaultLearningRate, momentum = 0.9;
        int trainCount = defaultTrainCount, testCount = defaultTestCount;
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
                case "--train":
                    trainCount = Int();
                    break;
                case "--test":
                    testCount = Int();
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
        if (trainCount < 0 || testCount < 0)
            throw new ArgumentException("--train and --test must not be negative (0 takes every image).");
        return new CommandLine(name, batch, isa, threads, data, epochs, seed, save, json, lr, momentum, trainCount, testCount);
    }
}
