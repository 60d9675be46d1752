// TrialSlots: a worker's N trial slots; runs accepted jobs on their own threads, outside any grain turn.
using Microsoft.Extensions.Hosting;

namespace DigitLab.Cluster;

/// <summary>Settings of this process's worker: its silo name, slots, and where its datasets come from.</summary>
public sealed record WorkerSettings(string Name, int Slots, ITrialData Data);

/// <summary>
/// The jobs of one worker process. A job runs on a dedicated long-running task, so the grain turn that started it ends
/// at once; finished results stay here until the submitter collects them (<see cref="Forget"/>), so a submitter
/// that restarts finds them. Stopping the host cancels the running trials.
/// </summary>
public sealed class TrialSlots(WorkerSettings settings) : IHostedService
{
    private sealed class Entry(TrialJob job, int threads)
    {
        public TrialJob Job { get; } = job;
        public int Threads { get; } = threads;
        public volatile TrialStatus? Outcome;
    }

    private readonly Dictionary<string, Entry> _jobs = [];
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();

    public WorkerInfo Describe()
    {
        lock (_gate) return new WorkerInfo(settings.Name, settings.Slots, RunningCount(), Environment.ProcessorCount);
    }

    public TrialStatus Start(TrialJob job)
    {
        lock (_gate)
        {
            if (_jobs.TryGetValue(job.Id, out var known)) return StatusOf(known);
            int threads = TrialExecution.EffectiveThreads(job.Threads, settings.Slots);
            // The engine's thread count is process-wide today: trials share this process only when they use the same one.
            var running = _jobs.Values.Where(e => e.Outcome is null).ToList();
            if (running.Count >= settings.Slots || running.Any(e => e.Threads != threads))
                return new TrialStatus(job.Id, TrialState.Busy, Worker: settings.Name);
            var entry = new Entry(job, threads);
            _jobs[job.Id] = entry;
            Task.Factory.StartNew(() => Execute(entry), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return StatusOf(entry);
        }
    }

    public TrialStatus Poll(string jobId)
    {
        lock (_gate) return _jobs.TryGetValue(jobId, out var e) ? StatusOf(e) : new TrialStatus(jobId, TrialState.Unknown, Worker: settings.Name);
    }

    public void Forget(string jobId)
    {
        lock (_gate) if (_jobs.TryGetValue(jobId, out var e) && e.Outcome is not null) _jobs.Remove(jobId);
    }

    private void Execute(Entry entry)
    {
        TrialStatus outcome;
        try
        {
            var output = TrialExecution.Run(entry.Job, entry.Threads, settings.Data, _stopping.Token);
            outcome = output is null
                ? new TrialStatus(entry.Job.Id, TrialState.Failed, Error: "the worker stopped before the trial finished", Worker: settings.Name)
                : new TrialStatus(entry.Job.Id, TrialState.Finished, output.Log.ToJson(), output.Checkpoint, Worker: settings.Name);
        }
        catch (Exception e)
        {
            // A trial that fails by itself fails the same way anywhere: it is reported, never retried.
            outcome = new TrialStatus(entry.Job.Id, TrialState.Failed, Error: $"{e.GetType().Name}: {e.Message}", Worker: settings.Name);
        }
        entry.Outcome = outcome;
    }

    private int RunningCount() => _jobs.Values.Count(e => e.Outcome is null);

    private TrialStatus StatusOf(Entry e) => e.Outcome ?? new TrialStatus(e.Job.Id, TrialState.Running, Worker: settings.Name);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        return Task.CompletedTask;
    }
}
