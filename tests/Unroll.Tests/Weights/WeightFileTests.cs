using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Unroll.Networks;

namespace Unroll.Tests.Weights;

// Small networks compiled by the generator (the test project references it as an analyzer).

/// <summary>A conv with a fused ReLU, then a dense layer.</summary>
[Network(Input = "1x8x8")]
public partial class TinyA
{
    [Conv(4, Kernel = 3), ReLU] public partial Layer C { get; }
    [Dense(5)] public partial Layer D { get; }
}

/// <summary>TinyA with one more dense unit: another architecture whose first tensors match TinyA's.</summary>
[Network(Input = "1x8x8")]
public partial class TinyB
{
    [Conv(4, Kernel = 3), ReLU] public partial Layer C { get; }
    [Dense(6)] public partial Layer D { get; }
}

/// <summary>
/// Big enough for initialiser statistics: C has 64x32x3x3 = 18,432 He-normal weights (fan_in 288),
/// T has 64x1024 = 65,536 Glorot-uniform weights (fan_in 1024, fan_out 64), S has 10x64 Glorot-uniform weights.
/// </summary>
[Network(Input = "32x6x6")]
public partial class StatsNet
{
    [Conv(64, Kernel = 3), ReLU] public partial Layer C { get; }
    [Dense(64), Tanh] public partial Layer T { get; }
    [Dense(10), Softmax] public partial Layer S { get; }
}

/// <summary>StatsNet's layers with stand-alone activation layers instead of fused ones.</summary>
[Network(Input = "32x6x6")]
public partial class StandaloneActivations
{
    [Conv(64, Kernel = 3)] public partial Layer C { get; }
    [ReLU] public partial Layer CR { get; }
    [Dense(64)] public partial Layer T { get; }
    [Tanh] public partial Layer TT { get; }
}

public sealed class WeightFileTests : IDisposable
{
    private readonly string _folder;

    public WeightFileTests()
    {
        _folder = Path.Combine(Path.GetTempPath(), "unroll-weights-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private static NetworkOptions Options(int seed) => new() { Seed = seed, Threads = 1 };

    /// <summary>Every tensor's canonical values, in file order.</summary>
    private static List<float[]> CanonicalWeights(Network net)
    {
        var all = new List<float[]>();
        foreach (Layer layer in net.Layers)
        {
            if (layer.Info.Weights is not null)
                all.Add(layer.GetWeights());
            if (layer.Info.Bias is not null)
                all.Add(layer.GetBias());
        }
        return all;
    }

    private static void AssertSameWeights(List<float[]> expected, Network net)
    {
        List<float[]> actual = CanonicalWeights(net);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i], actual[i]);
    }

    private static float[] SampleInput(int length, int batch = 3)
    {
        var random = new SeededRandom(12345);
        float[] x = new float[length * batch];
        for (int i = 0; i < x.Length; i++)
            x[i] = random.Uniform(-1f, 1f);
        return x;
    }

    private static byte[] Saved(Network net)
    {
        var stream = new MemoryStream();
        net.Save(stream);
        return stream.ToArray();
    }

