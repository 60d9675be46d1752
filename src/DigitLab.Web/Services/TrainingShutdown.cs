// TrainingShutdown: when the host stops (SIGTERM, Ctrl+C), the running training job is cancelled as the Cancel button does, and the host waits for it to save the partial model.
namespace DigitLab.Web.Services;

/// <summary>
/// A hosted service whose only work is at shutdown: <see cref="TrainingJobs.Cancel"/>, then wait for the job to finish
/// (it stops after its current batch and saves what it trained) within the host's shutdown timeout.
/// </summary>
public sealed class TrainingShutdown(TrainingJobs jobs, ILogger<TrainingShutdown> log) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <param name="cancellationToken">Fires when the host's shutdown timeout (HostOptions.ShutdownTimeout, 30 s by default) runs out.</param>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!jobs.Cancel(out var status)) return;
        log.LogInformation("Server stopping: cancelling training job {Name}; its partial model will be saved.", status.Request?.Name);
        try { await jobs.Completion.WaitAsync(cancellationToken); }
        catch (OperationCanceledException) { log.LogWarning("Server stopping: training job {Name} did not finish saving within the shutdown timeout.", status.Request?.Name); }
    }
}
