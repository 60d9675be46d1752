using System.Text.Json;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Reports;
using DigitLab.Tensors;
using DigitLab.Training;
using DigitLab.IO;

namespace DigitLab.Tests.Reports;

public class PipelineTests
{
    private const float FeatureTolerance = 1e-4f; // logits are O(1); float rounding of a 128-term dot product is ~1e-6

    [Theory]
    [InlineData("mlp", 128)]
    [InlineData("lenet5", 84)]
    public void PenultimateFeaturesThroughTheLastLinearGiveTheModelsLogits(string name, int expectedDims)
    {
        var model = ModelZoo.Create(name, 3);
        model.Eval();
        var rng = new Rng(5);
        int n = 7;
        var pixels = Enumerable.Range(0, n * 784).Select(_ => rng.Normal()).ToArray();
        var (features, dims) = ModelFeatures.Penultimate(model, pixels, n, ModuleCalls.Compute, batchSize: 3);
        Assert.Equal(expectedDims, dims);

        var logits = model.Forward(new Tensor(pixels, n, 1, 28, 28)).ReadOnlySpan.ToArray();
        var last = FlattenLinears(model).Last();
        for (int i = 0; i < n; i++)
            for (int o = 0; o < 10; o++)
            {
                float z = last.Bias!.Value.Span[o];
                for (int k = 0; k < dims; k++) z += last.Weight.Value.Span[o * dims + k] * features[i * dims + k];
                Assert.True(Math.Abs(z - logits[i * 10 + o]) < FeatureTolerance, $"image {i}, class {o}: {z} vs {logits[i * 10 + o]}");
            }
    }

    private static IEnumerable<Linear> FlattenLinears(Module m) =>
        m is Sequential s ? s.Layers.SelectMany(FlattenLinears) : m is Linear l ? [l] : [];

    [Fact]
    public void ReportFromARunsFolderHasSummariesFeatureMapsAndCachedTsne()
    {
        string root = Path.Combine(Path.GetTempPath(), "digitlab-pipeline-" + Guid.NewGuid().ToString("N")[..8]);
        string runs = Path.Combine(root, "runs");
        Directory.CreateDirectory(runs);
        try
        {
            var images = SyntheticRuns.Images("test", 150, 9);
            var test = new MnistDataset(images.Images, images.Labels, "synthetic/test");
            var log = SyntheticRuns.Run("mlp", 0.9, 2, images.Labels, 4, 101_770);
            File.WriteAllText(Path.Combine(runs, "mlp.json"), JsonSerializer.Serialize(log, DigitLabJson.Options));
            Checkpoint.Save(Path.Combine(runs, "mlp.safetensors"), ModelZoo.Create("mlp", 1), new CheckpointInfo { Architecture = "mlp", Log = log });

            var options = new ReportOptions { RunDirectories = [runs], OutputDirectory = Path.Combine(root, "report"), TsnePoints = [120], TsneIterations = 120 };
            var lines = new List<string>();
            var (index, files, data) = ReportPipeline.Run(options, ModuleCalls.Compute, null, test,
                run => ModelFeatures.Summary(ModelFeatures.LoadModel(ModelFeatures.CheckpointFor(run.SourcePath!))!),
                (run, px, count) => ModelFeatures.Penultimate(ModelFeatures.LoadModel(ModelFeatures.CheckpointFor(run.SourcePath!))!, px, count, ModuleCalls.Compute),
                lines.Add);

            Assert.Equal(["pixels-120", "mlp-120"], data.TsneMaps.Select(m => m.Id));
            Assert.Contains("mlp penultimate layer (128 features)", data.TsneMaps[1].Space);
            Assert.All(data.TsneMaps, m => Assert.Equal(120, m.Count));
            Assert.Contains(Path.Combine("figures", "tsne-mlp-120.svg"), files);
            var summary = File.ReadAllLines(Path.Combine(root, "report", "data", "summary-mlp.csv"));
            Assert.Equal(101_770, summary.Skip(1).Sum(l => long.Parse(l.Split(',')[^1])));
            Assert.Contains("mlp: 101,770 parameters", File.ReadAllText(index));

            // A second report reuses both t-SNE maps from the cache and gets the same coordinates.
            lines.Clear();
            var (_, _, again) = ReportPipeline.Run(options, ModuleCalls.Compute, null, test, null,
                (run, px, count) => ModelFeatures.Penultimate(ModelFeatures.LoadModel(ModelFeatures.CheckpointFor(run.SourcePath!))!, px, count, ModuleCalls.Compute), lines.Add);
            Assert.Equal(2, lines.Count(l => l.Contains("reused")));
            Assert.Equal(data.TsneMaps[1].Y, again.TsneMaps[1].Y);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void GalleryShowsWhatTheModelLookedAtForThePredictedAndTheTrueDigit()
    {
        string root = Path.Combine(Path.GetTempPath(), "digitlab-pipeline-maps-" + Guid.NewGuid().ToString("N")[..8]);
        string runs = Path.Combine(root, "runs");
        Directory.CreateDirectory(runs);
        try
        {
            var images = SyntheticRuns.Images("test", 60, 4);
            var test = new MnistDataset(images.Images, images.Labels, "synthetic/test");
            var log = SyntheticRuns.Run("mlp", 0.7, 1, images.Labels, 2, 101_770);
            Assert.NotEmpty(log.Test!.Misclassified);
            File.WriteAllText(Path.Combine(runs, "mlp.json"), JsonSerializer.Serialize(log, DigitLabJson.Options));
            var model = ModelZoo.Create("mlp", 1);
            Checkpoint.Save(Path.Combine(runs, "mlp.safetensors"), model, new CheckpointInfo { Architecture = "mlp", Log = log });
            var runner = new DigitLab.Evaluation.ModelRunner(model, Normalization.Mnist, ModuleCalls.Compute);

            var options = new ReportOptions { RunDirectories = [runs], OutputDirectory = Path.Combine(root, "report"), TsnePoints = [] };
            var (index, _, data) = ReportPipeline.Run(options, ModuleCalls.Compute, null, test, explainer: _ => runner);

            var shown = ReportBuilder.GalleryOf(data.Runs[0], test);
            var maps = data.MistakeMaps["mlp"];
            Assert.Equal(shown.Select(m => m.Index).Order(), maps.Keys.Order());
            var black = new float[784];
            foreach (var m in shown)
            {
                var x = test.Image(m.Index).ToArray().Select(b => b / 255f).ToArray();
                Assert.Equal(DigitLab.Evaluation.Saliency.IntegratedGradients(runner, x, black, m.Predicted, ReportPipeline.MistakeMapSteps), maps[m.Index].ForPredicted);
                Assert.Equal(DigitLab.Evaluation.Saliency.IntegratedGradients(runner, x, black, m.True, ReportPipeline.MistakeMapSteps), maps[m.Index].ForTrue);
            }
            string html = File.ReadAllText(index);
            Assert.Equal(shown.Count, html.Split("<div class=\"maps\">").Length - 1);
            Assert.Contains($"evidence for {shown[0].Predicted} (predicted)", html);
            Assert.Contains($"evidence for {shown[0].True} (true)", html);

            // Without an explainer (no checkpoint, or --no-mistake-maps) the gallery shows the images only.
            var (plain, _, _) = ReportPipeline.Run(options with { OutputDirectory = Path.Combine(root, "plain") }, ModuleCalls.Compute, null, test);
            Assert.DoesNotContain("<div class=\"maps\">", File.ReadAllText(plain));
        }
        finally { Directory.Delete(root, true); }
    }
}