    /// <summary>Rewrites the trailing CRC so that an edited file passes the checksum and reaches the later checks.</summary>
    private static byte[] WithFreshCrc(byte[] file)
    {
        byte[] copy = (byte[])file.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(copy.Length - 4), Crc32.Compute(copy.AsSpan(0, copy.Length - 4)));
        return copy;
    }

    /// <summary>Loads <paramref name="file"/> into <paramref name="net"/>, expects InvalidDataException, and checks that no weight changed.</summary>
    private static InvalidDataException AssertRejected(Network net, byte[] file)
    {
        List<float[]> before = CanonicalWeights(net);
        float[] storedBefore = net.Parameters.ToArray();
        var error = Assert.Throws<InvalidDataException>(() => net.Load(new MemoryStream(file)));
        AssertSameWeights(before, net);
        Assert.Equal(storedBefore, net.Parameters.ToArray());
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        return error;
    }

    // ------------------------------------------------------------------ round trip

    [Fact]
    public void SaveThenLoadThroughAFileRestoresWeightsAndOutputs()
    {
        using var source = new LeNet5(Options(1));
        using var target = new LeNet5(Options(2));
        float[] x = SampleInput(source.InputLength);
        Assert.NotEqual(source.Predict(x), target.Predict(x));

        string path = Path.Combine(_folder, "lenet5.unrw");
        source.Save(path);
        target.Load(path);

        AssertSameWeights(CanonicalWeights(source), target);
        Assert.Equal(source.Parameters.ToArray(), target.Parameters.ToArray());
        Assert.Equal(source.Predict(x), target.Predict(x));
    }

    [Fact]
    public void SaveThenLoadThroughAStreamRestoresWeightsAndOutputs()
    {
        using var source = new TinyA(Options(7));
        using var target = new TinyA(Options(8));
        float[] x = SampleInput(source.InputLength);

        var stream = new MemoryStream();
        source.Save(stream);
        stream.Position = 0;
        target.Load(stream);

        AssertSameWeights(CanonicalWeights(source), target);
        Assert.Equal(source.Predict(x), target.Predict(x));
    }

    [Fact]
    public void FileAndStreamSavesAreTheSameBytes()
    {
        using var net = new TinyA(Options(3));
        string path = Path.Combine(_folder, "a.unrw");
        net.Save(path);
        Assert.Equal(Saved(net), File.ReadAllBytes(path));
    }

    // ------------------------------------------------------------------ rejected files

    [Fact]
    public void LoadingAnotherArchitectureThrowsAndChangesNothing()
    {
        using var a = new TinyA(Options(1));
        using var b = new TinyB(Options(2));
        Assert.NotEqual(a.Info.Fingerprint, b.Info.Fingerprint);

        var error = AssertRejected(b, Saved(a));
        Assert.Contains("another architecture", error.Message);
        Assert.Contains("TinyB", error.Message);

        string path = Path.Combine(_folder, "a.unrw");
        a.Save(path);
        List<float[]> before = CanonicalWeights(b);
        Assert.Throws<InvalidDataException>(() => b.Load(path));
        AssertSameWeights(before, b);

        // And the other way round, LeNet-5 into TinyA.
        using var lenet = new LeNet5(Options(1));
        AssertRejected(a, Saved(lenet));
    }

    [Fact]
    public void ATensorOfTheWrongShapeBehindTheRightFingerprintThrowsAndChangesNothing()
    {
        // TinyA's tensors under TinyB's fingerprint (checksum recomputed): C.weight and C.bias match and
        // are read before D.weight [5, 144] fails against [6, 144]; none of them may reach the weights.
        using var a = new TinyA(Options(1));
        using var b = new TinyB(Options(2));
        byte[] file = Saved(a);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(8), b.Info.Fingerprint);
        var error = AssertRejected(b, WithFreshCrc(file));
        Assert.Contains("D.weight", error.Message);
    }

    [Fact]
    public void AWrongTensorCountThrows()
    {
        using var a = new TinyA(Options(1));
        byte[] file = Saved(a);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(16), 3);
        var error = AssertRejected(a, WithFreshCrc(file));
        Assert.Contains("3 tensors", error.Message);
    }

    [Fact]
    public void TrailingBytesThrow()
    {
        using var a = new TinyA(Options(1));
        byte[] file = Saved(a);
        byte[] longer = file.Take(file.Length - 4).Concat(new byte[] { 1, 2, 3, 4 }).Concat(new byte[4]).ToArray();
        AssertRejected(a, WithFreshCrc(longer));
    }

    [Theory]
    [InlineData(0)]      // empty
    [InlineData(3)]      // inside the magic
    [InlineData(6)]      // inside the reserved field
    [InlineData(12)]     // inside the fingerprint
    [InlineData(18)]     // inside the tensor count
    [InlineData(21)]     // inside the first tensor's name length
    [InlineData(27)]     // inside the first tensor's name, "C.weight"
    [InlineData(35)]     // inside the first tensor's shape
    [InlineData(60)]     // inside the first tensor's values
    [InlineData(-300)]   // inside D.weight's values
    [InlineData(-5)]     // the last value cut short
    [InlineData(-1)]     // checksum cut
    public void ATruncatedFileThrowsAndChangesNothing(int cut)
    {
        using var a = new TinyA(Options(1));
        using var target = new TinyA(Options(2));
        byte[] file = Saved(a);
        int length = cut >= 0 ? cut : file.Length + cut;
        Assert.InRange(length, 0, file.Length - 1);
        AssertRejected(target, file.AsSpan(0, length).ToArray());
    }

    [Fact]
    public void AFlippedByteThrowsAndChangesNothing()
    {
        using var a = new TinyA(Options(1));
        using var target = new TinyA(Options(2));
        byte[] file = Saved(a);
        // In the first tensor's values, in the last tensor's values, in the fingerprint, in the checksum.
        foreach (int position in new[] { 60, file.Length - 10, 9, file.Length - 2 })
        {
            byte[] damaged = (byte[])file.Clone();
            damaged[position] ^= 0x10;
            var error = AssertRejected(target, damaged);
            Assert.Contains("checksum", error.Message);
        }
        // Every single-bit flip in the data is caught (CRC-32 detects all of them).
        for (int position = 0; position < file.Length; position += 7)
        {
            byte[] damaged = (byte[])file.Clone();
            damaged[position] ^= 0x01;
            Assert.Throws<InvalidDataException>(() => target.Load(new MemoryStream(damaged)));
        }
        using var fresh = new TinyA(Options(2));
        AssertSameWeights(CanonicalWeights(fresh), target);
    }

    [Fact]
    public void AWrongMagicThrows()
    {
        using var a = new TinyA(Options(1));
        byte[] file = Saved(a);
        file[0] = (byte)'X';
        var error = AssertRejected(a, WithFreshCrc(file));
        Assert.Contains("UNRW", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(0xFFFF)]
    public void AWrongVersionThrows(int version)
    {
        using var a = new TinyA(Options(1));
        byte[] file = Saved(a);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(4), (ushort)version);
        var error = AssertRejected(a, WithFreshCrc(file));
        Assert.Contains("version " + version, error.Message);
    }

    [Fact]
    public void ANonZeroReservedFieldThrows()
    {
        using var a = new TinyA(Options(1));
        byte[] file = Saved(a);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(6), 1);
        AssertRejected(a, WithFreshCrc(file));
    }

    [Fact]
    public void NotAWeightFileThrows()
    {
        using var a = new TinyA(Options(1));
        AssertRejected(a, Encoding.UTF8.GetBytes("just some text, long enough to pass the length check"));
    }

    // ------------------------------------------------------------------ atomic save

    [Fact]
    public void SaveLeavesNoTemporaryFile()
    {
        using var net = new TinyA(Options(1));
        string path = Path.Combine(_folder, "net.unrw");
        net.Save(path);
        Assert.True(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));
        Assert.Single(Directory.GetFiles(_folder));
    }

    [Fact]
    public void SaveReplacesAnExistingFile()
    {
        string path = Path.Combine(_folder, "net.unrw");
        File.WriteAllText(path, new string('x', 100_000));
        using var net = new TinyA(Options(1));
        net.Save(path);
        Assert.Equal(Saved(net), File.ReadAllBytes(path));

        using var other = new TinyA(Options(2));
        other.Save(path);
        Assert.Equal(Saved(other), File.ReadAllBytes(path));
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));
    }

    [Fact]
    public void AFailedWriteKeepsThePreviousFileAndLeavesNoTemporaryFile()
    {
        string path = Path.Combine(_folder, "net.unrw");
        using var net = new TinyA(Options(1));
        net.Save(path);
        byte[] previous = File.ReadAllBytes(path);

        var error = Assert.Throws<IOException>(() => WeightFile.WriteAtomically(path, stream =>
        {
            stream.Write(new byte[1000]);
            stream.Flush();
            throw new IOException("disk full (simulated)");
        }));
        Assert.Equal("disk full (simulated)", error.Message);
        Assert.Equal(previous, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_folder));
    }

    [Fact]
    public void AValuesCallbackThatThrowsKeepsThePreviousFile()
    {
        string path = Path.Combine(_folder, "net.unrw");
        using var net = new TinyA(Options(1));
        net.Save(path);
        byte[] previous = File.ReadAllBytes(path);

        Assert.Throws<InvalidOperationException>(() => WeightFile.WriteAtomically(path, stream =>
            WeightFile.Write(stream, net.Info, tensor => tensor.Name == "D.weight"
                ? throw new InvalidOperationException("no values")
                : new float[tensor.Count])));
        Assert.Equal(previous, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_folder));

        // A callback that returns the wrong number of values fails before anything reaches the stream.
        var stream = new MemoryStream();
        var wrong = Assert.Throws<InvalidOperationException>(() => WeightFile.Write(stream, net.Info, tensor => new float[tensor.Count + 1]));
        Assert.Contains("C.weight", wrong.Message);
        Assert.Equal(0, stream.Length);
    }

    [Fact]
    public void AFailedSaveIntoAMissingFolderLeavesNothing()
    {
        using var net = new TinyA(Options(1));
        string path = Path.Combine(_folder, "missing", "net.unrw");
        Assert.ThrowsAny<IOException>(() => net.Save(path));
        Assert.Empty(Directory.GetFiles(_folder, "*", SearchOption.AllDirectories));
    }

    // ------------------------------------------------------------------ format

    [Fact]
    public void Crc32MatchesTheStandardCheckValue()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0u, Crc32.Compute(ReadOnlySpan<byte>.Empty));
    }

    [Fact]
    public void TheBytesFollowTheDocumentedFormat()
    {
        using var net = new LeNet5(Options(5));
        byte[] file = Saved(net);
        ReadOnlySpan<byte> bytes = file;

        Assert.Equal("UNRW"u8.ToArray(), bytes.Slice(0, 4).ToArray());
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(4)));
        Assert.Equal(WeightFile.Version, BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(4)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(6)));
        Assert.Equal(net.Info.Fingerprint, BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(8)));
        Assert.Equal(LeNet5.Description.Fingerprint, BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(8)));
        Assert.Equal(10u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(16))); // 5 layers with weights and bias

        // The first tensor, spelled out.
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(20)));
        Assert.Equal("C1.weight", Encoding.UTF8.GetString(bytes.Slice(22, 9)));
        Assert.Equal(4, bytes[31]);
        int[] shape = Enumerable.Range(0, 4).Select(i => BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(32 + 4 * i))).ToArray();
        Assert.Equal(new[] { 6, 1, 5, 5 }, shape);
        Assert.Equal(net.C1.GetWeights()[0], BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(48)));

        // Then every tensor, walked with the documented layout, against the layers' canonical values.
        var expected = new List<(string Name, int[] Shape, float[] Values)>();
        foreach (Layer layer in net.Layers)
        {
            if (layer.Info.Weights is { } w)
                expected.Add((w.Name, w.Shape, layer.GetWeights()));
            if (layer.Info.Bias is { } b)
                expected.Add((b.Name, b.Shape, layer.GetBias()));
        }
        int position = 20;
        foreach (var (name, dims, values) in expected)
        {
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(position));
            Assert.Equal(name, Encoding.UTF8.GetString(bytes.Slice(position + 2, nameLength)));
            position += 2 + nameLength;
            int rank = bytes[position++];
            Assert.Equal(dims.Length, rank);
            for (int i = 0; i < rank; i++, position += 4)
                Assert.Equal(dims[i], BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(position)));
            for (int i = 0; i < values.Length; i++, position += 4)
                Assert.Equal(values[i], BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(position)));
        }
        Assert.Equal(file.Length - 4, position);
        Assert.Equal(Crc32.Compute(bytes.Slice(0, position)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(position)));
        Assert.Equal(61_706, expected.Sum(t => t.Values.Length));
    }

    [Fact]
    public void TheFingerprintDependsOnlyOnTheArchitecture()
    {
        using var a1 = new TinyA(Options(1));
        using var a2 = new TinyA(Options(2));
        Assert.Equal(a1.Info.Fingerprint, a2.Info.Fingerprint);
        Assert.Equal(TinyA.Description.Fingerprint, a1.Info.Fingerprint);
        Assert.NotEqual(TinyA.Description.Fingerprint, TinyB.Description.Fingerprint);
        Assert.NotEqual(TinyA.Description.Fingerprint, LeNet5.Description.Fingerprint);
    }

    // ------------------------------------------------------------------ initialisation

    [Fact]
    public void TheSameSeedGivesTheSameWeights()
    {
        using var a = new LeNet5(Options(42));
        using var b = new LeNet5(Options(42));
        AssertSameWeights(CanonicalWeights(a), b);
        Assert.Equal(a.Parameters.ToArray(), b.Parameters.ToArray());

        // And InitializeParameters with the seed gives them back after a change.
        b.C1.SetWeights(new float[150]);
        b.InitializeParameters(42);
        AssertSameWeights(CanonicalWeights(a), b);
    }

    [Fact]
    public void DifferentSeedsGiveDifferentWeights()
    {
        using var a = new LeNet5(Options(1));
        using var b = new LeNet5(Options(2));
        foreach (Layer layer in a.Layers.Where(l => l.Info.Weights is not null))
        {
            float[] wa = layer.GetWeights(), wb = b[layer.Name].GetWeights();
            // Independent draws coincide only by rare float collisions.
            int same = wa.Zip(wb).Count(p => p.First == p.Second);
            Assert.True(same <= wa.Length / 1000, $"{layer.Name}: {same} of {wa.Length} weights equal under seeds 1 and 2.");
        }
        // Layers of one network do not share a stream either.
        Assert.NotEqual(a.F5.GetWeights().Take(84 * 16), a.F6.GetWeights().Take(84 * 16));
    }

    [Fact]
    public void BiasesStartAtZero()
    {
        using var net = new StatsNet(Options(9));
        foreach (Layer layer in net.Layers.Where(l => l.Info.Bias is not null))
        {
            Assert.All(layer.GetBias(), v => Assert.Equal(0f, v));
            Assert.All(layer.StoredBias.ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-17)]
    public void AReLUConvolutionStartsHeNormal(int seed)
    {
        using var net = new StatsNet(Options(seed));
        Assert.Equal(Activation.ReLU, net.C.Info.Activation);
        AssertHeNormal(net.C.GetWeights());
    }

    [Fact]
    public void AConvolutionFollowedByAStandAloneReLUStartsHeNormal()
    {
        using var net = new StandaloneActivations(Options(0));
        Assert.Equal(Activation.None, net.C.Info.Activation);
        Assert.Equal(LayerKind.Activation, net.CR.Info.Kind);
        Assert.Equal(Activation.ReLU, net.CR.Info.Activation);
        AssertHeNormal(net.C.GetWeights());

        // A dense layer followed by a stand-alone tanh stays Glorot uniform: |w| <= sqrt(6 / (1024 + 64)).
        Assert.All(net.T.GetWeights(), v => Assert.InRange(Math.Abs(v), 0, Math.Sqrt(6.0 / 1088) * (1 + 1e-6)));
    }

    private static void AssertHeNormal(float[] w)
    {
        int fanIn = 32 * 3 * 3;
        double expectedStd = Math.Sqrt(2.0 / fanIn);
        double mean = w.Average(v => (double)v);
        double std = Math.Sqrt(w.Average(v => ((double)v - mean) * ((double)v - mean)));

        // N = 18,432: the standard error of the mean is std/sqrt(N) (0.74% of std), that of the sample
        // standard deviation std/sqrt(2N) (0.52%). The bounds are about 5 standard errors.
        Assert.Equal(18_432, w.Length);
        Assert.InRange(mean, -0.04 * expectedStd, 0.04 * expectedStd);
        Assert.InRange(std / expectedStd, 0.97, 1.03);
        // A normal, not a uniform: about 4.55% of the values lie beyond two standard deviations
        // (a uniform of the same variance has none); its standard error here is 0.15%.
        double beyond = w.Count(v => Math.Abs(v) > 2 * expectedStd) / (double)w.Length;
        Assert.InRange(beyond, 0.0455 - 0.008, 0.0455 + 0.008);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(-17)]
    public void TanhAndSoftmaxLayersStartGlorotUniform(int seed)
    {
        using var net = new StatsNet(Options(seed));
        Assert.Equal(Activation.Tanh, net.T.Info.Activation);
        Assert.Equal(Activation.Softmax, net.S.Info.Activation);
        foreach (var (layer, fanIn, fanOut) in new[] { (net.T, 1024, 64), (net.S, 64, 10) })
        {
            float[] w = layer.GetWeights();
            Assert.Equal(fanIn * fanOut, w.Length);
            double limit = Math.Sqrt(6.0 / (fanIn + fanOut));
            // The runtime rounds the limit to float; allow that one rounding (relative 2^-24).
            double bound = limit * (1 + 1e-6);
            Assert.All(w, v => Assert.InRange(Math.Abs(v), 0, bound));
            // The values fill the interval: P(max |w| < 0.99 limit) = 0.99^640 < 0.2% for S, and far less for T.
            Assert.InRange(w.Max(v => Math.Abs(v)), 0.99 * limit, bound);
        }

        // For T (N = 65,536) the variance is limit^2 / 3 with a relative standard error of sqrt(0.8 / N) = 0.35%;
        // the bound is about 9 standard errors. The mean's standard error is 0.23% of limit.
        float[] t = net.T.GetWeights();
        double l = Math.Sqrt(6.0 / (1024 + 64));
        double mean = t.Average(v => (double)v);
        double variance = t.Average(v => ((double)v - mean) * ((double)v - mean));
        Assert.InRange(mean, -0.012 * l, 0.012 * l);
        Assert.InRange(variance / (l * l / 3), 0.97, 1.03);
    }

    // ------------------------------------------------------------------ layer access

    [Fact]
    public void SetWeightsWithTheWrongLengthThrowsNamingTheExpectedCount()
    {
        using var net = new TinyA(Options(1));
        List<float[]> before = CanonicalWeights(net);
        int count = 4 * 1 * 3 * 3;
        foreach (int wrong in new[] { 0, count - 1, count + 1 })
        {
            var error = Assert.Throws<ArgumentException>(() => net.C.SetWeights(new float[wrong]));
            Assert.Equal("values", error.ParamName);
            Assert.Contains(count.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
            Assert.Contains("got " + wrong, error.Message);
        }
        int denseCount = 5 * 4 * 6 * 6;
        var dense = Assert.Throws<ArgumentException>(() => net.D.SetWeights(new float[10]));
        Assert.Contains(denseCount.ToString(System.Globalization.CultureInfo.InvariantCulture), dense.Message);
        var bias = Assert.Throws<ArgumentException>(() => net.D.SetBias(new float[4]));
        Assert.Contains("5", bias.Message);
        AssertSameWeights(before, net);
    }

    [Fact]
    public void GetAndSetWeightsRoundTripExactly()
    {
        using var net = new LeNet5(Options(1));
        var random = new SeededRandom(99);
        foreach (Layer layer in net.Layers.Where(l => l.Info.Weights is not null))
        {
            float[] w = new float[layer.Info.Weights!.Count];
            // Ordinary values, plus every 97th an arbitrary bit pattern (subnormals, infinities, NaNs, -0).
            for (int i = 0; i < w.Length; i++)
                w[i] = i % 97 == 0 ? BitConverter.Int32BitsToSingle((int)random.NextUInt64()) : random.Uniform(-3f, 3f);
            w[1] = -0f;
            layer.SetWeights(w);
            Assert.Equal(Bits(w), Bits(layer.GetWeights()));

            float[] b = Enumerable.Range(0, layer.Info.Bias!.Count).Select(i => i * 0.25f - 1f).ToArray();
            layer.SetBias(b);
            Assert.Equal(b, layer.GetBias());
        }
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    [Fact]
    public void PaddingInStorageStaysZeroAfterSetWeights()
    {
        using var net = new LeNet5(Options(1));
        int paddedSlots = 0;
        foreach (Layer layer in net.Layers.Where(l => l.Info.Weights is not null))
        {
            TensorInfo tensor = layer.Info.Weights!;
            // Poison the whole stored form, padding included, then write canonical values.
            layer.StoredWeights.Fill(float.NaN);
            layer.StoredBias.Fill(float.NaN);
            float[] w = Enumerable.Range(0, tensor.Count).Select(i => 1f + i).ToArray();
            layer.SetWeights(w);
            layer.SetBias(Enumerable.Range(0, layer.Info.Bias!.Count).Select(i => 1f + i).ToArray());

            var used = new HashSet<int>(TensorLayouts.StorageIndices(tensor));
            Assert.Equal(tensor.Count, used.Count);
            Span<float> stored = layer.StoredWeights;
            Assert.Equal(tensor.Length, stored.Length);
            paddedSlots += tensor.Length - tensor.Count;
            for (int i = 0; i < stored.Length; i++)
            {
                if (used.Contains(i))
                    Assert.NotEqual(0f, stored[i]);
                else
                    Assert.True(stored[i] == 0f, $"{layer.Name}: padding at {i} is {stored[i]}.");
            }
            float[] storedBias = layer.StoredBias.ToArray();
            Assert.All(storedBias.Skip(layer.Info.Bias.Count), v => Assert.Equal(0f, v));
            Assert.Equal(w, layer.GetWeights());
        }
        // C1 (6 filters), F5 (120), F6 (84) and Output (10) pad their outputs to a multiple of 16.
        Assert.True(paddedSlots > 0);
    }

    [Fact]
    public void LoadKeepsPaddingZero()
    {
        using var source = new LeNet5(Options(1));
        using var target = new LeNet5(Options(2));
        foreach (TensorInfo tensor in target.Info.Tensors)
            target.Parameters.Slice(tensor.Offset, tensor.Length).Fill(float.NaN);
        target.Load(new MemoryStream(Saved(source)));
        // Every stored tensor, padding included, is bit for bit the source's.
        foreach (TensorInfo tensor in target.Info.Tensors)
            Assert.Equal(Bits(source.Parameters.Slice(tensor.Offset, tensor.Length).ToArray()),
                Bits(target.Parameters.Slice(tensor.Offset, tensor.Length).ToArray()));
    }
}
