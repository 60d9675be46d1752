// ClusterSweepTests: a real Redis, three worker processes and a submitter on loopback; one worker killed mid-trial.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using DigitLab.Training;
using DigitLab.IO;

namespace DigitLab.Tests.Cluster;

/// <summary>
/// End to end through the CLI's own processes (as people run them): needs Debian's redis-server (test.sh installs it)
/// and the MNIST copy in the data folder (fetched on first use). Trials are tiny (mlp, 1 epoch, 40,000 images, 1 thread)
/// but long enough, a few seconds, to kill a worker in the middle of one.
/// </summary>
public sealed class ClusterSweepTests
{
    private static readonly string[] TrialArgs =
        ["--models", "mlp", "--lr", "0.02,0.01,0.005,0.002", "--train-sizes", "40000", "--epochs", "1", "--validation", "100", "--threads", "1", "--checkpoints"];

    [SkippableFact]
    public async Task ASweepSurvivesAWorkerKilledMidTrialAndMatchesALocalSweepBitForBit()
    {
        string? redis = FindOnPath("redis-server");
        Skip.If(redis is null, "redis-server is not installed (test.sh installs Debian's redis-server when run as root).");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        using var dir = new DigitLab.Tests.Data.SyntheticData.TempDir();
        int port = FreePort();
        var processes = new List<Process>();
        try
        {
            // Loopback only, no persistence: the cluster's Redis must never be reachable from elsewhere.
            processes.Add(Start(redis!, $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no --protected-mode yes"));
            string cluster = $"redis://127.0.0.1:{port}";
            var workers = new List<(Process Process, string Name)>();
            for (int i = 0; i < 3; i++)
            {
                var worker = StartCli("worker", "--cluster", cluster, "--slots", "1");
                processes.Add(worker);
                workers.Add((worker, ""));
            }
            for (int i = 0; i < workers.Count; i++)
                workers[i] = (workers[i].Process, await WorkerName(workers[i].Process, cancel.Token));

            string clusterOut = Path.Combine(dir.Path, "cluster");
            var submitter = StartCli(["sweep", "--cluster", cluster, "--out", clusterOut, .. TrialArgs]);
            processes.Add(submitter);
            // As soon as a trial is started on a worker, kill that worker (SIGKILL: no goodbye to the cluster).
            string victim = await WaitFor(submitter, text => workers.Select(w => w.Name).FirstOrDefault(text.Contains), cancel.Token);
            workers.Single(w => w.Name == victim).Process.Kill();
            await submitter.WaitForExitAsync(cancel.Token);
            string output = Output(submitter);
            Assert.True(submitter.ExitCode == 0, $"the cluster sweep exited with {submitter.ExitCode}:\n{output}");
            Assert.Contains("re-queued", output); // the killed worker's trial was run again elsewhere
            Assert.Contains("4 of 4 trials finished", Flat(output));

            // The same sweep on one process (embedded silo): every trial's weights bit for bit the same.
            string localOut = Path.Combine(dir.Path, "local");
            var local = StartCli(["sweep", "--out", localOut, .. TrialArgs]);
            processes.Add(local);
            await local.WaitForExitAsync(cancel.Token);
            Assert.True(local.ExitCode == 0, $"the local sweep exited with {local.ExitCode}:\n{Output(local)}");
            var trials = Directory.GetFiles(clusterOut, "trial-*.json").Select(Path.GetFileName).Order().ToList();
            Assert.Equal(4, trials.Count); // every trial exactly once
            Assert.Equal(Directory.GetFiles(localOut, "trial-*.json").Select(Path.GetFileName).Order(), trials);
            // Weights and optimizer state, bit for bit (the metadata differs: it holds the run's timings).
            var checkpoints = Directory.GetFiles(localOut, "trial-*.safetensors");
            Assert.Equal(4, checkpoints.Length);
            foreach (var checkpoint in checkpoints)
            {
                var mine = SafeTensors.Read(checkpoint).Tensors;
                var theirs = SafeTensors.Read(Path.Combine(clusterOut, Path.GetFileName(checkpoint))).Tensors;
                Assert.Equal(mine.Select(t => t.Name), theirs.Select(t => t.Name));
                for (int i = 0; i < mine.Count; i++)
                    Assert.True(MemoryMarshal.AsBytes(mine[i].Tensor.ReadOnlySpan).SequenceEqual(MemoryMarshal.AsBytes(theirs[i].Tensor.ReadOnlySpan)),
                        $"{Path.GetFileName(checkpoint)}: tensor {mine[i].Name} differs between the cluster and the local sweep");
            }

            // A rerun submitter finds every trial finished and runs none again.
            var rerun = StartCli(["sweep", "--cluster", cluster, "--out", clusterOut, .. TrialArgs]);
            processes.Add(rerun);
            await rerun.WaitForExitAsync(cancel.Token);
            Assert.Equal(0, rerun.ExitCode);
            Assert.Equal(4, CountOf(Output(rerun), "finished earlier, skipped"));

            // A trial that fails by itself (more images than the worker's training set has) is reported once, not retried.
            var bad = StartCli("sweep", "--cluster", cluster, "--out", Path.Combine(dir.Path, "bad"), "--models", "mlp", "--lr", "0.01",
                "--train-sizes", "70000", "--epochs", "1", "--validation", "100", "--threads", "1");
            processes.Add(bad);
            await bad.WaitForExitAsync(cancel.Token);
            Assert.Equal(1, bad.ExitCode);
            Assert.Equal(1, CountOf(Output(bad), "failed mlp"));
            Assert.Contains("70,000 is more than the 59,900 training images", Flat(Output(bad)));
        }
        finally
        {
            foreach (var p in processes)
            {
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p.Dispose();
            }
        }
    }

    /// <summary>How often <paramref name="what"/> occurs, with line wrapping (the console's width) and runs of spaces ignored.</summary>
    private static int CountOf(string text, string what) => Regex.Matches(Flat(text), Regex.Escape(what)).Count;

    private static string Flat(string text) => Regex.Replace(Regex.Replace(text, @"\x1b\[[0-9;]*m", ""), @"\s+", " ");

    private static async Task<string> WorkerName(Process worker, CancellationToken ct) =>
        await WaitFor(worker, text => text.Split(' ', '\n').FirstOrDefault(w => w.StartsWith("digitlab-worker-", StringComparison.Ordinal)), ct);

    /// <summary>Waits until <paramref name="find"/> finds something in the process's output so far.</summary>
    private static async Task<T> WaitFor<T>(Process process, Func<string, T?> find, CancellationToken ct)
    {
        while (true)
        {
            if (find(Output(process)) is { } found) return found;
            if (process.HasExited) throw new InvalidOperationException($"the process exited ({process.ExitCode}) before its output showed what was expected:\n{Output(process)}");
            await Task.Delay(100, ct);
        }
    }

    private static readonly Dictionary<Process, StringBuilder> Outputs = [];

    private static string Output(Process p) { lock (Outputs) return Outputs[p].ToString(); }

    private static Process StartCli(params string[] args) =>
        Start("dotnet", string.Join(' ', new[] { CliPath() }.Concat(args).Select(a => a.Contains(' ') ? $"\"{a}\"" : a)));

    private static Process Start(string file, string arguments)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["COLUMNS"] = "400";
        info.Environment["NO_COLOR"] = "1";
        var process = new Process { StartInfo = info };
        var sb = new StringBuilder();
        lock (Outputs) Outputs[process] = sb;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (Outputs) sb.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (Outputs) sb.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>The CLI built beside this test project (same configuration).</summary>
    private static string CliPath()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "DigitLab.slnx"))) root = root.Parent;
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        string path = Path.Combine(root?.FullName ?? throw new InvalidOperationException("DigitLab.slnx not found above the test folder."),
            "src", "DigitLab.Cli", "bin", configuration, "net10.0", "DigitLab.Cli.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"The CLI is not built at {path}; build the solution first.", path);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
