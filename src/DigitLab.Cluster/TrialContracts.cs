// TrialContracts: what travels between a submitter and the workers of an Orleans cluster (a job, its status, a worker's grain).
using Orleans;
using DigitLab.Experiments;

namespace DigitLab.Cluster;

/// <summary>
/// One unit of work: a sweep trial or an ensemble member. <see cref="Spec"/> is the trial's settings as JSON (a
/// <see cref="DigitLab.Reports.SweepTrial"/> or <see cref="MemberSpec"/>), so the core library's types need no Orleans attributes.
/// </summary>
/// <param name="Id">Names the work, not the attempt: the trial's key and thread count. A worker that already has this id
/// (running or finished) answers with it instead of starting it again, so a rerun submitter adopts earlier work.</param>
/// <param name="Threads">Kernel threads for the trial; 0 lets the worker choose (its cores divided by its slots).
/// Results are bit-identical only between runs with the same thread count.</param>
[GenerateSerializer, Immutable, Alias("DigitLab.TrialJob")]
public sealed record TrialJob(
    [property: Id(0)] string Id,
    [property: Id(1)] TrialKind Kind,
    [property: Id(2)] string Spec,
    [property: Id(3)] int Threads,
    [property: Id(4)] bool WantCheckpoint,
    [property: Id(5)] string? TensorBoard = null); // event-file folder, on the machine that runs the trial

[GenerateSerializer, Alias("DigitLab.TrialKind")]
public enum TrialKind { SweepTrial, EnsembleMember }

[GenerateSerializer, Alias("DigitLab.TrialState")]
public enum TrialState
{
    /// <summary>The worker has no free slot (or runs trials of another thread count): try another one.</summary>
    Busy,
    Running,
    Finished,
    /// <summary>The trial failed by itself (its recipe, its data): reported to the submitter, never retried.</summary>
    Failed,
    /// <summary>The worker does not know the job (it restarted, or the job was collected).</summary>
    Unknown,
}

/// <summary>A job's state on one worker. When finished: the run log as JSON and, if asked for, the checkpoint's bytes.</summary>
[GenerateSerializer, Immutable, Alias("DigitLab.TrialStatus")]
public sealed record TrialStatus(
    [property: Id(0)] string JobId,
    [property: Id(1)] TrialState State,
    [property: Id(2)] string? RunLogJson = null,
    [property: Id(3)] byte[]? Checkpoint = null,
    [property: Id(4)] string? Error = null,
    [property: Id(5)] string Worker = "");

/// <summary>What a worker offers: its name, its trial slots and how many are in use.</summary>
[GenerateSerializer, Immutable, Alias("DigitLab.WorkerInfo")]
public sealed record WorkerInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] int Slots,
    [property: Id(2)] int Running,
    [property: Id(3)] int Cores);

/// <summary>
/// The trial service of one worker silo. Keyed by the silo's name, and placed by <see cref="OwnSiloPlacementAttribute"/>
/// on exactly that silo: a grain per machine's process, never moved. When the silo dies the grain cannot be placed
/// anywhere else, so calls to it fail instead of silently starting a fresh, empty worker elsewhere.
/// </summary>
/// <remarks>
/// Why start-then-poll rather than one call that trains: a trial runs for minutes to hours, and a grain call that
/// waited for it would hold the caller past Orleans' response timeout (30 s by default) and block the grain's turn.
/// <see cref="Start"/> returns at once; the trial runs on the worker's own thread, outside any grain turn; the
/// submitter asks <see cref="Poll"/> every few hundred milliseconds (one small message per running trial). Polling
/// rather than an observer because the submitter owns all the state that matters: when a worker dies or the
/// submitter restarts, there is no subscription to rebuild, and a missed completion message cannot lose a trial.
/// </remarks>
[Alias("DigitLab.ITrialWorkerGrain")]
public interface ITrialWorkerGrain : IGrainWithStringKey
{
    [Alias("Describe")] Task<WorkerInfo> Describe();
    /// <summary>Starts <paramref name="job"/> if a slot is free and returns at once (Running, or Busy); a known id answers its status.</summary>
    [Alias("Start")] Task<TrialStatus> Start(TrialJob job);
    /// <summary>The job's state; Finished and Failed carry the results.</summary>
    [Alias("Poll")] Task<TrialStatus> Poll(string jobId);
    /// <summary>Drops a finished job's results once the submitter has saved them.</summary>
    [Alias("Forget")] Task Forget(string jobId);
}
