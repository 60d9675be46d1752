// Checkpoint: a trained (or paused) model as a safetensors file: weights, buffers, optimizer state, and metadata
// (architecture, options, normalisation, training configuration, seed, history, final metrics, resume state).
using System.Globalization;
using System.Text.Json;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.IO;

namespace DigitLab.Training;

/// <summary>Where a paused run stands, so that resuming reaches exactly what an uninterrupted run would.</summary>
public sealed class ResumeState
{
    /// <summary>Epochs fully finished; training resumes at this (0-based) epoch.</summary>
    public int CompletedEpochs { get; set; }
    /// <summary>Batches already trained within epoch <see cref="CompletedEpochs"/> (0 at an epoch boundary).</summary>
    public int CompletedBatches { get; set; }
    /// <summary>Optimizer steps so far (Adam's bias correction and the learning-rate schedule use it).</summary>
    public long OptimizerStep { get; set; }
    /// <summary>The batcher's position: epochs started and images delivered in the current one.</summary>
    public int BatcherEpoch { get; set; }
    public int BatcherPosition { get; set; }
    /// <summary>The batcher's generators ("shuffle": state before the current epoch's shuffle, "augment": current), 4 hex words each.</summary>
    public Dictionary<string, string[]> Rngs { get; set; } = new();
    /// <summary>The running sums of the interrupted epoch (loss sum, correct, seen, batch-loss block) so its record comes out identical.</summary>
    public double EpochLossSum { get; set; }
    public long EpochCorrect { get; set; }
    public long EpochSeen { get; set; }
    public double EpochSeconds { get; set; }
    public double BlockLossSum { get; set; }
    public int BlockCount { get; set; }
}

/// <summary>What a checkpoint says besides its tensors.</summary>
public sealed class CheckpointInfo
{
    /// <summary>Zoo name (see <see cref="ModelZoo.Names"/>).</summary>
    public string Architecture { get; set; } = "";
    public ModelOptions Options { get; set; } = ModelOptions.Default;
    /// <summary>Pixel normalisation the model was trained with: x = (pixel/255 - mean) / std.</summary>
    public float NormalizationMean { get; set; } = 0.1307f;
    public float NormalizationStd { get; set; } = 0.3081f;
    public ulong Seed { get; set; }
    /// <summary>Training configuration, per-epoch history and final test metrics.</summary>
    public RunLog? Log { get; set; }
    /// <summary>Set when the run was interrupted (or for any checkpoint that should be resumable).</summary>
    public ResumeState? Resume { get; set; }
    /// <summary>The optimizer's kind ("adam", "sgd") when <see cref="Checkpoint.Save"/> was given its state.</summary>
    public string? Optimizer { get; set; }
    public string Version { get; set; } = Checkpoint.DigitLabVersion;
}

/// <summary>A loaded checkpoint: the rebuilt model with its weights, the metadata and any optimizer state by name.</summary>
public sealed record LoadedCheckpoint(Module Model, CheckpointInfo Info, IReadOnlyDictionary<string, Tensor> OptimizerState)
{
    public void Deconstruct(out Module model, out CheckpointInfo info) => (model, info) = (Model, Info);
}

/// <summary>Saves and loads models as safetensors files with DigitLab metadata.</summary>
/// <remarks>
/// Tensor names are PyTorch state-dict names ("conv1.weight", "layer1.0.bn1.running_mean"); optimizer state is stored
/// beside them as "optimizer.{kind}.{parameter}" (e.g. "optimizer.exp_avg.fc1.weight"), which a PyTorch loader skips.
/// Loading rebuilds the architecture named in the metadata and requires every tensor to be present with exactly the
/// shape that architecture has, and no unknown tensors; anything else is rejected with <see cref="InvalidDataException"/>.
/// Saving is atomic, so an interrupted save never leaves a half-written checkpoint behind.
/// </remarks>
public static class Checkpoint
{
    public const string FormatName = "digitlab-checkpoint/1";
    public const string OptimizerPrefix = "optimizer.";
    public static string DigitLabVersion { get; } = typeof(Checkpoint).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private static readonly JsonSerializerOptions Json = DigitLabJson.Options;

