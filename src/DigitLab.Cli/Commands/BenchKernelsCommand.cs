// BenchKernelsCommand: `digitlab bench kernels`, GFLOP/s and bytes allocated per call of the engine's kernels.
using System.CommandLine;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DigitLab.Kernels;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Cli.Commands;

internal static class BenchKernelsCommand
{
    /// <summary>A GEMM the models run: C(m×n) = op(A)(m×k)·op(B)(k×n).</summary>
    private sealed record GemmShape(string Name, int M, int N, int K, bool TransA, bool TransB);

    // Batch 64. Linear layers: Y = X·Wᵀ, dX = dY·W, dW = dYᵀ·X. Convolutions as im2col GEMMs over the
    // whole batch: Y(Cout, N·H·W) = W(Cout, Cin·9)·cols, dW = dY·colsᵀ, dcols = Wᵀ·dY.
    private static readonly GemmShape[] ModelShapes =
    [
        new("mlp fc1 forward", 64, 128, 784, false, true),
        new("mlp fc1 backward dX", 64, 784, 128, false, false),
        new("mlp fc1 backward dW", 128, 784, 64, true, false),
        new("mlp fc2 forward", 64, 10, 128, false, true),
        new("cnn conv1 forward", 32, 64 * 784, 9, false, false),
        new("cnn conv1 backward dW", 32, 9, 64 * 784, false, true),
        new("cnn conv2 forward", 64, 64 * 196, 288, false, false),
        new("cnn conv2 backward dW", 64, 288, 64 * 196, false, true),
        new("cnn conv2 backward dX", 288, 64 * 196, 64, true, false),
    ];

    /// <summary>A convolution layer of the model zoo at batch 64: (in, out, kernel, padding, input height = width, stride).</summary>
    private sealed record ConvLayer(string Name, int InChannels, int OutChannels, int Kernel, int Padding, int Size, int Stride = 1);

    private static readonly ConvLayer[] ConvLayers =
    [
        new("cnn conv1", 1, 32, 3, 1, 28),
        new("cnn conv2", 32, 64, 3, 1, 14),
        new("net3 conv2", 32, 32, 5, 0, 24),
        new("net3 conv3", 32, 64, 5, 0, 10),
        new("resnet18 layer1", 64, 64, 3, 1, 7),
        new("resnet18 layer3.1", 256, 256, 3, 1, 2),
    ];

    private const int ConvBatch = 64;

    public static Command Create()
    {
        var threadsOption = new Option<string>("--threads")
        {
            Description = "Comma-separated thread counts to measure.",
            DefaultValueFactory = _ => "1,2",
        };
        var repsOption = new Option<int>("--reps")
        {
            Description = "Timed repetitions per size; the median is printed.",
            DefaultValueFactory = _ => 7,
        };
        var largeOption = new Option<bool>("--large") { Description = "Also time 2048³ (slow)." };
        var kernelOption = new Option<GemmKernel?>("--kernel")
        {
            Description = $"GEMM micro-kernel: Avx512, Avx2 or Portable (default: the best this CPU runs, {Gemm.BestKernel}).",
        };
        var command = new Command("kernels",
            "GFLOP/s of the GEMM at the models' sizes and at 1024³ and of the CNN's convolution layers (median and best of several runs after warm-up), bytes allocated per call, and the CPU's FMA peak for scale. Other processes on the machine lower the figures: check the load average printed first.")
        {
            threadsOption, repsOption, largeOption, kernelOption,
        };
        command.SetAction(parse => CliCommon.RunAsync(() =>
        {
            // Options are checked before anything is timed, so a typo costs no benchmark run.
            var threadCounts = ParseThreads(parse.GetValue(threadsOption)!);
            int reps = parse.GetValue(repsOption);
            if (reps < 1) throw new ArgumentException($"--reps must be at least 1, found {reps}.");
            var kernel = parse.GetValue(kernelOption) ?? Gemm.BestKernel;
            if (!Gemm.IsSupported(kernel))
                throw new ArgumentException($"--kernel {kernel} needs CPU features this machine lacks; try --kernel {Gemm.BestKernel}.");
            Run(threadCounts, reps, parse.GetValue(largeOption), kernel);
            return Task.FromResult(0);
        }));
        return command;
    }

