// TrainingDeviceTests: DigitLab:Device picks where the Train page's jobs run; the GPU backend is exercised on ILGPU's CPU accelerator.
using DigitLab.Data;
using DigitLab.Gpu;
using DigitLab.Tensors;
using DigitLab.Training;
using DigitLab.Web.Services;
using Microsoft.Extensions.Configuration;

namespace DigitLab.Web.Tests;

public sealed class TrainingDeviceTests
{
    private static DigitLabOptions Options(string? device)
    {
        var settings = new Dictionary<string, string?> { ["DigitLab:ModelsDir"] = "/tmp/m", ["DigitLab:DataDir"] = "/tmp/d" };
        if (device is not null) settings["DigitLab:Device"] = device;
        return DigitLabOptions.From(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
    }

    [Fact]
    public void DeviceSettingIsParsedAndABadOneIsNamed()
    {
        Assert.Equal(ComputeDevice.Cpu, Options(null).TrainingDevice);
        Assert.Equal(ComputeDevice.Auto, Options("auto").TrainingDevice);
        Assert.Equal(ComputeDevice.Cuda, Options("CUDA").TrainingDevice);
        var e = Assert.Throws<ArgumentException>(() => Options("tpu"));
        Assert.Contains("DigitLab:Device", e.Message);
        Assert.Contains("'tpu'", e.Message);
    }

    /// <summary>
    /// A job given a device trains through the GPU backend (here ILGPU's CPU accelerator, which runs the same kernels): the
    /// log names the device, the weights come back into the trainer's model, and the losses match the CPU engine's run of the
    /// same recipe and batches within 1e-4 (the engines differ by ~1e-6 in summation order; see the Gpu tests).
    /// </summary>
    [Fact]
    public void AJobWithADeviceTrainsOnItAndMatchesTheCpuEngine()
    {
        var data = Synthetic(48);
        var recipe = new TrainerOptions { Model = "mlp", Epochs = 1, BatchSize = 16, ValidationCount = 0, BatchLossInterval = 1, Threads = 1 };
        var updates = new List<TrainingUpdate>();
        var onCpu = Trainer.Create(recipe);
        var cpuLog = LibraryTrainingBackend.TrainReporting(onCpu, data, null, new Runtime.SyncProgress<TrainingUpdate>(_ => { }), default);
        Assert.Null(cpuLog.Device);

        var onDevice = Trainer.Create(recipe);
        var before = onDevice.Model.StateTensors().First().Tensor.ReadOnlySpan.ToArray();
        var log = LibraryTrainingBackend.TrainReporting(onDevice, data, null, new Runtime.SyncProgress<TrainingUpdate>(updates.Add), default, GpuDevice.OpenCpu);
        Assert.NotNull(log.Device);
        Assert.Contains("CPU", log.Device);
        Assert.Equal([1, 2, 3], updates.Select(u => u.Batch).Distinct());
        Assert.Equal(cpuLog.BatchLosses.Count, log.BatchLosses.Count);
        for (int i = 0; i < log.BatchLosses.Count; i++) Assert.InRange(log.BatchLosses[i], cpuLog.BatchLosses[i] - 1e-4, cpuLog.BatchLosses[i] + 1e-4);
        Assert.NotEqual(before, onDevice.Model.StateTensors().First().Tensor.ReadOnlySpan.ToArray());
    }

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
