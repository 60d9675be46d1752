// GpuDevice: opens an ILGPU accelerator (CUDA, or ILGPU's CPU accelerator for tests), loads the kernels once, lists devices.
using DigitLab.Gpu.Kernels;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace DigitLab.Gpu;

/// <summary>Where a model runs: the CPU engine, an NVIDIA GPU through CUDA, or CUDA when one is present.</summary>
public enum ComputeDevice { Cpu, Cuda, Auto }

/// <summary>One line of <c>digitlab devices</c>.</summary>
public sealed record DeviceInfo(string Kind, string Name, long MemoryBytes, string Architecture, string Driver, int Multiprocessors, int WarpSize);

/// <summary>
/// An ILGPU context and accelerator with every DigitLab kernel compiled for it. <see cref="OpenCuda"/> takes the first
/// NVIDIA GPU (PTX compiled by ILGPU and loaded by the driver: no CUDA toolkit needed); <see cref="OpenCpu"/> takes ILGPU's
/// CPU accelerator, which runs the same kernels as .NET code (the tests use it).
/// </summary>
public sealed class GpuDevice : IDisposable
{
    private readonly Context _context;
    public Accelerator Accelerator { get; }
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;
    public string Name => Accelerator.Name;

    // Element-wise kernels, loaded once; ILGPU compiles each on first load.
    internal readonly Action<Index1D, ArrayView<float>, float> Fill, Scale;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>> Copy, Relu, Sigmoid, Tanh;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> Add, Multiply, ReluBack, SigmoidBack, TanhBack;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> AddRelu;
    internal readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs> Gemm;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ConvShape> Im2Col, Col2Im, ChannelsToRows, AvgPool, AvgPoolBack;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, int> RowsToChannels;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ConvShape> MaxPool;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ConvShape> MaxPoolBack;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int> GlobalAvg, GlobalAvgBack;
    internal readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, NormShape> ChannelSum;
    internal readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormShape> BatchNormTrain;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormShape> BatchNormEval;
    internal readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormShape> BatchNormBack;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, float, float> SoftmaxCrossEntropy;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamStep> Adam;
    internal readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdStep> Sgd;
    internal readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, int> SumOfSquares;

