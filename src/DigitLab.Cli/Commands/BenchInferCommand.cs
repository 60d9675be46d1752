// BenchInferCommand: `digitlab bench infer`, DigitLab's inference beside ONNX Runtime's on the same exported model,
// with `bench train`'s inference protocol (batches of 1,000 in eval mode, fastest of 5 passes; single-image latency p50 of 200 calls),
// for both the plain eval pass and the PreparedModel (batch norm folded, ReLU fused, single images split over the threads).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Interop;
using DigitLab.Models;
using DigitLab.Tensors;
using Google.Protobuf;

using DigitLab.Runtime;

using DigitLab.Nn;
using DigitLab.Nn.Inference;

namespace DigitLab.Cli.Commands;

/// <summary>
/// For each model (initialised from seed 1, as <c>bench train</c> does): DigitLab's images/s on one batch of
/// <c>--batch</c> images and its single-image latency, then the same for ONNX Runtime running the model's ONNX export
/// with <c>--threads</c> intra-op threads; the ratio is DigitLab's throughput over ONNX Runtime's (above 1: DigitLab faster).
/// DigitLab is measured twice: the plain eval pass and the <see cref="PreparedModel"/> the web app serves.
/// </summary>
internal static class BenchInferCommand
{
    private const string DefaultModels = "mlp,cnn,lenet5,net3,resnet18";
    private const int LatencyCalls = 200;
    private const int WarmupCalls = 20;
    private const int InferencePasses = 5;

    /// <summary>One model's figures: images/s on the batch, latency p50 in ms, for both engines.</summary>
    internal sealed record Result(string Model, int Threads, int Batch, double DigitLabImagesPerSecond, double OnnxRuntimeImagesPerSecond,
        double DigitLabLatencyMs, double OnnxRuntimeLatencyMs, double PreparedImagesPerSecond, double PreparedLatencyMs, double LoadAverage)
    {
        public double ThroughputRatio => DigitLabImagesPerSecond / OnnxRuntimeImagesPerSecond;
        public double PreparedThroughputRatio => PreparedImagesPerSecond / OnnxRuntimeImagesPerSecond;
        public double PreparedLatencyRatio => OnnxRuntimeLatencyMs / PreparedLatencyMs;
    }