    /// <summary>Writes <paramref name="model"/>'s parameters, buffers and generator states, plus <paramref name="info"/> and optional optimizer state.</summary>
    public static void Save(string path, Module model, CheckpointInfo info, IEnumerable<(string Name, Tensor Tensor)>? optimizerState = null)
    {
        if (!ModelZoo.Exists(info.Architecture))
            throw new ArgumentException($"Checkpoint architecture '{info.Architecture}' is not in the model zoo ({string.Join(", ", ModelZoo.Names)}).");
        var ci = CultureInfo.InvariantCulture;
        var meta = new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["digitlab_version"] = DigitLabVersion,
            ["architecture"] = info.Architecture,
            ["model_options"] = JsonSerializer.Serialize(info.Options, Json),
            ["normalization"] = JsonSerializer.Serialize(new Dictionary<string, float> { ["mean"] = info.NormalizationMean, ["std"] = info.NormalizationStd }, Json),
            ["seed"] = info.Seed.ToString(ci),
            ["module_rngs"] = JsonSerializer.Serialize(model.NamedRngs().ToDictionary(r => r.Name, r => HexState(r.Rng)), Json),
        };
        if (info.Log is not null)
        {
            if (info.Log.Recipe is not null) meta["recipe"] = JsonSerializer.Serialize(info.Log.Recipe, Json);
            meta["run_log"] = JsonSerializer.Serialize(info.Log, Json);
            if (info.Log.Test is { } test)
                meta["final_metrics"] = JsonSerializer.Serialize(new Dictionary<string, double>
                {
                    ["test_accuracy"] = test.Accuracy, ["test_loss"] = test.Loss, ["macro_f1"] = test.Macro.F1, ["test_count"] = test.Count,
                }, Json);
        }
        if (info.Resume is not null) meta["resume"] = JsonSerializer.Serialize(info.Resume, Json);
        if (info.Optimizer is not null) meta["optimizer"] = info.Optimizer;

