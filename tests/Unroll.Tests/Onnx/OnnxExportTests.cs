using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.ML.OnnxRuntime;
using Unroll.Networks;
using Unroll.Onnx;
using Unroll.Tests.Numerics;
using Xunit.Abstractions;

namespace Unroll.Tests.Onnx;

/// <summary>
/// Exported models run by ONNX Runtime against Unroll's own forward pass on the same weights and input: classic networks,
/// a graph with every layer kind, the symbolic and the fixed batch, and the file written atomically.
/// </summary>
public sealed class OnnxExportTests : IDisposable
{
    /// <summary>max |Unroll - ONNX Runtime| over max |ONNX Runtime| must stay below this.</summary>
    private const double Tolerance = 1e-4;

    private readonly ITestOutputHelper _output;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "unroll-onnx-" + Guid.NewGuid().ToString("N"));

    public OnnxExportTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_folder);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData("LeNet5")]
    [InlineData("ResNet18")]
    [InlineData("GoogLeNet")]
    public void ClassicNetworksMatchOnnxRuntime(string name)
    {
        using Network net = NetworkCatalog.Create(name, new NetworkOptions { Seed = 3 });
        Randomise(net, 5);
        byte[] model = OnnxExport.Build(net);
        CheckAgainstOnnxRuntime(net, model, batch: 1, seed: 9);

        // The comparison is sensitive: a bias halfway through the network moved by 0.1 after the export is seen.
        Layer middle = net.Layers.Where(l => l.Info.Bias is not null).ElementAt(net.Layers.Count(l => l.Info.Bias is not null) / 2);
        middle.SetBias(middle.GetBias().Select(b => b + 0.1f).ToArray());
        Assert.True(Compare(net, model, batch: 1, seed: 9, "after moving " + middle.Name).Relative > Tolerance);
    }

    [Fact]
    public void EveryLayerKindMatchesOnnxRuntimeOnEveryIsa()
    {
        foreach (Isa isa in IsaSupport.Supported())
        {
            using var net = new EveryKindNet(new NetworkOptions { Isa = isa, Seed = 4, Threads = 1 });
            Randomise(net, 6);
            Assert.Contains(net.Layers, l => l.Info.Kind == LayerKind.BatchNorm && l.Info.InputShape.IsFlat);
            // Affine layers come only from ONNX models (the import tests export them back).
            Assert.Equal(Enum.GetValues<LayerKind>().Where(k => k != LayerKind.Affine).ToHashSet(), net.Layers.Select(l => l.Info.Kind).ToHashSet());
            CheckAgainstOnnxRuntime(net, OnnxExport.Build(net), batch: 2, seed: 10, label: isa.ToString());
        }
    }

    [Fact]
    public void ASoftmaxOverTheChannelsOfACx1x1OutputMatchesOnnxRuntime()
    {
        using var net = new SpatialSoftmaxNet(new NetworkOptions { Seed = 2 });
        Randomise(net, 7);
        Assert.False(net.Info.OutputShape.IsFlat);
        float[] ort = CheckAgainstOnnxRuntime(net, OnnxExport.Build(net), batch: 3, seed: 11);
        for (int n = 0; n < 3; n++)
            Assert.Equal(1.0, ort.Skip(6 * n).Take(6).Sum(v => (double)v), 5);
    }

    [Fact]
    public void TheSymbolicBatchRunsAtBatchOneAndThree()
    {
        using var net = new EveryKindNet(new NetworkOptions { Seed = 8, Threads = 1 });
        Randomise(net, 9);
        byte[] model = OnnxExport.Build(net);
        using (var session = new InferenceSession(model))
        {
            NodeMetadata input = session.InputMetadata[OnnxExport.InputName];
            Assert.Equal(new[] { -1, 3, 12, 12 }, input.Dimensions);
            Assert.Equal(OnnxExport.BatchDimension, input.SymbolicDimensions[0]);
            NodeMetadata output = session.OutputMetadata.Single().Value;
            Assert.Equal(new[] { -1, 5 }, output.Dimensions);
            Assert.Equal("Out", session.OutputNames.Single());
        }
        CheckAgainstOnnxRuntime(net, model, batch: 1, seed: 12);
        CheckAgainstOnnxRuntime(net, model, batch: 3, seed: 13);
    }

    [Fact]
    public void AFixedBatchIsWrittenAsGiven()
    {
        using var net = new LeNet5(new NetworkOptions { Seed = 1 });
        byte[] model = OnnxExport.Build(net, batch: 2);
        using var session = new InferenceSession(model);
        Assert.Equal(new[] { 2, 1, 32, 32 }, session.InputMetadata[OnnxExport.InputName].Dimensions);
        Assert.Equal(new[] { 2, 10 }, session.OutputMetadata["Output"].Dimensions);
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExport.Build(net, batch: 0));
    }

    [Fact]
    public void SaveWritesTheBuiltModelToAFileAndToAStream()
    {
        using var net = new LeNet5(new NetworkOptions { Seed = 1 });
        byte[] expected = OnnxExport.Build(net);
        string path = Path.Combine(_folder, "lenet5.onnx");
        File.WriteAllText(path, new string('x', 1_000_000));
        OnnxExport.Save(net, path);
        Assert.Equal(expected, File.ReadAllBytes(path));
        var stream = new MemoryStream();
        OnnxExport.Save(net, stream);
        Assert.Equal(expected, stream.ToArray());
        Assert.Single(Directory.GetFiles(_folder));
    }

    [Fact]
    public void AFailedSaveLeavesTheExistingFileIntactAndNoTemporaryFile()
    {
        using var net = new LeNet5(new NetworkOptions { Seed = 1 });
        string path = Path.Combine(_folder, "model.onnx");
        OnnxExport.Save(net, path);
        byte[] previous = File.ReadAllBytes(path);
        using var other = new LeNet5(new NetworkOptions { Seed = 2 });

        // A model that cannot be made: nothing is written.
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxExport.Save(other, path, batch: 0));
        Assert.Equal(previous, File.ReadAllBytes(path));

        // The disk fills up halfway through the model, in the same atomic writer Save uses.
        var error = Assert.Throws<IOException>(() => WeightFile.WriteAtomically(path, file => OnnxExport.Save(other, new FailingStream(file, previous.Length / 2))));
        Assert.Equal(FailingStream.Message, error.Message);
        Assert.Equal(previous, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_folder));

        // The target cannot be replaced (it is a folder): the model written beside it is removed, the folder untouched.
        string folder = Path.Combine(_folder, "taken.onnx");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "inside"), previous);
        Assert.ThrowsAny<IOException>(() => OnnxExport.Save(other, folder));
        Assert.Equal(previous, File.ReadAllBytes(Path.Combine(folder, "inside")));
        Assert.Equal(new[] { path }, Directory.GetFiles(_folder));
        Assert.Equal(previous, File.ReadAllBytes(path));
    }

    /// <summary>Non-zero biases and batch-normalisation statistics other than the identity's, so that both are checked.</summary>
    private static void Randomise(Network net, int seed)
    {
        var random = new SeededRandom(seed);
        NetworkFixtures.SetRandomBiases(net, random);
        NetworkFixtures.SetRandomNormalisations(net, random);
    }

    /// <summary>
    /// Runs <paramref name="model"/> with ONNX Runtime and <paramref name="net"/> on one seeded batch, prints the relative
    /// difference and asserts it is below <see cref="Tolerance"/>; returns ONNX Runtime's output.
    /// </summary>
    private float[] CheckAgainstOnnxRuntime(Network net, byte[] model, int batch, int seed, string label = "")
    {
        (double relative, float[] actual) = Compare(net, model, batch, seed, label);
        Assert.True(relative < Tolerance, $"{net.Info.Name} {label}: relative difference {relative:E2}");
        return actual;
    }

    /// <summary>max |Unroll - ONNX Runtime| / max |ONNX Runtime| on one seeded batch (printed), and ONNX Runtime's output.</summary>
    private (double Relative, float[] Output) Compare(Network net, byte[] model, int batch, int seed, string label)
    {
        float[] input = NetworkFixtures.RandomInput(batch * net.InputLength, new SeededRandom(seed));
        float[] expected = new float[batch * net.OutputLength];
        net.Forward(input, expected, batch);

        float[] actual = OnnxRuntimeOracle.Run(model, input, net.Info.InputShape, batch);
        (double diff, double max) = OnnxRuntimeOracle.Compare(actual, expected);
        double relative = diff / max;
        _output.WriteLine(FormattableString.Invariant(
            $"{net.Info.Name} {label} batch {batch}: max |Unroll - ORT| = {diff:E2}, max |ORT| = {max:G4}, relative {relative:E2} (tolerance {Tolerance:E0})"));
        Assert.True(max > 0, "ONNX Runtime's output is all zeros: the comparison would judge nothing.");
        return (relative, actual);
    }

    /// <summary>A stream that fails like a full disk once <c>limit</c> bytes have gone through it.</summary>
    private sealed class FailingStream(Stream inner, long limit) : Stream
    {
        public const string Message = "disk full (simulated)";
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_written + buffer.Length > limit)
            {
                inner.Write(buffer[..(int)(limit - _written)]);
                inner.Flush();
                throw new IOException(Message);
            }
            inner.Write(buffer);
            _written += buffer.Length;
        }
    }
}
