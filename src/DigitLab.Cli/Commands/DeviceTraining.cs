// DeviceTraining: the --device option of train/evaluate/predict and the one place the CLI hands a run to the GPU backend.
using System.CommandLine;
using DigitLab.Data;
using DigitLab.Gpu;
using DigitLab.Training;
using DigitLab.Evaluation;

namespace DigitLab.Cli.Commands;

/// <summary>
/// Chooses the engine for a command: <c>--device cpu</c> (the CPU engine), <c>cuda</c> (an NVIDIA GPU through ILGPU) or
/// <c>auto</c> (cuda when a device is present). The command parses the option once and passes the device to each call.
/// </summary>
internal static class DeviceTraining
{
    public static Option<string> Option() => new("--device")
    {
        Description = "Where to run: cpu, cuda (an NVIDIA GPU via ILGPU; driver only, no CUDA toolkit) or auto (cuda when present)",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary><see cref="Trainer.Train"/> on the selected device; on a GPU the weights end in the trainer's CPU model.</summary>
    public static RunLog Train(ComputeDevice selected, Trainer trainer, MnistDataset train, MnistDataset? validation, IProgress<TrainingProgress>? progress, CancellationToken token)
    {
        using var device = GpuDevice.Open(selected);
        if (device is null) return trainer.Train(train, validation, progress, token);
        Console.Error.WriteLine($"Training on {device.Name} ({device.Accelerator.AcceleratorType}).");
        using var gpu = new GpuTrainer(trainer, device);
        return gpu.Train(train, validation, progress, token);
    }

    /// <summary><see cref="Evaluator.Evaluate"/> on the selected device.</summary>
    public static EvaluationResult Evaluate(ComputeDevice selected, Nn.Module model, MnistDataset data, Normalization normalization, Runtime.ComputeContext compute)
    {
        using var device = GpuDevice.Open(selected);
        if (device is null) return Evaluator.Evaluate(model, data, normalization, compute);
        using var gpu = new GpuModel(device, model);
        return GpuEvaluator.Evaluate(gpu, data, normalization);
    }

    /// <summary>A prediction's probabilities on the selected device (the CPU engine in an evaluation workspace on <paramref name="compute"/>).</summary>
    public static float[] Predict(ComputeDevice selected, Nn.Module model, byte[] image784, Normalization normalization, Runtime.ComputeContext compute)
    {
        using var device = GpuDevice.Open(selected);
        if (device is null) return Predictor.Probabilities(model, image784, normalization, new Nn.Workspace(compute, training: false));
        using var gpu = new GpuModel(device, model);
        var x = new Tensors.Tensor(1, 1, 28, 28);
        normalization.Apply(image784, x.Span);
        return GpuEvaluator.Probabilities(gpu, x);
    }
}
