// PredictionsCsvTests: `evaluate --predictions FILE.csv`: the rows recompute exactly the accuracy, confusion matrix and
// (ensemble) loss that `evaluate --json` reports; paths are quoted; a bad path is refused before any work.
using System.Globalization;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Models;
using DigitLab.Training;

namespace DigitLab.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class PredictionsCsvTests
{
    private sealed record Row(string Key, int Label, int Predicted, float[] P);

    private static List<Row> ReadCsv(string path, string keyColumn)
    {
        var lines = File.ReadAllLines(path);
        Assert.Equal($"{keyColumn},label,predicted,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9", lines[0]);
        return lines.Skip(1).Select(line =>
        {
            var f = line.Split(',');
            Assert.Equal(13, f.Length);
            var ci = CultureInfo.InvariantCulture;
            return new Row(f[0], int.Parse(f[1], ci), int.Parse(f[2], ci), f[3..].Select(v => float.Parse(v, ci)).ToArray());
        }).ToList();
    }

    /// <summary>An mlp trained one epoch on the first <paramref name="images"/> MNIST images (0: untrained), saved.</summary>
    private static string Mlp(string path, int images, ulong seed)
    {
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, ValidationCount = 0, Seed = seed, Threads = 2 });
        if (images > 0) trainer.Train(new DatasetStore().ReadTrain().Subset(Enumerable.Range(0, images).ToArray(), "head"), null);
        trainer.SaveCheckpoint(path);
        return path;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)] // an ensemble: the rows hold the averaged probabilities its figures come from
    public async Task TheRowsRecomputeEvaluatesOwnFigures(int members)
    {
        new DatasetStore().Ensure();
        using var dir = new Data.SyntheticData.TempDir();
        var checkpoints = Enumerable.Range(0, members).Select(m => Mlp(dir.File($"m{m}.safetensors"), 600 + 400 * m, (ulong)(5 + m))).ToArray();
        string csv = dir.File("out/predictions.csv");
        var r = await CliRunner.RunAsync(["evaluate", .. checkpoints, "--balanced", "60", "--predictions", csv, "--json"]);
        Assert.True(r.ExitCode == 0, r.Error);
        using var json = JsonDocument.Parse(r.Out);
        var result = json.RootElement.GetProperty("result");
        Assert.Equal(csv, json.RootElement.GetProperty("predictions").GetString());

        var rows = ReadCsv(csv, "index");
        var evaluated = Evaluator.Balanced(new DatasetStore().ReadTest(), 60);
        Assert.Equal(evaluated.Count, rows.Count);
        var confusion = new int[10, 10];
        int correct = 0;
        double lossSum = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            Assert.Equal(i.ToString(CultureInfo.InvariantCulture), row.Key);
            Assert.Equal(evaluated.Labels[i], row.Label);
            Assert.Equal(Array.IndexOf(row.P, row.P.Max()), row.Predicted);           // the first largest, as numpy's argmax
            Assert.InRange(row.P.Sum(), 1 - 1e-5, 1 + 1e-5);                            // ten float32 probabilities sum to 1 within rounding
            confusion[row.Label, row.Predicted]++;
            if (row.Label == row.Predicted) correct++;
            lossSum -= Math.Log(Math.Max(row.P[row.Label], 1e-30));
        }
        Assert.Equal(result.GetProperty("accuracy").GetDouble(), (double)correct / rows.Count);
        var reported = result.GetProperty("confusion").EnumerateArray().Select(a => a.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToArray();
        for (int t = 0; t < 10; t++)
            for (int p = 0; p < 10; p++)
                Assert.True(reported[t][p] == confusion[t, p], $"confusion[{t}][{p}]: evaluate {reported[t][p]}, CSV {confusion[t, p]}");
        // An ensemble's loss is the cross-entropy of exactly these averaged probabilities (summed in dataset order); a single
        // model's is its own log-softmax in float32, which -log(p) of the rounded probability matches only approximately.
        if (members > 1) Assert.Equal(result.GetProperty("loss").GetDouble(), lossSum / rows.Count);
        Assert.Equal([csv], Directory.EnumerateFiles(Path.GetDirectoryName(csv)!)); // no temporary file left beside it
    }

    [Fact]
    public async Task ABadPredictionsPathIsRefusedBeforeAnyWork()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = dir.File("m.safetensors");
        Checkpoint.Save(checkpoint, ModelZoo.Create("mlp", 1), new CheckpointInfo { Architecture = "mlp", Seed = 1 });
        string never = Path.Combine(Path.GetTempPath(), "digitlab-never-" + Guid.NewGuid().ToString("N"));
        var r = await CliRunner.RunAsync("evaluate", checkpoint, "--data-dir", never, "--predictions", dir.Path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--predictions", r.Error);
        Assert.False(Directory.Exists(never));
    }

    [Fact]
    public void PathsReplaceTheIndexAndAreQuotedWhenTheyNeedIt()
    {
        using var dir = new Data.SyntheticData.TempDir();
        var data = Data.SyntheticData.Dataset(3);
        var probabilities = new float[30];
        for (int i = 0; i < 3; i++) probabilities[i * 10 + (i + 1) % 10] = 1f / 3 + i;
        string csv = dir.File("p.csv");
        PredictionsCsv.Write(csv, data, probabilities, ["a/0/x.png", "b,c/1/\"y\".png", "plain.png"]);
        var lines = File.ReadAllLines(csv);
        Assert.StartsWith("path,label,predicted,p0,", lines[0]);
        Assert.StartsWith("a/0/x.png,0,1,0,0.33333334,0,", lines[1]);
        Assert.StartsWith("\"b,c/1/\"\"y\"\".png\",1,2,", lines[2]);
        Assert.Equal(float.Parse("2.3333333", CultureInfo.InvariantCulture), float.Parse(lines[3].Split(',')[6], CultureInfo.InvariantCulture));
        Assert.Throws<ArgumentException>(() => PredictionsCsv.Write(csv, data, probabilities, ["only one"]));
    }
}
