// ReportPipeline: from folders of run logs (+ the dataset) to a written report: loads runs, computes t-SNE maps, writes files.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using DigitLab.Models;
using DigitLab.Data;
using DigitLab.Tensors;
using DigitLab.IO;
using DigitLab.Experiments;
using DigitLab.Evaluation;

using DigitLab.Runtime;

namespace DigitLab.Reports;

/// <summary>What `digitlab report` was asked for.</summary>
public sealed record ReportOptions
{
    /// <summary>Folders holding run logs (compare) and sweep trial files (sweep); read non-recursively.</summary>
    public IReadOnlyList<string> RunDirectories { get; init; } = [];
    public string OutputDirectory { get; init; } = "report";
    /// <summary>Sizes of the t-SNE maps (test images); empty for none.</summary>
    public IReadOnlyList<int> TsnePoints { get; init; } = [1000, 10000];
    public int TsneIterations { get; init; } = 1000;
    /// <summary>Also map each model's penultimate-layer features (needs the run's checkpoint).</summary>
    public bool TsneFeatures { get; init; } = true;
    public ulong Seed { get; init; } = 1;
    public string Title { get; init; } = "DigitLab report";
}

/// <summary>
/// Feature extraction for t-SNE maps: given a run's name and log, returns (features n×d, d) for the given
/// test images (already normalised n×784 floats), or null when the run has no checkpoint. Supplied by the
/// caller because it needs the model zoo and checkpoints.
/// </summary>
public delegate (float[] Features, int Dimensions)? FeatureExtractor(RunEntry run, float[] pixels, int count);

public static class ReportPipeline
{
    /// <summary>Integrated-gradient steps for the gallery's maps: enough for the attributions to sum to the score difference within a few per cent, cheap as one batch.</summary>
    public const int MistakeMapSteps = 32;

    /// <summary>Builds the report data (t-SNE included) and writes the report. <paramref name="log"/> hears progress lines.</summary>
    public static (string IndexPath, IReadOnlyList<string> Files, ReportData Data) Run(
        ReportOptions options, ComputeContext compute, MnistDataset? train, MnistDataset? test,
        Func<RunEntry, IReadOnlyList<SummaryRow>?>? summarise = null, FeatureExtractor? features = null,
        Action<string>? log = null, CancellationToken cancellationToken = default, Func<RunEntry, ModelRunner?>? explainer = null)
    {
        var runs = new List<RunEntry>();
        var trials = new List<SweepTrialResult>();
        var skipped = new List<string>();
        foreach (var dir in options.RunDirectories)
        {
            var (r, t) = ReportJson.LoadDirectory(dir, skipped);
            foreach (var run in r)
            {
                // The same file stem in two folders: keep both, told apart by folder.
                string name = runs.Any(x => x.Name == run.Name) ? $"{Path.GetFileName(Path.GetFullPath(dir))}/{run.Name}" : run.Name;
                runs.Add(run with { Name = name });
            }
            trials.AddRange(t);
        }
        foreach (var s in skipped) log?.Invoke($"skipped {s}");
        log?.Invoke($"{runs.Count} run(s), {trials.Count} sweep trial(s) from {string.Join(", ", options.RunDirectories)}");

        var summaries = new Dictionary<string, IReadOnlyList<SummaryRow>>();
        if (summarise is not null)
            foreach (var run in runs)
            {
                var rows = summarise(run);
                if (rows is not null) summaries[run.Name] = rows;
            }

        var maps = new List<TsneMap>();
        if (test is not null)
            foreach (int requested in options.TsnePoints.Where(p => p > 0).Distinct())
            {
                int n = Math.Min(requested, test.Count);
                var indices = Subset(test.Count, n, options.Seed);
                var labels = indices.Select(i => (int)test.Labels[i]).ToArray();
                var pixels = new float[n * MnistDataset.Pixels];
                for (int k = 0; k < n; k++)
                {
                    var image = test.Image(indices[k]);
                    for (int p = 0; p < MnistDataset.Pixels; p++) pixels[k * MnistDataset.Pixels + p] = image[p] / 255f;
                }
                maps.Add(Map(compute, $"pixels-{n}", $"Pixels, {n:N0} test images", "raw pixel space (PCA to 50)", pixels, n, MnistDataset.Pixels, labels, options, log, cancellationToken));
                if (!options.TsneFeatures || features is null) continue;
                var normalised = pixels.Select(v => (v - Normalization.Mnist.Mean) / Normalization.Mnist.Std).ToArray();
                foreach (var run in runs)
                {
                    var f = features(run, normalised, n);
                    if (f is not { } feat) continue;
                    maps.Add(Map(compute, $"{run.Name}-{n}", $"{run.Name} features, {n:N0} test images", $"{run.Name} penultimate layer ({feat.Dimensions} features)",
                        feat.Features, n, feat.Dimensions, labels, options, log, cancellationToken));
                }
            }

        var mistakeMaps = new Dictionary<string, IReadOnlyDictionary<int, MistakeMaps>>();
        if (test is not null && explainer is not null)
            foreach (var run in runs.Where(r => r.Log.Test is { Misclassified.Count: > 0 }))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var runner = explainer(run);
                if (runner is null) continue;
                var sw = Stopwatch.StartNew();
                mistakeMaps[run.Name] = ExplainMistakes(runner, ReportBuilder.GalleryOf(run, test), test, cancellationToken);
                log?.Invoke($"{run.Name}: what the model looked at, {mistakeMaps[run.Name].Count} misclassified images ({sw.Elapsed.TotalSeconds:F1} s)");
            }

