// Fakes: small stand-ins behind the web app's interfaces, so the HTTP layer (validation, routing, problems,
// job control, events) is tested on its own in milliseconds. The real library is tested in RealModelTests.
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Training;
using DigitLab.Web.Services;
using DigitLab.Evaluation;

namespace DigitLab.Web.Tests;

/// <summary>Answers the digit whose column band (28 columns split in 10) holds the most ink, and remembers the last image.</summary>
internal sealed class BandClassifier(string name) : IDigitClassifier
{
    public string Name { get; } = name;
    public float[]? LastImage { get; private set; }

    public float[] Probabilities(ReadOnlySpan<float> image)
    {
        LastImage = image.ToArray();
        var mass = new float[10];
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) mass[Math.Min(9, x * 10 / 28)] += image[y * 28 + x];
        float total = mass.Sum();
        var p = new float[10];
        for (int i = 0; i < 10; i++) p[i] = total > 0 ? mass[i] / total : 0.1f;
        return p;
    }
}

internal sealed class FakeModelStore : IModelStore
{
    private readonly Dictionary<string, BandClassifier> _models = new();
    private string? _active;

    public string Directory => "/tmp/fake-models";
    public int TestCalls;

    public FakeModelStore Add(string name)
    {
        _models[name] = new BandClassifier(name);
        return this;
    }

    public BandClassifier Classifier(string name) => _models[name];

    public IReadOnlyList<ModelInfo> List() =>
        _models.Keys.Order().Select(n => new ModelInfo(n, "band", 10, 1, null, DateTimeOffset.UnixEpoch, false)).ToList();

    public string? ActiveName => _active ?? _models.Keys.Order().FirstOrDefault();

    public bool SetActive(string name)
    {
        if (!_models.ContainsKey(name)) return false;
        _active = name;
        return true;
    }

    public IDigitClassifier? Open(string name) => _models.GetValueOrDefault(name);

    public ModelDetails? Details(string name) => _models.ContainsKey(name)
        ? new ModelDetails(List().First(m => m.Name == name), [new SummaryRow("band", "Linear(784 -> 10)", [1, 10], 10, 0)], new RunLog
        {
            Model = "band",
            Epochs = [new EpochRecord(1, 0.5, 0.9, 0.4, 0.92, 1e-3, 1.0), new EpochRecord(2, 0.3, 0.95, 0.35, 0.94, 1e-3, 1.0)],
        })
        : null;

    public EvaluationResult? Test(string name, IDatasetProvider data, CancellationToken cancellationToken)
    {
        if (!_models.ContainsKey(name)) return null;
        Interlocked.Increment(ref TestCalls);
        var set = data.Get("test", out _)!;
        return new EvaluationResult { Count = set.Count, Accuracy = 0.5, Confusion = Enumerable.Range(0, 10).Select(_ => new int[10]).ToArray() };
    }
}

/// <summary>A synthetic set: image i has label i % 10 and pixel 0 = i % 256, so a test can tell which image came back.</summary>
internal sealed class FakeDataset(int trainCount = 1234, int testCount = 250) : IDatasetProvider
{
    private readonly MnistDataset _train = Make("train", trainCount), _test = Make("test", testCount);
    public string DataDirectory => "/tmp/fake-data";
    public bool Missing { get; set; }

    public MnistDataset? Get(string split, out string? problem)
    {
        problem = Missing ? "MNIST is not in /tmp/fake-data: run ./digitlab data" : null;
        return Missing ? null : split == "train" ? _train : _test;
    }

    public (MnistDataset Train, MnistDataset Test) Ensure() =>
        Missing ? throw new InvalidOperationException("MNIST is not in /tmp/fake-data") : (_train, _test);

    private static MnistDataset Make(string name, int count)
    {
        var images = new byte[count * 784];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = (byte)(i % 10);
            images[i * 784] = (byte)(i % 256);
            images[i * 784 + 400] = 255;
        }
        return new MnistDataset(images, labels, name);
    }
}

/// <summary>Reports batches one by one; each batch waits for <see cref="Step"/> (or runs freely when <see cref="FreeRun"/>).</summary>
internal sealed class FakeTrainingBackend : ITrainingBackend
{
    public const int BatchesPerEpoch = 4;
    private readonly SemaphoreSlim _steps = new(0);
    public bool FreeRun { get; set; }
    /// <summary>How long the job takes to save once it stops (the real backend writes a checkpoint); <see cref="Saved"/> is set after.</summary>
    public TimeSpan SaveTime { get; set; }
    public volatile bool Saved;
    public List<TrainingRequest> Requests { get; } = [];
    public IReadOnlyList<string> Architectures { get; } = ["fast", "mlp"];

    public void Step(int batches = 1) => _steps.Release(batches);

    public RunLog Train(TrainingRequest request, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken)
    {
        lock (Requests) Requests.Add(request);
        var log = new RunLog { Model = request.Architecture };
        for (int epoch = 1; epoch <= request.Epochs; epoch++)
        {
            for (int batch = 1; batch <= BatchesPerEpoch; batch++)
            {
                if (!FreeRun)
                {
                    try { _steps.Wait(cancellationToken); }
                    catch (OperationCanceledException) { return Save(log); }
                }
                if (cancellationToken.IsCancellationRequested) return Save(log);
                var update = new TrainingUpdate(epoch, request.Epochs, batch, BatchesPerEpoch, 2.0 / (batch + epoch));
                progress.Report(update);
                if (batch == BatchesPerEpoch)
                {
                    // As the real backend does: the epoch's record follows its last batch as a separate report.
                    var record = new EpochRecord(epoch, 1.0 / epoch, 0.5, null, null, request.LearningRate, 0.1);
                    log.Epochs.Add(record);
                    progress.Report(update with { EpochDone = record });
                }
            }
        }
        return Save(log);
    }

    /// <summary>The figures <see cref="FineTune"/> reports, so a test can see them arrive in the job's status.</summary>
    public FineTuneFigures Figures { get; set; } = new("base", 8, 2, 8, 250, 0.5, 1.0, 0.97, 0.96);

    /// <summary>Runs as <see cref="Train"/> does and returns <see cref="Figures"/>.</summary>
    public FineTuneJobResult FineTune(TrainingRequest request, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken) =>
        new(Train(request, progress, cancellationToken), Figures);

    private RunLog Save(RunLog log)
    {
        Thread.Sleep(SaveTime);
        Saved = true;
        return log;
    }
}
