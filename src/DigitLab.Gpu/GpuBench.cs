// GpuBench: training and inference throughput of a zoo model on a device (the GPU half of `bench train --device`), and the device check.
using System.Diagnostics;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Gpu;

/// <summary>One model's device figures: samples/s of full training steps (Adam, batch uploaded each step, loss read back) and inference images/s.</summary>
public sealed record GpuBenchResult(string Model, string Device, int BatchSize, int Steps, double TrainSamplesPerSecond, double MsPerStep, double InferenceImagesPerSecond);

/// <summary>One model's device-versus-CPU comparison after one training step from the same weights.</summary>
public sealed record GpuCheckResult(string Model, float MaxLogitDifference, float MaxGradientDifference, float MaxWeightDifferenceAfterStep);

public static class GpuBench
{
    /// <summary>Times <paramref name="steps"/> training steps after <paramref name="warmup"/> untimed ones (kernel compilation, buffers), then inference.</summary>
    public static GpuBenchResult Measure(GpuDevice device, string name, MnistDataset data, int steps, int warmup, int batchSize, int inferenceBatch)
    {
        var module = ModelZoo.Create(name, seed: 1);
        using var model = new GpuModel(device, module);
        using var optimizer = new GpuOptimizer(model, new Adam(module.NamedParameters(), 1e-3));
        using var loss = new GpuLoss(device, 0f);
        using var images = new DeviceTensor(device.Accelerator, 0);
        var batcher = new Batcher(data, batchSize, Normalization.Mnist, seed: 1);
        batcher.StartEpoch();

        void Step()
        {
            if (!batcher.Next() || batcher.Count != batchSize) { batcher.StartEpoch(); batcher.Next(); }
            model.ZeroGrad();
            images.Resize(batcher.Images.Shape);
            images.Upload(batcher.Images.ReadOnlySpan);
            var logits = model.Forward(images, training: true);
            loss.Forward(logits, batcher.LabelSpan); // reads the row losses back: one synchronisation per step, as training does
            model.Backward(loss.LogitsGrad);
            optimizer.Step();
        }

        for (int i = 0; i < warmup; i++) Step();
        device.Synchronize();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < steps; i++) Step();
        device.Synchronize();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        var inference = new Batcher(data, Math.Min(inferenceBatch, data.Count), Normalization.Mnist, shuffle: false);
        inference.StartEpoch();
        inference.Next();
        images.Resize(inference.Images.Shape);
        images.Upload(inference.Images.ReadOnlySpan);
        model.Forward(images, training: false);
        device.Synchronize();
        const int Passes = 20;
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < Passes; i++) model.Forward(images, training: false);
        device.Synchronize();
        double inferSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        return new GpuBenchResult(name, device.Name, batchSize, steps, steps * (double)batchSize / seconds, seconds * 1000 / steps,
            Passes * (double)inference.Count / inferSeconds);
    }

    /// <summary>
    /// Runs a zoo model on the device and on the CPU engine from the same weights and batch: logits, every parameter
    /// gradient and the weights after one Adam step, largest absolute differences returned.
    /// </summary>
    public static GpuCheckResult Check(GpuDevice device, string name, int batchSize = 16)
    {
        var cpu = ModelZoo.Create(name, seed: 2, new ModelOptions { Dropout = false });
        var twin = ModelZoo.Create(name, seed: 2, new ModelOptions { Dropout = false });
        var rng = new Rng(3);
        var x = new Tensor(batchSize, 1, 28, 28);
        rng.NextFloats(x.Span);
        var labels = new byte[batchSize];
        for (int i = 0; i < batchSize; i++) labels[i] = (byte)(i % 10);

        var cpuOptimizer = new Adam(cpu.NamedParameters(), 1e-3);
        var cpuLoss = new SoftmaxCrossEntropy();
        using var compute = new Runtime.ComputeContext();
        var workspace = new Workspace(compute, training: true);
        cpuOptimizer.ZeroGrad();
        var cpuLogits = cpu.Forward(x, workspace).Clone();
        cpuLoss.Forward(cpuLogits, labels);
        cpu.Backward(cpuLoss.Backward(), workspace);
        var cpuGrads = cpu.Parameters().Select(p => p.Grad.Clone()).ToArray();
        cpuOptimizer.Step();

        using var model = new GpuModel(device, twin);
        using var optimizer = new GpuOptimizer(model, new Adam(twin.NamedParameters(), 1e-3));
        using var loss = new GpuLoss(device, 0f);
        using var images = new DeviceTensor(device.Accelerator, x.Shape);
        images.Upload(x.ReadOnlySpan);
        model.ZeroGrad();
        var logits = model.Forward(images, training: true);
        var gpuLogits = logits.ToArray();
        loss.Forward(logits, labels);
        model.Backward(loss.LogitsGrad);
        model.GradientsToHost();
        optimizer.Step();
        model.CopyToHost();

        float logitDiff = MaxDiff(cpuLogits.ReadOnlySpan, gpuLogits);
        float gradDiff = 0, weightDiff = 0;
        var twinParams = twin.Parameters().ToArray();
        var cpuParams = cpu.Parameters().ToArray();
        for (int i = 0; i < twinParams.Length; i++)
        {
            gradDiff = Math.Max(gradDiff, MaxDiff(cpuGrads[i].ReadOnlySpan, twinParams[i].Grad.ReadOnlySpan));
            weightDiff = Math.Max(weightDiff, MaxDiff(cpuParams[i].Value.ReadOnlySpan, twinParams[i].Value.ReadOnlySpan));
        }
        return new GpuCheckResult(name, logitDiff, gradDiff, weightDiff);
    }

    private static float MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, MathF.Abs(a[i] - b[i]));
        return m;
    }
}
