// SafeTensors: reads and writes the safetensors layout (8-byte little-endian header length, JSON header,
// raw little-endian tensor data). Plain data only: nothing in a file can run code when it is loaded.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using DigitLab.Tensors;

namespace DigitLab.IO;

/// <summary>The tensors and string metadata of one safetensors file, tensors in file order.</summary>
public sealed class SafeTensorsContent
{
    public Dictionary<string, string> Metadata { get; } = new();
    public List<(string Name, Tensor Tensor)> Tensors { get; } = [];
}

/// <summary>
/// The safetensors file format: <c>u64 LE header length N</c>, <c>N bytes of UTF-8 JSON</c>, then the data buffer.
/// The header maps each tensor name to <c>{"dtype":"F32","shape":[...],"data_offsets":[begin,end]}</c>
/// (offsets relative to the data buffer) plus an optional <c>"__metadata__"</c> map of strings to strings.
/// </summary>
/// <remarks>
/// Reading validates everything the format promises: the header length fits the file, the header is a JSON
/// object, every dtype is F32 (the only one DigitLab writes), each shape's byte size equals its offsets' span,
/// and the tensors tile the data buffer exactly (sorted by offset, no gaps, no overlap, nothing left over).
/// Any violation throws <see cref="InvalidDataException"/> naming the file, what was expected and what was found.
/// Writing is atomic: a temporary file in the same folder, flushed, then renamed over the target.
/// </remarks>
public static class SafeTensors
{
    /// <summary>Header size limit, as in the reference implementation: a larger one is a damaged or hostile file.</summary>
    public const long MaxHeaderBytes = 100_000_000;
    private const string MetadataKey = "__metadata__";

