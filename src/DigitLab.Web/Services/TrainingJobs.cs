// TrainingJobs: the one training job the server runs at a time, its live state, and the
// server-sent-event fan-out to every page watching it (a reloaded page simply subscribes again).
using System.Diagnostics;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using DigitLab.Training;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

using DigitLab.Runtime;

namespace DigitLab.Web.Services;

/// <summary>A point of the live learning curve: x in epochs (fractional), y the mean loss of the last batches.</summary>
public sealed record LossPoint(double Epoch, double Loss);

/// <summary>A snapshot of the training job, sent on connect and whenever the state changes.</summary>
/// <remarks><see cref="State"/> is one of idle, running, cancelling, completed, cancelled, failed. <see cref="FineTune"/> holds a
/// finished fine-tuning job's before/after figures.</remarks>
public sealed record JobStatus(
    string State,
    string? Id,
    TrainingRequest? Request,
    int Epoch,
    int Epochs,
    int Batch,
    int Batches,
    double Progress,
    double? EtaSeconds,
    double ElapsedSeconds,
    double? Loss,
    IReadOnlyList<LossPoint> Losses,
    IReadOnlyList<EpochRecord> EpochRecords,
    string? Message,
    FineTuneFigures? FineTune = null);

/// <summary>A progress event: position, fraction done, ETA and the newest loss point.</summary>
public sealed record JobProgress(int Epoch, int Epochs, int Batch, int Batches, double Progress, double? EtaSeconds, double ElapsedSeconds, double? Loss, LossPoint? Point);

/// <summary>Runs at most one <see cref="TrainingRequest"/> at a time on a background thread.</summary>
public sealed class TrainingJobs : IDisposable
{
    /// <summary>Progress events go out at most this often, so a fast trainer cannot flood the browsers.</summary>
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(150);

    /// <summary>The live curve keeps about this many points per epoch.</summary>
    private const int PointsPerEpoch = 40;

    private readonly ITrainingBackend _backend;
    private readonly JsonSerializerOptions _json;
    private readonly ILogger<TrainingJobs> _log;
    private readonly object _gate = new();
    private readonly List<Channel<SseItem<string>>> _subscribers = [];

    private string _state = "idle";
    private string? _id;
    private TrainingRequest? _request;
    private string? _message;
    private FineTuneFigures? _figures;
    private int _epoch, _epochs, _batch, _batches;
    private double? _loss;
    private readonly List<LossPoint> _losses = [];
    private readonly List<EpochRecord> _epochRecords = [];
    private readonly Stopwatch _clock = new();
    private TimeSpan _lastSent = TimeSpan.FromDays(-1);
    private CancellationTokenSource? _cancel;
    private Task _completion = Task.CompletedTask;

    public TrainingJobs(ITrainingBackend backend, IOptions<JsonOptions> json, ILogger<TrainingJobs> log)
    {
        _backend = backend;
        _json = json.Value.SerializerOptions;
        _log = log;
    }

    /// <summary>The architectures the backend can train.</summary>
    public IReadOnlyList<string> Architectures => _backend.Architectures;

    /// <summary>Completes when the current (or last) job has finished; for tests and shutdown.</summary>
    public Task Completion { get { lock (_gate) return _completion; } }

    public JobStatus Status()
    {
        lock (_gate) return SnapshotLocked();
    }

    /// <summary>Starts a job; returns null and the running job's status when one is already running.</summary>
    public bool TryStart(TrainingRequest request, out JobStatus status)
    {
        lock (_gate)
        {
            if (_state is "running" or "cancelling")
            {
                status = SnapshotLocked();
                return false;
            }
            _state = "running";
            _id = Guid.NewGuid().ToString("N")[..12];
            _request = request;
            _message = request.FineTune is { } tune
                ? $"Fine-tuning {tune.BaseModel} ({request.Architecture}) on MNIST + my digits for {request.Epochs} epoch(s); it will be saved as \"{request.Name}\"."
                : $"Training {request.Architecture} for {request.Epochs} epoch(s); it will be saved as \"{request.Name}\".";
            _figures = null;
            _epoch = 1; _epochs = request.Epochs; _batch = 0; _batches = 0; _loss = null;
            _losses.Clear(); _epochRecords.Clear();
            _lastSent = TimeSpan.FromDays(-1);
            _clock.Restart();
            _cancel = new CancellationTokenSource();
            var token = _cancel.Token;
            _completion = Task.Factory.StartNew(() => Run(request, token), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
            status = SnapshotLocked();
            BroadcastLocked("status", status);
            return true;
        }
    }

    /// <summary>Asks the running job to stop after its current batch; the model trained so far is saved. False when nothing runs.</summary>
    public bool Cancel(out JobStatus status)
    {
        lock (_gate)
        {
            if (_state != "running")
            {
                status = SnapshotLocked();
                return false;
            }
            _state = "cancelling";
            _message = "Cancelling: the job stops after the current batch and keeps the model trained so far.";
            _cancel?.Cancel();
            status = SnapshotLocked();
            BroadcastLocked("status", status);
            return true;
        }
    }

    /// <summary>The event stream of the job: a "status" snapshot first, then "progress", "epoch" and "status" events.</summary>
    /// <param name="cancellationToken">The request's token (the browser left).</param>
    /// <param name="stopping">The server is stopping: the stream ends so an open page never delays shutdown.</param>
    public async IAsyncEnumerable<SseItem<string>> Events([EnumeratorCancellation] CancellationToken cancellationToken, CancellationToken stopping = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
        var channel = Channel.CreateBounded<SseItem<string>>(new BoundedChannelOptions(256)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true,
        });
        SseItem<string> first;
        lock (_gate)
        {
            first = Item("status", SnapshotLocked());
            _subscribers.Add(channel);
        }
        try
        {
            yield return first;
            while (true)
            {
                SseItem<string> item;
                try
                {
                    item = await channel.Reader.ReadAsync(linked.Token);
                }
                catch (OperationCanceledException) { yield break; }
                catch (ChannelClosedException) { yield break; }
                yield return item;
            }
        }
        finally
        {
            lock (_gate) _subscribers.Remove(channel);
        }
    }