        var tensors = model.StateTensors()
            .Concat((optimizerState ?? []).Select(s => (OptimizerPrefix + s.Name, s.Tensor)));
        SafeTensors.Write(path, meta, tensors);
    }

    /// <summary>Loads a checkpoint, rebuilding its architecture and checking every tensor against it.</summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">A damaged, tampered or mismatched file; the message says what is wrong.</exception>
    public static LoadedCheckpoint Load(string path)
    {
        var content = SafeTensors.Read(path);
        string Bad(string what) => $"'{path}' is not a usable DigitLab checkpoint: {what}.";
        var meta = content.Metadata;
        string Need(string key) => meta.TryGetValue(key, out var v) ? v : throw new InvalidDataException(Bad($"metadata '{key}' is missing"));
        T Parse<T>(string key)
        {
            try { return JsonSerializer.Deserialize<T>(Need(key), Json) ?? throw new InvalidDataException(Bad($"metadata '{key}' is null")); }
            catch (JsonException e) { throw new InvalidDataException(Bad($"metadata '{key}' is not valid JSON ({e.Message})")); }
            catch (InvalidDataException e) { throw new InvalidDataException(Bad($"metadata '{key}': {e.Message}"), e); } // an old run log's recipe field
        }

        if (Need("format") != FormatName)
            throw new InvalidDataException(Bad($"format is '{meta["format"]}', expected '{FormatName}'"));
        var info = new CheckpointInfo
        {
            Architecture = Need("architecture"),
            Options = Parse<ModelOptions>("model_options"),
            Version = Need("digitlab_version"),
            Log = meta.ContainsKey("run_log") ? Parse<RunLog>("run_log") : null,
            Resume = meta.ContainsKey("resume") ? Parse<ResumeState>("resume") : null,
            Optimizer = meta.GetValueOrDefault("optimizer"),
        };
        if (!ulong.TryParse(Need("seed"), NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed))
            throw new InvalidDataException(Bad($"seed '{meta["seed"]}' is not a whole number"));
        info.Seed = seed;
        var norm = Parse<Dictionary<string, float>>("normalization");
        if (!norm.TryGetValue("mean", out float mean) || !norm.TryGetValue("std", out float std) || !(std > 0))
            throw new InvalidDataException(Bad("normalization needs a mean and a positive std"));
        (info.NormalizationMean, info.NormalizationStd) = (mean, std);
        if (!ModelZoo.Exists(info.Architecture))
            throw new InvalidDataException(Bad($"architecture '{info.Architecture}' is not one this DigitLab knows ({string.Join(", ", ModelZoo.Names)}); it was written by DigitLab {info.Version}"));

        var model = ModelZoo.Create(info.Architecture, seed, info.Options);
        var byName = new Dictionary<string, Tensor>();
        foreach (var (name, tensor) in content.Tensors) byName[name] = tensor;

        var expected = model.StateTensors().ToList();
        foreach (var (name, target) in expected)
        {
            if (!byName.Remove(name, out var stored))
                throw new InvalidDataException(Bad($"tensor '{name}' of {info.Architecture} is missing"));
            if (!Tensor.SameShape(stored.Shape, target.Shape))
                throw new InvalidDataException(Bad($"tensor '{name}' has shape {Tensor.Format(stored.Shape)} but {info.Architecture} needs {Tensor.Format(target.Shape)}"));
            target.CopyFrom(stored);
        }
        var optimizer = new Dictionary<string, Tensor>();
        foreach (var (name, tensor) in byName)
        {
            if (!name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                throw new InvalidDataException(Bad($"tensor '{name}' does not belong to {info.Architecture}"));
            optimizer[name[OptimizerPrefix.Length..]] = tensor;
        }

        var rngs = Parse<Dictionary<string, string[]>>("module_rngs");
        foreach (var (name, rng) in model.NamedRngs())
            if (rngs.TryGetValue(name, out var state)) rng.SetState(ParseState(state, name, Bad));
        CheckpointChecks.Validate(info, model, optimizer, Bad); // finite numbers, a readable recipe, a resumable state
        return new LoadedCheckpoint(model, info, optimizer);
    }

    /// <summary>Copies saved optimizer state into <paramref name="optimizer"/>'s own tensors; shapes and names must match.</summary>
    public static void RestoreOptimizer(Optimizer optimizer, IReadOnlyDictionary<string, Tensor> state, long stepCount)
    {
        foreach (var (name, tensor) in optimizer.NamedState())
        {
            if (!state.TryGetValue(name, out var saved))
                throw new InvalidDataException($"The checkpoint has no optimizer state '{name}'; it was saved with another optimizer. Resume with the same --optimizer, or train from scratch.");
            if (!Tensor.SameShape(saved.Shape, tensor.Shape))
                throw new InvalidDataException($"Optimizer state '{name}' has shape {Tensor.Format(saved.Shape)}, expected {Tensor.Format(tensor.Shape)}.");
            tensor.CopyFrom(saved);
        }
        optimizer.StepCount = stepCount;
    }

    public static string[] HexState(Rng rng) => rng.GetState().Select(w => w.ToString("x16", CultureInfo.InvariantCulture)).ToArray();

    public static ulong[] ParseState(string[] words, string name, Func<string, string>? bad = null)
    {
        var state = new ulong[words.Length];
        for (int i = 0; i < words.Length; i++)
            if (!ulong.TryParse(words[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out state[i]))
                throw new InvalidDataException((bad ?? (s => s))($"generator state '{name}' has a word '{words[i]}' that is not hexadecimal"));
        if (state.Length != 4) throw new InvalidDataException((bad ?? (s => s))($"generator state '{name}' has {state.Length} words, expected 4"));
        return state;
    }
}
