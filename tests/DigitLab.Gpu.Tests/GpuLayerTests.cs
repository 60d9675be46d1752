// GpuLayerTests: every device layer, forward and backward, on ILGPU's CPU accelerator against the CPU engine.
using DigitLab.Gpu;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;

using DigitLab.Tests;

namespace DigitLab.Gpu.Tests;

/// <summary>
/// Each test builds one layer twice with the same seed, runs the CPU engine on one and the device kernels (on ILGPU's
/// CPU accelerator, so no GPU is needed) on the other with the same input and output gradient, and compares output,
/// input gradient, parameter gradients and buffers element by element within <see cref="Tolerance"/>.
/// </summary>
[Collection(DeviceCollection.Name)]
public sealed class GpuLayerTests
{
    private readonly GpuDevice _device;

    public GpuLayerTests(DeviceFixture fixture) => _device = fixture.Device;

    [Fact] public void Linear() => Check(() => new Linear(7, 5), [3, 7]);
    [Fact] public void LinearWithoutBias() => Check(() => new Linear(9, 4, bias: false), [2, 9]);
    [Fact] public void Conv2dSamePadding() => Check(() => new Conv2d(3, 4, 3, padding: 1), [2, 3, 6, 6]);
    [Fact] public void Conv2dStridedNoBias() => Check(() => new Conv2d(2, 3, 3, stride: 2, padding: 1, bias: false), [2, 2, 7, 7]);
    [Fact] public void Conv2dLargeKernel() => Check(() => new Conv2d(1, 6, 5, padding: 2), [2, 1, 8, 8]);
    [Fact] public void Conv2dPointwiseStrided() => Check(() => new Conv2d(3, 5, 1, stride: 2, bias: false), [2, 3, 5, 5]);
    [Fact] public void ReLU() => Check(() => new ReLU(), [2, 3, 4, 4]);
    [Fact] public void Sigmoid() => Check(() => new Sigmoid(), [2, 3, 4, 4]);
    [Fact] public void Tanh() => Check(() => new Nn.Tanh(), [2, 3, 4, 4]);
    [Fact] public void MaxPool() => Check(() => new MaxPool2d(2), [2, 3, 6, 6]);
    [Fact] public void MaxPoolOverlappingPadded() => Check(() => new MaxPool2d(3, stride: 2, padding: 1), [2, 2, 7, 7]);
    [Fact] public void AvgPool() => Check(() => new AvgPool2d(2), [2, 3, 6, 6]);
    [Fact] public void AdaptiveAvgPool() => Check(() => new AdaptiveAvgPool2d(), [2, 3, 4, 5]);
    [Fact] public void BatchNorm2dTraining() => Check(() => new BatchNorm2d(3), [4, 3, 5, 5], randomAffine: true);
    [Fact] public void BatchNorm1dTraining() => Check(() => new BatchNorm1d(5), [6, 5], randomAffine: true);
    [Fact] public void BatchNorm2dEvaluation() => Check(() => new BatchNorm2d(3), [4, 3, 5, 5], randomAffine: true, training: false);
    [Fact] public void Dropout() => Check(() => new Dropout(0.3f), [4, 10]);
    [Fact] public void FlattenLinear() => Check(() => new Sequential(new Flatten(), new Linear(2 * 3 * 3, 4)), [3, 2, 3, 3]);
    [Fact] public void BasicBlockWithProjection() => Check(() => new BasicBlock(2, 4, stride: 2), [3, 2, 6, 6], randomAffine: true);
    [Fact] public void BasicBlockIdentity() => Check(() => new BasicBlock(3, 3), [3, 3, 4, 4], randomAffine: true);
    [Fact] public void ResidualWithoutShortcut() => Check(() => new Residual(new Linear(4, 4), reluAfter: true), [3, 4]);

    [Theory]
    [InlineData("mlp")]
    [InlineData("lenet5-relu")]
    [InlineData("fast")]
    public void ZooModel(string name) => Check(() => ModelZoo.Create(name, 3), [2, 1, 28, 28], zoo: true);