        var data = new ReportData
        {
            MistakeMaps = mistakeMaps,
            MistakeMapMethod = $"integrated gradients, {MistakeMapSteps} steps from a black image",
            Title = options.Title,
            Runs = runs,
            Summaries = summaries,
            Train = train,
            Test = test,
            TsneMaps = maps,
            Sweep = trials,
            PngEncoder = (pixels, w, h) => PngWriter.Encode(w, h, 1, pixels),
            Notes = [$"Runs from {string.Join(", ", options.RunDirectories.Select(Path.GetFullPath))}."],
        };
        var (index, files) = ReportBuilder.Write(data, options.OutputDirectory);
        return (index, files, data);
    }

    /// <summary>
    /// Integrated-gradient maps of each misclassified image for its predicted and its true class (the gallery draws them
    /// beside the image), keyed by test index.
    /// </summary>
    public static IReadOnlyDictionary<int, MistakeMaps> ExplainMistakes(ModelRunner runner, IReadOnlyList<Misclassified> mistakes, MnistDataset test,
        CancellationToken cancellationToken = default)
    {
        var maps = new Dictionary<int, MistakeMaps>();
        var black = new float[MnistDataset.Pixels];
        foreach (var m in mistakes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var image = new float[MnistDataset.Pixels];
            var bytes = test.Image(m.Index);
            for (int i = 0; i < image.Length; i++) image[i] = bytes[i] / 255f;
            maps[m.Index] = new MistakeMaps(
                Saliency.IntegratedGradients(runner, image, black, m.Predicted, MistakeMapSteps),
                Saliency.IntegratedGradients(runner, image, black, m.True, MistakeMapSteps));
        }
        return maps;
    }

    /// <summary><paramref name="n"/> distinct indices out of <paramref name="count"/>, seeded, in ascending order.</summary>
    public static int[] Subset(int count, int n, ulong seed)
    {
        var all = Enumerable.Range(0, count).ToArray();
        if (n >= count) return all;
        Rng.Derive(seed, "report-tsne-subset").Shuffle(all.AsSpan());
        var pick = all[..n];
        Array.Sort(pick);
        return pick;
    }

    /// <summary>
    /// One t-SNE map, reused from <c>OUT/tsne-cache/</c> when the same input (hashed), size, seed and iteration
    /// count were mapped before, so rerunning a report does not redo minutes of t-SNE.
    /// </summary>
    private static TsneMap Map(ComputeContext compute, string id, string title, string space, float[] x, int n, int d, int[] labels,
        ReportOptions options, Action<string>? log, CancellationToken ct)
    {
        var tsneOptions = new TsneOptions { Iterations = options.TsneIterations, Seed = options.Seed, Perplexity = Math.Min(30, (n - 1) / 3.0) };
        string key = CacheKey(x, n, d, tsneOptions);
        string cachePath = Path.Combine(options.OutputDirectory, "tsne-cache", $"{ReportBuilder.Slug(id)}-{key}.json");
        if (File.Exists(cachePath))
        {
            try
            {
                var cached = JsonSerializer.Deserialize<TsneMap>(File.ReadAllText(cachePath), DigitLabJson.Options);
                if (cached is not null && cached.Labels.SequenceEqual(labels) && cached.Y.Length == 2 * n)
                {
                    log?.Invoke($"t-SNE: {title}: reused {cachePath}");
                    return cached with { Title = title, Space = space };
                }
            }
            catch (JsonException) { } // a damaged cache entry is recomputed
        }
        log?.Invoke($"t-SNE: {title} ...");
        var watch = Stopwatch.StartNew();
        var result = Tsne.Run(compute, x, n, d, tsneOptions, null, ct);
        log?.Invoke($"t-SNE: {title}: {watch.Elapsed.TotalSeconds:F1} s ({result.Method}, KL {result.KlDivergence:F3})");
        var map = new TsneMap(id, title, space, result.Y, labels, watch.Elapsed.TotalSeconds, result.KlDivergence);
        AtomicFile.WriteAllText(cachePath, JsonSerializer.Serialize(map, DigitLabJson.Options));
        return map;
    }

    private static string CacheKey(float[] x, int n, int d, TsneOptions options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(MemoryMarshal.AsBytes(x.AsSpan(0, n * d)));
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{n}|{d}|{options}"));
        return Convert.ToHexString(hash.GetHashAndReset())[..16].ToLowerInvariant();
    }
}
