using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;
using System.Linq;
using Unroll.Data;

namespace Unroll.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "unroll-idx-" + Guid.NewGuid().ToString("N"));

    public IdxReaderTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>An IDX file written by hand: zero, zero, type, rank, big-endian dimensions, data.</summary>
    internal static byte[] Idx(int[] shape, byte[] data, byte type = 0x08)
    {
        var bytes = new byte[4 + 4 * shape.Length + data.Length];
        bytes[2] = type;
        bytes[3] = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), shape[i]);
        data.CopyTo(bytes, 4 + 4 * shape.Length);
        return bytes;
    }

    internal static byte[] Gzip(byte[] bytes)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
            gzip.Write(bytes);
        return output.ToArray();
    }

    private static byte[] Sample(int n) => Enumerable.Range(0, n).Select(i => (byte)(i * 37 + 11)).ToArray();

    private static IdxArray ReadBytes(byte[] bytes) => IdxReader.Read(new MemoryStream(bytes));

    [Fact]
    public void Plain_file_round_trips()
    {
        byte[] data = Sample(3 * 4 * 5);
        IdxArray array = ReadBytes(Idx([3, 4, 5], data));
        Assert.Equal([3, 4, 5], array.Shape);
        Assert.Equal(data, array.Data);
        Assert.Equal(3, array.Count);
        Assert.Equal(20, array.ItemLength);
        Assert.Equal("3x4x5", array.ToString());
    }

    [Fact]
    public void Gzipped_file_round_trips()
    {
        byte[] data = Sample(7 * 28 * 28);
        IdxArray array = ReadBytes(Gzip(Idx([7, 28, 28], data)));
        Assert.Equal([7, 28, 28], array.Shape);
        Assert.Equal(data, array.Data);
    }

    [Fact]
    public void Label_vector_round_trips()
    {
        byte[] labels = [3, 1, 4, 1, 5, 9, 2, 6];
        IdxArray array = ReadBytes(Gzip(Idx([8], labels)));
        Assert.Equal([8], array.Shape);
        Assert.Equal(labels, array.Data);
        Assert.Equal(1, array.ItemLength);
    }

    [Fact]
    public void Compression_is_recognised_by_content_not_by_file_name()
    {
        byte[] data = Sample(2 * 3 * 3);
        string gzippedWithoutGz = Path.Combine(_folder, "images-idx3-ubyte");
        string plainWithGz = Path.Combine(_folder, "images-idx3-ubyte.gz");
        File.WriteAllBytes(gzippedWithoutGz, Gzip(Idx([2, 3, 3], data)));
        File.WriteAllBytes(plainWithGz, Idx([2, 3, 3], data));
        Assert.Equal(data, IdxReader.Read(gzippedWithoutGz).Data);
        Assert.Equal(data, IdxReader.Read(plainWithGz).Data);
    }

    [Fact]
    public void Reads_from_a_stream_that_cannot_seek()
    {
        byte[] data = Sample(5 * 6);
        Assert.Equal(data, IdxReader.Read(new ForwardOnlyStream(Idx([5, 6], data))).Data);
        Assert.Equal(data, IdxReader.Read(new ForwardOnlyStream(Gzip(Idx([5, 6], data)))).Data);
    }

    [Fact]
    public void Empty_array_is_allowed()
    {
        IdxArray array = ReadBytes(Idx([0, 28, 28], []));
        Assert.Equal(0, array.Count);
        Assert.Equal(784, array.ItemLength);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bad_magic_is_rejected(bool gzip)
    {
        byte[] bytes = Idx([2, 2], Sample(4));
        bytes[0] = 0x12;
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(gzip ? Gzip(bytes) : bytes));
        Assert.Contains("Not an IDX file", e.Message);
    }

    [Theory]
    [InlineData(0x09, "signed byte")]
    [InlineData(0x0D, "float")]
    [InlineData(0x42, "unknown")]
    public void Element_types_other_than_unsigned_byte_are_rejected(byte type, string name)
    {
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(Idx([2, 2], Sample(4), type)));
        Assert.Contains($"0x{type:X2} ({name})", e.Message);
        Assert.Contains("only 0x08 (unsigned byte)", e.Message);
    }

    [Fact]
    public void Rank_zero_is_rejected()
    {
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(Idx([], [])));
        Assert.Contains("rank 0", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void File_shorter_than_the_magic_number_is_rejected(int length)
    {
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(Idx([2, 2], Sample(4))[..length]));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Truncated_header_is_rejected()
    {
        byte[] bytes = Idx([2, 3, 4], Sample(24))[..10];
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(bytes));
        Assert.Contains("truncated in its header", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Truncated_data_is_rejected(bool gzip)
    {
        byte[] bytes = Idx([10, 28, 28], Sample(10 * 28 * 28));
        bytes = bytes[..(bytes.Length - 100)];
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(gzip ? Gzip(bytes) : bytes));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("10x28x28 = 7840 bytes of data, only 7740", e.Message);
    }

    [Fact]
    public void Truncated_gzip_stream_is_rejected()
    {
        byte[] gz = Gzip(Idx([50, 28, 28], Sample(50 * 28 * 28)));
        // Cut in the data, and in the 8-byte trailer after the last data (GZipStream alone misses those).
        foreach (int keep in new[] { 12, gz.Length / 2, gz.Length - 9, gz.Length - 8, gz.Length - 5, gz.Length - 4, gz.Length - 1 })
        {
            var e = Assert.Throws<InvalidDataException>(() => ReadBytes(gz[..keep]));
            Assert.Contains("truncated", e.Message);
        }
    }

    [Fact]
    public void Multi_member_gzip_is_refused_clearly()
    {
        byte[] idx = Idx([50, 28, 28], Sample(50 * 28 * 28));
        byte[] gz = [.. Gzip(idx[..1000]), .. Gzip(idx[1000..])];
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(gz));
        Assert.Contains("multi-member", e.Message);
    }

    [Fact]
    public void Damaged_gzip_stream_is_rejected()
    {
        byte[] gz = Gzip(Idx([50, 28, 28], Sample(50 * 28 * 28)));
        for (int i = gz.Length / 3; i < gz.Length / 3 + 16; i++)
            gz[i] ^= 0x5A;
        Assert.Throws<InvalidDataException>(() => ReadBytes(gz));
    }

    [Fact]
    public void Bytes_after_the_data_are_rejected()
    {
        byte[] bytes = [.. Idx([2, 2], Sample(4)), 0];
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(bytes));
        Assert.Contains("unexpected bytes after", e.Message);
    }

    [Fact]
    public void A_header_announcing_a_gigabyte_fails_without_allocating_it()
    {
        byte[] bytes = Idx([1000, 1000, 1000], Sample(100));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(bytes));
        Assert.Contains("truncated", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000_000, "read allocated the announced gigabyte");
    }

    [Fact]
    public void A_header_announcing_more_than_an_array_holds_is_rejected()
    {
        var e = Assert.Throws<InvalidDataException>(() => ReadBytes(Idx([100_000, 100_000], [])));
        Assert.Contains("too many for one array", e.Message);
    }

    [Fact]
    public void Errors_from_a_file_name_the_file()
    {
        string path = Path.Combine(_folder, "broken-idx1-ubyte");
        File.WriteAllBytes(path, [1, 2, 3, 4, 5, 6]);
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.Read(path));
        Assert.StartsWith(path + ": ", e.Message);
    }

    [Fact]
    public void IdxArray_checks_its_shape_against_its_data()
    {
        Assert.Throws<ArgumentException>(() => new IdxArray(new byte[5], [2, 2]));
        Assert.Throws<ArgumentException>(() => new IdxArray([], []));
        Assert.Throws<ArgumentException>(() => new IdxArray([], [-1]));
    }

    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
