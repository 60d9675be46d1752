// GpuOps: host-side launchers of the device kernels (sizes checked, launch shapes chosen) used by the device layers.
using DigitLab.Gpu.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace DigitLab.Gpu;

/// <summary>Thin, checked wrappers over <see cref="GpuDevice"/>'s kernels; all launches go to the default stream, in order.</summary>
internal static class GpuOps
{
    /// <summary>C (m, n) = op(A)·op(B) (+ C when <paramref name="accumulate"/>), row-major with leading dimensions.</summary>
    public static void Gemm(GpuDevice d, bool transA, bool transB, int m, int n, int k, ArrayView<float> a, int lda,
        ArrayView<float> b, int ldb, ArrayView<float> c, int ldc, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        var args = new GemmArgs(m, n, k, lda, ldb, ldc, transA, transB, accumulate);
        d.Gemm(GemmKernel.Config(args), a, b, c, args);
    }

    /// <summary>One group of <see cref="DeviceKernels.ReduceThreads"/> threads per channel.</summary>
    public static KernelConfig PerChannel(int channels) => new(new Index1D(channels), new Index1D(DeviceKernels.ReduceThreads));

    public static void Fill(GpuDevice d, DeviceTensor t, float value)
    {
        if (t.Length > 0) d.Fill(t.Length, t.View, value);
    }
}
