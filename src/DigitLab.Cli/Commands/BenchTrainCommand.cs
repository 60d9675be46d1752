// BenchTrainCommand: `digitlab bench train`, training and inference throughput of the zoo models, the protocol
// tools/bench_torch_train.py repeats in PyTorch so the two columns compare like with like.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Cli.Commands;

/// <summary>
/// For each model: <c>--warmup</c> training steps, then <c>--steps</c> timed ones (batch 64, Adam 1e-3, MNIST
/// in memory, shuffled and normalised by the <see cref="Batcher"/>); inference images/s on one batch of
/// <c>--inference-batch</c> images in eval mode; single-image latency (median of many calls); and the bytes
/// the managed heap grew by per training step.
/// </summary>
internal static class BenchTrainCommand
{
    private const string DefaultModels = "mlp,cnn,lenet5,net3,resnet18";
    private const int LatencyCalls = 200;
    private const int InferencePasses = 5;

    /// <summary>One model's figures.</summary>
    internal sealed record Result(string Model, long Parameters, int Threads, int Batch, int Steps,
        double TrainSamplesPerSecond, double CpuMsPerStep, double InferenceImagesPerSecond, double LatencyP50Ms, long BytesPerStep,
        double LoadAverage, IReadOnlyList<ProfileRow>? Profile);

    /// <summary>
    /// Mean milliseconds per step spent in one layer (or the loss, optimizer, batcher): wall-clock, and the process's
    /// CPU time (all threads), which other processes on the machine disturb far less.
    /// </summary>
    internal sealed record ProfileRow(string Name, double ForwardMs, double BackwardMs, double ForwardCpuMs, double BackwardCpuMs);

