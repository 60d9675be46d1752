// CheckpointModelStore: the models directory — every *.safetensors checkpoint, loaded once, served from a small pool
// of replicas (a module caches its activations, so one replica serves one request at a time).
using System.Collections.Concurrent;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Training;

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

    public CheckpointModelStore(string directory, ILogger? log = null)
    {
        Directory = Path.GetFullPath(directory);
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
        lock (_activeGate) Reports.AtomicFile.WriteAllText(Path.Combine(Directory, ActiveFile), name);
        return true;
    }

    public IDigitClassifier? Open(string name) => Find(name);

    public ModelDetails? Details(string name) => Find(name) is { } e ? new ModelDetails(e.Info, e.Layers, e.Log) : null;

    public EvaluationResult? Test(string name, IDatasetProvider data, CancellationToken cancellationToken)
    {
        if (Find(name) is not { } entry) return null;
        var test = data.Get("test", out var problem) ?? throw new InvalidOperationException(problem);
        var set = new MnistDataset(test.Images, test.Labels, test.Name);
        var loaded = Checkpoint.Load(entry.Path);
        var result = Evaluator.Evaluate(loaded.Model, set, new Normalization(loaded.Info.NormalizationMean, loaded.Info.NormalizationStd));
        cancellationToken.ThrowIfCancellationRequested();
        loaded.Info.Log ??= entry.Log;
        loaded.Info.Log.Test = result;
        // Re-save with the result (atomic); the optimizer state stays, so a partial run can still be resumed.
        Checkpoint.Save(entry.Path, loaded.Model, loaded.Info, loaded.OptimizerState.Select(kv => (kv.Key, kv.Value)));
        _entries.TryRemove(name, out _);
        return result;
    }

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
            var entry = new Entry(name, path, stamp, Checkpoint.Load(path));
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

    /// <summary>One checkpoint: its figures for the pages, and a pool of loaded replicas for prediction.</summary>
    private sealed class Entry : IDigitClassifier
    {
        private readonly ConcurrentBag<Module> _pool = [];
        private readonly Normalization _normalization;
        private readonly Module _template;      // the first replica, also in the pool; only read when copied
        private readonly CheckpointInfo _info;

        public Entry(string name, string path, DateTime stamp, LoadedCheckpoint loaded)
        {
            Name = name; Path = path; Stamp = stamp;
            var info = loaded.Info;
            Log = info.Log ?? new RunLog { Model = info.Architecture };
            _normalization = new Normalization(info.NormalizationMean, info.NormalizationStd);
            var summary = ModelSummary.Build(loaded.Model, [1, 1, 28, 28]);
            Layers = summary.Rows.Select(r => new LayerRow(new string(' ', 2 * r.Depth) + $"{r.Name} {r.Type}".Trim(),
                Tensors.Tensor.Format(r.OutputShape), r.Parameters)).ToList();
            Info = new ModelInfo(name, info.Architecture, loaded.Model.ParameterCount(), Log.Epochs.Count, Log.Test?.Accuracy,
                new DateTimeOffset(stamp, TimeSpan.Zero), !Log.Complete);
            _template = loaded.Model;
            _info = info;
            _pool.Add(loaded.Model);
        }

        public string Name { get; }
        public string Path { get; }
        public DateTime Stamp { get; }
        public RunLog Log { get; }
        public ModelInfo Info { get; }
        public IReadOnlyList<LayerRow> Layers { get; }

        public float[] Probabilities(ReadOnlySpan<float> image)
        {
            // Take a free replica, or copy another from memory when every replica is busy: reading the file again
            // would cost a resnet18 checkpoint's 45 MB per copy, and could pick up a newer file under this entry.
            var model = _pool.TryTake(out var free) ? free : Checkpoint.Replicate(_template, _info);
            try
            {
                var x = image.ToArray();
                _normalization.ApplyInPlace(x);
                return Predictor.Probabilities(model, x);
            }
            finally
            {
                if (_pool.Count < Environment.ProcessorCount) _pool.Add(model);
            }
        }
    }
}
