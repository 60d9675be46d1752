// Checkpoints: bit-exact round trips, and clear rejection of truncated, tampered and mismatched files.
using System.Buffers.Binary;
using System.Text;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Training;
using DigitLab.IO;
using DigitLab.Evaluation;

namespace DigitLab.Tests.Training;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("digitlab-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathFor(string name) => Path.Combine(_dir, name);

    /// <summary>A model with parameters, batch-norm buffers changed away from their initial values, and an info block.</summary>
    private static (Module Model, CheckpointInfo Info) Sample(string architecture = "fast")
    {
        var model = ModelZoo.Create(architecture, seed: 3);
        var rng = new Rng(4);
        foreach (var (_, t) in model.NamedBuffers())
            for (int i = 0; i < t.Length; i++) t.Data[i] = rng.Uniform(0.5f, 2f);
        var log = new RunLog { Model = architecture, Parameters = model.ParameterCount(), Recipe = new TrainerOptions { Model = architecture } };
        log.Epochs.Add(new EpochRecord(1, 0.25, 0.92, 0.2, 0.94, 1e-3, 3.5));
        log.Test = Metrics.Evaluate([[5, 1], [2, 3]], 0.3);
        var info = new CheckpointInfo
        {
            Architecture = architecture, Seed = 3, NormalizationMean = 0.5f, NormalizationStd = 0.25f, Log = log,
            Resume = new ResumeState { CompletedEpochs = 1, CompletedBatches = 7, OptimizerStep = 42, Rngs = new() { ["shuffle"] = ["00000000000000ff", "1", "2", "3"], ["augment"] = ["4", "5", "6", "7"] } },
            Optimizer = "adam",
        };
        return (model, info);
    }

    [Fact]
    public void RoundTripIsBitExactWithMetadata()
    {
        var (model, info) = Sample();
        var optimizerState = new[] { ("exp_avg.fc.weight", TestUtil.Random(new Rng(5), 10, 432)) };
        string path = PathFor("a.safetensors");
        Checkpoint.Save(path, model, info, optimizerState);

        var loaded = Checkpoint.Load(path);
        var expected = model.NamedParameters().Select(p => (p.Name, p.Parameter.Value)).Concat(model.NamedBuffers()).ToList();
        var actual = loaded.Model.NamedParameters().Select(p => (p.Name, p.Parameter.Value)).Concat(loaded.Model.NamedBuffers()).ToList();
        Assert.Equal(expected.Select(e => e.Name), actual.Select(a => a.Name));
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(BitsOf(expected[i].Item2), BitsOf(actual[i].Item2));
        Assert.Equal(BitsOf(optimizerState[0].Item2), BitsOf(loaded.OptimizerState["exp_avg.fc.weight"]));

        var i2 = loaded.Info;
        Assert.Equal("fast", i2.Architecture);
        Assert.Equal(3UL, i2.Seed);
        Assert.Equal(0.5f, i2.NormalizationMean);
        Assert.Equal(0.25f, i2.NormalizationStd);
        Assert.Equal("adam", i2.Optimizer);
        Assert.Equal(Checkpoint.DigitLabVersion, i2.Version);
        Assert.Equal(info.Log!.Epochs, i2.Log!.Epochs);
        Assert.Equal(info.Log.Recipe, i2.Log.Recipe);
        Assert.Equal(info.Log.Test!.Accuracy, i2.Log.Test!.Accuracy);
        Assert.Equal(info.Log.Test.Confusion, i2.Log.Test.Confusion);
        Assert.Equal(42, i2.Resume!.OptimizerStep);
        Assert.Equal(7, i2.Resume.CompletedBatches);
        Assert.Equal(info.Resume!.Rngs["shuffle"], i2.Resume.Rngs["shuffle"]);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp*")); // the temporary file was renamed, not left behind
    }

    [Fact]
    public void DropoutGeneratorStatesSurviveTheRoundTrip()
    {
        var model = ModelZoo.Create("net3", 3);
        var input = TestUtil.Random(new Rng(1), 2, 1, 28, 28);
        model.Forward(input); // advances the dropout generators
        string path = PathFor("d.safetensors");
        Checkpoint.Save(path, model, new CheckpointInfo { Architecture = "net3", Seed = 3 });
        var loaded = Checkpoint.Load(path).Model;
        Assert.Equal(model.NamedRngs().Select(r => r.Rng.GetState()), loaded.NamedRngs().Select(r => r.Rng.GetState()));
        Assert.Equal(BitsOf(model.Forward(input)), BitsOf(loaded.Forward(input)));
    }

    [Fact]
    public void FileFollowsTheSafetensorsLayout()
    {
        var (model, info) = Sample("mlp");
        string path = PathFor("m.safetensors");
        Checkpoint.Save(path, model, info);
        byte[] bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{\"__metadata__\":{", header);
        Assert.Contains("\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[128,784],\"data_offsets\":[0,401408]}", header);
        Assert.Equal(8 + n + 101_770 * 4, bytes.Length);
    }

    [Fact]
    public void TruncatedFileIsRejected()
    {
        string path = SavedSample();
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^100]);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Contains("truncated", e.Message);
        File.WriteAllBytes(path, bytes[..5]);
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
    }

    [Fact]
    public void HeaderLengthBeyondTheFileIsRejected()
    {
        string path = SavedSample();
        byte[] bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)bytes.Length);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Contains("header length", e.Message);
    }

    [Fact]
    public void HeaderThatIsNotJsonIsRejected()
    {
        string path = SavedSample();
        byte[] bytes = File.ReadAllBytes(path);
        bytes[8] = (byte)'[';
        bytes[9] = (byte)'!';
        File.WriteAllBytes(path, bytes);
        Assert.Contains("JSON", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void OffsetsOutsideTheDataAreRejected()
    {
        string path = Tampered(h => h.Replace("\"data_offsets\":[0,401408]", "\"data_offsets\":[0,999999999]"));
        Assert.Contains("outside", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void OverlappingOffsetsAreRejected()
    {
        // fc1.bias points into fc1.weight's bytes: same span length (128 floats), wrong place.
        string path = Tampered(h => h.Replace("\"data_offsets\":[401408,401920]", "\"data_offsets\":[401000,401512]"));
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Contains("overlaps", e.Message);
    }

    [Fact]
    public void WrongDtypeIsRejected()
    {
        string path = Tampered(h => h.Replace("\"dtype\":\"F32\"", "\"dtype\":\"F64\""));
        Assert.Contains("F64", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void ShapeThatDisagreesWithItsBytesIsRejected()
    {
        string path = Tampered(h => h.Replace("\"shape\":[128,784]", "\"shape\":[128,785]"));
        Assert.Contains("needs", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void ShapeThatDisagreesWithTheArchitectureIsRejected()
    {
        // A well-formed file whose fc1 is 784 -> 64: valid safetensors, wrong for mlp.
        string path = SavedSample();
        var content = SafeTensors.Read(path);
        var tensors = content.Tensors.Select(t => t.Name switch
        {
            "fc1.weight" => (t.Name, new Tensor(64, 784)),
            _ => t,
        });
        SafeTensors.Write(path, content.Metadata, tensors);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Contains("fc1.weight", e.Message);
        Assert.Contains("(128, 784)", e.Message);
    }

    [Fact]
    public void MissingAndUnknownTensorsAreRejected()
    {
        string path = SavedSample();
        var content = SafeTensors.Read(path);
        SafeTensors.Write(path, content.Metadata, content.Tensors.Where(t => t.Name != "fc2.bias"));
        Assert.Contains("fc2.bias", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path)).Message);
        SafeTensors.Write(path, content.Metadata, content.Tensors.Append(("fc3.weight", new Tensor(2, 2))));
        Assert.Contains("fc3.weight", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void UnknownArchitectureIsRejected()
    {
        string path = SavedSample();
        var content = SafeTensors.Read(path);
        content.Metadata["architecture"] = "vgg16";
        SafeTensors.Write(path, content.Metadata, content.Tensors);
        Assert.Contains("vgg16", Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path)).Message);
    }

    [Fact]
    public void MissingFileSaysWhereItLooked()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(PathFor("nope.safetensors")));
        Assert.Contains("nope.safetensors", e.Message);
    }

    private string SavedSample()
    {
        var (model, info) = Sample("mlp");
        string path = PathFor(Guid.NewGuid().ToString("N") + ".safetensors");
        Checkpoint.Save(path, model, info);
        return path;
    }

    /// <summary>Rewrites the JSON header of a saved mlp checkpoint (same data), fixing up the header length.</summary>
    private string Tampered(Func<string, string> edit)
    {
        string path = SavedSample();
        byte[] bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, n);
        string edited = edit(header);
        Assert.NotEqual(header, edited); // the edit must hit, or the test checks nothing
        byte[] h = Encoding.UTF8.GetBytes(edited);
        var output = new byte[8 + h.Length + bytes.Length - 8 - n];
        BinaryPrimitives.WriteUInt64LittleEndian(output, (ulong)h.Length);
        h.CopyTo(output, 8);
        bytes.AsSpan(8 + n).CopyTo(output.AsSpan(8 + h.Length));
        File.WriteAllBytes(path, output);
        return path;
    }

    private static int[] BitsOf(Tensor t) => t.Span.ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();
}
