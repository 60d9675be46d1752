// TrialWorkerGrain: the grain face of a worker's TrialSlots, pinned to its own silo.
using Orleans;
using Orleans.Placement;

namespace DigitLab.Cluster;

/// <summary>Forwards to the silo's <see cref="TrialSlots"/>; every call returns at once (see <see cref="ITrialWorkerGrain"/>'s remarks).</summary>
[OwnSiloPlacement]
internal sealed class TrialWorkerGrain(TrialSlots slots) : Grain, ITrialWorkerGrain
{
    public Task<WorkerInfo> Describe() => Task.FromResult(slots.Describe());
    public Task<TrialStatus> Start(TrialJob job) => Task.FromResult(slots.Start(job));
    public Task<TrialStatus> Poll(string jobId) => Task.FromResult(slots.Poll(jobId));
    public Task Forget(string jobId) { slots.Forget(jobId); return Task.CompletedTask; }
}