    public static Command Create()
    {
        var modelsOption = new Option<string>("--models")
        {
            Description = $"Comma-separated zoo models to measure ({string.Join(", ", ModelZoo.Names)}).",
            DefaultValueFactory = _ => DefaultModels,
        };
        var batchOption = new Option<int>("--batch") { Description = $"Images per inference pass; the fastest of {InferencePasses} passes is reported.", DefaultValueFactory = _ => 1000 };
        var threadsOption = new Option<int>("--threads") { Description = "DigitLab's threads and ONNX Runtime's intra-op threads.", DefaultValueFactory = _ => 2 };
        var splitOption = new Option<long>("--min-split-work")
        {
            Description = "Least work (multiply-adds + 4 per weight float read) of a prepared layer for a single image to use more than one "
                + "thread; smaller layers run on the calling thread alone (0: every layer split as far as its kernel allows).",
            DefaultValueFactory = _ => InferenceThreads.DefaultMinSplitWork,
        };
        var profileOption = new Option<bool>("--profile") { Description = "Also print the prepared model's time per top-level layer, single image and batch." };
        var dataDirOption = CliCommon.DataDirOption();
        var jsonOption = CliCommon.JsonOption();
        var command = new Command("infer",
            "Inference images/s (one batch, eval mode, fastest of 5 passes) and single-image latency (median of 200 calls) of DigitLab and of " +
            "ONNX Runtime running the same model exported to ONNX, side by side. Run when the machine is otherwise idle (the load average is printed).")
        {
            modelsOption, batchOption, threadsOption, splitOption, profileOption, dataDirOption, jsonOption,
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
            int batch = parse.GetValue(batchOption), threads = parse.GetValue(threadsOption);
            long split = parse.GetValue(splitOption);
            if (batch < 1 || threads < 1 || split < 0)
            {
                Console.Error.WriteLine("error: --batch and --threads must be at least 1, --min-split-work at least 0.");
                return 2;
            }
            bool json = parse.GetValue(jsonOption);
            var data = BenchTrainCommand.LoadData(parse.GetValue(dataDirOption), out string dataNote);
            var log = json ? Console.Error : Console.Out;
            log.WriteLine($"DigitLab and ONNX Runtime inference: {Environment.ProcessorCount} cores, {threads} threads each, batch {batch}; data: {dataNote}; " +
                          $"load average {BenchTrainCommand.LoadAverage():F2}");
            if (!json)
                Console.WriteLine($"{"model",-15} {"plain img/s",12} {"prep img/s",12} {"ORT img/s",12} {"ratio",7} {"plain ms",9} {"prep ms",9} {"ORT ms",9} {"ratio",7}");
            var results = new List<Result>();
            using var compute = new ComputeContext(threads);
            foreach (var name in models)
            {
                var r = Measure(name, data, Math.Min(batch, data.Count), compute, split);
                results.Add(r);
                if (!json)
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{r.Model,-15} {r.DigitLabImagesPerSecond,12:N0} {r.PreparedImagesPerSecond,12:N0} {r.OnnxRuntimeImagesPerSecond,12:N0} {r.PreparedThroughputRatio,6:F2}x " +
                        $"{r.DigitLabLatencyMs,9:F3} {r.PreparedLatencyMs,9:F3} {r.OnnxRuntimeLatencyMs,9:F3} {r.PreparedLatencyRatio,6:F2}x  (load {r.LoadAverage:F1})"));
            }
            if (!json) Console.WriteLine("ratios: prepared DigitLab over ONNX Runtime (throughput; latency as ORT ms / prepared ms), above 1: DigitLab faster.");
            if (parse.GetValue(profileOption))
                foreach (var name in models)
                {
                    log.WriteLine($"{name}: prepared single image, median ms per top-level layer:");
                    foreach (var (layer, ms) in ProfileSingleImage(name, compute, split))
                        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {ms,8:F3}  {layer}"));
                    int profileBatch = Math.Min(batch, data.Count);
                    log.WriteLine($"{name}: prepared batch of {profileBatch}, fastest of {InferencePasses} passes per top-level layer: ms, µs per image, GFLOP/s:");
                    foreach (var (layer, ms, flops) in ProfileBatch(name, data, profileBatch, compute, split))
                        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"  {ms,8:F3}  {ms * 1000 / profileBatch,8:F3}  {(flops > 0 ? (flops / (ms * 1e6)).ToString("F1", CultureInfo.InvariantCulture) : "-"),7}  {layer}"));
                }
            if (json) Console.WriteLine(JsonSerializer.Serialize(results, CliCommon.Json));
            return 0;
        });
        return command;
    }

    internal static Result Measure(string name, MnistDataset data, int batch, ComputeContext compute, long minSplitWork = InferenceThreads.DefaultMinSplitWork)
    {
        int threads = compute.Threads;
        var model = ModelZoo.Create(name, seed: 1);
        var workspace = new Workspace(compute, training: false);
        var batcher = new Batcher(data, batch, Normalization.Mnist, shuffle: false);
        batcher.StartEpoch();
        batcher.Next();
        var images = batcher.Images;                                   // (batch, 1, 28, 28), normalised
        var unit = new float[batch * MnistDataset.Pixels];             // the same images as pixels/255, for the ONNX graph
        var bytes = data.Images.AsSpan(0, unit.Length);
        for (int i = 0; i < unit.Length; i++) unit[i] = bytes[i] / 255f;

        // DigitLab: the batch, then one image at a time.
        model.Forward(images, workspace);
        double engineBatch = Fastest(() => model.Forward(images, workspace));
        var one = new Tensor(1, 1, MnistDataset.Rows, MnistDataset.Cols);
        images.Span[..MnistDataset.Pixels].CopyTo(one.Span);
        double engineLatency = Median(() => model.Forward(one, workspace));

        // The prepared model, on its own workspace: the same batch, then the same single image.
        var prepared = PreparedModel.Prepare(model, minSplitWork);
        var preparedWorkspace = new Workspace(compute, training: false);
        prepared.Forward(images, preparedWorkspace);
        double preparedBatch = Fastest(() => prepared.Forward(images, preparedWorkspace));
        double preparedLatency = Median(() => prepared.Forward(one, preparedWorkspace));

        // ONNX Runtime: the same model exported, the same images.
        var onnx = OnnxExport.Build(model, new OnnxModelInfo(name, Normalization.Mnist.Mean, Normalization.Mnist.Std)).ToByteArray();
        using var runner = new OnnxRuntimeRunner(onnx, threads);
        var probabilities = new float[batch * 10];
        runner.Run(unit, batch, OnnxExport.ProbabilitiesName, probabilities);
        double ortBatch = Fastest(() => runner.Run(unit, batch, OnnxExport.ProbabilitiesName, probabilities));
        var unitOne = unit[..MnistDataset.Pixels];
        var single = new float[10];
        double ortLatency = Median(() => runner.Run(unitOne, 1, OnnxExport.ProbabilitiesName, single));

        return new Result(name, threads, batch, batch / engineBatch, batch / ortBatch, engineLatency, ortLatency,
            batch / preparedBatch, preparedLatency, BenchTrainCommand.LoadAverage());
    }

    /// <summary>The prepared model's single-image time per top-level layer (median of <see cref="LatencyCalls"/> calls each).</summary>
    private static IReadOnlyList<(string Layer, double Ms)> ProfileSingleImage(string name, ComputeContext compute, long minSplitWork)
    {
        var prepared = PreparedModel.Prepare(ModelZoo.Create(name, seed: 1), minSplitWork);
        var workspace = new Workspace(compute, training: false);
        var image = new Tensor(1, 1, MnistDataset.Rows, MnistDataset.Cols);
        var rng = new Rng(1);
        rng.NextFloats(image.Span);
        var result = new List<(string, double)>();
        foreach (var (layer, input) in prepared.Layers(image, workspace))
            result.Add((Shorten(layer.ToString()!), Median(() => layer.Forward(input, workspace))));
        return result;
    }

    /// <summary>
    /// The prepared model's time per top-level layer on a batch of <paramref name="batch"/> MNIST images (fastest of
    /// <see cref="InferencePasses"/> passes each, after one untimed), with the layer's floating-point operations when it is a
    /// convolution or linear layer (2 per multiply-add; 0 otherwise).
    /// </summary>
    private static IReadOnlyList<(string Layer, double Ms, double Flops)> ProfileBatch(string name, MnistDataset data, int batch, ComputeContext compute,
        long minSplitWork)
    {
        var prepared = PreparedModel.Prepare(ModelZoo.Create(name, seed: 1), minSplitWork);
        var workspace = new Workspace(compute, training: false);
        var batcher = new Batcher(data, batch, Normalization.Mnist, shuffle: false);
        batcher.StartEpoch();
        batcher.Next();
        var result = new List<(string, double, double)>();
        foreach (var (layer, input) in prepared.Layers(batcher.Images, workspace))
        {
            layer.Forward(input, workspace);
            double ms = Fastest(() => layer.Forward(input, workspace)) * 1000;
            result.Add((Shorten(layer.ToString()!), ms, Flops(layer, input.Shape)));
        }
        return result;
    }

    /// <summary>2·multiply-adds of a prepared convolution or linear layer for an input of <paramref name="shape"/>; 0 for other layers.</summary>
    private static double Flops(Module layer, int[] shape) => layer switch
    {
        PreparedConvolution conv => 2.0 * conv.MultiplyAdds(shape),
        PreparedLinear linear => 2.0 * linear.MultiplyAdds(shape),
        _ => 0,
    };

    private static string Shorten(string text) => text.Length <= 100 ? text : text[..97] + "...";

    /// <summary>Seconds of the fastest of <see cref="InferencePasses"/> calls (after the caller's warm-up call).</summary>
    private static double Fastest(Action pass)
    {
        double fastest = double.MaxValue;
        for (int r = 0; r < InferencePasses; r++)
        {
            long start = Stopwatch.GetTimestamp();
            pass();
            fastest = Math.Min(fastest, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return fastest;
    }

    /// <summary>Median milliseconds of <see cref="LatencyCalls"/> calls after <see cref="WarmupCalls"/> untimed ones.</summary>
    private static double Median(Action call)
    {
        for (int i = 0; i < WarmupCalls; i++) call();
        var ms = new double[LatencyCalls];
        for (int i = 0; i < LatencyCalls; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms[LatencyCalls / 2];
    }
}
