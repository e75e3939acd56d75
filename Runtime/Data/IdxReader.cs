using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace Unroll.Data;

/// <summary>
/// An array read from an IDX file: unsigned bytes in row-major order and their shape
/// (for example 60000 x 28 x 28 for MNIST images, 60000 for labels).
/// </summary>
public sealed class IdxArray
{
    /// <summary>Wraps <paramref name="data"/> (not copied) as an array of shape <paramref name="shape"/> (copied).</summary>
    /// <exception cref="ArgumentException">The shape is empty, has a negative dimension, or does not match the data's length.</exception>
    public IdxArray(byte[] data, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0)
            throw new ArgumentException("An IDX array has at least one dimension.", nameof(shape));
        long count = 1;
        foreach (int d in shape)
        {
            if (d < 0)
                throw new ArgumentException($"Dimension {d} is negative.", nameof(shape));
            count *= d;
            if (count > Array.MaxLength)
                count = long.MaxValue;
        }
        if (count != data.Length)
            throw new ArgumentException($"Shape {string.Join("x", shape)} holds {count} values but the data has {data.Length}.", nameof(data));
        Data = data;
        Shape = (int[])shape.Clone();
    }

    /// <summary>The values, row-major (the last dimension varies fastest).</summary>
    public byte[] Data { get; }

    /// <summary>The dimensions, outermost first. Treat it as read-only.</summary>
    public int[] Shape { get; }

    /// <summary>The first dimension: the number of items (images or labels).</summary>
    public int Count => Shape[0];

    /// <summary>Values per item: the product of every dimension but the first (1 for a vector).</summary>
    public int ItemLength => Count == 0 ? ProductOfInner() : Data.Length / Count;

    /// <summary><c>60000x28x28</c>.</summary>
    public override string ToString() => string.Join("x", Shape);

    private int ProductOfInner()
    {
        int p = 1;
        for (int i = 1; i < Shape.Length; i++)
            p *= Shape[i];
        return p;
    }
}

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST, plain or gzip-compressed (recognised by
/// the gzip magic bytes 1f 8b, whatever the file name). Layout, all integers big-endian:
/// <code>
/// 0x00 0x00            2 bytes, always zero
/// type                 1 byte; only 0x08 (unsigned byte) is supported
/// rank                 1 byte, number of dimensions (at least 1)
/// dimensions           rank x uint32, outermost first
/// data                 product of the dimensions x 1 byte, row-major; nothing after it
/// </code>
/// </summary>
public static class IdxReader
{
    /// <summary>The IDX type byte for unsigned bytes, the only type this reader accepts.</summary>
    public const byte UnsignedByteType = 0x08;

    /// <summary>The largest rank this reader accepts.</summary>
    public const int MaxRank = 16;

    /// <summary>Reads the IDX file at <paramref name="path"/>, plain or gzipped.</summary>
    /// <exception cref="InvalidDataException">The file is not an unsigned-byte IDX file, or is damaged or truncated; the message names the file.</exception>
    public static IdxArray Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        try
        {
            return Read(file);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Reads an IDX file, plain or gzipped, from the current position of <paramref name="stream"/> to its end. The stream is left open.</summary>
    /// <exception cref="InvalidDataException">The data is not an unsigned-byte IDX file, or is damaged or truncated.</exception>
    public static IdxArray Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> magic = stackalloc byte[2];
        int got = ReadUpTo(stream, magic);
        var source = new PrefixedStream(magic.Slice(0, got), stream);
        if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        {
            IdxArray array;
            using (var gzip = new GZipStream(source, CompressionMode.Decompress, leaveOpen: true))
                array = ReadIdx(gzip, compressed: true);
            // GZipStream says nothing when the stream ends inside its 8-byte trailer (CRC-32, then
            // ISIZE: the decoded length mod 2^32), after the last data: check ISIZE ourselves.
            long decoded = 4 + 4L * array.Shape.Length + array.Data.Length;
            if (source.TailLength < 4 || BinaryPrimitives.ReadUInt32LittleEndian(source.Tail) != (uint)decoded)
                throw Invalid($"The gzip stream is truncated or damaged: its trailer does not record the {decoded} bytes decoded (multi-member gzip files are not supported).");
            return array;
        }
        return ReadIdx(source, compressed: false);
    }

    private static IdxArray ReadIdx(Stream stream, bool compressed)
    {
        string what = compressed ? "gzipped IDX file" : "IDX file";
        Span<byte> head = stackalloc byte[4];
        int got = ReadUpTo(stream, head);
        if (got < 4)
            throw Invalid($"The {what} is truncated: {got} bytes, shorter than the 4-byte magic number.");
        if (head[0] != 0 || head[1] != 0)
            throw Invalid($"Not an IDX file: the magic number starts with 0x{head[0]:X2} 0x{head[1]:X2}, expected 0x00 0x00.");
        if (head[2] != UnsignedByteType)
            throw Invalid($"Unsupported IDX element type 0x{head[2]:X2} ({TypeName(head[2])}); only 0x08 (unsigned byte) is supported.");
        int rank = head[3];
        if (rank < 1 || rank > MaxRank)
            throw Invalid($"Unsupported IDX rank {rank}; expected 1 to {MaxRank} dimensions.");

        Span<byte> dims = stackalloc byte[4 * MaxRank];
        dims = dims.Slice(0, 4 * rank);
        got = ReadUpTo(stream, dims);
        if (got < dims.Length)
            throw Invalid($"The {what} is truncated in its header: {rank} dimensions need {dims.Length} bytes, only {got} follow the magic number.");
        int[] shape = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(dims.Slice(4 * i));
            if (d > int.MaxValue)
                throw Invalid($"IDX dimension {i} is {d}, too large.");
            shape[i] = (int)d;
            count *= d;
            if (count > Array.MaxLength)
                throw Invalid($"The IDX header's shape {string.Join("x", shape.AsSpan(0, i + 1).ToArray())}... holds more than {Array.MaxLength} values, too many for one array.");
        }

        // A damaged header may announce far more data than there is: grow the array as data arrives
        // rather than trusting the header with one huge allocation.
        byte[] data = new byte[Math.Min(count, InitialAllocation)];
        got = ReadUpTo(stream, data);
        while (got == data.Length && data.Length < count)
        {
            Array.Resize(ref data, (int)Math.Min(count, 2L * data.Length));
            got += ReadUpTo(stream, data.AsSpan(got));
        }
        if (got < count)
            throw Invalid($"The {what} is truncated: its header announces {string.Join("x", shape)} = {count} bytes of data, only {got} are present.");
        Span<byte> extra = stackalloc byte[1];
        if (ReadUpTo(stream, extra) != 0)
            throw Invalid($"The {what} has unexpected bytes after the {count} bytes of data its header ({string.Join("x", shape)}) announces.");
        return new IdxArray(data, shape);
    }

    private const int InitialAllocation = 1 << 26;

    private static InvalidDataException Invalid(string message) => new(message);

    private static string TypeName(byte type) => type switch
    {
        0x09 => "signed byte",
        0x0B => "short",
        0x0C => "int",
        0x0D => "float",
        0x0E => "double",
        _ => "unknown",
    };

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the bytes read.</summary>
    private static int ReadUpTo(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n;
            try
            {
                n = stream.Read(buffer.Slice(total));
            }
            catch (InvalidDataException e)
            {
                // Only a GZipStream throws this from Read.
                throw new InvalidDataException($"The gzip data is damaged or truncated: {e.Message}", e);
            }
            if (n == 0)
                break;
            total += n;
        }
        return total;
    }

    /// <summary>A read-only stream that returns a few already-read bytes, then the rest of an inner stream (which it leaves open).</summary>
    private sealed class PrefixedStream : Stream
    {
        private readonly byte[] _prefix;
        private readonly Stream _inner;
        private readonly byte[] _tail = new byte[4];
        private int _position;

        /// <summary>The last (up to) 4 bytes read.</summary>
        public ReadOnlySpan<byte> Tail => _tail.AsSpan(4 - TailLength);

        /// <summary>How many bytes <see cref="Tail"/> holds.</summary>
        public int TailLength { get; private set; }

        public PrefixedStream(ReadOnlySpan<byte> prefix, Stream inner)
        {
            _prefix = prefix.ToArray();
            _inner = inner;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n;
            if (_position < _prefix.Length)
            {
                n = Math.Min(buffer.Length, _prefix.Length - _position);
                _prefix.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
            }
            else
            {
                n = _inner.Read(buffer);
            }
            Remember(buffer.Slice(0, n));
            return n;
        }

        private void Remember(ReadOnlySpan<byte> read)
        {
            if (read.Length >= 4)
            {
                read.Slice(read.Length - 4).CopyTo(_tail);
            }
            else if (read.Length > 0)
            {
                _tail.AsSpan(read.Length).CopyTo(_tail);
                read.CopyTo(_tail.AsSpan(4 - read.Length));
            }
            TailLength = Math.Min(4, TailLength + read.Length);
        }
    }
}
