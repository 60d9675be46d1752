// GoldenFile: a tiny safetensors reader for the PyTorch golden files written by tools/make_golden.py.
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using DigitLab.Tensors;

namespace DigitLab.Tests.Golden;

/// <summary>
/// One golden case: named F32/F64 tensors and string metadata, read from
/// <c>golden/{name}.safetensors</c> beside the test assembly (8-byte little-endian header length,
/// JSON header, raw little-endian data).
/// </summary>
internal sealed class GoldenFile
{
    private readonly Dictionary<string, (string DType, int[] Shape, byte[] Bytes)> _entries = new(StringComparer.Ordinal);

    public string Name { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IEnumerable<string> Names => _entries.Keys;

    private GoldenFile(string name, byte[] file)
    {
        Name = name;
        if (file.Length < 8) throw new InvalidDataException($"Golden file '{name}' has {file.Length} bytes; a safetensors file needs at least 8.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > (ulong)(file.Length - 8))
            throw new InvalidDataException($"Golden file '{name}': header length {headerLength} exceeds the file ({file.Length} bytes). Regenerate with tools/make_golden.py.");
        int dataStart = 8 + (int)headerLength;
        using var header = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                foreach (var m in entry.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                continue;
            }
            string dtype = entry.Value.GetProperty("dtype").GetString()!;
            int[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long count = shape.Aggregate(1L, (a, b) => a * b);
            int size = dtype switch
            {
                "F32" => 4,
                "F64" => 8,
                _ => throw new InvalidDataException($"Golden file '{name}', tensor '{entry.Name}': dtype {dtype} is not supported (expected F32 or F64)."),
            };
            if (offsets[1] - offsets[0] != count * size || dataStart + offsets[1] > file.Length)
                throw new InvalidDataException($"Golden file '{name}', tensor '{entry.Name}': offsets {offsets[0]}..{offsets[1]} do not fit shape {DigitLab.Tensors.Tensor.Format(shape)} of {dtype} in a {file.Length}-byte file.");
            _entries[entry.Name] = (dtype, shape, file.AsSpan(dataStart + (int)offsets[0], (int)(offsets[1] - offsets[0])).ToArray());
        }
        Metadata = metadata;
    }

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "golden");

    public static GoldenFile Load(string name)
    {
        string path = Path.Combine(Directory, name + ".safetensors");
        if (!File.Exists(path))
            throw new FileNotFoundException($"Golden file {path} is missing; it is committed under tests/DigitLab.Tests/golden/ (regenerate with /usr/bin/python3 tools/make_golden.py) and copied to the test output by the csproj.", path);
        return new GoldenFile(name, File.ReadAllBytes(path));
    }

    public bool Has(string tensorName) => _entries.ContainsKey(tensorName);

    private (string DType, int[] Shape, byte[] Bytes) Entry(string tensorName) =>
        _entries.TryGetValue(tensorName, out var e)
            ? e
            : throw new KeyNotFoundException($"Golden file '{Name}' has no tensor '{tensorName}'; it has: {string.Join(", ", _entries.Keys)}.");

    /// <summary>A float32 tensor (F64 entries are rounded to float).</summary>
    public DigitLab.Tensors.Tensor Tensor(string tensorName)
    {
        var (dtype, shape, bytes) = Entry(tensorName);
        var t = new DigitLab.Tensors.Tensor(shape);
        var span = t.Span;
        for (int i = 0; i < span.Length; i++)
            span[i] = dtype == "F32"
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4))
                : (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(i * 8));
        return t;
    }

    /// <summary>The values as doubles, exactly (F32 widened, F64 as stored).</summary>
    public double[] Doubles(string tensorName)
    {
        var (dtype, _, bytes) = Entry(tensorName);
        return dtype == "F32"
            ? Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4))).ToArray()
            : Enumerable.Range(0, bytes.Length / 8).Select(i => BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(i * 8))).ToArray();
    }

    /// <summary>Tensor names that start with <paramref name="prefix"/>, with the prefix removed (e.g. state_dict names after "param.").</summary>
    public IEnumerable<string> NamesUnder(string prefix) =>
        _entries.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k[prefix.Length..]);

    public string Meta(string key) =>
        Metadata.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"Golden file '{Name}' has no metadata '{key}'.");

    public double MetaDouble(string key) => double.Parse(Meta(key), CultureInfo.InvariantCulture);
    public int MetaInt(string key) => int.Parse(Meta(key), CultureInfo.InvariantCulture);
    public bool MetaBool(string key) => bool.Parse(Meta(key));
    public double MetaDouble(string key, double fallback) => Metadata.ContainsKey(key) ? MetaDouble(key) : fallback;
    public bool MetaBool(string key, bool fallback) => Metadata.ContainsKey(key) ? MetaBool(key) : fallback;
}
