// CheckpointModelStore: the models directory — every *.safetensors checkpoint, loaded once and served to any number of
// concurrent requests from that one model, each request running in a pooled evaluation workspace of its own.
using System.Collections.Concurrent;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Nn.Inference;
using DigitLab.Training;
using DigitLab.Evaluation;
using DigitLab.IO;
using DigitLab.Runtime;

namespace DigitLab.Web.Services;

public sealed class CheckpointModelStore : IModelStore
{
    /// <summary>The file that remembers the active model's name across restarts.</summary>
    public const string ActiveFile = "active.txt";
    public const string Extension = ".safetensors";

    private readonly ILogger? _log;
    private readonly ConcurrentDictionary<string, Entry> _entries = new();
    private readonly object _activeGate = new();
    // Unreadable checkpoints by name, remembered by the file's (length, write time): read and logged once, not per request.
    private readonly ConcurrentDictionary<string, DamagedFile> _damaged = new();

    private sealed record DamagedFile(long Length, DateTime Stamp, string Problem);

    private readonly ComputeContext _compute;

    /// <param name="compute">Where predictions and test runs compute (the web app's own context: a training job's threads do not change it).</param>
    public CheckpointModelStore(string directory, ComputeContext compute, ILogger? log = null)
    {
        Directory = Path.GetFullPath(directory);
        _compute = compute;
        _log = log;
    }

    public string Directory { get; }

    /// <summary>The path a model of this name is saved at.</summary>
    public string PathOf(string name) => Path.Combine(Directory, name + Extension);