    public static void Write(string path, IReadOnlyDictionary<string, string> metadata, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        var list = tensors.ToList();
        var seen = new HashSet<string>();
        foreach (var (name, _) in list)
        {
            if (name == MetadataKey || !seen.Add(name))
                throw new ArgumentException($"Tensor name '{name}' is reserved or used twice; each tensor needs a unique name.");
        }

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata.Count > 0)
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in list)
            {
                long bytes = (long)tensor.Length * sizeof(float);
                w.WriteStartObject(name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in tensor.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        // Pad the header with spaces to a multiple of 8 so the data starts aligned, as the reference writer does.
        int padding = (int)((8 - json.Length % 8) % 8);
        for (int i = 0; i < padding; i++) json.WriteByte((byte)' ');

        AtomicFile.Write(path, fs =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)json.Length);
            fs.Write(len);
            fs.Write(json.GetBuffer(), 0, (int)json.Length);
            foreach (var (_, tensor) in list) WriteFloats(fs, tensor.ReadOnlySpan);
        });
    }

    public static SafeTensorsContent Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No checkpoint file at '{path}'. Check the path, or train one with `digitlab train`.", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    /// <summary>Parses and validates a whole file held in memory; <paramref name="source"/> names it in errors.</summary>
    public static SafeTensorsContent Parse(byte[] file, string source)
    {
        string Bad(string what) => $"'{source}' is not a valid safetensors file: {what}. The file is damaged or not a DigitLab checkpoint; re-create it with `digitlab train`.";

        if (file.Length < 8) throw new InvalidDataException(Bad($"it has {file.Length} bytes, fewer than the 8-byte header length"));
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > MaxHeaderBytes)
            throw new InvalidDataException(Bad($"header too large: the header length field says {headerLength:N0} bytes, more than the {MaxHeaderBytes:N0} this reader accepts"));
        if (headerLength == 0 || headerLength > (ulong)(file.Length - 8))
            throw new InvalidDataException(Bad($"the header length field says {headerLength} bytes but the file has {file.Length - 8} bytes after it (truncated file?)"));
        int dataStart = 8 + (int)headerLength;
        long dataLength = file.Length - dataStart;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(file.AsMemory(8, (int)headerLength)); }
        catch (JsonException e) { throw new InvalidDataException(Bad($"the header is not valid JSON ({e.Message})")); }

        var content = new SafeTensorsContent();
        var entries = new List<(string Name, int[] Shape, long Begin, long End)>();
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException(Bad($"the header is a JSON {doc.RootElement.ValueKind}, expected an object"));
            var names = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(prop.Name)) throw new InvalidDataException(Bad($"the name '{prop.Name}' appears twice in the header"));
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new InvalidDataException(Bad("__metadata__ must be an object of strings"));
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new InvalidDataException(Bad($"metadata '{m.Name}' is a {m.Value.ValueKind}, expected a string"));
                        content.Metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop, dataLength, Bad));
            }
        }

        // The tensors must tile the data buffer: sorted by offset, each starting where the previous ended.
        long expectedBegin = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != expectedBegin)
                throw new InvalidDataException(Bad(e.Begin < expectedBegin
                    ? $"tensor '{e.Name}' at bytes [{e.Begin}, {e.End}) overlaps the previous tensor, which ends at {expectedBegin}"
                    : $"there is a gap of {e.Begin - expectedBegin} bytes before tensor '{e.Name}' at byte {e.Begin}"));
            expectedBegin = e.End;
        }
        if (expectedBegin != dataLength)
            throw new InvalidDataException(Bad($"the tensors cover {expectedBegin} bytes of data but the file holds {dataLength} (truncated or padded file)"));

        foreach (var e in entries)
        {
            var t = new Tensor(e.Shape);
            ReadFloats(file.AsSpan(dataStart + (int)e.Begin, (int)(e.End - e.Begin)), t.Span);
            content.Tensors.Add((e.Name, t));
        }
        return content;
    }

    private static (string, int[], long, long) ParseEntry(JsonProperty prop, long dataLength, Func<string, string> bad)
    {
        string name = prop.Name;
        var v = prop.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new InvalidDataException(bad($"entry '{name}' is a {v.ValueKind}, expected an object with dtype, shape, data_offsets"));
        if (!v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw new InvalidDataException(bad($"tensor '{name}' has no dtype"));
        if (dtype.GetString() != "F32")
            throw new InvalidDataException(bad($"tensor '{name}' has dtype {dtype.GetString()}, expected F32 (DigitLab stores float32 only)"));
        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException(bad($"tensor '{name}' has no shape array"));
        var shape = new List<int>();
        long count = 1;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int dim) || dim < 0)
                throw new InvalidDataException(bad($"tensor '{name}' has a shape entry {d} that is not a non-negative integer"));
            shape.Add(dim);
            count *= dim;
            if (count > int.MaxValue) throw new InvalidDataException(bad($"tensor '{name}' is too large"));
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end))
            throw new InvalidDataException(bad($"tensor '{name}' needs data_offsets [begin, end] as two integers"));
        if (begin < 0 || end < begin || end > dataLength)
            throw new InvalidDataException(bad($"tensor '{name}' has data_offsets [{begin}, {end}] outside the {dataLength}-byte data buffer (truncated or tampered file)"));
        if (end - begin != count * sizeof(float))
            throw new InvalidDataException(bad($"tensor '{name}' of shape {Tensor.Format(shape.ToArray())} needs {count * sizeof(float)} bytes but its offsets span {end - begin}"));
        return (name, shape.ToArray(), begin, end);
    }

    private static void WriteFloats(Stream s, ReadOnlySpan<float> values)
    {
        if (BitConverter.IsLittleEndian) { s.Write(MemoryMarshal.AsBytes(values)); return; }
        Span<byte> b = stackalloc byte[4];
        foreach (float f in values) { BinaryPrimitives.WriteSingleLittleEndian(b, f); s.Write(b); }
    }

    private static void ReadFloats(ReadOnlySpan<byte> bytes, Span<float> values)
    {
        if (BitConverter.IsLittleEndian) { MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values); return; }
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
    }
}
