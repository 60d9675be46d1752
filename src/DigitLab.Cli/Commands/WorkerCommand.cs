// WorkerCommand: `digitlab worker --cluster redis://HOST:PORT`, a machine's trial slots joined to a DigitLab cluster.
using System.CommandLine;
using System.Net;
using DigitLab.Cluster;

namespace DigitLab.Cli.Commands;

internal static class WorkerCommand
{
    public static Command Create()
    {
        var cluster = ClusterCli.ClusterOption(required: true);
        var slots = new Option<int>("--slots") { Description = "Trials this worker runs at once; each gets cores / slots kernel threads unless the submitter sets --threads", DefaultValueFactory = _ => 1 };
        var advertise = new Option<string?>("--advertise") { Description = "The address other machines reach this one at (default: loopback for a loopback Redis, else this machine's first IPv4 address)" };
        var dataDir = CliCommon.DataDirOption();
        var command = new Command("worker", "Join a DigitLab cluster and run the sweep trials and ensemble members submitters send (until Ctrl+C). " +
                                            "The Redis endpoint is the cluster's only door: keep it on a private network, never exposed to the internet")
        {
            cluster, slots, advertise, dataDir,
        };
        command.SetAction((r, ct) => CliCommon.RunAsync(async () =>
        {
            var address = ClusterAddress.Parse(r.GetValue(cluster)!);
            int n = r.GetValue(slots);
            if (n < 1) throw new ArgumentException($"--slots must be at least 1, found {n}.");
            IPAddress? ip = null;
            if (r.GetValue(advertise) is { } text && !IPAddress.TryParse(text, out ip))
                throw new ArgumentException($"--advertise '{text}' is not an IP address; give the address other machines reach this one at, e.g. 10.0.0.7.");
            string name = ClusterHosting.NewWorkerName();
            using var host = await ClusterHosting.StartWorkerAsync(address, name, n, new StoreTrialData(r.GetValue(dataDir)), ip, ct);
            Console.WriteLine($"worker {name} joined {address} with {n} slot{(n == 1 ? "" : "s")} ({Environment.ProcessorCount} cores); Ctrl+C to leave.");
            try { await Task.Delay(Timeout.Infinite, ct); } catch (OperationCanceledException) { }
            Console.WriteLine("leaving the cluster (running trials are re-run elsewhere)...");
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await host.StopAsync(stop.Token);
            return 0;
        }));
        return command;
    }
}
