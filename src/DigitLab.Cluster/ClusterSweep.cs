// ClusterSweep: a sweep on the cluster (or the embedded silo): the same trial files, resume and results as SweepRunner.
using System.Text.Json;
using DigitLab.Reports;
using DigitLab.Training;
using Orleans;
using DigitLab.IO;
using DigitLab.Experiments;

namespace DigitLab.Cluster;

/// <summary>What a sweep on the cluster ended with: every result in trial order, and the trials that failed by themselves.</summary>
public sealed record ClusterSweepOutcome(List<SweepTrialResult> Results, List<(SweepTrial Trial, string Error)> Failures, bool Cancelled);

/// <summary>Hears a cluster sweep's progress (on the dispatcher's loop, one call at a time).</summary>
public interface ISweepProgress
{
    void Skipped(SweepTrial trial);
    void Started(SweepTrial trial, string worker, bool adopted);
    void Finished(SweepTrial trial, SweepTrialResult result, string worker);
    void Failed(SweepTrial trial, string error, string worker);
    void Requeued(SweepTrial trial, string worker, string reason);
    void NoWorkers();
}

public static class ClusterSweep
{
    /// <summary>Where a trial's checkpoint goes when the sweep keeps them: beside its trial-*.json.</summary>
    public static string CheckpointPath(string directory, SweepTrial trial) => Path.ChangeExtension(SweepRunner.TrialPath(directory, trial), ".safetensors");

    /// <summary>
    /// The job id of a trial: its key and thread count (a trial's weights depend on both). Two submitters of the same
    /// trial get the same job, so a rerun adopts a worker's running or finished copy instead of training it twice.
    /// </summary>
    public static string JobId(SweepTrial trial, int threads, bool checkpoint) => $"sweep:{trial.Key}:t{threads}{(checkpoint ? ":ckpt" : "")}";

    /// <summary>
    /// Runs every trial of <paramref name="trials"/> without a saved result in <paramref name="directory"/> on the
    /// cluster's workers, saving each (and its checkpoint with <paramref name="checkpoints"/>) on this machine as soon as
    /// it comes back; results are written exactly as <see cref="SweepRunner.Run"/> writes them.
    /// </summary>
    public static async Task<ClusterSweepOutcome> RunAsync(IGrainFactory grains, IReadOnlyList<SweepTrial> trials, string directory, int threads,
        bool checkpoints, ISweepProgress progress, CancellationToken ct, string? tensorboard = null)
    {
        Directory.CreateDirectory(directory);
        var results = new Dictionary<SweepTrial, SweepTrialResult>();
        var jobs = new List<TrialJob>();
        var byJob = new Dictionary<string, SweepTrial>();
        foreach (var trial in trials)
        {
            var saved = SweepRunner.TryLoad(directory, trial);
            if (saved is not null && (!checkpoints || File.Exists(CheckpointPath(directory, trial)))) { results[trial] = saved; progress.Skipped(trial); continue; }
            var job = new TrialJob(JobId(trial, threads, checkpoints), TrialKind.SweepTrial, JsonSerializer.Serialize(trial, DigitLabJson.Options), threads, checkpoints,
                tensorboard is null ? null : Path.Combine(Path.GetFullPath(tensorboard), trial.Key));
            if (byJob.TryAdd(job.Id, trial)) jobs.Add(job);
        }
        var listener = new Listener(directory, byJob, results, progress);
        await new TrialDispatcher(grains, listener).RunAsync(jobs, ct);
        var ordered = trials.Where(results.ContainsKey).Select(t => results[t]).ToList();
        return new ClusterSweepOutcome(ordered, listener.Failures, ct.IsCancellationRequested && ordered.Count + listener.Failures.Count < trials.Count);
    }

    private sealed class Listener(string directory, Dictionary<string, SweepTrial> byJob, Dictionary<SweepTrial, SweepTrialResult> results, ISweepProgress progress)
        : IDispatchListener
    {
        public List<(SweepTrial, string)> Failures { get; } = [];

        public void Started(TrialJob job, string worker, bool adopted) => progress.Started(byJob[job.Id], worker, adopted);

        public void Finished(TrialJob job, TrialStatus status)
        {
            var trial = byJob[job.Id];
            if (results.ContainsKey(trial)) return; // already saved: a trial is in the results once, whatever happened on the way
            var result = new SweepTrialResult { Trial = trial, Run = RunLog.FromJson(status.RunLogJson!) };
            // The checkpoint first, the trial file last: a trial file means the whole trial is here (resume trusts it).
            if (status.Checkpoint is { } bytes) AtomicFile.WriteAllBytes(CheckpointPath(directory, trial), bytes);
            AtomicFile.WriteAllText(SweepRunner.TrialPath(directory, trial), JsonSerializer.Serialize(result, DigitLabJson.Options));
            results[trial] = result;
            progress.Finished(trial, result, status.Worker);
        }

        public void Failed(TrialJob job, TrialStatus status)
        {
            var trial = byJob[job.Id];
            Failures.Add((trial, status.Error ?? "unknown error"));
            progress.Failed(trial, status.Error ?? "unknown error", status.Worker);
        }

        public void Requeued(TrialJob job, string worker, string reason) => progress.Requeued(byJob[job.Id], worker, reason);

        public void NoWorkers() => progress.NoWorkers();
    }
}