    private void Run(TrainingRequest request, CancellationToken token)
    {
        string final;
        string message;
        try
        {
            var progress = new SyncProgress<TrainingUpdate>(OnProgress);
            FineTuneFigures? figures = null;
            RunLog log;
            if (request.FineTune is null) log = _backend.Train(request, progress, token);
            else (log, figures) = _backend.FineTune(request, progress, token);
            lock (_gate) _figures = figures;
            bool cancelled = token.IsCancellationRequested;
            final = cancelled ? "cancelled" : "completed";
            var last = log.Epochs.LastOrDefault();
            string accuracy = last?.ValidationAccuracy is double v ? $", validation accuracy {v:P2}" : last is null ? "" : $", training accuracy {last.TrainAccuracy:P2}";
            message = cancelled
                ? $"Cancelled after {log.Epochs.Count} full epoch(s); the partial model is saved as \"{request.Name}\"{accuracy}."
                : $"Finished {log.Epochs.Count} epoch(s) in {log.TrainSeconds:F1} s{accuracy}; saved as \"{request.Name}\".";
            if (figures is not null)
                message += $" Your held-out drawings: {figures.OwnBefore * 100:F1}% before, {figures.OwnAfter * 100:F1}% after; MNIST test: {figures.MnistBefore * 100:F2}% before, {figures.MnistAfter * 100:F2}% after.";
        }
        catch (Exception e)
        {
            _log.LogError(e, "Training job {Name} failed", request.Name);
            final = "failed";
            message = $"Training failed: {e.Message}";
        }
        lock (_gate)
        {
            _clock.Stop();
            _state = final;
            _message = message;
            var status = SnapshotLocked();
            BroadcastLocked("status", status);
        }
    }

    private void OnProgress(TrainingUpdate update)
    {
        lock (_gate)
        {
            _epoch = update.Epoch; _epochs = update.Epochs; _batch = update.Batch; _batches = update.Batches;
            if (double.IsFinite(update.Loss)) _loss = update.Loss;
            LossPoint? point = null;
            int every = Math.Max(1, update.Batches / PointsPerEpoch);
            if (update.EpochDone is null && update.Batch > 0 && double.IsFinite(update.Loss) && (update.Batch % every == 0 || update.Batch == update.Batches))
            {
                point = new LossPoint((update.Epoch - 1) + update.Batch / (double)Math.Max(1, update.Batches), update.Loss);
                _losses.Add(point);
            }
            if (update.EpochDone is { } record)
            {
                _epochRecords.Add(record);
                BroadcastLocked("epoch", record);
            }
            var now = _clock.Elapsed;
            bool last = update.Batch == update.Batches && update.Epoch == update.Epochs;
            if (now - _lastSent < ProgressInterval && point is null && update.EpochDone is null && !last) return;
            _lastSent = now;
            var (fraction, eta) = FractionLocked();
            BroadcastLocked("progress", new JobProgress(_epoch, _epochs, _batch, _batches, fraction, eta, now.TotalSeconds, _loss, point));
        }
    }

    private (double Fraction, double? Eta) FractionLocked()
    {
        if (_batches <= 0 || _epochs <= 0) return (0, null);
        double done = ((_epoch - 1) * (double)_batches + _batch) / (_epochs * (double)_batches);
        done = Math.Clamp(done, 0, 1);
        double elapsed = _clock.Elapsed.TotalSeconds;
        double? eta = done > 0.002 && _state == "running" ? elapsed / done * (1 - done) : null;
        return (done, eta);
    }

    private JobStatus SnapshotLocked()
    {
        var (fraction, eta) = FractionLocked();
        if (_state == "completed") fraction = 1;
        return new JobStatus(_state, _id, _request, _epoch, _epochs, _batch, _batches, fraction, eta,
            _clock.Elapsed.TotalSeconds, _loss, _losses.ToArray(), _epochRecords.ToArray(), _message, _figures);
    }

    private void BroadcastLocked<T>(string eventType, T payload)
    {
        var item = Item(eventType, payload);
        foreach (var subscriber in _subscribers) subscriber.Writer.TryWrite(item);
    }

    private SseItem<string> Item<T>(string eventType, T payload) =>
        new(JsonSerializer.Serialize(payload, _json), eventType);

    public void Dispose()
    {
        lock (_gate)
        {
            _cancel?.Cancel();
            foreach (var subscriber in _subscribers) subscriber.Writer.TryComplete();
        }
    }
}
