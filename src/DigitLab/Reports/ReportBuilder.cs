// ReportBuilder: turns ReportData (runs, summaries, images, t-SNE maps, sweeps) into the report's sections, figures and tables.
using System.Globalization;
using System.Net;
using System.Text;
using DigitLab.Models;
using DigitLab.Training;
using DigitLab.Experiments;
using DigitLab.Evaluation;
using DigitLab.Data;
using DigitLab.IO;

namespace DigitLab.Reports;

/// <summary>
/// Writes the whole report into a folder: index.html, figures/*.svg (and *.png for image grids when a PNG
/// encoder is given), data/*.csv and data/*.json. Sections without data (no images, no sweep...) are left out.
/// </summary>
public static class ReportBuilder
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;
    private static readonly string[] Digits = Enumerable.Range(0, 10).Select(d => d.ToString(Ci)).ToArray();

    /// <summary>How many misclassified images per model the gallery shows.</summary>
    public const int GalleryLimit = 120;

    /// <summary>Writes the report for <paramref name="data"/> into <paramref name="outputDirectory"/>; returns the HTML path and the files written.</summary>
    public static (string IndexPath, IReadOnlyList<string> Files) Write(ReportData data, string outputDirectory)
    {
        var report = new HtmlReport(outputDirectory, data.Title);
        report.Notes.AddRange(data.Notes);
        var runs = data.Runs;
        var colors = runs.Select((r, i) => (r.Name, Color: Palette.Series(i))).ToDictionary(x => x.Name, x => x.Color);

        if (runs.Count > 0)
        {
            Comparison(report.Section("comparison", "Comparison"), runs, colors);
            LearningCurves(report.Section("curves", "Learning curves"), runs, colors);
            if (data.Summaries.Count > 0) Summaries(report.Section("models", "Model summaries"), runs, data.Summaries);
            var evaluated = runs.Where(r => r.Log.Test is { Confusion.Length: 10 }).ToList();
            if (evaluated.Count > 0)
            {
                Confusions(report.Section("confusion", "Confusion matrices"), evaluated);
                PerClass(report.Section("per-class", "Per-class metrics"), evaluated, colors);
                Misclassified(report.Section("errors", "Misclassified test images"), evaluated, data);
            }
        }
        if (data.TsneMaps.Count > 0) Tsne(report.Section("tsne", "t-SNE maps"), data.TsneMaps);
        if (data.Sweep.Count > 0) Sweep(report.Section("sweeps", "Sweeps"), data.Sweep);
        if (data.Train is not null || data.Test is not null) Dataset(report.Section("dataset", "Dataset"), data);
        if (runs.Count == 0 && data.Sweep.Count == 0)
            report.Section("empty", "No runs").Paragraph("No run logs were found. Train with `digitlab compare --out DIR` or `digitlab sweep --out DIR`, then run `digitlab report --runs DIR`.");

        string index = report.Write();
        return (index, report.Files);
    }

    /// <summary>Ids for files and anchors: letters, digits, '-' only.</summary>
    public static string Slug(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name.ToLowerInvariant()) sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        return sb.ToString().Trim('-') is { Length: > 0 } s ? s : "run";
    }

    private static EpochRecord? Last(RunLog log) => log.Epochs.Count > 0 ? log.Epochs[^1] : null;

    // ---- Comparison ----

    private static void Comparison(HtmlSection section, List<RunEntry> runs, Dictionary<string, string> colors)
    {
        var table = new ReportTable("comparison", "Models compared",
            new("run"), new("model"), new("parameters", ColumnFormat.Integer), new("epochs", ColumnFormat.Integer),
            new("train acc", ColumnFormat.Percent), new("val acc", ColumnFormat.Percent), new("test acc", ColumnFormat.Percent),
            new("macro F1", ColumnFormat.Fixed4), new("test loss", ColumnFormat.Fixed4), new("test errors", ColumnFormat.Integer),
            new("train time", ColumnFormat.Seconds));
        foreach (var r in runs)
        {
            var last = Last(r.Log);
            var test = r.Log.Test;
            table.Add(r.Name, r.Log.Model, r.Log.Parameters, r.Log.Epochs.Count, last?.TrainAccuracy, last?.ValidationAccuracy,
                test?.Accuracy, test?.Macro.F1, test?.Loss, test is null ? null : (int)Math.Round(test.Count * (1 - test.Accuracy)), r.Log.TrainSeconds);
        }
        section.Table(table, showTitle: false);
        section.Paragraph("Train and validation accuracy are from the last epoch; test figures from the evaluation after training. Click a column header to sort.");

        var names = runs.Select(r => r.Name).ToList();
        section.BeginRow();
        var accuracies = runs.Where(r => r.Log.Test is not null).ToList();
        if (accuracies.Count > 0)
        {
            double lowest = accuracies.Min(r => r.Log.Test!.Accuracy);
            section.Figure("test-accuracy", new BarChart
            {
                Title = "Test accuracy",
                YLabel = "accuracy",
                Categories = accuracies.Select(r => r.Name).ToList(),
                Series = [new BarSeries("test accuracy", accuracies.Select(r => r.Log.Test!.Accuracy).ToList(), null)],
                YMin = ZoomFloor(lowest), YMax = 1,
                ValueLabels = true, ValueFormat = "0.00%",
                Width = 400, Height = 320,
                CategoryColors = accuracies.Select(r => colors[r.Name]).ToList(),
            }.ToSvg(), "Zoomed axis: the differences between good models live in the last few percent.");
        }
        section.Figure("train-time", new BarChart
        {
            Title = "Training time",
            YLabel = "seconds",
            Categories = names,
            Series = [new BarSeries("seconds", runs.Select(r => r.Log.TrainSeconds).ToList())],
            ValueLabels = true, ValueFormat = "N0",
            Width = 400, Height = 320,
            CategoryColors = runs.Select(r => colors[r.Name]).ToList(),
        }.ToSvg());
        section.Figure("parameters", new BarChart
        {
            Title = "Parameters",
            YLabel = "trainable parameters",
            Categories = names,
            Series = [new BarSeries("parameters", runs.Select(r => (double)r.Log.Parameters).ToList())],
            LogY = runs.All(r => r.Log.Parameters > 0),
            ValueLabels = true, ValueFormat = "N0",
            Width = 400, Height = 320,
            CategoryColors = runs.Select(r => colors[r.Name]).ToList(),
        }.ToSvg());
        section.EndRow();
    }

    /// <summary>A zoomed axis floor: a round value a little below <paramref name="lowest"/> (0.95 for 0.962), never below 0.</summary>
    public static double ZoomFloor(double lowest)
    {
        if (!(lowest < 1)) return 0.9;
        double gap = 1 - lowest;
        double step = Scale.NiceStep(gap / 4);
        return Math.Max(0, Math.Floor((lowest - step * 0.5) / step) * step);
    }

    // ---- Learning curves ----

    private static void LearningCurves(HtmlSection section, List<RunEntry> runs, Dictionary<string, string> colors)
    {
        var curves = new ReportTable("epochs", "Per-epoch figures",
            new("run"), new("epoch", ColumnFormat.Integer), new("train loss", ColumnFormat.Fixed4), new("train acc", ColumnFormat.Percent),
            new("val loss", ColumnFormat.Fixed4), new("val acc", ColumnFormat.Percent), new("lr", ColumnFormat.Scientific), new("seconds", ColumnFormat.Seconds));
        foreach (var r in runs)
            foreach (var e in r.Log.Epochs)
                curves.Add(r.Name, e.Epoch, e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy, e.LearningRate, e.Seconds);

        var diverged = new List<string>();
        Series Line(RunEntry r, Func<EpochRecord, double?> pick, bool dashed = false)
        {
            var points = r.Log.Epochs.Select(e => (X: (double)e.Epoch, Y: pick(e))).Where(p => p.Y is double v && double.IsFinite(v)).ToList();
            if (points.Count < r.Log.Epochs.Count(e => pick(e) is not null) && !diverged.Contains(r.Name)) diverged.Add(r.Name);
            return new Series(r.Name, points.Select(p => p.X).ToList(), points.Select(p => p.Y!.Value).ToList(), colors[r.Name], dashed);
        }

        section.BeginRow();
        AddLines(section, "curve-train-loss", "Training loss", "epoch", "cross-entropy loss", runs.Select(r => Line(r, e => e.TrainLoss)));
        AddLines(section, "curve-val-loss", "Validation loss", "epoch", "cross-entropy loss", runs.Select(r => Line(r, e => e.ValidationLoss)));
        AddLines(section, "curve-train-acc", "Training accuracy", "epoch", "accuracy", runs.Select(r => Line(r, e => e.TrainAccuracy)));
        AddLines(section, "curve-val-acc", "Validation accuracy", "epoch", "accuracy", runs.Select(r => Line(r, e => e.ValidationAccuracy)));
        var batchSeries = runs.Where(r => r.Log.BatchLosses.Count > 0).Select(r =>
        {
            var pts = r.Log.BatchLosses.Select((l, i) => (X: (double)(i + 1) * r.Log.BatchLossInterval, Y: l)).Where(p => double.IsFinite(p.Y)).ToList();
            return new Series(r.Name, pts.Select(p => p.X).ToList(), pts.Select(p => p.Y).ToList(), colors[r.Name], Markers: false);
        });
        AddLines(section, "curve-batch-loss", "Training loss per block of batches", "batch", "mean loss over the block", batchSeries);
        section.EndRow();
        if (diverged.Count > 0)
            section.Paragraph($"Non-finite values (a diverged run) are left out of the curves for: {string.Join(", ", diverged)}.");
        section.Raw("<details><summary>Per-epoch table</summary>").Table(curves, showTitle: false).Raw("</details>");
    }

    private static void AddLines(HtmlSection section, string id, string title, string x, string y, IEnumerable<Series> series)
    {
        var list = series.Where(s => s.X.Count > 0).ToList();
        if (list.Count == 0) return;
        section.Figure(id, new LineChart { Title = title, XLabel = x, YLabel = y, Series = list, Width = 560, Height = 340 }.ToSvg());
    }

    // ---- Model summaries ----

    private static void Summaries(HtmlSection section, List<RunEntry> runs, Dictionary<string, IReadOnlyList<SummaryRow>> summaries)
    {
        section.Raw("<div class=\"tables\">");
        foreach (var run in runs)
        {
            if (!summaries.TryGetValue(run.Name, out var rows)) continue;
            var table = new ReportTable($"summary-{Slug(run.Name)}", $"{run.Name}: {rows.Sum(r => r.Parameters).ToString("N0", Ci)} parameters",
                new("layer"), new("type"), new("output shape"), new("parameters", ColumnFormat.Integer));
            foreach (var r in rows) table.Add(new string('\u00a0', 3 * r.Depth) + r.Name, r.Type, "[-1, " + string.Join(", ", r.OutputShape.Skip(1)) + "]", r.Parameters);
            section.Table(table);
        }
        section.Raw("</div>");
    }

    // ---- Confusion matrices ----

    private static void Confusions(HtmlSection section, List<RunEntry> runs)
    {
        section.Paragraph("Rows are the true digit, columns the predicted one. Left: counts; right: each row divided by its total (recall on the diagonal).");
        foreach (var r in runs)
        {
            var c = r.Log.Test!.Confusion;
            var counts = c.Select(row => (IReadOnlyList<double>)row.Select(v => (double)v).ToList()).ToList();
            var normalised = c.Select(row =>
            {
                double total = row.Sum();
                return (IReadOnlyList<double>)row.Select(v => total > 0 ? v / total : 0).ToList();
            }).ToList();
            section.Heading(r.Name);
            section.BeginRow();
            // Counts: the diagonal dwarfs everything, so the colour scale is the log of the count to keep errors visible.
            section.Figure($"confusion-{Slug(r.Name)}", new Heatmap
            {
                Title = $"{r.Name}: confusion counts", XLabel = "predicted", YLabel = "true",
                RowLabels = Digits, ColumnLabels = Digits, Values = counts, CellFormat = "N0", ScaleLabel = "count (log colour scale)", CellSize = 40, LogColor = true,
            }.ToSvg());
            section.Figure($"confusion-normalised-{Slug(r.Name)}", new Heatmap
            {
                Title = $"{r.Name}: row-normalised", XLabel = "predicted", YLabel = "true",
                RowLabels = Digits, ColumnLabels = Digits, Values = normalised, CellFormat = "F2", ColorMin = 0, ColorMax = 1,
                ScaleLabel = "fraction of the true digit", CellSize = 40,
            }.ToSvg());
            section.EndRow();
            var table = new ReportTable($"confusion-{Slug(r.Name)}", $"{r.Name}: confusion matrix (rows true, columns predicted)",
                [new ReportColumn("true"), .. Digits.Select(d => new ReportColumn(d, ColumnFormat.Integer))]);
            for (int t = 0; t < 10; t++) table.Add([Digits[t], .. c[t].Cast<object?>()]);
            section.Raw("<details><summary>Table</summary>").Table(table, showTitle: false).Raw("</details>");
        }
    }

    // ---- Per-class metrics ----

    private static void PerClass(HtmlSection section, List<RunEntry> runs, Dictionary<string, string> colors)
    {
        var series = runs.Select(r => new BarSeries(r.Name, Enumerable.Range(0, 10).Select(d => F1Of(r, d)).ToList(), colors[r.Name])).ToList();
        double lowest = series.SelectMany(s => s.Values).Min();
        section.Figure("per-class-f1", new BarChart
        {
            Title = "F1 per digit",
            XLabel = "digit", YLabel = "F1 score",
            Categories = Digits, Series = series,
            YMin = ZoomFloor(lowest), YMax = 1,
            Width = Math.Max(720, 180 + 10 * (runs.Count * 14 + 14)), Height = 380,
        }.ToSvg(), "Zoomed axis. Hover a bar for its value; ▼ marks a bar below the axis.");

        var all = new ReportTable("per-class", "Per-class precision, recall, F1 (all runs)",
            new("run"), new("class"), new("precision", ColumnFormat.Fixed4), new("recall", ColumnFormat.Fixed4), new("F1", ColumnFormat.Fixed4), new("support", ColumnFormat.Integer));
        section.Raw("<div class=\"tables\">");
        foreach (var r in runs)
        {
            var t = r.Log.Test!;
            var table = new ReportTable($"classification-{Slug(r.Name)}", $"{r.Name}: classification report",
                new("class"), new("precision", ColumnFormat.Fixed4), new("recall", ColumnFormat.Fixed4), new("F1", ColumnFormat.Fixed4), new("support", ColumnFormat.Integer));
            foreach (var m in t.PerClass.OrderBy(m => m.Class))
            {
                table.Add(m.Class.ToString(Ci), m.Precision, m.Recall, m.F1, m.Support);
                all.Add(r.Name, m.Class.ToString(Ci), m.Precision, m.Recall, m.F1, m.Support);
            }
            int support = t.PerClass.Sum(m => m.Support);
            table.Add("accuracy", null, null, t.Accuracy, support);
            table.Add("macro avg", t.Macro.Precision, t.Macro.Recall, t.Macro.F1, support);
            table.Add("weighted avg", t.Weighted.Precision, t.Weighted.Recall, t.Weighted.F1, support);
            section.Table(table);
        }
        section.Raw("</div>");
        section.Raw("<details><summary>All runs in one table</summary>").Table(all, showTitle: false).Raw("</details>");
    }

    private static double F1Of(RunEntry r, int digit) => r.Log.Test!.PerClass.FirstOrDefault(m => m.Class == digit)?.F1 ?? 0;

    // ---- Misclassified ----

    private static void Misclassified(HtmlSection section, List<RunEntry> runs, ReportData data)
    {
        var pairs = new ReportTable("confused-pairs", "Most confused pairs (test set counts)",
            [new ReportColumn("true → predicted"), .. runs.Select(r => new ReportColumn(r.Name, ColumnFormat.Integer)), new ReportColumn("total", ColumnFormat.Integer)]);
        var totals = new List<(int T, int P, int Total)>();
        for (int t = 0; t < 10; t++)
            for (int p = 0; p < 10; p++)
                if (t != p) totals.Add((t, p, runs.Sum(r => r.Log.Test!.Confusion[t][p])));
        foreach (var (t, p, total) in totals.Where(x => x.Total > 0).OrderByDescending(x => x.Total).ThenBy(x => x.T).ThenBy(x => x.P).Take(15))
            pairs.Add([$"{t} → {p}", .. runs.Select(r => (object?)r.Log.Test!.Confusion[t][p]), total]);
        section.Table(pairs);

        var list = new ReportTable("misclassified", "Misclassified test images (all runs)",
            new("run"), new("index", ColumnFormat.Integer), new("true"), new("predicted"), new("confidence", ColumnFormat.Fixed4));
        foreach (var r in runs)
            foreach (var m in r.Log.Test!.Misclassified)
                list.Add(r.Name, m.Index, m.True.ToString(Ci), m.Predicted.ToString(Ci), m.Confidence);

        if (data.Test is null)
        {
            section.Paragraph("Test images were not available, so the gallery is left out; the list is in data/misclassified.csv.");
            return;
        }
        section.Paragraph($"Each card: true → predicted digit and the model's probability for its prediction. Up to {GalleryLimit} per model, most confident mistakes first.");
        section.Raw("<p><button onclick=\"document.querySelectorAll('.gallery').forEach(g => sortGallery(g.id, 'confidence', true))\">Most confident first</button>"
            + "<button onclick=\"document.querySelectorAll('.gallery').forEach(g => sortGallery(g.id, 'confidence', false))\">Least confident first</button>"
            + "<button onclick=\"document.querySelectorAll('.gallery').forEach(g => sortGallery(g.id, 'digit', false))\">By true digit</button></p>");
        bool anyMaps = data.PngEncoder is not null && data.MistakeMaps.Values.Any(m => m.Count > 0);
        if (anyMaps)
            section.Paragraph($"Under each image, what the model looked at ({data.MistakeMapMethod ?? "saliency"}): left, the evidence for the digit it predicted; right, for the true digit. Red pixels raised that digit's score, blue ones lowered it.");
        foreach (var r in runs)
        {
            var shown = GalleryOf(r, data.Test);
            var maps = data.MistakeMaps.GetValueOrDefault(r.Name);
            section.Heading($"{r.Name}: {r.Log.Test!.Misclassified.Count} misclassified");
            var sb = new StringBuilder($"<div class=\"gallery\" id=\"gallery-{Slug(r.Name)}\">");
            foreach (var m in shown)
            {
                string conf = (m.Confidence * 100).ToString("F1", Ci) + "%";
                sb.Append($"<div class=\"item\" data-confidence=\"{m.Confidence.ToString("R", Ci)}\" data-digit=\"{m.True * 100000 + m.Index}\" title=\"test image #{m.Index}\">");
                sb.Append(ImageHtml(data.Test.Image(m.Index).ToArray(), data.Test.Width, data.Test.Height, data.PngEncoder, $"true {m.True}, predicted {m.Predicted}"));
                sb.Append($"<div class=\"pair\">{m.True} → {m.Predicted}</div><div class=\"conf\">{conf}</div>");
                if (data.PngEncoder is not null && maps is not null && maps.TryGetValue(m.Index, out var map))
                    sb.Append("<div class=\"maps\">")
                      .Append(OverlayHtml(data.Test.Image(m.Index), map.ForPredicted, $"evidence for {m.Predicted} (predicted)"))
                      .Append(OverlayHtml(data.Test.Image(m.Index), map.ForTrue, $"evidence for {m.True} (true)"))
                      .Append($"</div><div class=\"conf\">for {m.Predicted} | for {m.True}</div>");
                sb.Append("</div>");
            }
            sb.Append("</div>");
            section.Raw(sb.ToString());
            if (shown.Count > 0)
            {
                var grid = new ImageGrid
                {
                    Title = $"{r.Name}: most confident mistakes",
                    Images = shown.Take(40).Select(m => new GridImage(data.Test.Image(m.Index).ToArray(), $"{m.True}→{m.Predicted} {m.Confidence:P0}")).ToList(),
                    Columns = 10, PngEncoder = data.PngEncoder,
                };
                WriteGridFiles(section, $"misclassified-{Slug(r.Name)}", grid, data.PngEncoder, show: false);
            }
        }
        section.Raw("<details><summary>Every misclassified image (table)</summary>").Table(list, showTitle: false).Raw("</details>");
    }

    /// <summary>
    /// The images a run's gallery shows: its misclassified test images, most confident mistakes first, at most
    /// <see cref="GalleryLimit"/> (the report pipeline explains exactly these).
    /// </summary>
    public static List<Misclassified> GalleryOf(RunEntry run, MnistDataset test) =>
        (run.Log.Test?.Misclassified ?? []).Where(m => m.Index >= 0 && m.Index < test.Count)
            .OrderByDescending(m => m.Confidence).ThenBy(m => m.Index).Take(GalleryLimit).ToList();

    /// <summary>A saliency overlay of one 28×28 image as an inline RGB PNG (2× zoom, titled).</summary>
    private static string OverlayHtml(ReadOnlySpan<byte> image, float[] map, string title)
    {
        var pixels = new float[image.Length];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = image[i] / 255f;
        var (rgb, w, h) = SaliencyOverlay.Render(pixels, map, zoom: 2);
        string t = WebUtility.HtmlEncode(title);
        return $"<img alt=\"{t}\" title=\"{t}\" src=\"data:image/png;base64,{Convert.ToBase64String(PngWriter.Encode(w, h, 3, rgb))}\">";
    }

    /// <summary>A small inline image: a PNG &lt;img&gt; when an encoder is available, else an SVG of rectangles.</summary>
    private static string ImageHtml(byte[] pixels, int width, int height, Func<byte[], int, int, byte[]>? png, string alt)
    {
        if (png is not null)
        {
            var inverted = pixels.Select(p => (byte)(255 - p)).ToArray();
            return $"<img alt=\"{WebUtility.HtmlEncode(alt)}\" src=\"data:image/png;base64,{Convert.ToBase64String(png(inverted, width, height))}\">";
        }
        var grid = new ImageGrid { Images = [new GridImage(pixels)], Columns = 1, ImageWidth = width, ImageHeight = height, Zoom = 2 };
        return grid.ToSvg();
    }

    /// <summary>Writes an image grid as figures/ID.svg (shown in the page when <paramref name="show"/>) and, with an encoder, figures/ID.png.</summary>
    private static void WriteGridFiles(HtmlSection section, string id, ImageGrid grid, Func<byte[], int, int, byte[]>? png, bool show, string? caption = null)
    {
        string svg = grid.ToSvg();
        if (show) section.Figure(id, svg, caption);
        else section.Asset(Path.Combine("figures", id + ".svg"), Encoding.UTF8.GetBytes(svg));
        if (png is null) return;
        var (pixels, w, h) = ComposeGrid(grid.Images.Select(i => i.Pixels).ToList(), grid.ImageWidth, grid.ImageHeight, grid.Columns, 2);
        section.Asset(Path.Combine("figures", id + ".png"), png(pixels, w, h));
    }

    /// <summary>Lays images out in a grid as one greyscale picture (dark digits on white, 1-pixel gaps), each pixel scaled by <paramref name="zoom"/>.</summary>
    public static (byte[] Pixels, int Width, int Height) ComposeGrid(IReadOnlyList<byte[]> images, int width, int height, int columns, int zoom)
    {
        int rows = (images.Count + columns - 1) / columns, gap = 2;
        int w = columns * (width * zoom + gap) + gap, h = rows * (height * zoom + gap) + gap;
        var canvas = new byte[w * h];
        Array.Fill(canvas, (byte)255);
        for (int i = 0; i < images.Count; i++)
        {
            int ox = gap + (i % columns) * (width * zoom + gap), oy = gap + (i / columns) * (height * zoom + gap);
            for (int y = 0; y < height * zoom; y++)
                for (int x = 0; x < width * zoom; x++)
                    canvas[(oy + y) * w + ox + x] = (byte)(255 - images[i][(y / zoom) * width + x / zoom]);
        }
        return (canvas, w, h);
    }

    // ---- t-SNE ----

    private static void Tsne(HtmlSection section, List<TsneMap> maps)
    {
        section.Paragraph("Test images embedded in 2-D by t-SNE (perplexity 30; exact up to 500 points, Barnes-Hut θ = 0.5 above), coloured by their true digit. Distances between clusters are not meaningful; clusters and their overlaps are.");
        var table = new ReportTable("tsne", "t-SNE runs", new("map"), new("space"), new("points", ColumnFormat.Integer), new("KL divergence", ColumnFormat.Fixed4), new("seconds", ColumnFormat.Seconds));
        section.BeginRow();
        foreach (var m in maps)
        {
            table.Add(m.Title, m.Space, m.Count, m.KlDivergence, m.Seconds);
            section.Figure($"tsne-{Slug(m.Id)}", new ScatterPlot
            {
                Title = m.Title,
                X = Enumerable.Range(0, m.Count).Select(i => m.Y[2 * i]).ToList(),
                Y = Enumerable.Range(0, m.Count).Select(i => m.Y[2 * i + 1]).ToList(),
                Classes = m.Labels, ShowAxes = false, Width = 600, Height = 540,
            }.ToSvg(), $"{m.Space}, {m.Count.ToString("N0", Ci)} points, KL = {m.KlDivergence.ToString("F3", Ci)}, {m.Seconds.ToString("F0", Ci)} s");
            var coords = new ReportTable($"tsne-{Slug(m.Id)}", m.Title, new("x", ColumnFormat.Fixed4), new("y", ColumnFormat.Fixed4), new("label"));
            for (int i = 0; i < m.Count; i++) coords.Add(m.Y[2 * i], m.Y[2 * i + 1], m.Labels[i].ToString(Ci));
            section.Asset(Path.Combine("data", coords.Id + ".csv"), Encoding.UTF8.GetBytes(coords.ToCsv()));
            section.Asset(Path.Combine("data", coords.Id + ".json"), Encoding.UTF8.GetBytes(coords.ToJson()));
        }
        section.EndRow();
        section.Table(table);
    }

    // ---- Sweeps ----

    private static void Sweep(HtmlSection section, List<SweepTrialResult> trials)
    {
        section.Table(SweepTable.Create(trials));
        var models = trials.Select(t => t.Trial.Model).Distinct().ToList();
        var dimensions = new (string Id, string Name, Func<SweepTrial, double?> Value, bool Log)[]
        {
            ("lr", "learning rate", t => t.LearningRate, true),
            ("batch-size", "batch size", t => t.BatchSize, true),
            ("train-size", "training images", t => t.TrainSize ?? 60000, true),
        };
        foreach (var (id, name, value, log) in dimensions)
        {
            // A dimension is swept when, for some fixed setting of the others, it takes more than one value.
            var groups = trials.GroupBy(t => (t.Trial.Model, Other: OtherSettings(t.Trial, id))).Where(g => g.Select(t => value(t.Trial)).Distinct().Count() > 1).ToList();
            if (groups.Count == 0) continue;
            section.Heading($"Accuracy against {name}");
            // Pivot: one row per model (and other settings), one column per value — the studies' layout.
            var values = groups.SelectMany(g => g.Select(t => value(t.Trial)!.Value)).Distinct().OrderByDescending(v => v).ToList();
            var pivot = new ReportTable($"sweep-{id}-test", $"Test accuracy by {name}",
                [new ReportColumn("model"), new ReportColumn("other settings"), .. values.Select(v => new ReportColumn($"{name} {FormatValue(v)}", ColumnFormat.Percent))]);
            foreach (var g in groups)
                pivot.Add([g.Key.Model, g.Key.Other, .. values.Select(v => (object?)g.FirstOrDefault(t => value(t.Trial) == v)?.Run.Test?.Accuracy)]);
            section.Table(pivot, showTitle: true);

            section.BeginRow();
            foreach (var (metric, pick) in new (string, Func<SweepTrialResult, double?>)[]
                     {
                         ("test accuracy", t => t.Run.Test?.Accuracy),
                         ("train accuracy", t => t.Run.Epochs.LastOrDefault()?.TrainAccuracy),
                         ("validation accuracy", t => t.Run.Epochs.LastOrDefault()?.ValidationAccuracy),
                     })
            {
                var series = groups.Select(g =>
                {
                    var pts = g.Select(t => (X: value(t.Trial)!.Value, Y: pick(t))).Where(p => p.Y is double y && double.IsFinite(y)).OrderBy(p => p.X).ToList();
                    string label = groups.Select(x => x.Key.Model).Distinct().Count() == groups.Count ? g.Key.Model : $"{g.Key.Model} ({g.Key.Other})";
                    // One colour per model; a model's further settings (another batch size...) are dashed.
                    bool firstOfModel = groups.First(x => x.Key.Model == g.Key.Model) == g;
                    return new Series(label, pts.Select(p => p.X).ToList(), pts.Select(p => p.Y!.Value).ToList(), Palette.Series(models.IndexOf(g.Key.Model)), Dashed: !firstOfModel);
                }).Where(s => s.X.Count > 0).ToList();
                if (series.Count == 0) continue;
                section.Figure($"sweep-{id}-{Slug(metric)}", new LineChart
                {
                    Title = $"{char.ToUpperInvariant(metric[0])}{metric[1..]} against {name}", XLabel = name + (log ? " (log scale)" : ""), YLabel = "accuracy",
                    Series = series, LogX = log, XTicks = values, Width = 560, Height = 340,
                }.ToSvg());
            }
            section.EndRow();
        }
    }

    private static string OtherSettings(SweepTrial t, string exclude)
    {
        var parts = new List<string>();
        if (exclude != "lr") parts.Add($"lr {FormatValue(t.LearningRate)}");
        if (exclude != "batch-size") parts.Add($"batch {t.BatchSize}");
        if (exclude != "train-size") parts.Add($"n {(t.TrainSize?.ToString(Ci) ?? "all")}");
        parts.Add($"{t.Epochs} epochs");
        // Settings that usually stay at their defaults are named only when they differ, so such trials never share a line.
        if (t.Optimizer != "adam") parts.Add(t.Optimizer);
        if (t.ValidationCount != SweepTrial.DefaultValidationCount) parts.Add($"val {t.ValidationCount.ToString(Ci)}");
        if (t.Dataset != SweepTrial.DefaultDataset) parts.Add(t.Dataset);
        return string.Join(", ", parts);
    }

    private static string FormatValue(double v) => v.ToString(v < 0.01 ? "0.####" : "G6", Ci);

    // ---- Dataset ----

    private static void Dataset(HtmlSection section, ReportData data)
    {
        var sets = new[] { data.Train, data.Test }.Where(s => s is not null).Select(s => s!).ToList();
        var counts = new ReportTable("class-counts", "Images per digit", [new ReportColumn("digit"), .. sets.Select(s => new ReportColumn(s.Name, ColumnFormat.Integer))]);
        var perSet = sets.Select(s => { var c = new int[10]; for (int i = 0; i < s.Count; i++) if (s.Labels[i] < 10) c[s.Labels[i]]++; return c; }).ToList();
        for (int d = 0; d < 10; d++) counts.Add([Digits[d], .. perSet.Select(c => (object?)c[d])]);

        var stats = new ReportTable("pixel-stats", "Pixel statistics (intensities scaled to [0, 1])",
            new("set"), new("images", ColumnFormat.Integer), new("mean", ColumnFormat.Fixed4), new("std", ColumnFormat.Fixed4), new("ink fraction", ColumnFormat.Percent));
        foreach (var s in sets)
        {
            double sum = 0, sumSq = 0; long ink = 0, total = (long)s.Count * s.PixelsPerImage;
            for (long i = 0; i < total; i++) { double v = s.Images[i] / 255.0; sum += v; sumSq += v * v; if (s.Images[i] > 0) ink++; }
            double mean = sum / total;
            stats.Add(s.Name, s.Count, mean, Math.Sqrt(Math.Max(0, sumSq / total - mean * mean)), (double)ink / total);
        }

        var source = data.Train ?? data.Test!;
        section.BeginRow();
        section.Figure("class-counts", new BarChart
        {
            Title = "Images per digit", XLabel = "digit", YLabel = "images", Categories = Digits,
            Series = sets.Select((s, i) => new BarSeries(s.Name, perSet[i].Select(v => (double)v).ToList())).ToList(),
            Width = 560, Height = 340,
        }.ToSvg());
        section.Raw("<div class=\"tables\">").Table(counts).Table(stats).Raw("</div>");
        section.EndRow();

        // Samples: the first ten images of each digit, one row per digit.
        var samples = new List<GridImage>();
        for (int d = 0; d < 10; d++)
        {
            var picks = Enumerable.Range(0, source.Count).Where(i => source.Labels[i] == d).Take(10).ToList();
            samples.AddRange(picks.Select(i => new GridImage(source.Image(i).ToArray(), Tooltip: $"{source.Name} #{i}, digit {d}")));
            for (int k = picks.Count; k < 10; k++) samples.Add(new GridImage(new byte[source.PixelsPerImage]));
        }
        // Mean image per digit: the "average" way each digit is written.
        var means = new List<GridImage>();
        for (int d = 0; d < 10; d++)
        {
            var acc = new double[source.PixelsPerImage]; int n = 0;
            for (int i = 0; i < source.Count; i++)
                if (source.Labels[i] == d) { n++; for (int p = 0; p < acc.Length; p++) acc[p] += source.Images[i * source.PixelsPerImage + p]; }
            means.Add(new GridImage(acc.Select(v => (byte)Math.Round(n == 0 ? 0 : v / n)).ToArray(), Digits[d]));
        }
        section.BeginRow();
        WriteGridFiles(section, "samples", new ImageGrid
        {
            Title = $"Samples per digit ({source.Name})", Images = samples, Columns = 10, RowLabels = Digits,
            ImageWidth = source.Width, ImageHeight = source.Height, PngEncoder = data.PngEncoder,
        }, data.PngEncoder, show: true);
        WriteGridFiles(section, "mean-digits", new ImageGrid
        {
            Title = $"Mean image per digit ({source.Name})", Images = means, Columns = 5, Zoom = 3,
            ImageWidth = source.Width, ImageHeight = source.Height, PngEncoder = data.PngEncoder,
        }, data.PngEncoder, show: true);
        section.EndRow();
    }
}
