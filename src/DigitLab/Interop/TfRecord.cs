// TfRecord: TensorFlow's record framing (TensorBoard event files): length, masked CRC32C of the length, data, masked CRC32C of the data.
using System.Buffers.Binary;
using System.Numerics;

namespace DigitLab.Interop;

/// <summary>How a <see cref="TfRecord.ReadAll"/> pass ended.</summary>
public enum TfRecordEnd
{
    /// <summary>Every byte belonged to a whole record whose checksums matched.</summary>
    Complete,
    /// <summary>The file ends inside a record (a writer stopped mid-write): the records before it are returned.</summary>
    Truncated,
    /// <summary>A checksum did not match: the records before the bad one are returned.</summary>
    Corrupt,
}

/// <summary>The records of one file and how reading ended; <paramref name="ValidBytes"/> is where the last whole record ends.</summary>
public sealed record TfRecordFile(IReadOnlyList<byte[]> Records, TfRecordEnd End, long ValidBytes);

/// <summary>
/// TFRecord framing as TensorFlow's <c>record_writer.cc</c> writes it, record after record:
/// <c>uint64 length</c>, <c>uint32 masked_crc32c(length bytes)</c>, <c>byte data[length]</c>, <c>uint32 masked_crc32c(data)</c>,
/// all little-endian. The mask is <c>((crc &gt;&gt; 15) | (crc &lt;&lt; 17)) + 0xa282ead8</c>.
/// </summary>
public static class TfRecord
{
    private const uint MaskDelta = 0xa282ead8u;
    private const int HeaderBytes = 12, FooterBytes = 4;

    /// <summary>CRC-32C (Castagnoli), as TensorFlow's crc32c::Value: initial value and final XOR 0xFFFFFFFF.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        int i = 0;
        // BitOperations.Crc32C uses the CPU's CRC32 instruction where there is one; 8 bytes at a time.
        for (; i + 8 <= data.Length; i += 8) crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data[i..]));
        for (; i < data.Length; i++) crc = BitOperations.Crc32C(crc, data[i]);
        return crc ^ 0xFFFFFFFFu;
    }

    /// <summary>The masked CRC TFRecord stores (masking keeps a CRC of data that holds CRCs well distributed).</summary>
    public static uint MaskedCrc32C(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + MaskDelta;
    }

    /// <summary>Writes one framed record.</summary>
    public static void Write(Stream stream, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], MaskedCrc32C(header[..8]));
        Span<byte> footer = stackalloc byte[FooterBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, MaskedCrc32C(data));
        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
    }

    /// <summary>
    /// Reads every whole record of <paramref name="bytes"/>, checking both checksums of each. Stops at the first record
    /// that is cut short (<see cref="TfRecordEnd.Truncated"/>) or whose checksum does not match (<see cref="TfRecordEnd.Corrupt"/>),
    /// returning the records before it, as TensorBoard's reader does.
    /// </summary>
    public static TfRecordFile ReadAll(ReadOnlySpan<byte> bytes)
    {
        var records = new List<byte[]>();
        long offset = 0;
        while (offset < bytes.Length)
        {
            var rest = bytes[(int)offset..];
            if (rest.Length < HeaderBytes) return new(records, TfRecordEnd.Truncated, offset);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(rest);
            if (BinaryPrimitives.ReadUInt32LittleEndian(rest[8..]) != MaskedCrc32C(rest[..8])) return new(records, TfRecordEnd.Corrupt, offset);
            if (length > int.MaxValue || (long)length > rest.Length - HeaderBytes - FooterBytes) return new(records, TfRecordEnd.Truncated, offset);
            var data = rest.Slice(HeaderBytes, (int)length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(rest[(HeaderBytes + (int)length)..]) != MaskedCrc32C(data)) return new(records, TfRecordEnd.Corrupt, offset);
            records.Add(data.ToArray());
            offset += HeaderBytes + (long)length + FooterBytes;
        }
        return new(records, TfRecordEnd.Complete, offset);
    }

    /// <summary>Reads a file with <see cref="ReadAll(ReadOnlySpan{byte})"/>; the file may be open for writing by another process.</summary>
    public static TfRecordFile ReadAll(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return ReadAll(memory.GetBuffer().AsSpan(0, (int)memory.Length));
    }
}
