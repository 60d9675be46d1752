// ReportData: everything a report draws, gathered by the CLI (runs, model summaries, images, t-SNE maps, sweeps).
using System.Text.Json;
using System.Text.Json.Serialization;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Training;
using DigitLab.Experiments;
using DigitLab.IO;

namespace DigitLab.Reports;

/// <summary>A run to report: a display name (unique; the file stem), its log, and the file it came from (to find its checkpoint).</summary>
public sealed record RunEntry(string Name, RunLog Log, string? SourcePath = null);

/// <summary>A finished 2-D embedding to plot: Y is Count×2, Labels the digit of each point.</summary>
public sealed record TsneMap(string Id, string Title, string Space, double[] Y, int[] Labels, double Seconds, double KlDivergence)
{
    public int Count => Labels.Length;
}

/// <summary>
/// Saliency maps (28×28, same method for every image) of one misclassified test image: what pushed the model toward the
/// class it predicted, and toward the true class it missed.
/// </summary>
public sealed record MistakeMaps(float[] ForPredicted, float[] ForTrue);

/// <summary>Everything the report shows. Missing parts (no images, no t-SNE, no sweep) leave their sections out.</summary>
public sealed class ReportData
{
    public string Title { get; init; } = "DigitLab report";
    public List<RunEntry> Runs { get; init; } = [];
    /// <summary>Model summary rows per run name (or per model name).</summary>
    public Dictionary<string, IReadOnlyList<SummaryRow>> Summaries { get; init; } = new();
    public MnistDataset? Train { get; init; }
    public MnistDataset? Test { get; init; }
    public List<TsneMap> TsneMaps { get; init; } = [];
    public List<SweepTrialResult> Sweep { get; init; } = [];
    /// <summary>Encodes greyscale pixels as PNG (the data library's PngWriter); null draws images as SVG rectangles.</summary>
    public Func<byte[], int, int, byte[]>? PngEncoder { get; init; }
    /// <summary>Per run name, the saliency maps of its gallery's images by test index (empty: the gallery shows images only).</summary>
    public Dictionary<string, IReadOnlyDictionary<int, MistakeMaps>> MistakeMaps { get; init; } = new();
    /// <summary>How <see cref="MistakeMaps"/> were made (method and settings), shown above the gallery.</summary>
    public string? MistakeMapMethod { get; init; }
    /// <summary>Free-form lines shown under the title (e.g. which command made the runs).</summary>
    public List<string> Notes { get; init; } = [];
}

/// <summary>JSON settings shared by run logs and sweep trial files: PascalCase as declared, NaN allowed, names matched case-insensitively.</summary>
public static class ReportJson
{
    /// <summary>
    /// Reads every run in <paramref name="directory"/> (not recursive): RunLog files (*.json) and sweep trial
    /// files (a "Trial" and a "Run"). Files that are neither are skipped and named in <paramref name="skipped"/>.
    /// </summary>
    public static (List<RunEntry> Runs, List<SweepTrialResult> Trials) LoadDirectory(string directory, List<string> skipped)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Runs folder '{directory}' does not exist. Run `digitlab compare --out {directory}` or `digitlab sweep --out {directory}` first, or pass the folder they wrote.");
        var runs = new List<RunEntry>();
        var trials = new List<SweepTrialResult>();
        foreach (string file in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllText(file));
                if (doc.RootElement.ValueKind != JsonValueKind.Object) continue; // tables written beside the runs (sweep-table.json)
                bool Has(string name) => doc.RootElement.EnumerateObject().Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
                if (Has("Trial") && Has("Run"))
                {
                    var trial = doc.RootElement.Deserialize<SweepTrialResult>(DigitLabJson.Options);
                    if (trial?.Run is not null) trials.Add(trial);
                }
                else if (Has("Model") && Has("Epochs"))
                {
                    var log = doc.RootElement.Deserialize<RunLog>(DigitLabJson.Options);
                    if (log is not null) runs.Add(new RunEntry(Path.GetFileNameWithoutExtension(file), log, file));
                }
                else skipped.Add($"{file}: neither a run log nor a sweep trial");
            }
            catch (JsonException e)
            {
                skipped.Add($"{file}: {e.Message}");
            }
        }
        return (runs, trials);
    }
}
