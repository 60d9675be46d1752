// GpuTrainerTests: a few training steps on the device (ILGPU's CPU accelerator) against the CPU Trainer, same recipe and batches.
using DigitLab.Data;
using DigitLab.Gpu;
using DigitLab.Tensors;
using DigitLab.Training;

using DigitLab.Tests;

namespace DigitLab.Gpu.Tests;

[Collection(DeviceCollection.Name)]
public sealed class GpuTrainerTests
{
    private readonly GpuDevice _device;

    public GpuTrainerTests(DeviceFixture fixture) => _device = fixture.Device;

    /// <summary>
    /// Four Adam steps (64 images, batch 16) from the same seed: the device's weights stay within
    /// <see cref="WeightTolerance"/> of the CPU trainer's. Adam's first steps move each weight by about lr·sign(m), so a
    /// gradient that is nearly zero can flip the step of one weight; 1e-4 is a tenth of lr = 1e-3 and far above the
    /// ~1e-6 the two engines differ by otherwise.
    /// </summary>
    private const float WeightTolerance = 1e-4f;

    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    public void TrainsLikeTheCpuTrainer(string model)
    {
        // cnn's 3136x128 layer and 28x28 convolutions are slow on ILGPU's CPU accelerator (it runs every GPU thread as a
        // .NET thread group), so it takes two steps of two images; mlp four steps of sixteen.
        var data = Synthetic(model == "cnn" ? 4 : 64);
        var options = new TrainerOptions { Model = model, Epochs = 1, BatchSize = model == "cnn" ? 2 : 16, ValidationCount = 0, BatchLossInterval = 1, Threads = 1 };
        var cpu = Trainer.Create(options);
        var cpuLog = cpu.Train(data, null);
        var forGpu = Trainer.Create(options);
        using (var gpu = new GpuTrainer(forGpu, _device))
        {
            var gpuLog = gpu.Train(data, null);
            Assert.Equal(cpuLog.BatchLosses.Count, gpuLog.BatchLosses.Count);
            for (int i = 0; i < cpuLog.BatchLosses.Count; i++) Assert.InRange(gpuLog.BatchLosses[i], cpuLog.BatchLosses[i] - 1e-4, cpuLog.BatchLosses[i] + 1e-4);
        }
        foreach (var ((name, a), (_, b)) in cpu.Model.StateTensors().Zip(forGpu.Model.StateTensors()))
            Tolerance.AssertClose(a.ReadOnlySpan, b.ReadOnlySpan, name, WeightTolerance, 0f);
        foreach (var ((name, a), (_, b)) in cpu.Optimizer.NamedState().Zip(forGpu.Optimizer.NamedState()))
            Tolerance.AssertClose(a.ReadOnlySpan, b.ReadOnlySpan, name);
    }

    /// <summary>Random digit-shaped bytes with labels 0..9 in turn (the engines' agreement does not depend on the pixels).</summary>
    private static MnistDataset Synthetic(int count)
    {
        var rng = new Rng(4);
        var images = new byte[count * MnistDataset.Pixels];
        for (int i = 0; i < images.Length; i++) images[i] = rng.Uniform(0, 1) < 0.8f ? (byte)0 : (byte)(rng.Uniform(0, 1) * 255);
        var labels = new byte[count];
        for (int i = 0; i < count; i++) labels[i] = (byte)(i % 10);
        return new MnistDataset(images, labels, "synthetic");
    }
}
