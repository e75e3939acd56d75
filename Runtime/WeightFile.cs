using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Unroll;

/// <summary>
/// The Unroll weight file (<c>.unrw</c>), version 1. All integers and floats are little-endian.
/// <code>
/// "UNRW"               4 bytes, magic
/// version              uint16 (1)
/// reserved             uint16 (0; a reader rejects any other value)
/// fingerprint          uint64, NetworkInfo.Fingerprint of the architecture
/// tensor count         uint32
/// per tensor:
///   name length        uint16, then the UTF-8 name (for example "C1.weight")
///   rank               uint8, then rank x int32 dimensions (canonical shape)
///   values             float32 x product of the dimensions, canonical order
/// crc32                uint32, CRC-32 (IEEE) of every byte before it
/// </code>
/// </summary>
public static class WeightFile
{
    /// <summary>The four magic bytes at the start of every file.</summary>
    public static ReadOnlySpan<byte> Magic => "UNRW"u8;

    /// <summary>The format version this library writes and reads.</summary>
    public const ushort Version = 1;

    /// <summary>Writes the canonical values of every tensor of <paramref name="info"/>.</summary>
    public static void Write(Stream stream, NetworkInfo info, Func<TensorInfo, float[]> values)
    {
        var body = new MemoryStream();
        var writer = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write((ushort)0);
        writer.Write(info.Fingerprint);
        var tensors = new List<TensorInfo>(info.Tensors);
        writer.Write((uint)tensors.Count);
        foreach (TensorInfo tensor in tensors)
        {
            byte[] name = Encoding.UTF8.GetBytes(tensor.Name);
            writer.Write((ushort)name.Length);
            writer.Write(name);
            writer.Write((byte)tensor.Shape.Length);
            foreach (int d in tensor.Shape)
                writer.Write(d);
            float[] data = values(tensor);
            if (data.Length != tensor.Count)
                throw new InvalidOperationException($"Tensor '{tensor.Name}' has {data.Length} values, expected {tensor.Count}.");
            foreach (float v in data)
                writer.Write(v);
        }
        writer.Flush();
        uint crc = Crc32.Compute(body.GetBuffer().AsSpan(0, (int)body.Length));
        writer.Write(crc);
        writer.Flush();
        body.Position = 0;
        body.CopyTo(stream);
    }

    /// <summary>
    /// Reads a whole file and checks it against <paramref name="info"/>: magic, version, checksum,
    /// fingerprint, and every tensor's name and shape. Returns canonical values by tensor name.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is truncated, damaged or made for another architecture.</exception>
    public static Dictionary<string, float[]> Read(Stream stream, NetworkInfo info)
    {
        var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        ReadOnlySpan<byte> bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (bytes.Length < 24 || !bytes.Slice(0, 4).SequenceEqual(Magic))
            throw new InvalidDataException("Not an Unroll weight file: the magic bytes 'UNRW' are missing.");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(4));
        if (version != Version)
            throw new InvalidDataException($"Unsupported weight file version {version}; this library reads version {Version}.");
        ushort reserved = BinaryPrimitives.ReadUInt16LittleEndian(bytes.Slice(6));
        if (reserved != 0)
            throw new InvalidDataException($"The weight file's reserved header field is 0x{reserved:X4}; version {Version} requires 0.");
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(bytes.Slice(bytes.Length - 4));
        uint actual = Crc32.Compute(bytes.Slice(0, bytes.Length - 4));
        if (stored != actual)
            throw new InvalidDataException($"The weight file is damaged or truncated: checksum 0x{actual:X8} does not match the stored 0x{stored:X8}.");
        ulong fingerprint = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Slice(8));
        if (fingerprint != info.Fingerprint)
            throw new InvalidDataException($"The weight file was made for another architecture (fingerprint 0x{fingerprint:X16}; {info.Name} has 0x{info.Fingerprint:X16}).");

        var reader = new SpanReader(bytes.Slice(0, bytes.Length - 4), 16);
        uint count = reader.UInt32();
        var expected = new List<TensorInfo>(info.Tensors);
        if (count != expected.Count)
            throw new InvalidDataException($"The weight file holds {count} tensors; {info.Name} has {expected.Count}.");
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (TensorInfo tensor in expected)
        {
            string name = Encoding.UTF8.GetString(reader.Bytes(reader.UInt16()));
            int rank = reader.Byte();
            int[] shape = new int[rank];
            for (int i = 0; i < rank; i++)
                shape[i] = reader.Int32();
            if (name != tensor.Name || !shape.AsSpan().SequenceEqual(tensor.Shape))
                throw new InvalidDataException($"The weight file has tensor '{name}' [{string.Join(", ", shape)}] where {info.Name} expects '{tensor.Name}' {tensor.ShapeText}.");
            float[] data = new float[tensor.Count];
            for (int i = 0; i < data.Length; i++)
                data[i] = reader.Single();
            result.Add(name, data);
        }
        if (!reader.AtEnd)
            throw new InvalidDataException("The weight file has unexpected bytes after its last tensor.");
        return result;
    }

    /// <summary>Writes to <paramref name="path"/> through a temporary file in the same folder, renamed over the target only when complete.</summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string temp = full + "." + Guid.NewGuid().ToString("N").Substring(0, 8) + ".tmp";
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
                File.Delete(temp);
        }
    }

    private ref struct SpanReader
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _position;

        public SpanReader(ReadOnlySpan<byte> data, int position)
        {
            _data = data;
            _position = position;
        }

        public readonly bool AtEnd => _position == _data.Length;

        public ReadOnlySpan<byte> Bytes(int n)
        {
            if (n < 0 || _position + n > _data.Length)
                throw new InvalidDataException("The weight file is truncated.");
            ReadOnlySpan<byte> s = _data.Slice(_position, n);
            _position += n;
            return s;
        }

        public byte Byte() => Bytes(1)[0];
        public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));
        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Bytes(4));
        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));
        public float Single() => BinaryPrimitives.ReadSingleLittleEndian(Bytes(4));
    }
}

/// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zip and PNG use.</summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }

    /// <summary>The CRC-32 of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
}
