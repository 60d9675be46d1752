// DeviceTraining: the --device option of train/evaluate/predict and the one place the CLI hands a run to the GPU backend.
using System.CommandLine;
using DigitLab.Data;
using DigitLab.Gpu;
using DigitLab.Training;

namespace DigitLab.Cli.Commands;

/// <summary>
/// Chooses the engine for a command: <c>--device cpu</c> (the CPU engine), <c>cuda</c> (an NVIDIA GPU through ILGPU) or
/// <c>auto</c> (cuda when a device is present). The command sets <see cref="Selected"/> from the option once per process.
/// </summary>
internal static class DeviceTraining
{
    /// <summary>The device the running command asked for (one command runs per process).</summary>
    public static ComputeDevice Selected { get; set; } = ComputeDevice.Cpu;

    public static Option<string> Option() => new("--device")
    {
        Description = "Where to run: cpu, cuda (an NVIDIA GPU via ILGPU; driver only, no CUDA toolkit) or auto (cuda when present)",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary><see cref="Trainer.Train"/> on the selected device; on a GPU the weights end in the trainer's CPU model.</summary>
    public static RunLog Train(Trainer trainer, MnistDataset train, MnistDataset? validation, IProgress<TrainingProgress>? progress, CancellationToken token)
    {
        using var device = GpuDevice.Open(Selected);
        if (device is null) return trainer.Train(train, validation, progress, token);
        Console.Error.WriteLine($"Training on {device.Name} ({device.Accelerator.AcceleratorType}).");
        using var gpu = new GpuTrainer(trainer, device);
        return gpu.Train(train, validation, progress, token);
    }

    /// <summary><see cref="Evaluator.Evaluate"/> on the selected device.</summary>
    public static EvaluationResult Evaluate(Nn.Module model, MnistDataset data, Normalization normalization)
    {
        using var device = GpuDevice.Open(Selected);
        if (device is null) return Evaluator.Evaluate(model, data, normalization);
        using var gpu = new GpuModel(device, model);
        return GpuEvaluator.Evaluate(gpu, data, normalization);
    }

    /// <summary><see cref="Predictor.Probabilities(Nn.Module, ReadOnlySpan{byte}, Normalization)"/> on the selected device.</summary>
    public static float[] Predict(Nn.Module model, byte[] image784, Normalization normalization)
    {
        using var device = GpuDevice.Open(Selected);
        if (device is null) return Predictor.Probabilities(model, image784, normalization);
        using var gpu = new GpuModel(device, model);
        var x = new Tensors.Tensor(1, 1, 28, 28);
        normalization.Apply(image784, x.Span);
        return GpuEvaluator.Probabilities(gpu, x);
    }
}
