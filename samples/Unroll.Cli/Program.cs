using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using Unroll;
using Unroll.Cli;
using Unroll.Networks;

// unroll: the command-line front of the Unroll samples.
//   demo                 edge detection with a fixed filter, then LeNet-5's summary and a timed forward pass
//   summary NAME         the Keras-style summary of a network in Networks/
//   run NAME [--batch N] [--isa portable|avx2|avx512] [--threads N] [--json]
//                        a forward pass on random input, timed
//   train NAME [--data DIR] [--epochs N] [--batch N] [--seed N] [--threads N] [--lr X] [--momentum X] [--save FILE] [--json]
//                        trains on Fashion-MNIST (the embedded subset unless --data names the IDX files' folder)
//   transfer [--data DIR] [--train N] [--test N] [--epochs N] [--batch N] [--lr X] [--threads N] [--seed N]
//                        the pretrained ResNet-18 as a frozen feature extractor, a new dense head trained on Fashion-MNIST
//   list                 the networks and the instruction sets this machine runs
//   jitcheck             runs every network, and the probes of kernel paths no network takes, on every supported
//                        instruction set (the MinOpts test drives this)
try
{
    string command = args.Length > 0 ? args[0].ToLowerInvariant() : "demo";
    var options = command == "transfer"
        ? CommandLine.Parse(args.Skip(1).ToArray(), defaultBatch: 32, defaultLearningRate: 1e-3, defaultEpochs: 20, defaultTrainCount: 1000, defaultTestCount: 500)
        : CommandLine.Parse(args.Skip(1).ToArray(), defaultBatch: command == "train" ? 64 : 1);
    using var cancellation = new System.Threading.CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        cancellation.Cancel();
    };
    switch (command)
    {
        case "demo":
            Demo.Run();
            return 0;
        case "summary":
            Console.Write(NetworkCatalog.Describe(options.Name ?? "LeNet5").Summary);
            return 0;
        case "list":
            Console.WriteLine("Networks: " + string.Join(", ", NetworkCatalog.Names));
            Console.WriteLine("Instruction sets here: " + string.Join(", ", IsaSupport.Supported()) + $" (default {IsaSupport.Default})");
            return 0;
        case "run":
            Demo.Time(options.Name ?? "LeNet5", options.Batch, options.Isa, options.Threads, options.Json);
            return 0;
        case "train":
            return Train.Run(options, cancellation.Token);
        case "transfer":
            return Transfer.Run(options, cancellation.Token);
        case "jitcheck":
            foreach (string name in NetworkCatalog.Names)
                foreach (Isa isa in IsaSupport.Supported())
                {
                    using Network network = NetworkCatalog.Create(name, new NetworkOptions { Isa = isa, Threads = 1 });
                    // Batch 1 runs the single-sample kernels, batch 2 the sample-group kernels (networks with dense layers).
                    network.Predict(new float[network.InputLength]);
                    float[] output = network.Predict(new float[network.InputLength * 2]);
                    double loss = network.ComputeGradients(new float[network.InputLength * 2], 2, (_, y, g) => { g.Fill(1); return 0; }, new float[network.InputLength * 2]);
                    Console.WriteLine($"{name} {isa}: {output.Length} outputs, gradients computed");
                }
            // Kernel paths that no catalog network takes.
            foreach ((string name, Func<NetworkOptions, Network> create) in JitProbes.All)
                foreach (Isa isa in IsaSupport.Supported())
                {
                    using Network network = create(new NetworkOptions { Isa = isa, Threads = 1 });
                    float[] output = network.Predict(new float[network.InputLength * 2]);
                    Console.WriteLine($"{name} {isa}: {output.Length} outputs");
                }
            // The pretrained ResNet-18 compiled from its ONNX file (weights as initialised: the JIT does not care).
            foreach (Isa isa in IsaSupport.Supported())
            {
                using var pretrained = new Unroll.Pretrained.ResNet18(new NetworkOptions { Isa = isa, Threads = 1 });
                float[] features = pretrained.Predict(new float[pretrained.InputLength]);
                Console.WriteLine($"ResNet18 (ONNX) {isa}: {features.Length} outputs");
            }
            return 0;
        default:
            Console.Error.WriteLine($"Unknown command '{command}'. Commands: demo, summary NAME, run NAME, train NAME, transfer, list, jitcheck.");
            return 2;
    }
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
catch (Exception e) when (e is ArgumentException or System.Collections.Generic.KeyNotFoundException or NotSupportedException or FormatException
    or System.IO.IOException or System.IO.InvalidDataException or Unroll.Training.TrainingDivergedException)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}