    public IReadOnlyList<ModelInfo> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        var infos = new List<ModelInfo>();
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + Extension))
            if (Find(Path.GetFileNameWithoutExtension(path)) is { } entry) infos.Add(entry.Info);
        return infos.OrderByDescending(i => i.Saved).ThenBy(i => i.Name, StringComparer.Ordinal).ToList();
    }

    public IReadOnlyList<DamagedModel> Damaged()
    {
        var damaged = new List<DamagedModel>();
        foreach (var (name, file) in _damaged)
        {
            var info = new FileInfo(PathOf(name));
            if (info.Exists && info.Length == file.Length && info.LastWriteTimeUtc == file.Stamp) damaged.Add(new DamagedModel(name, file.Problem));
        }
        return damaged.OrderBy(d => d.Name, StringComparer.Ordinal).ToList();
    }

    public string? ActiveName
    {
        get
        {
            var models = List();
            if (models.Count == 0) return null;
            string file = Path.Combine(Directory, ActiveFile);
            string? chosen = File.Exists(file) ? File.ReadAllText(file).Trim() : null;
            return models.Any(m => m.Name == chosen) ? chosen : models[0].Name;
        }
    }

    public bool SetActive(string name)
    {
        if (Find(name) is null) return false;
        // Atomic, so a crash mid-write never leaves an empty or half-written choice behind.
        lock (_activeGate) AtomicFile.WriteAllText(Path.Combine(Directory, ActiveFile), name);
        return true;
    }

    public IDigitClassifier? Open(string name) => Find(name);

    /// <summary>
    /// What the model looked at for one image (784 values in [0, 1]): integrated-gradient maps for each of the ten digits,
    /// with the probabilities; null when the model is unknown.
    /// </summary>
    public Explanation? Explain(string name, float[] image) => Find(name)?.Explain(image);

    public ModelDetails? Details(string name) => Find(name) is { } e ? new ModelDetails(e.Info, e.Layers, e.Log) : null;

    public EvaluationResult? Test(string name, IDatasetProvider data, CancellationToken cancellationToken)
    {
        if (Find(name) is not { } entry) return null;
        var set = data.Get("test", out var problem) ?? throw new InvalidOperationException(problem);
        var loaded = Checkpoint.Load(entry.Path);
        var result = Evaluator.Evaluate(loaded.Model, set, new Normalization(loaded.Info.NormalizationMean, loaded.Info.NormalizationStd), _compute);
        cancellationToken.ThrowIfCancellationRequested();
        loaded.Info.Log ??= entry.Log;
        loaded.Info.Log.Test = result;
        // Re-save with the result (atomic); the optimizer state stays, so a partial run can still be resumed.
        Checkpoint.Save(entry.Path, loaded.Model, loaded.Info, loaded.OptimizerState.Select(kv => (kv.Key, kv.Value)));
        _entries.TryRemove(name, out _);
        return result;
    }

    /// <summary>The library's batched evaluation of the loaded (prepared) model on <paramref name="data"/>; nothing is saved.</summary>
    public EvaluationResult? Evaluate(string name, MnistDataset data) =>
        Find(name) is { } entry ? entry.Evaluate(data) : null;

    /// <summary>The cached entry for <paramref name="name"/>, reloaded when the file changed; null when absent or unreadable.</summary>
    private Entry? Find(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.StartsWith('.')) return null;
        string path = PathOf(name);
        var file = new FileInfo(path);
        if (!file.Exists) { _entries.TryRemove(name, out _); _damaged.TryRemove(name, out _); return null; }
        var stamp = file.LastWriteTimeUtc;
        if (_entries.TryGetValue(name, out var cached) && cached.Stamp == stamp) return cached;
        if (_damaged.TryGetValue(name, out var bad) && bad.Length == file.Length && bad.Stamp == stamp) return null; // unchanged since it failed
        try
        {
            var entry = new Entry(name, path, stamp, Checkpoint.Load(path), _compute);
            _entries[name] = entry;
            _damaged.TryRemove(name, out _);
            return entry;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException)
        {
            _damaged[name] = new DamagedFile(file.Length, stamp, e.Message);
            _log?.LogWarning("Skipping {Path} until it changes: {Message}", path, e.Message);
            return null;
        }
    }

    /// <summary>One checkpoint: its figures for the pages, the loaded model, and a pool of evaluation workspaces.</summary>
    private sealed class Entry : IDigitClassifier
    {
        private readonly ConcurrentBag<Workspace> _workspaces = []; // one per request in flight, reused
        private readonly Normalization _normalization;
        private readonly Module _model;         // prepared once at load (PreparedModel); only read, passes write their workspace alone
        private readonly ComputeContext _compute;
        // The checkpoint's own model (not prepared) for gradients: its backward pass accumulates parameter gradients in the
        // module, so explanations of one model take turns (they are rare: one per drawing, on request).
        private readonly Module _plain;
        private readonly Lock _explaining = new();

        public Entry(string name, string path, DateTime stamp, LoadedCheckpoint loaded, ComputeContext compute)
        {
            Name = name; Path = path; Stamp = stamp;
            var info = loaded.Info;
            Log = info.Log ?? new RunLog { Model = info.Architecture };
            _normalization = new Normalization(info.NormalizationMean, info.NormalizationStd);
            var summary = ModelSummary.Build(loaded.Model, [1, 1, 28, 28]);
            Layers = summary.Rows;
            Info = new ModelInfo(name, info.Architecture, loaded.Model.ParameterCount(), Log.Epochs.Count, Log.Test?.Accuracy,
                new DateTimeOffset(stamp, TimeSpan.Zero), !Log.Complete);
            _model = Prepare(loaded.Model);
            _plain = loaded.Model;
            _compute = compute;
        }

        /// <summary>
        /// The checkpoint's model prepared for inference (batch norm folded, ReLU fused, single images over both cores);
        /// the plain model when it holds a layer the preparer does not know, which still predicts, only slower.
        /// </summary>
        private static Module Prepare(Module model)
        {
            try { return PreparedModel.Prepare(model); }
            catch (NotSupportedException) { return model; }
        }

        public string Name { get; }
        public string Path { get; }
        public DateTime Stamp { get; }
        public RunLog Log { get; }
        public ModelInfo Info { get; }
        public IReadOnlyList<SummaryRow> Layers { get; }

        /// <summary>Accuracy, loss, confusion and per-class figures on a labelled set, in a workspace of the call's own.</summary>
        public EvaluationResult Evaluate(MnistDataset data) =>
            Evaluator.Evaluate(_model, data, _normalization, _compute, collectMisclassified: false);

        public Explanation Explain(float[] image)
        {
            lock (_explaining)
            {
                var runner = new ModelRunner(_plain, _normalization, _compute);
                var black = new float[image.Length];
                var maps = new float[MnistDataset.Classes][];
                for (int k = 0; k < maps.Length; k++) maps[k] = Saliency.IntegratedGradients(runner, image, black, k, Explanation.Steps);
                var probabilities = Predictor.Softmax(Saliency.Logits(runner, [image]));
                return new Explanation(Name, $"integrated gradients, {Explanation.Steps} steps from a black image", probabilities, maps);
            }
        }

        public float[] Probabilities(ReadOnlySpan<float> image)
        {
            // A free workspace, or a new one when every workspace is busy: activations only (a single image's are
            // small), never a copy of the weights.
            var workspace = _workspaces.TryTake(out var free) ? free : new Workspace(_compute, training: false);
            try
            {
                var x = image.ToArray();
                _normalization.ApplyInPlace(x);
                return Predictor.Probabilities(_model, x, workspace);
            }
            finally
            {
                if (_workspaces.Count < 4 * Environment.ProcessorCount) _workspaces.Add(workspace);
            }
        }
    }
}

/// <summary>
/// What a model looked at for one image: for each digit, how much each pixel raised (positive) or lowered (negative) that
/// digit's score (integrated gradients; the values of one map sum to about score(image) − score(black image)).
/// </summary>
/// <param name="Maps">Ten maps of 784 values, row by row, one per digit.</param>
public sealed record Explanation(string Model, string Method, float[] Probabilities, float[][] Maps)
{
    /// <summary>Integrated-gradient steps: the report's gallery uses the same.</summary>
    public const int Steps = 32;
}
