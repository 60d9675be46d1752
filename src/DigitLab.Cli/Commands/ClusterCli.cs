// ClusterCli: the --cluster option and the sweep's run through the cluster dispatcher (embedded silo when no cluster is named).
using System.CommandLine;
using System.Globalization;
using DigitLab.Cluster;
using DigitLab.Data;
using System.Text.Json;
using DigitLab.Reports;
using DigitLab.Training;
using Microsoft.Extensions.Hosting;
using Orleans;
using Spectre.Console;
using DigitLab.IO;
using DigitLab.Experiments;

namespace DigitLab.Cli.Commands;

internal static class ClusterCli
{
    public static Option<string?> ClusterOption(bool required = false) => new("--cluster")
    {
        Description = required
            ? "The cluster to join: redis://HOST:PORT of the Redis server holding its membership table"
            : "Run on a cluster of `digitlab worker`s: redis://HOST:PORT of its Redis server (default: an in-process silo on this machine)",
        Required = required,
    };

    /// <summary>
    /// Trial slots of the embedded silo. One until the engine's thread count is per trainer (today it is the process-wide
    /// Threading.Threads): trials in one process then run one at a time, as `digitlab sweep` always has.
    /// </summary>
    public const int EmbeddedSlots = 1;

    /// <summary>
    /// Runs the sweep's trials through the Orleans dispatcher: on an in-process silo over the already loaded data when
    /// <paramref name="cluster"/> is null, else on the cluster's workers (which read their own data).
    /// </summary>
    public static ClusterSweepOutcome RunSweep(IReadOnlyList<SweepTrial> trials, string outDir, int threads, bool checkpoints, string? cluster,
        Func<ITrialData>? embeddedData, CancellationToken ct, string? tensorboard = null)
    {
        return Task.Run(async () =>
        {
            using var host = cluster is null
                ? await ClusterHosting.StartEmbeddedAsync(EmbeddedSlots, embeddedData!(), ct)
                : await ClusterHosting.StartClientAsync(ClusterAddress.Parse(cluster), ct);
            if (cluster is not null) AnsiConsole.MarkupLine($"Submitting {trials.Count} trials to {Markup.Escape(cluster)}; progress as trials finish anywhere.");
            var grains = (IGrainFactory)host.Services.GetService(typeof(IClusterClient))!;
            var outcome = await ClusterSweep.RunAsync(grains, trials, outDir, threads, checkpoints, new ConsoleProgress(trials.Count, cluster is not null), ct, tensorboard);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await host.StopAsync(stop.Token); } catch (OperationCanceledException) { }
            return outcome;
        }).GetAwaiter().GetResult();
    }

    /// <summary>The sweep's console lines: "[k/N] trial" as each starts, its accuracies as it finishes (with the worker on a cluster).</summary>
    private sealed class ConsoleProgress(int total, bool showWorkers) : ISweepProgress
    {
        private int _seen;

        public void Skipped(SweepTrial trial) =>
            AnsiConsole.MarkupLine($"[bold][[{++_seen}/{total}]][/] {Markup.Escape(Describe(trial))} [grey](finished earlier, skipped)[/]");

        public void Started(SweepTrial trial, string worker, bool adopted) =>
            AnsiConsole.MarkupLine($"[bold][[{++_seen}/{total}]][/] {Markup.Escape(Describe(trial))}{(showWorkers ? $" [grey]on {Markup.Escape(worker)}{(adopted ? " (already running there)" : "")}[/]" : "")}");

        public void Finished(SweepTrial trial, SweepTrialResult result, string worker)
        {
            var last = result.Run.Epochs[^1];
            string who = showWorkers ? $"{Describe(trial)}: " : "";
            AnsiConsole.MarkupLine($"  {Markup.Escape(who)}train {ModelCli.Percent(last.TrainAccuracy)}, val {(last.ValidationAccuracy is double v ? ModelCli.Percent(v) : "-")}, " +
                                   $"test {ModelCli.Percent(result.Run.Test!.Accuracy)} ({result.Run.TrainSeconds:F0} s)");
        }

        public void Failed(SweepTrial trial, string error, string worker) =>
            AnsiConsole.MarkupLine($"  [red]failed[/] {Markup.Escape(Describe(trial))}{(showWorkers ? $" on {Markup.Escape(worker)}" : "")}: {Markup.Escape(error)} (not retried)");

        public void Requeued(SweepTrial trial, string worker, string reason)
        {
            _seen--;
            AnsiConsole.MarkupLine($"  [yellow]re-queued[/] {Markup.Escape(Describe(trial))}: {Markup.Escape(reason)} ({Markup.Escape(worker)})");
        }

        public void NoWorkers() => AnsiConsole.MarkupLine("[yellow]No workers in the cluster yet[/]; start one with: digitlab worker --cluster redis://HOST:PORT");
    }

    /// <summary>
    /// Trains ensemble members on the cluster's workers (each reads its own data) and returns each member's run log and
    /// checkpoint bytes, in member order; throws when a member fails by itself (it is not retried).
    /// </summary>
    public static List<(RunLog Log, byte[] Checkpoint)> TrainMembers(IReadOnlyList<TrainerOptions> members, string dataset, string cluster, CancellationToken ct)
    {
        return Task.Run(async () =>
        {
            using var host = await ClusterHosting.StartClientAsync(ClusterAddress.Parse(cluster), ct);
            var grains = (IGrainFactory)host.Services.GetService(typeof(IClusterClient))!;
            var jobs = members.Select(o =>
            {
                // The id names the recipe (its JSON, the same for the same recipe) and dataset: a rerun adopts a member still on a worker.
                string spec = JsonSerializer.Serialize(new MemberSpec(o, dataset), DigitLabJson.Options);
                string id = "member:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(spec)))[..20];
                return new TrialJob(id, TrialKind.EnsembleMember, spec, o.Threads, true);
            }).ToList();
            var listener = new MemberListener(jobs);
            AnsiConsole.MarkupLine($"Submitting {jobs.Count} ensemble members to {Markup.Escape(cluster)}.");
            await new TrialDispatcher(grains, listener).RunAsync(jobs, ct);
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try { await host.StopAsync(stop.Token); } catch (OperationCanceledException) { }
            if (listener.Failure is { } failure) throw new InvalidOperationException(failure);
            ct.ThrowIfCancellationRequested();
            return jobs.Select(j => listener.Done[j.Id]).ToList();
        }).GetAwaiter().GetResult();
    }

    private sealed class MemberListener(List<TrialJob> jobs) : IDispatchListener
    {
        public Dictionary<string, (RunLog, byte[])> Done { get; } = [];
        public string? Failure { get; private set; }
        private int Number(TrialJob job) => jobs.FindIndex(j => j.Id == job.Id) + 1;

        public void Started(TrialJob job, string worker, bool adopted) =>
            AnsiConsole.MarkupLine($"Member {Number(job)}/{jobs.Count} on {Markup.Escape(worker)}{(adopted ? " (already running there)" : "")}");
        public void Finished(TrialJob job, TrialStatus status)
        {
            var log = RunLog.FromJson(status.RunLogJson!);
            Done[job.Id] = (log, status.Checkpoint!);
            AnsiConsole.MarkupLine($"Member {Number(job)} finished on {Markup.Escape(status.Worker)}: test {ModelCli.Percent(log.Test!.Accuracy)}, {log.TrainSeconds:F1} s");
        }
        public void Failed(TrialJob job, TrialStatus status) => Failure ??= $"ensemble member {Number(job)} failed on {status.Worker}: {status.Error}";
        public void Requeued(TrialJob job, string worker, string reason) =>
            AnsiConsole.MarkupLine($"  [yellow]re-queued[/] member {Number(job)}: {Markup.Escape(reason)} ({Markup.Escape(worker)})");
        public void NoWorkers() => AnsiConsole.MarkupLine("[yellow]No workers in the cluster yet[/]; start one with: digitlab worker --cluster redis://HOST:PORT");
    }

    public static string Describe(SweepTrial t) => string.Create(CultureInfo.InvariantCulture,
        $"{t.Model}, {t.Optimizer} lr {t.LearningRate}, batch {t.BatchSize}, {(t.TrainSize is int n ? $"{n:N0}" : "all")} training images, {t.Epochs} epochs");
}