    private static int[] ParseThreads(string text)
    {
        var counts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => int.TryParse(part, out int t) && t > 0 ? t
                : throw new ArgumentException($"--threads expects positive whole numbers separated by commas, such as 1,2; found '{text}'."))
            .ToArray();
        return counts.Length > 0 ? counts : [1];
    }

    private static void Run(int[] threadCounts, int reps, bool large, GemmKernel kernel)
    {
        Console.WriteLine($"DigitLab kernel benchmark: {Environment.ProcessorCount} cores, GEMM kernel {kernel}, " +
                          $"load average {FormatLoad(BenchTrainCommand.LoadAverage())}, median of {reps} after warm-up");
        var shapes = ModelShapes.ToList();
        shapes.Add(new GemmShape("square", 1024, 1024, 1024, false, false));
        if (large) shapes.Add(new GemmShape("square", 2048, 2048, 2048, false, false));
        foreach (int threads in threadCounts)
        {
            // One context per thread count and route choice: nothing global is switched.
            using var compute = new ComputeContext(threads);
            using var im2colOnly = compute.WithDirectConvolution(false);
            {
                string label = threads == 1 ? "1 thread " : $"{threads} threads";
                string fma = Avx512F.IsSupported ? "AVX-512" : "AVX2";
                Console.WriteLine($"FMA peak ({fma}, independent FMAs)  {label}  {PeakGflops(threads),7:F1} GFLOP/s");
                // Each layer by the route the engine takes and by im2col + GEMM alone, for comparison.
                foreach (var layer in ConvLayers)
                    foreach (bool direct in new[] { true, false })
                        TimeConv(direct ? compute : im2colOnly, layer, reps, label, direct ? "chosen route" : "im2col+GEMM");
                foreach (var shape in shapes)
                {
                    var (median, best, bytes) = TimeGemm(compute, shape, kernel, reps);
                    double flops = 2.0 * shape.M * shape.N * shape.K;
                    string op = $"{(shape.TransA ? 'T' : 'N')}{(shape.TransB ? 'T' : 'N')}";
                    Console.WriteLine($"GEMM {shape.M}x{shape.N}x{shape.K} {op}  {label}  {flops / median / 1e9,7:F1} GFLOP/s  " +
                                      $"(best {flops / best / 1e9,6:F1})  {median * 1e3,8:F3} ms  {bytes,5} B/call  {shape.Name}");
                }
            }
        }
    }

    /// <summary>Median and fastest seconds per call, and bytes allocated per call (all threads), of one GEMM shape.</summary>
    private static (double Median, double Best, long BytesPerCall) TimeGemm(ComputeContext compute, GemmShape s, GemmKernel kernel, int reps)
    {
        var rng = new Rng(1234);
        var a = new float[s.M * s.K];
        var b = new float[s.K * s.N];
        var c = new float[s.M * s.N];
        for (int i = 0; i < a.Length; i++) a[i] = rng.Uniform(-1, 1);
        for (int i = 0; i < b.Length; i++) b[i] = rng.Uniform(-1, 1);
        int lda = s.TransA ? s.M : s.K, ldb = s.TransB ? s.K : s.N;
        void Call() => Gemm.Multiply(compute, kernel, s.TransA, s.TransB, s.M, s.N, s.K, a, lda, b, ldb, c, s.N, false);

        // Warm-up: JIT, pack buffers grown, caches and thread pool started; also sizes a repetition to ~50 ms.
        var watch = Stopwatch.StartNew();
        int warmCalls = 0;
        do { Call(); warmCalls++; } while (watch.Elapsed.TotalSeconds < 0.1 && warmCalls < 1000);
        double once = watch.Elapsed.TotalSeconds / warmCalls;
        int calls = (int)Math.Clamp(0.05 / once, 1, 100_000);

        var samples = new double[reps];
        long allocated = 0;
        for (int r = 0; r < reps; r++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++) Call();
            samples[r] = Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
        }
        Array.Sort(samples);
        return (samples[reps / 2], samples[0], allocated / ((long)reps * calls));
    }

    /// <summary>
    /// Times one Conv2d layer's Forward, and its Backward (weight, bias and input gradients) right after
    /// a Forward, as in training; prints median ms, GFLOP/s of the convolution arithmetic and bytes per call.
    /// </summary>
    private static void TimeConv(ComputeContext compute, ConvLayer layer, int reps, string label, string route)
    {
        var workspace = new Workspace(compute, training: true);
        var conv = new Conv2d(layer.InChannels, layer.OutChannels, layer.Kernel, stride: layer.Stride, padding: layer.Padding);
        conv.ResetParameters(new Rng(5));
        var input = new Tensor(ConvBatch, layer.InChannels, layer.Size, layer.Size);
        var rng = new Rng(6);
        foreach (ref float v in input.Span) v = rng.Uniform(-1, 1);
        var outShape = conv.OutputShape(input.Shape);
        var outputGrad = new Tensor(outShape);
        foreach (ref float v in outputGrad.Span) v = rng.Uniform(-1, 1);
        double forwardFlops = 2.0 * ConvBatch * layer.OutChannels * outShape[2] * outShape[3]
                              * layer.InChannels * layer.Kernel * layer.Kernel;

        for (int i = 0; i < 3; i++) { conv.Forward(input, workspace); conv.Backward(outputGrad, workspace); } // warm-up
        long t0 = Stopwatch.GetTimestamp();
        conv.Forward(input, workspace);
        int calls = Math.Max(1, (int)(0.05 / Math.Max(1e-6, Stopwatch.GetElapsedTime(t0).TotalSeconds)));
        var forward = new double[reps];
        var backward = new double[reps];
        long forwardBytes = 0, backwardBytes = 0;
        for (int r = 0; r < reps; r++)
        {
            for (int i = 0; i < calls; i++)
            {
                long before = GC.GetTotalAllocatedBytes(precise: true);
                long start = Stopwatch.GetTimestamp();
                conv.Forward(input, workspace);
                forward[r] += Stopwatch.GetElapsedTime(start).TotalSeconds;
                long middle = GC.GetTotalAllocatedBytes(precise: true);
                start = Stopwatch.GetTimestamp();
                conv.Backward(outputGrad, workspace);
                backward[r] += Stopwatch.GetElapsedTime(start).TotalSeconds;
                backwardBytes += GC.GetTotalAllocatedBytes(precise: true) - middle;
                forwardBytes += middle - before;
            }
            forward[r] /= calls;
            backward[r] /= calls;
        }
        Array.Sort(forward);
        Array.Sort(backward);
        long total = (long)reps * calls;
        string name = $"{conv} on {Tensor.Format(input.Shape)}";
        Console.WriteLine($"{name} forward   {label}  {forwardFlops / forward[reps / 2] / 1e9,7:F1} GFLOP/s  " +
                          $"{forward[reps / 2] * 1e3,8:F3} ms  {forwardBytes / total,5} B/call  {layer.Name}, {route}");
        // Backward: the weight gradient and the input gradient, each as much arithmetic as the forward pass.
        Console.WriteLine($"{name} backward  {label}  {2 * forwardFlops / backward[reps / 2] / 1e9,7:F1} GFLOP/s  " +
                          $"{backward[reps / 2] * 1e3,8:F3} ms  {backwardBytes / total,5} B/call  {layer.Name}, {route}");
    }

    /// <summary>
    /// The cores' FMA throughput: each thread runs 12 independent chains of vector FMAs (enough to cover
    /// the FMA latency on both pipes), so the loop is limited by FMA issue rate alone.
    /// </summary>
    private static double PeakGflops(int threads)
    {
        const long Iterations = 20_000_000;
        int lanes = Avx512F.IsSupported ? 16 : Fma.IsSupported ? 8 : 0;
        if (lanes == 0) return double.NaN;
        PeakLoop(1000, lanes); // JIT
        double best = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long start = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => PeakLoop(Iterations, lanes));
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, threads * Iterations * 12.0 * lanes * 2 / seconds / 1e9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float PeakLoop(long iterations, int lanes)
    {
        if (lanes == 16)
        {
            var x = Vector512.Create(0.999f); var y = Vector512.Create(1e-7f);
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
            Vector512<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Avx512F.FusedMultiplyAdd(a0, x, y); a1 = Avx512F.FusedMultiplyAdd(a1, x, y);
                a2 = Avx512F.FusedMultiplyAdd(a2, x, y); a3 = Avx512F.FusedMultiplyAdd(a3, x, y);
                a4 = Avx512F.FusedMultiplyAdd(a4, x, y); a5 = Avx512F.FusedMultiplyAdd(a5, x, y);
                a6 = Avx512F.FusedMultiplyAdd(a6, x, y); a7 = Avx512F.FusedMultiplyAdd(a7, x, y);
                a8 = Avx512F.FusedMultiplyAdd(a8, x, y); a9 = Avx512F.FusedMultiplyAdd(a9, x, y);
                a10 = Avx512F.FusedMultiplyAdd(a10, x, y); a11 = Avx512F.FusedMultiplyAdd(a11, x, y);
            }
            return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
        else
        {
            var x = Vector256.Create(0.999f); var y = Vector256.Create(1e-7f);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default;
            Vector256<float> a6 = default, a7 = default, a8 = default, a9 = default, a10 = default, a11 = default;
            for (long i = 0; i < iterations; i++)
            {
                a0 = Fma.MultiplyAdd(a0, x, y); a1 = Fma.MultiplyAdd(a1, x, y);
                a2 = Fma.MultiplyAdd(a2, x, y); a3 = Fma.MultiplyAdd(a3, x, y);
                a4 = Fma.MultiplyAdd(a4, x, y); a5 = Fma.MultiplyAdd(a5, x, y);
                a6 = Fma.MultiplyAdd(a6, x, y); a7 = Fma.MultiplyAdd(a7, x, y);
                a8 = Fma.MultiplyAdd(a8, x, y); a9 = Fma.MultiplyAdd(a9, x, y);
                a10 = Fma.MultiplyAdd(a10, x, y); a11 = Fma.MultiplyAdd(a11, x, y);
            }
            return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
        }
    }

    private static string FormatLoad(double load) =>
        double.IsNaN(load) ? "unknown" : load.ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
}
