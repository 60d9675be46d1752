// GpuTrainer: Trainer's loop on the device: the same batches, schedule and recipe; weights copied back into the CPU model.
using System.Diagnostics;
using DigitLab.Data;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Training;
using DigitLab.Evaluation;

namespace DigitLab.Gpu;

/// <summary>
/// Trains <see cref="Trainer.Model"/> of a CPU <see cref="Trainer"/> on a <see cref="GpuDevice"/>: the batches come from
/// the same <see cref="Batcher"/> (same seed, shuffle and augmentation), the learning rate from the same schedule, the
/// loss and optimizer are the recipe's. Per step the batch and its labels are uploaded once (plus dropout masks, drawn on
/// the host from the model's own generators); forward, loss, backward and the update run on the device; only the row
/// losses and hits come back. At the end (and before each validation) the weights are copied back into the CPU model,
/// so <see cref="Trainer.SaveCheckpoint"/> writes the usual checkpoint.
/// </summary>
/// <remarks>
/// Not bit-identical to the CPU engine (different summation orders in GEMM and reductions, float versus double in places);
/// bit-identical from run to run on one device, since no kernel uses atomics. A cancelled run stops after the current
/// batch with <see cref="RunLog.Complete"/> false; it cannot be resumed (train again, or resume on the CPU from a saved epoch).
/// </remarks>
public sealed class GpuTrainer : IDisposable
{
    public Trainer Cpu { get; }
    public GpuDevice Device { get; }
    public GpuModel Model { get; }
    public GpuOptimizer Optimizer { get; }

    public GpuTrainer(Trainer cpu, GpuDevice device)
    {
        Cpu = cpu;
        Device = device;
        Model = new GpuModel(device, cpu.Model);
        Optimizer = new GpuOptimizer(Model, cpu.Optimizer);
    }

    /// <summary>As <see cref="Trainer.Train"/>: trains the remaining epochs, validating after each; returns the CPU trainer's log.</summary>
    public RunLog Train(MnistDataset train, MnistDataset? validation, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var options = Cpu.Options;
        var log = Cpu.Log;
        if (Cpu.State is not null)
            throw new NotSupportedException("Resuming a paused run on the GPU is not supported; resume it with --device cpu.");
        log.Device = $"{Device.Name} ({Device.Accelerator.AcceleratorType})";
        var augmentation = options.AugmentationSettings(); // null for none
        var batcher = new Batcher(train, options.BatchSize, Cpu.Normalization, Rng.Derive(options.Seed, "data").NextUInt64(),
            shuffle: true, augmenter: augmentation is null ? null : new Augmenter(augmentation));
        int batches = batcher.BatchesPerEpoch;
        var schedule = Trainer.BuildSchedule(options, batches);
        using var loss = new GpuLoss(Device, (float)options.LabelSmoothing);
        using var images = new DeviceTensor(Device.Accelerator, 0);
        var total = Stopwatch.StartNew();
        double blockSum = 0;
        int blockCount = 0;
        int startEpoch = log.Epochs.Count;
        for (int epoch = startEpoch; epoch < options.Epochs; epoch++)
        {
            batcher.StartEpoch();
            double lossSum = 0;
            long correct = 0, seen = 0;
            int batch = 0;
            var watch = Stopwatch.StartNew();
            while (batcher.Next())
            {
                schedule.Apply(Optimizer.Host, Optimizer.Host.StepCount);
                Model.ZeroGrad();
                images.Resize(batcher.Images.Shape);
                images.Upload(batcher.Images.ReadOnlySpan);
                var logits = Model.Forward(images, training: true);
                var (batchLoss, hits) = loss.Forward(logits, batcher.LabelSpan);
                Model.Backward(loss.LogitsGrad);
                if (options.ClipNorm > 0) Optimizer.ClipGradients(options.ClipNorm);
                Optimizer.Step();

                int n = batcher.Count;
                lossSum += (double)batchLoss * n;
                seen += n;
                correct += hits;
                blockSum += batchLoss; blockCount++;
                if (blockCount == options.BatchLossInterval)
                {
                    log.BatchLosses.Add(blockSum / blockCount);
                    (blockSum, blockCount) = (0, 0);
                }
                batch++;
                double elapsed = watch.Elapsed.TotalSeconds;
                progress?.Report(new TrainingProgress(epoch + 1, options.Epochs, batch, batches, lossSum / seen, (double)correct / seen,
                    total.Elapsed, TimeSpan.FromSeconds(elapsed / batch * (batches - batch))));
                if (cancellationToken.IsCancellationRequested) break;
            }
            Device.Synchronize();
            watch.Stop();
            log.TrainSeconds += watch.Elapsed.TotalSeconds;
            EvaluationResult? val = validation is { Count: > 0 } ? GpuEvaluator.Evaluate(Model, validation, Cpu.Normalization, collectMisclassified: false) : null;
            log.Epochs.Add(new EpochRecord(epoch + 1, lossSum / seen, (double)correct / seen, val?.Loss, val?.Accuracy,
                Optimizer.Host.LearningRate, watch.Elapsed.TotalSeconds));
            if (cancellationToken.IsCancellationRequested) break;
        }
        CopyToHost();
        log.Complete = log.Epochs.Count == options.Epochs && !cancellationToken.IsCancellationRequested;
        return log;
    }

    /// <summary>Copies weights, batch-norm statistics and optimizer state into the CPU model and optimizer.</summary>
    public void CopyToHost()
    {
        Model.CopyToHost();
        Optimizer.CopyStateToHost();
    }

    public void Dispose()
    {
        Optimizer.Dispose();
        Model.Dispose();
    }
}
