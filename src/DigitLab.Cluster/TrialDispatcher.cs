// TrialDispatcher: the submitter's loop: hands jobs to workers with free slots, polls them, re-queues the work of dead workers.
using Orleans;
using Orleans.Runtime;

namespace DigitLab.Cluster;

/// <summary>What the dispatcher tells its caller as work moves (all called on the dispatcher's loop, one at a time).</summary>
public interface IDispatchListener
{
    void Started(TrialJob job, string worker, bool adopted);
    /// <summary>Save the results; the worker forgets them after this returns.</summary>
    void Finished(TrialJob job, TrialStatus status);
    void Failed(TrialJob job, TrialStatus status);
    void Requeued(TrialJob job, string worker, string reason);
    void NoWorkers();
}

/// <summary>
/// Runs a list of jobs on the cluster's workers and returns when each has finished or failed (or on cancellation).
/// The submitter holds all the state: which job runs where. Workers hold only their running jobs and finished results,
/// so a worker that dies loses nothing the submitter cannot redo, and a submitter that restarts adopts what workers
/// still have (a job's id names the work, so asking for it again returns the same job).
/// </summary>
/// <remarks>
/// Failure rule: a job is re-queued only when its worker is gone — no longer Active in the cluster's membership table
/// (declared dead by its peers, see <see cref="ClusterHosting.ProbeTimeout"/>) or restarted without it. A call that
/// merely fails while the worker is still listed is retried on the next poll. A job that reports Failed is never re-run.
/// </remarks>
public sealed class TrialDispatcher(IGrainFactory grains, IDispatchListener listener)
{
    /// <summary>How often running jobs are polled: small next to a trial's seconds-to-hours, cheap (one message each).</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public async Task RunAsync(IReadOnlyList<TrialJob> jobs, CancellationToken ct)
    {
        var pending = new LinkedList<TrialJob>(jobs);
        var running = new Dictionary<string, (TrialJob Job, string Worker)>();
        bool adopted = false, toldNoWorkers = false;
        while ((pending.Count > 0 || running.Count > 0) && !ct.IsCancellationRequested)
        {
            var workers = await ActiveWorkersAsync();
            if (workers.Count == 0 && !toldNoWorkers) { listener.NoWorkers(); toldNoWorkers = true; }
            if (workers.Count > 0) toldNoWorkers = false;

            if (!adopted && workers.Count > 0)
            {
                // A rerun submitter first asks every worker for its jobs: work started by an earlier run is adopted, not repeated.
                adopted = true;
                foreach (var worker in workers)
                    foreach (var job in pending.ToList())
                    {
                        var status = await TryCall(() => Worker(worker).Poll(job.Id));
                        if (status is null || status.State is TrialState.Unknown or TrialState.Busy) continue;
                        pending.Remove(job);
                        running[job.Id] = (job, worker);
                        listener.Started(job, worker, adopted: true);
                    }
            }

            // Poll the running jobs side by side, so one unreachable worker does not hold up the others' results.
            var polls = running.Values.Select(async r => (r.Job, r.Worker, Status: await TryCall(() => Worker(r.Worker).Poll(r.Job.Id)))).ToList();
            foreach (var (job, worker, status) in await Task.WhenAll(polls))
            {
                if (status is { State: TrialState.Finished })
                {
                    listener.Finished(job, status);
                    running.Remove(job.Id);
                    await TryCall(async () => { await Worker(worker).Forget(job.Id); return (object)true; });
                }
                else if (status is { State: TrialState.Failed })
                {
                    listener.Failed(job, status);
                    running.Remove(job.Id);
                    await TryCall(async () => { await Worker(worker).Forget(job.Id); return (object)true; });
                }
                else if (!workers.Contains(worker) || status is { State: TrialState.Unknown })
                {
                    running.Remove(job.Id);
                    pending.AddFirst(job);
                    listener.Requeued(job, worker, workers.Contains(worker) ? "the worker restarted without it" : "the worker left the cluster");
                }
            }

            foreach (var worker in workers.OrderBy(_ => Random.Shared.Next()))
            {
                if (pending.Count == 0) break;
                var info = await TryCall(() => Worker(worker).Describe());
                if (info is null) continue;
                for (int free = info.Slots - info.Running; free > 0 && pending.Count > 0; free--)
                {
                    var job = pending.First!.Value;
                    var status = await TryCall(() => Worker(worker).Start(job));
                    if (status is null || status.State == TrialState.Busy) break;
                    pending.RemoveFirst();
                    running[job.Id] = (job, worker);
                    listener.Started(job, worker, adopted: status.State != TrialState.Running);
                }
            }
            try { await Task.Delay(PollInterval, ct); } catch (OperationCanceledException) { }
        }
    }

    private ITrialWorkerGrain Worker(string name) => grains.GetGrain<ITrialWorkerGrain>(name);

    /// <summary>The workers the membership table lists as Active (silos whose name has <see cref="ClusterHosting.WorkerPrefix"/>).</summary>
    private async Task<HashSet<string>> ActiveWorkersAsync()
    {
        var hosts = await TryCall(() => grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true));
        return hosts is null ? [] : hosts.Where(h => h.SiloName.StartsWith(ClusterHosting.WorkerPrefix, StringComparison.Ordinal)).Select(h => h.SiloName).ToHashSet();
    }

    /// <summary>A grain call whose failure (worker gone, timeout) is an answer, not an error: null.</summary>
    private static async Task<T?> TryCall<T>(Func<Task<T>> call) where T : class
    {
        try { return await call(); }
        catch (Exception e) when (e is not OutOfMemoryException) { return null; }
    }
}
