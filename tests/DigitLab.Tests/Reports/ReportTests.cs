using System.Globalization;
using System.Text.Json;
using System.Xml.Linq;
using DigitLab.Reports;
using DigitLab.Training;
using DigitLab.IO;
using DigitLab.Experiments;

namespace DigitLab.Tests.Reports;

/// <summary>A report written once from synthetic runs, shared by the structure tests.</summary>
public sealed class SyntheticReportFixture : IDisposable
{
    public SyntheticReportFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "digitlab-report-" + Guid.NewGuid().ToString("N")[..8]);
        Data = SyntheticRuns.Data(300, (g, w, h) => PngWriter.Encode(w, h, 1, g));
        (Index, Files) = ReportBuilder.Write(Data, Directory);
        Html = File.ReadAllText(Index);
    }

    public string Directory { get; }
    public ReportData Data { get; }
    public string Index { get; }
    public IReadOnlyList<string> Files { get; }
    public string Html { get; }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

public class ReportTests(SyntheticReportFixture report) : IClassFixture<SyntheticReportFixture>
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    private static List<string[]> Csv(string path) =>
        File.ReadAllLines(path).Select(l => l.Split(',')).ToList(); // the synthetic names contain no commas or quotes

    [Fact]
    public void EverySvgFileIsValidXmlAndEveryPngHasTheSignature()
    {
        var svgs = System.IO.Directory.GetFiles(Path.Combine(report.Directory, "figures"), "*.svg");
        var pngs = System.IO.Directory.GetFiles(Path.Combine(report.Directory, "figures"), "*.png");
        Assert.True(svgs.Length >= 20, $"only {svgs.Length} SVG figures");
        Assert.NotEmpty(pngs);
        foreach (var svg in svgs) ChartTests.ParseSvg(File.ReadAllText(svg));
        byte[] signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        foreach (var png in pngs) Assert.Equal(signature, File.ReadAllBytes(png).Take(8).ToArray());
        // Every file is written through AtomicFile, whose temporary names carry its marker: none may be left behind.
        Assert.Empty(System.IO.Directory.GetFiles(report.Directory, "*" + AtomicFile.TempMarker + "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void InlineSvgsInTheHtmlAreValidXml()
    {
        int count = 0;
        for (int at = report.Html.IndexOf("<svg", StringComparison.Ordinal); at >= 0; at = report.Html.IndexOf("<svg", at + 1, StringComparison.Ordinal))
        {
            int end = report.Html.IndexOf("</svg>", at, StringComparison.Ordinal) + "</svg>".Length;
            XDocument.Parse(report.Html[at..end]);
            count++;
        }
        Assert.True(count >= 20, $"only {count} inline SVGs");
        Assert.DoesNotContain("http://", report.Html.Replace("http://www.w3.org/2000/svg", ""));
        Assert.DoesNotContain("https://", report.Html);
    }

    [Fact]
    public void EveryModelAndEveryClassIsInTheReport()
    {
        foreach (var run in report.Data.Runs)
        {
            Assert.Contains($"id=\"fig-confusion-{run.Name}\"", report.Html);
            Assert.Contains($"id=\"gallery-{run.Name}\"", report.Html);
            Assert.Contains($"<td>{run.Name}</td>", report.Html);
        }
        var f1 = XDocument.Parse(File.ReadAllText(Path.Combine(report.Directory, "figures", "per-class-f1.svg")));
        var labels = f1.Descendants().Where(e => e.Name.LocalName == "text").Select(t => t.Value).ToHashSet();
        for (int d = 0; d < 10; d++) Assert.Contains(d.ToString(Ci), labels);
        foreach (var run in report.Data.Runs) Assert.Contains(run.Name, labels);
        foreach (var section in new[] { "comparison", "curves", "models", "confusion", "per-class", "errors", "tsne", "sweeps", "dataset" })
            Assert.Contains($"<section id=\"{section}\">", report.Html);
    }

    [Fact]
    public void ComparisonCsvAndJsonHoldTheRunsNumbersExactly()
    {
        var rows = Csv(Path.Combine(report.Directory, "data", "comparison.csv"));
        var header = rows[0].ToList();
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report.Directory, "data", "comparison.json"))).RootElement;
        Assert.Equal(report.Data.Runs.Count, rows.Count - 1);
        Assert.Equal(report.Data.Runs.Count, json.GetArrayLength());
        for (int i = 0; i < report.Data.Runs.Count; i++)
        {
            var log = report.Data.Runs[i].Log;
            var row = rows[i + 1];
            Assert.Equal(report.Data.Runs[i].Name, row[header.IndexOf("run")]);
            Assert.Equal(log.Test!.Accuracy, double.Parse(row[header.IndexOf("test acc")], Ci));
            Assert.Equal(log.Test.Macro.F1, double.Parse(row[header.IndexOf("macro F1")], Ci));
            Assert.Equal(log.Epochs[^1].ValidationAccuracy, double.Parse(row[header.IndexOf("val acc")], Ci));
            Assert.Equal(log.Parameters, long.Parse(row[header.IndexOf("parameters")], Ci));
            Assert.Equal(log.TrainSeconds, double.Parse(row[header.IndexOf("train time")], Ci));
            Assert.Equal(log.Test.Accuracy, json[i].GetProperty("test acc").GetDouble());
            Assert.Equal(log.Test.Loss, json[i].GetProperty("test loss").GetDouble());
        }
    }

    [Fact]
    public void ConfusionAndPerClassFilesMatchTheRuns()
    {
        foreach (var run in report.Data.Runs)
        {
            var rows = Csv(Path.Combine(report.Directory, "data", $"confusion-{run.Name}.csv"));
            for (int t = 0; t < 10; t++)
                Assert.Equal(run.Log.Test!.Confusion[t], rows[t + 1].Skip(1).Select(v => int.Parse(v, Ci)).ToArray());
        }
        var perClass = JsonDocument.Parse(File.ReadAllText(Path.Combine(report.Directory, "data", "per-class.json"))).RootElement;
        Assert.Equal(10 * report.Data.Runs.Count, perClass.GetArrayLength());
        foreach (var item in perClass.EnumerateArray())
        {
            var run = report.Data.Runs.Single(r => r.Name == item.GetProperty("run").GetString());
            var metrics = run.Log.Test!.PerClass.Single(m => m.Class.ToString(Ci) == item.GetProperty("class").GetString());
            Assert.Equal(metrics.F1, item.GetProperty("F1").GetDouble());
            Assert.Equal(metrics.Precision, item.GetProperty("precision").GetDouble());
            Assert.Equal(metrics.Support, item.GetProperty("support").GetInt32());
        }
        var epochs = Csv(Path.Combine(report.Directory, "data", "epochs.csv"));
        Assert.Equal(report.Data.Runs.Sum(r => r.Log.Epochs.Count), epochs.Count - 1);
        var first = report.Data.Runs[0].Log.Epochs[0];
        Assert.Equal(first.TrainLoss, double.Parse(epochs[1][2], Ci));
    }

    [Fact]
    public void SweepTableHasEveryTrialsAccuracies()
    {
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(report.Directory, "data", "sweep.json"))).RootElement;
        Assert.Equal(report.Data.Sweep.Count, json.GetArrayLength());
        foreach (var item in json.EnumerateArray())
        {
            var size = item.GetProperty("train size");
            int? trainSize = size.ValueKind == JsonValueKind.Number ? size.GetInt32() : null;
            var trial = report.Data.Sweep.Single(t => t.Trial.Model == item.GetProperty("model").GetString()
                && t.Trial.LearningRate == item.GetProperty("lr").GetDouble() && t.Trial.TrainSize == trainSize);
            Assert.Equal(trial.Run.Test!.Accuracy, item.GetProperty("test acc").GetDouble());
            Assert.Equal(trial.Run.Epochs[^1].TrainAccuracy, item.GetProperty("train acc").GetDouble());
        }
        Assert.True(File.Exists(Path.Combine(report.Directory, "data", "sweep-lr-test.csv")));
        Assert.True(File.Exists(Path.Combine(report.Directory, "figures", "sweep-lr-test-accuracy.svg")));
        // The training-set-size trials form their own study: a pivot by size and a chart against it.
        var bySize = File.ReadAllLines(Path.Combine(report.Directory, "data", "sweep-train-size-test.csv"));
        Assert.Equal("model,other settings,training images 10000,training images 5000,training images 1000", bySize[0]);
        Assert.Equal(2, bySize.Length);
        Assert.True(File.Exists(Path.Combine(report.Directory, "figures", "sweep-train-size-test-accuracy.svg")));
    }

    [Fact]
    public void GalleryShowsEachRunsMisclassifiedImagesWithConfidence()
    {
        foreach (var run in report.Data.Runs)
        {
            int start = report.Html.IndexOf($"id=\"gallery-{run.Name}\"", StringComparison.Ordinal);
            string gallery = report.Html[start..];
            int next = gallery.IndexOf("<h3>", StringComparison.Ordinal);
            if (next > 0) gallery = gallery[..next];
            int expected = Math.Min(ReportBuilder.GalleryLimit, run.Log.Test!.Misclassified.Count);
            Assert.Equal(expected, gallery.Split("class=\"item\"").Length - 1);
            var top = run.Log.Test.Misclassified.MaxBy(m => m.Confidence)!;
            Assert.Contains($"{top.True} → {top.Predicted}", gallery);
            Assert.Contains((top.Confidence * 100).ToString("F1", Ci) + "%", gallery);
        }
    }

    [Fact]
    public void NaNLossesAreLeftOutOfCurvesAndNamed()
    {
        var labels = Enumerable.Range(0, 50).Select(i => (byte)(i % 10)).ToArray();
        var diverged = SyntheticRuns.Run("mlp", 0.1, 3, labels, 1);
        diverged.Epochs[2] = diverged.Epochs[2] with { TrainLoss = double.NaN };
        string dir = Path.Combine(Path.GetTempPath(), "digitlab-report-nan-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var (index, _) = ReportBuilder.Write(new ReportData { Runs = [new RunEntry("diverged", diverged)] }, dir);
            Assert.Contains("Non-finite values (a diverged run) are left out of the curves for: diverged", File.ReadAllText(index));
            Assert.Contains("NaN", File.ReadAllText(Path.Combine(dir, "data", "epochs.csv")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void LoadDirectoryReadsRunLogsAndTrialsAndSkipsOtherFiles()
    {
        string dir = Path.Combine(Path.GetTempPath(), "digitlab-runs-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var labels = Enumerable.Range(0, 50).Select(i => (byte)(i % 10)).ToArray();
            var log = SyntheticRuns.Run("lenet5", 0.98, 2, labels, 3);
            File.WriteAllText(Path.Combine(dir, "lenet5.json"), JsonSerializer.Serialize(log, DigitLabJson.Options));
            var trial = new SweepTrialResult { Trial = new SweepTrial("mlp", 0.01, 64, 1000, 2, 1), Run = log };
            File.WriteAllText(Path.Combine(dir, SweepRunner.TrialPath(dir, trial.Trial)), JsonSerializer.Serialize(trial, DigitLabJson.Options));
            File.WriteAllText(Path.Combine(dir, "notes.json"), "{\"hello\": 1}");
            File.WriteAllText(Path.Combine(dir, "broken.json"), "{");
            var skipped = new List<string>();
            var (runs, trials) = ReportJson.LoadDirectory(dir, skipped);
            Assert.Equal("lenet5", Assert.Single(runs).Name);
            Assert.Equal(log.Test!.Accuracy, runs[0].Log.Test!.Accuracy);
            Assert.Equal(trial.Trial, Assert.Single(trials).Trial);
            Assert.Equal(2, skipped.Count);
        }
        finally { Directory.Delete(dir, true); }
    }
}
