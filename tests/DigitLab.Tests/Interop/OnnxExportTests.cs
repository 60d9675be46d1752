// OnnxExportTests: every zoo model exported to ONNX and run by ONNX Runtime on 1,000 MNIST test images gives DigitLab's answers.
using DigitLab.Cli.Commands;
using DigitLab.Data;
using DigitLab.Interop;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Training;
using Google.Protobuf;
using Onnx;
using Xunit.Abstractions;

using DigitLab.Runtime;
using DigitLab.Evaluation;

namespace DigitLab.Tests.Interop;

/// <summary>Tolerances of the ONNX comparison, in one place.</summary>
internal static class OnnxTolerances
{
    /// <summary>
    /// Largest difference allowed between ONNX Runtime's and DigitLab's probability for any image and class. Both compute
    /// in float32 with different summation orders (GEMM blocking, convolution algorithms, BN folding), which moves a
    /// probability by about 1e-7..1e-6; a wrong weight layout or a missing layer moves it by 1e-2 or more.
    /// </summary>
    public const float Probability = 1e-5f;
}

public class OnnxExportTests(ITestOutputHelper output)
{
    private const int Images = 1000;

    internal static readonly Lazy<MnistDataset> Test = new(() =>
    {
        var store = new DatasetStore(null, DatasetKind.Mnist);
        store.Ensure();
        return store.ReadTest();
    });

    public static TheoryData<string> ZooModels() => new(ModelZoo.Names);

    [Theory]
    [MemberData(nameof(ZooModels))]
    public void OnnxRuntimeAgreesWithDigitLabOn1000TestImages(string name)
    {
        var model = ModelZoo.Create(name, seed: 3);
        GiveBatchNormStatistics(model, Test.Value);
        Compare(model, name);
    }

    [Fact]
    public void OnnxRuntimeAgreesOnABrieflyTrainedCnn()
    {
        // A trained model's logits are far apart, unlike a random one's: this checks the export where the answers matter.
        var options = new TrainerOptions { Model = "cnn", Epochs = 1, ValidationCount = 0, Threads = 2 };
        var trainer = Trainer.Create(options);
        var store = new DatasetStore(null, DatasetKind.Mnist);
        var train = store.ReadTrain().Subset(Enumerable.Range(0, 3000).ToArray(), "train-3000");
        trainer.Train(train, null);
        double accuracy = Compare(trainer.Model, "cnn");
        Assert.True(accuracy > 0.8, $"The briefly trained cnn should be well past chance (found {accuracy:P1}); the comparison would then check little.");
    }

    [Fact]
    public void MetadataNamesTheModelItsVersionAndRecipe()
    {
        var options = new TrainerOptions { Model = "mlp", Epochs = 1 };
        var trainer = Trainer.Create(options);
        var info = OnnxExport.InfoFor(trainer.CheckpointInfo());
        var proto = OnnxExport.Build(trainer.Model, info);
        using var runner = new OnnxRuntimeRunner(proto.ToByteArray(), intraOpThreads: 1);
        var meta = runner.Metadata;
        Assert.Equal("mlp", meta["digitlab.model"]);
        Assert.Equal(Checkpoint.DigitLabVersion, meta["digitlab.version"]);
        Assert.Contains("\"optimizer\"", meta["digitlab.recipe"]);
        Assert.Equal("0.1307", meta["digitlab.normalization_mean"]);
        Assert.Equal([OnnxExport.InputName], runner.InputNames);
        Assert.Equal([OnnxExport.LogitsName, OnnxExport.ProbabilitiesName], runner.OutputNames);
        Assert.Equal(OnnxExport.Opset, proto.OpsetImport.Single(o => o.Domain == "").Version);
        // The batch dimension is symbolic, the others fixed.
        var dims = proto.Graph.Input.Single().Type.TensorType.Shape.Dim;
        Assert.Equal("batch", dims[0].DimParam);
        Assert.Equal([1L, 28, 28], dims.Skip(1).Select(d => d.DimValue));
    }