    private GpuDevice(Context context, Accelerator accelerator)
    {
        _context = context;
        Accelerator = accelerator;
        var a = accelerator;
        Fill = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(DeviceKernels.Fill);
        Scale = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(DeviceKernels.Scale);
        Copy = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(DeviceKernels.Copy);
        Relu = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(DeviceKernels.ReluForward);
        Sigmoid = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(DeviceKernels.SigmoidForward);
        Tanh = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(DeviceKernels.TanhForward);
        Add = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DeviceKernels.Add);
        Multiply = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DeviceKernels.Multiply);
        ReluBack = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DeviceKernels.ReluBackward);
        SigmoidBack = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DeviceKernels.SigmoidBackward);
        TanhBack = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(DeviceKernels.TanhBackward);
        AddRelu = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DeviceKernels.AddRelu);
        Gemm = a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(GemmKernel.Kernel);
        Im2Col = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvShape>(DeviceKernels.Im2Col);
        Col2Im = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvShape>(DeviceKernels.Col2Im);
        ChannelsToRows = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvShape>(DeviceKernels.ChannelsToRows);
        AvgPool = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvShape>(DeviceKernels.AvgPoolForward);
        AvgPoolBack = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvShape>(DeviceKernels.AvgPoolBackward);
        RowsToChannels = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, int>(DeviceKernels.RowsToChannels);
        MaxPool = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ConvShape>(DeviceKernels.MaxPoolForward);
        MaxPoolBack = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ConvShape>(DeviceKernels.MaxPoolBackward);
        GlobalAvg = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(DeviceKernels.GlobalAvgForward);
        GlobalAvgBack = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(DeviceKernels.GlobalAvgBackward);
        ChannelSum = a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, NormShape>(DeviceKernels.ChannelSum);
        BatchNormTrain = a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormShape>(DeviceKernels.BatchNormTrain);
        BatchNormEval = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormShape>(DeviceKernels.BatchNormEval);
        BatchNormBack = a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, NormShape>(DeviceKernels.BatchNormBackward);
        SoftmaxCrossEntropy = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, float, float>(DeviceKernels.SoftmaxCrossEntropy);
        Adam = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamStep>(DeviceKernels.AdamUpdate);
        Sgd = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdStep>(DeviceKernels.SgdUpdate);
        SumOfSquares = a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(DeviceKernels.SumOfSquares);
    }

    /// <summary>The first CUDA device. Throws with a message for people when there is none.</summary>
    public static GpuDevice OpenCuda()
    {
        var context = Context.Create(b => b.Cuda().EnableAlgorithms());
        var devices = context.GetCudaDevices();
        if (devices.Count == 0)
        {
            context.Dispose();
            throw new InvalidOperationException("No CUDA device found: ILGPU sees no NVIDIA GPU (is the NVIDIA driver installed and libcuda.so on the loader path?). "
                + "Run `digitlab devices` to see what is available, or use --device cpu.");
        }
        return new GpuDevice(context, devices[0].CreateAccelerator(context));
    }

    /// <summary>ILGPU's CPU accelerator, shaped like an NVIDIA GPU (warps of 32, groups up to 1024 threads), running kernels in parallel.</summary>
    public static GpuDevice OpenCpu()
    {
        var context = Context.Create(b => b.CPU(CPUDeviceKind.Nvidia).EnableAlgorithms());
        return new GpuDevice(context, context.GetCPUDevice(0).CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel));
    }

    /// <summary>True when at least one CUDA device is visible (what `--device auto` asks).</summary>
    public static bool CudaAvailable()
    {
        try
        {
            using var context = Context.Create(b => b.Cuda());
            return context.GetCudaDevices().Count > 0;
        }
        catch (Exception) { return false; } // no driver library: no CUDA
    }

    /// <summary>Every device ILGPU can see: CUDA GPUs (if a driver is present) and the CPU accelerator.</summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        var list = new List<DeviceInfo>();
        try
        {
            using var context = Context.Create(b => b.Cuda());
            foreach (var d in context.GetCudaDevices())
                list.Add(new DeviceInfo("cuda", d.Name, d.MemorySize, d.Architecture?.ToString() ?? "unknown (newer than this ILGPU knows)",
                    d.DriverVersion.ToString(), d.NumMultiprocessors, d.WarpSize));
        }
        catch (Exception e)
        {
            list.Add(new DeviceInfo("cuda", "none: " + e.Message, 0, "", "", 0, 0));
        }
        using (var context = Context.Create(b => b.CPU(CPUDeviceKind.Nvidia)))
            foreach (var d in context.GetCPUDevices())
                list.Add(new DeviceInfo("cpu", d.Name, d.MemorySize, "ILGPU CPU accelerator", "", d.NumMultiprocessors, d.WarpSize));
        return list;
    }

    /// <summary>Opens the device <paramref name="device"/> names; null for <see cref="ComputeDevice.Cpu"/> (the CPU engine, no ILGPU).</summary>
    public static GpuDevice? Open(ComputeDevice device) => device switch
    {
        ComputeDevice.Cuda => OpenCuda(),
        ComputeDevice.Auto => CudaAvailable() ? OpenCuda() : null,
        _ => null,
    };

    /// <summary>Parses "cpu", "cuda" or "auto" (the --device option).</summary>
    public static ComputeDevice Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "cpu" => ComputeDevice.Cpu,
        "cuda" or "gpu" => ComputeDevice.Cuda,
        "auto" => ComputeDevice.Auto,
        _ => throw new ArgumentException($"Unknown device '{text}': use cpu, cuda (an NVIDIA GPU) or auto (cuda when present, else cpu)."),
    };

    public void Synchronize() => Accelerator.Synchronize();

    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}
