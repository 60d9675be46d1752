using DigitLab.Data;
using DigitLab.Reports;
using DigitLab.Tensors;
using DigitLab.Training;
using DigitLab.Experiments;
using DigitLab.Evaluation;

namespace DigitLab.Tests.Reports;

/// <summary>Plausible, seeded run logs and images for report tests (no training needed).</summary>
internal static class SyntheticRuns
{
    /// <summary>Test images: a blob at a digit-dependent place so images differ; labels cycle 0..9.</summary>
    public static MnistDataset Images(string name, int count, ulong seed)
    {
        var rng = new Rng(seed);
        var images = new byte[count * 784];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            int d = i % 10;
            labels[i] = (byte)d;
            double cx = 8 + (d % 5) * 3 + rng.NextFloat() * 2, cy = 8 + (d / 5) * 8 + rng.NextFloat() * 2;
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    double r = Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
                    images[i * 784 + y * 28 + x] = (byte)Math.Clamp(255 * (1 - Math.Abs(r - 5) / 2), 0, 255);
                }
        }
        return new MnistDataset(images, labels, name);
    }

    /// <summary>A run whose test accuracy is about <paramref name="accuracy"/>, on a test set with <paramref name="labels"/>.</summary>
    public static RunLog Run(string model, double accuracy, int epochs, byte[] labels, ulong seed, long parameters = 100_000)
    {
        var rng = new Rng(seed);
        var log = new RunLog { Model = model, Parameters = parameters, TrainSeconds = 30 + rng.NextDouble() * 300, BatchLossInterval = 50 };
        log.Recipe = new DigitLab.Training.TrainerOptions { Model = model };
        for (int e = 1; e <= epochs; e++)
        {
            double progress = 1 - Math.Exp(-e / 2.0);
            log.Epochs.Add(new EpochRecord(e, 0.5 * (1 - progress) + 0.02 + rng.NextDouble() * 0.01, 0.9 + (accuracy - 0.9 + 0.005) * progress,
                0.3 * (1 - progress) + 0.04, 0.9 + (accuracy - 0.9) * progress, 1e-3, 10 + rng.NextDouble()));
        }
        for (int b = 0; b < epochs * 8; b++) log.BatchLosses.Add(2.3 * Math.Exp(-b / 6.0) + 0.05 + rng.NextDouble() * 0.05);

        var confusion = new int[10][];
        for (int t = 0; t < 10; t++) confusion[t] = new int[10];
        var misclassified = new List<Misclassified>();
        for (int i = 0; i < labels.Length; i++)
        {
            int t = labels[i];
            int p = rng.NextDouble() < accuracy ? t : (t + 1 + rng.NextInt(9)) % 10;
            confusion[t][p]++;
            if (p != t) misclassified.Add(new Misclassified(i, t, p, 0.4 + 0.6 * rng.NextDouble()));
        }
        var perClass = Enumerable.Range(0, 10).Select(c =>
        {
            int tp = confusion[c][c], support = confusion[c].Sum(), predicted = Enumerable.Range(0, 10).Sum(t => confusion[t][c]);
            double precision = predicted == 0 ? 0 : (double)tp / predicted, recall = support == 0 ? 0 : (double)tp / support;
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            return new ClassMetrics(c, precision, recall, f1, support);
        }).ToArray();
        int correct = Enumerable.Range(0, 10).Sum(c => confusion[c][c]);
        log.Test = new EvaluationResult
        {
            Accuracy = (double)correct / labels.Length,
            Loss = 0.03 + (1 - accuracy) * 2,
            Count = labels.Length,
            Confusion = confusion,
            PerClass = perClass,
            Macro = new AverageMetrics(perClass.Average(m => m.Precision), perClass.Average(m => m.Recall), perClass.Average(m => m.F1)),
            Weighted = new AverageMetrics(perClass.Average(m => m.Precision), perClass.Average(m => m.Recall), perClass.Average(m => m.F1)),
            Micro = new AverageMetrics((double)correct / labels.Length, (double)correct / labels.Length, (double)correct / labels.Length),
            Misclassified = misclassified,
        };
        return log;
    }

    /// <summary>A full report input: runs for a few models, images, a t-SNE map and a small sweep.</summary>
    public static ReportData Data(int testCount = 500, Func<byte[], int, int, byte[]>? png = null)
    {
        var test = Images("test", testCount, 2);
        var train = Images("train", 2 * testCount, 3);
        var runs = new List<RunEntry>
        {
            new("mlp", Run("mlp", 0.975, 6, test.Labels, 10, 109_386)),
            new("lenet5", Run("lenet5", 0.989, 6, test.Labels, 11, 61_706)),
            new("resnet18", Run("resnet18", 0.994, 6, test.Labels, 12, 11_172_810)),
        };
        var rng = new Rng(4);
        int n = Math.Min(200, testCount);
        var map = new TsneMap("pixels-200", "Pixels, 200 points", "pixel space", Enumerable.Range(0, 2 * n).Select(i => (double)rng.Normal() * 10 + (i % 2 == 0 ? (i / 2 % 10) * 5 : 0)).ToArray(),
            test.Labels.Take(n).Select(b => (int)b).ToArray(), 1.5, 1.23);
        var sweep = new List<SweepTrialResult>();
        foreach (var model in new[] { "mlp", "lenet5" })
            foreach (var lr in new[] { 0.02, 0.01, 0.0002, 0.0001 })
                sweep.Add(new SweepTrialResult
                {
                    Trial = new SweepTrial(model, lr, 64, null, 3, 1),
                    Run = Run(model, model == "mlp" ? 0.97 - Math.Abs(Math.Log10(lr) + 3) * 0.01 : 0.985 - Math.Abs(Math.Log10(lr) + 3) * 0.008, 3, test.Labels, (ulong)(lr * 1e5)),
                });
        foreach (var size in new[] { 1000, 5000, 10000 })
            sweep.Add(new SweepTrialResult
            {
                Trial = new SweepTrial("lenet5", 0.001, 64, size, 3, 1),
                Run = Run("lenet5", 0.99 - 10.0 / size, 3, test.Labels, (ulong)size),
            });
        return new ReportData
        {
            Title = "DigitLab report (synthetic test data)",
            Runs = runs,
            Summaries = new()
            {
                ["mlp"] = [new("0", "Flatten", [1, 784], 0, 0), new("1", "Linear", [1, 128], 100_480, 0), new("2", "ReLU", [1, 128], 0, 0), new("3", "Linear", [1, 10], 1_290, 0)],
            },
            Train = train,
            Test = test,
            TsneMaps = [map],
            Sweep = sweep,
            PngEncoder = png,
        };
    }
}