    [Fact]
    public void DropoutIsLeftOutAndBatchNormIsInferenceMode()
    {
        var ops = OnnxExport.Build(ModelZoo.Create("best", 1), new OnnxModelInfo("best", 0.1307f, 0.3081f)).Graph.Node.Select(n => n.OpType).ToList();
        Assert.DoesNotContain("Dropout", ops);
        Assert.Equal(4, ops.Count(o => o == "BatchNormalization"));
        var bn = OnnxExport.Build(ModelZoo.Create("best", 1), new OnnxModelInfo("best", 0.1307f, 0.3081f)).Graph.Node.First(n => n.OpType == "BatchNormalization");
        Assert.DoesNotContain(bn.Attribute, a => a.Name == "training_mode" && a.I != 0);
    }

    [Fact]
    public void AnUnsupportedModuleIsNamedInTheError()
    {
        var model = new Sequential(("flatten", new Flatten()), ("odd", new Unsupported()), ("fc", new Linear(784, 10)));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExport.Build(model, new OnnxModelInfo("odd", 0.1307f, 0.3081f)));
        Assert.Contains("Unsupported", e.Message);
        Assert.Contains("'odd'", e.Message);
    }

    /// <summary>
    /// Runs the first 1,000 test images through DigitLab (eval mode, normalised bytes) and through ONNX Runtime (pixels/255,
    /// normalised by the graph); asserts the same predicted class for every image and probabilities within
    /// <see cref="OnnxTolerances.Probability"/>. Returns DigitLab's accuracy on them.
    /// </summary>
    private double Compare(Module model, string name)
    {
        var test = Test.Value;
        var normalized = new Tensor(Images, 1, 28, 28);
        var unit = new float[Images * MnistDataset.Pixels];
        var pixels = test.Images.AsSpan(0, Images * MnistDataset.Pixels);
        Normalization.Mnist.Apply(pixels, normalized.Span);
        for (int i = 0; i < unit.Length; i++) unit[i] = pixels[i] / 255f;

        using var compute = new ComputeContext(2);
        var logits = model.Forward(normalized, new Workspace(compute, training: false));
        var expected = new float[logits.Length];
        for (int i = 0; i < Images; i++) Predictor.Softmax(logits.ReadOnlySpan.Slice(i * 10, 10)).CopyTo(expected.AsSpan(i * 10));

        var bytes = OnnxExport.Build(model, new OnnxModelInfo(name, Normalization.Mnist.Mean, Normalization.Mnist.Std)).ToByteArray();
        using var runner = new OnnxRuntimeRunner(bytes, intraOpThreads: 2);
        var actual = new float[Images * 10];
        runner.Run(unit, Images, OnnxExport.ProbabilitiesName, actual);

        float worst = 0;
        int disagreements = 0, correct = 0;
        for (int i = 0; i < Images; i++)
        {
            var e = expected.AsSpan(i * 10, 10);
            var a = actual.AsSpan(i * 10, 10);
            int mine = Metrics.ArgMax(e);
            if (mine != Metrics.ArgMax(a)) disagreements++;
            if (mine == test.Labels[i]) correct++;
            for (int c = 0; c < 10; c++) worst = Math.Max(worst, Math.Abs(e[c] - a[c]));
        }
        output.WriteLine($"{name}: {Images} images, {disagreements} predicted classes differ, largest probability difference {worst:E2} " +
                         $"(tolerance {OnnxTolerances.Probability:E0}); DigitLab accuracy on them {(double)correct / Images:P1}");
        Assert.Equal(0, disagreements);
        Assert.True(worst <= OnnxTolerances.Probability, $"{name}: largest probability difference {worst:E3} exceeds {OnnxTolerances.Probability:E0}.");
        return (double)correct / Images;
    }

    /// <summary>
    /// Fresh batch norms are the identity (γ 1, β 0, mean 0, variance 1), which would let an export that skips them pass:
    /// give every one random γ and β, and running statistics moved from (0, 1) by one training-mode pass over 64 test images.
    /// </summary>
    private static void GiveBatchNormStatistics(Module model, MnistDataset data)
    {
        var norms = Walk(model).OfType<BatchNorm>().ToList();
        if (norms.Count == 0) return;
        var rng = new Rng(11);
        foreach (var bn in norms)
        {
            foreach (ref float g in bn.Weight.Value.Span) g = rng.Uniform(0.5f, 1.5f);
            foreach (ref float b in bn.Bias.Value.Span) b = rng.Uniform(-0.3f, 0.3f);
        }
        var batch = new Tensor(64, 1, 28, 28);
        Normalization.Mnist.Apply(data.Images.AsSpan(0, 64 * MnistDataset.Pixels), batch.Span);
        model.Forward(batch, new Workspace(ModuleCalls.Compute, training: true)); // a training pass moves the running statistics
    }

    private static IEnumerable<Module> Walk(Module m) => new[] { m }.Concat(m.Children().SelectMany(c => Walk(c.Module)));

    private sealed class Unsupported : Module
    {
        public override Tensor Forward(Tensor input, Workspace workspace) => input;
        public override Tensor Backward(Tensor outputGrad, Workspace workspace) => outputGrad;
        public override int[] OutputShape(int[] inputShape) => (int[])inputShape.Clone();
    }
}