    public static Command Create()
    {
        var modelsOption = new Option<string>("--models")
        {
            Description = $"Comma-separated zoo models to measure ({string.Join(", ", ModelZoo.Names)}).",
            DefaultValueFactory = _ => DefaultModels,
        };
        var stepsOption = new Option<int>("--steps") { Description = "Timed training steps per model.", DefaultValueFactory = _ => 300 };
        var warmupOption = new Option<int>("--warmup") { Description = "Untimed training steps first (JIT, buffers, caches).", DefaultValueFactory = _ => 20 };
        var batchOption = new Option<int>("--batch-size") { Description = "Training batch size.", DefaultValueFactory = _ => 64 };
        var inferenceBatchOption = new Option<int>("--inference-batch")
        {
            Description = $"Images per inference pass (eval mode); the fastest of {InferencePasses} passes is reported.",
            DefaultValueFactory = _ => 1000,
        };
        var threadsOption = new Option<int>("--threads") { Description = "Engine threads.", DefaultValueFactory = _ => 2 };
        var repeatOption = new Option<int>("--repeat")
        {
            Description = "Time the training steps this many times and report the fastest (helps on a busy machine).",
            DefaultValueFactory = _ => 1,
        };
        var profileOption = new Option<bool>("--profile")
        {
            Description = "Also print, per model, the mean milliseconds per training step of each layer's forward and backward, the loss, the optimizer and the batcher.",
        };
        var dataDirOption = CliCommon.DataDirOption();
        var jsonOption = CliCommon.JsonOption();
        var deviceOption = DeviceTraining.Option();
        var command = new Command("train",
            "Training samples/s (warm-up, then timed steps; batch 64, Adam, data in memory), inference images/s, single-image latency " +
            "and bytes allocated per step for each model. Uses MNIST when it is in --data-dir, random digits-shaped bytes otherwise. " +
            "Compare with tools/bench_torch_train.py; run when the machine is otherwise idle (the load average is printed).")
        {
            modelsOption, stepsOption, warmupOption, batchOption, inferenceBatchOption, threadsOption, repeatOption, profileOption, dataDirOption, jsonOption, deviceOption,
        };
        command.SetAction(parse =>
        {
            var models = parse.GetValue(modelsOption)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var m in models)
                if (!ModelZoo.Exists(m))
                {
                    Console.Error.WriteLine($"error: unknown model '{m}' in --models. Known models: {string.Join(", ", ModelZoo.Names)}.");
                    return 2;
                }
            int steps = parse.GetValue(stepsOption), warmup = parse.GetValue(warmupOption), batch = parse.GetValue(batchOption);
            int inferenceBatch = parse.GetValue(inferenceBatchOption), threads = parse.GetValue(threadsOption), repeat = parse.GetValue(repeatOption);
            if (steps < 1 || warmup < 0 || batch < 1 || inferenceBatch < 1 || threads < 1 || repeat < 1)
            {
                Console.Error.WriteLine("error: --steps, --batch-size, --inference-batch, --threads and --repeat must be at least 1, --warmup at least 0.");
                return 2;
            }
            bool json = parse.GetValue(jsonOption), profile = parse.GetValue(profileOption);
            var data = LoadData(parse.GetValue(dataDirOption), out string dataNote);
            var log = json ? Console.Error : Console.Out;
            if (DigitLab.Gpu.GpuDevice.Open(DigitLab.Gpu.GpuDevice.Parse(parse.GetValue(deviceOption)!)) is { } gpu)
                using (gpu) return GpuBenchCli.Run(gpu, models, data, dataNote, steps, warmup, batch, inferenceBatch);
            log.WriteLine($"DigitLab training benchmark: {Environment.ProcessorCount} cores, {threads} threads, batch {batch}, " +
                          $"{warmup} warm-up + {steps} timed steps{(repeat > 1 ? $" (fastest of {repeat})" : "")}, Adam; data: {dataNote}; load average {LoadAverage():F2}");
            var results = new List<Result>();
            using var compute = new ComputeContext(threads);
            foreach (var name in models)
            {
                var r = Measure(name, data, compute, steps, warmup, batch, inferenceBatch, repeat, profile);
                results.Add(r);
                if (!json) Print(r);
            }
            if (json) Console.WriteLine(JsonSerializer.Serialize(results, CliCommon.Json));
            return 0;
        });
        return command;
    }

    private static void Print(Result r)
    {
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(ci,
            $"{r.Model,-9} {r.TrainSamplesPerSecond,9:N0} train samples/s ({r.CpuMsPerStep,7:F2} cpu ms/step)  {r.InferenceImagesPerSecond,9:N0} inference img/s  " +
            $"latency p50 {r.LatencyP50Ms,7:F3} ms  {r.BytesPerStep,7:N0} B/step  (load {r.LoadAverage:F1})"));
        if (r.Profile is null) return;
        double total = r.Profile.Sum(p => p.ForwardCpuMs + p.BackwardCpuMs);
        Console.WriteLine($"  {"layer (ms per step)",-40} {"fwd wall",9} {"bwd wall",9} {"fwd cpu",9} {"bwd cpu",9} {"cpu share",9}");
        foreach (var p in r.Profile)
            Console.WriteLine(string.Create(ci,
                $"  {p.Name,-40} {p.ForwardMs,9:F3} {p.BackwardMs,9:F3} {p.ForwardCpuMs,9:F3} {p.BackwardCpuMs,9:F3} {(p.ForwardCpuMs + p.BackwardCpuMs) / total,9:P0}"));
        Console.WriteLine(string.Create(ci, $"  {"total",-40} {r.Profile.Sum(p => p.ForwardMs),9:F3} {r.Profile.Sum(p => p.BackwardMs),9:F3} " +
                                            $"{r.Profile.Sum(p => p.ForwardCpuMs),9:F3} {r.Profile.Sum(p => p.BackwardCpuMs),9:F3}"));
    }

    /// <summary>MNIST's training set when the store has it; otherwise 10,000 random images (the speed does not depend on the pixels much).</summary>
    internal static MnistDataset LoadData(string? dataDir, out string note)
    {
        try
        {
            var store = new DatasetStore(dataDir);
            var train = store.ReadTrain();
            note = $"MNIST train ({train.Count:N0} images)";
            return train;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or DatasetUnavailableException)
        {
            const int Count = 10_000;
            var rng = new Rng(7);
            var images = new byte[Count * MnistDataset.Pixels];
            var labels = new byte[Count];
            for (int i = 0; i < images.Length; i++) images[i] = rng.Uniform(0, 1) < 0.8f ? (byte)0 : (byte)(rng.Uniform(0, 1) * 255);
            for (int i = 0; i < Count; i++) labels[i] = (byte)(i % 10);
            note = "random images (MNIST not found; `digitlab data` fetches it)";
            return new MnistDataset(images, labels, "random");
        }
    }

    internal static Result Measure(string name, MnistDataset data, ComputeContext compute, int steps, int warmup, int batchSize, int inferenceBatch, int repeat, bool profile)
    {
        var model = ModelZoo.Create(name, seed: 1);
        var optimizer = new Adam(model.NamedParameters(), 1e-3) { Compute = compute };
        var loss = new SoftmaxCrossEntropy();
        var batcher = new Batcher(data, batchSize, Normalization.Mnist, seed: 1);
        batcher.StartEpoch();
        // As the trainer: nothing reads the images' gradient, so the first layer skips it.
        var workspace = new Workspace(compute, training: true) { InputWithoutGradient = batcher.Images };

        void Step()
        {
            if (!batcher.Next() || batcher.Count != batchSize) { batcher.StartEpoch(); batcher.Next(); }
            var logits = model.Forward(batcher.Images, workspace);
            loss.Forward(logits, batcher.LabelSpan);
            model.Backward(loss.Backward(), workspace);
            optimizer.StepAndZeroGrad(); // as the trainer: the next step starts from zero gradients
        }

        optimizer.ZeroGrad();
        for (int i = 0; i < warmup; i++) Step();
        double best = double.MaxValue, bestCpu = double.MaxValue;
        long bytes = long.MaxValue;
        for (int r = 0; r < repeat; r++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            double cpu = CpuTime.ProcessMs();
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < steps; i++) Step();
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            bestCpu = Math.Min(bestCpu, (CpuTime.ProcessMs() - cpu) / steps);
            bytes = Math.Min(bytes, (GC.GetTotalAllocatedBytes(precise: true) - before) / steps);
            best = Math.Min(best, seconds);
        }
        double trainRate = (double)steps * batchSize / best;

        IReadOnlyList<ProfileRow>? rows = null;
        if (profile) rows = Profile(model, workspace, optimizer, loss, batcher, batchSize, Math.Max(10, Math.Min(steps, 50)));

        // Inference: one fixed batch, eval mode (batch norm running statistics, no dropout).
        var evaluation = new Workspace(compute, training: false);
        var inferenceBatcher = new Batcher(data, Math.Min(inferenceBatch, data.Count), Normalization.Mnist, shuffle: false);
        inferenceBatcher.StartEpoch();
        inferenceBatcher.Next();
        var images = inferenceBatcher.Images;
        model.Forward(images, evaluation);
        double fastest = double.MaxValue;
        for (int r = 0; r < InferencePasses; r++)
        {
            long start = Stopwatch.GetTimestamp();
            model.Forward(images, evaluation);
            fastest = Math.Min(fastest, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        double inferenceRate = images.Shape[0] / fastest;

        // Latency: one image at a time, as the web app predicts.
        var one = new Tensor(1, 1, MnistDataset.Rows, MnistDataset.Cols);
        images.Span[..MnistDataset.Pixels].CopyTo(one.Span);
        for (int i = 0; i < 20; i++) model.Forward(one, evaluation);
        var latencies = new double[LatencyCalls];
        for (int i = 0; i < LatencyCalls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            model.Forward(one, evaluation);
            latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(latencies);

        return new Result(name, model.ParameterCount(), compute.Threads, batchSize, steps, trainRate, bestCpu, inferenceRate,
            latencies[LatencyCalls / 2], bytes, LoadAverage(), rows);
    }

    /// <summary>
    /// Runs <paramref name="steps"/> training steps layer by layer with a stopwatch around each: the model's nested
    /// Sequentials are unrolled (that is all a Sequential does), other containers (residual blocks) are timed whole.
    /// </summary>
    private static IReadOnlyList<ProfileRow> Profile(Module model, Workspace workspace, Optimizer optimizer, SoftmaxCrossEntropy loss, Batcher batcher, int batchSize, int steps)
    {
        var layers = new List<(string Name, Module Module)>();
        Unroll("", model, layers);
        // Rows: batcher, zero grad, the layers, loss, optimizer; columns: wall and cpu, forward and backward.
        int count = layers.Count + 4;
        var wall = new double[count, 2];
        var cpu = new double[count, 2];
        long t = 0;
        double c = 0;
        void Start() { t = Stopwatch.GetTimestamp(); c = CpuTime.ProcessMs(); }
        void Stop(int row, int pass) { wall[row, pass] += Stopwatch.GetElapsedTime(t).TotalMilliseconds; cpu[row, pass] += CpuTime.ProcessMs() - c; }
        int lossRow = layers.Count + 2, optimizerRow = layers.Count + 3;
        for (int s = 0; s < steps; s++)
        {
            Start();
            if (!batcher.Next() || batcher.Count != batchSize) { batcher.StartEpoch(); batcher.Next(); }
            Stop(0, 0);
            // Row 1 (zero grad) stays empty: the optimizer's StepAndZeroGrad below clears the gradients as it reads them.
            var x = batcher.Images;
            for (int i = 0; i < layers.Count; i++)
            {
                Start();
                x = layers[i].Module.Forward(x, workspace);
                Stop(i + 2, 0);
            }
            Start();
            loss.Forward(x, batcher.LabelSpan);
            var g = loss.Backward();
            Stop(lossRow, 0);
            for (int i = layers.Count - 1; i >= 0; i--)
            {
                Start();
                g = layers[i].Module.Backward(g, workspace);
                Stop(i + 2, 1);
            }
            Start();
            optimizer.StepAndZeroGrad();
            Stop(optimizerRow, 1);
        }
        var names = new List<string> { "batcher (shuffle, normalise)", "zero grad (in the optimizer step)" };
        names.AddRange(layers.Select(l => $"{l.Name} {FirstLine(l.Module)}"));
        names.Add("softmax cross-entropy");
        names.Add($"optimizer {optimizer.GetType().Name}.StepAndZeroGrad");
        return names.Select((n, i) => new ProfileRow(n, wall[i, 0] / steps, wall[i, 1] / steps, cpu[i, 0] / steps, cpu[i, 1] / steps)).ToList();
    }

    private static void Unroll(string prefix, Module module, List<(string, Module)> into)
    {
        if (module is Sequential)
            foreach (var (name, child) in module.Children()) Unroll(prefix.Length == 0 ? name : prefix + "." + name, child, into);
        else into.Add((prefix, module));
    }

    private static string FirstLine(Module m)
    {
        string text = m.ToString() ?? m.GetType().Name;
        int nl = text.IndexOf('\n');
        return nl < 0 ? text : m.GetType().Name;
    }

    /// <summary>The 1-minute load average (Linux), NaN elsewhere: other processes lower every figure.</summary>
    internal static double LoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            return double.Parse(text.Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return double.NaN; }
    }

    /// <summary>The process's CPU time (all threads), from clock_gettime on Linux; the managed process time elsewhere.</summary>
    private static class CpuTime
    {
        private const int ProcessCpuTimeClock = 2; // CLOCK_PROCESS_CPUTIME_ID

        [StructLayout(LayoutKind.Sequential)]
        private struct TimeSpec { public long Seconds; public long Nanoseconds; }

        [DllImport("libc", EntryPoint = "clock_gettime")]
        private static extern int ClockGetTime(int clock, out TimeSpec time);

        private static readonly bool Native = OperatingSystem.IsLinux();

        public static double ProcessMs()
        {
            if (Native && ClockGetTime(ProcessCpuTimeClock, out var ts) == 0) return ts.Seconds * 1e3 + ts.Nanoseconds * 1e-6;
            return Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
        }
    }
}