    /// <summary>Runs both engines and compares everything a layer produces.</summary>
    private void Check(Func<Module> build, int[] inputShape, bool randomAffine = false, bool training = true, bool zoo = false)
    {
        var cpu = Init(build(), randomAffine, zoo);
        var gpu = Init(build(), randomAffine, zoo);
        cpu.SetTraining(training);
        gpu.SetTraining(training);
        var rng = new Rng(11);
        var input = Random(rng, inputShape);
        var cpuOutput = cpu.Forward(input);
        var outputGrad = Random(rng, cpuOutput.Shape);

        using var model = new GpuModel(_device, gpu);
        using var x = new DeviceTensor(_device.Accelerator, inputShape);
        x.Upload(input.ReadOnlySpan);
        var gpuOutput = model.Forward(x, training);
        Assert.Equal(cpuOutput.Shape, gpuOutput.Shape);
        Tolerance.AssertClose(cpuOutput.ReadOnlySpan, gpuOutput.ToArray(), "output");
        if (!training)
        {
            model.CopyToHost();
            return; // evaluation mode is forward only
        }
        cpu.ZeroGrad();
        var cpuInputGrad = cpu.Backward(outputGrad);
        model.ZeroGrad();
        using var dy = new DeviceTensor(_device.Accelerator, outputGrad.Shape);
        dy.Upload(outputGrad.ReadOnlySpan);
        var gpuInputGrad = model.Backward(dy);
        if (!(cpu is Sequential s && s.Layers[0] is Conv2d { ComputeInputGradient: false }))
            Tolerance.AssertClose(cpuInputGrad.ReadOnlySpan, gpuInputGrad.ToArray(), "input gradient");
        model.GradientsToHost();
        model.CopyToHost();
        foreach (var ((name, p), (_, q)) in cpu.NamedParameters().Zip(gpu.NamedParameters()))
            Tolerance.AssertClose(p.Grad.ReadOnlySpan, q.Grad.ReadOnlySpan, name + " gradient");
        foreach (var ((name, a), (_, b)) in cpu.NamedBuffers().Zip(gpu.NamedBuffers()))
            Tolerance.AssertClose(a.ReadOnlySpan, b.ReadOnlySpan, name);
    }

    private static Module Init(Module m, bool randomAffine, bool zoo)
    {
        if (!zoo) m.ResetAllParameters(new Rng(5));
        if (randomAffine)
        {
            // Batch norm starts at γ = 1, β = 0; other values make its gradients exercise every term.
            var rng = new Rng(9);
            foreach (var p in m.Parameters()) rng.NextFloats(p.Value.Span);
        }
        return m;
    }

    internal static Tensor Random(Rng rng, int[] shape)
    {
        var t = new Tensor(shape);
        rng.NextFloats(t.Span);
        foreach (ref var v in t.Span) v = 2 * v - 1;
        return t;
    }
}

/// <summary>One CPU accelerator for all device tests (opening one compiles nothing; kernels compile on load).</summary>
public sealed class DeviceFixture : IDisposable
{
    public GpuDevice Device { get; } = GpuDevice.OpenCpu();
    public void Dispose() => Device.Dispose();
}

/// <summary>
/// Every device test class shares the one accelerator and runs one test at a time: an ILGPU accelerator is driven from
/// one thread at a time (as the trainer does), and two CPU accelerators copying in parallel crashed the test host
/// (a NullReferenceException inside ILGPU's CopyToCPU, one run in three) when each class had its own fixture.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DeviceCollection : ICollectionFixture<DeviceFixture>
{
    public const string Name = "device";
}

/// <summary>The tolerances of the device-versus-CPU comparisons, in one place.</summary>
internal static class Tolerance
{
    /// <summary>
    /// |device − cpu| ≤ Absolute + Relative·|cpu|. Both engines compute in float32 but sum in different orders (GEMM tiles
    /// against the CPU's blocked kernels; batch norm's tree reduction against its vector lanes), so results differ by a few
    /// ulps per summed term. The largest difference seen on these shapes is about 2e-6; values checked are of order 0.1–10.
    /// </summary>
    public const float Absolute = 1e-5f, Relative = 1e-4f;

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what, float absolute = Absolute, float relative = Relative)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            float diff = MathF.Abs(expected[i] - actual[i]);
            if (!(diff <= absolute + relative * MathF.Abs(expected[i])) && (at < 0 || diff > worst)) { worst = diff; at = i; }
        }
        Assert.True(at < 0, at < 0 ? "" : $"{what}: element {at} is {actual[at]} on the device, {expected[at]} on the CPU (difference {worst}; tolerance {absolute} + {relative}·|cpu|).");
    }
}