/// <summary>`digitlab export` end to end (it writes to the console, so it runs in the console collection).</summary>
[Collection(ConsoleCollection.Name)]
public class ExportCommandTests
{
    [Fact]
    public async Task ExportCommandWritesAFileOnnxRuntimeLoads()
    {
        string dir = Directory.CreateTempSubdirectory("digitlab-export-").FullName;
        try
        {
            var trainer = Trainer.Create(new TrainerOptions { Model = "lenet5", Epochs = 1 });
            string ckpt = Path.Combine(dir, "m.safetensors"), onnx = Path.Combine(dir, "m.onnx");
            trainer.SaveCheckpoint(ckpt);
            var (code, stdout, stderr) = await Cli.CliRunner.RunAsync("export", ckpt, "--format", "onnx", "--out", onnx);
            Assert.True(code == 0, stderr);
            Assert.Contains("opset", stdout);
            using var runner = new OnnxRuntimeRunner(File.ReadAllBytes(onnx), 1);
            Assert.Equal("lenet5", runner.Metadata["digitlab.model"]);
            var (bad, _, badErr) = await Cli.CliRunner.RunAsync("export", ckpt, "--format", "tflite");
            Assert.Equal(1, bad);
            Assert.Contains("--format onnx", badErr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task BenchInferPrintsBothEnginesAndTheirRatio()
    {
        var (code, stdout, stderr) = await Cli.CliRunner.RunAsync("bench", "infer", "--models", "mlp", "--batch", "50", "--threads", "1");
        Assert.True(code == 0, stderr);
        var row = stdout.Split('\n').Single(l => l.StartsWith("mlp ", StringComparison.Ordinal));
        var numbers = System.Text.RegularExpressions.Regex.Matches(row, @"[0-9][0-9,]*\.?[0-9]*").Select(m => double.Parse(m.Value.Replace(",", ""), System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        // DigitLab plain and prepared img/s, ORT img/s, ratio, the three latencies, their ratio, the load: the ratio is prepared over ORT.
        Assert.True(numbers[0] > 0 && numbers[1] > 0 && numbers[2] > 0, row);
        Assert.Equal(numbers[1] / numbers[2], numbers[3], 0.006 + 0.01 * numbers[3]);
    }

    [Fact]
    public async Task TheReadmesCSharpExampleRunsAnExportedModel()
    {
        using var dir = new Data.SyntheticData.TempDir();
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1 });
        trainer.SaveCheckpoint(dir.File("m.safetensors"));
        Assert.Equal(0, (await Cli.CliRunner.RunAsync("export", dir.File("m.safetensors"), "--out", dir.File("model.onnx"))).ExitCode);
        float[] pixels = OnnxExportTests.Test.Value.Images.AsSpan(0, 784).ToArray().Select(b => b / 255f).ToArray();

        // README, "ONNX Runtime from C#", line for line (the path aside):
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(dir.File("model.onnx"));
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(pixels, new long[] { 1, 1, 28, 28 });
        using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var outputs = session.Run(run, new[] { "image" }, new[] { input }, new[] { "probabilities" });
        ReadOnlySpan<float> p = outputs[0].GetTensorDataAsSpan<float>();
        int digit = 0;
        for (int i = 1; i < 10; i++) if (p[i] > p[digit]) digit = i;
        string recipe = session.ModelMetadata.CustomMetadataMap["digitlab.recipe"];

        var expected = Predictor.Probabilities(trainer.Model, OnnxExportTests.Test.Value.Image(0), Normalization.Mnist, ModuleCalls.NewEvaluationWorkspace());
        Assert.Equal(Metrics.ArgMax(expected), digit);
        for (int c = 0; c < 10; c++) Assert.Equal(expected[c], p[c], OnnxTolerances.Probability);
        Assert.Contains("\"learningRate\"", recipe);
    }
}
