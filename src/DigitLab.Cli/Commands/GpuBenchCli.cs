// GpuBenchCli: `bench train --device cuda`: the device figures of each model, one line each.
using System.Globalization;
using DigitLab.Data;
using DigitLab.Gpu;

namespace DigitLab.Cli.Commands;

internal static class GpuBenchCli
{
    public static int Run(GpuDevice gpu, string[] models, MnistDataset data, string dataNote, int steps, int warmup, int batch, int inferenceBatch)
    {
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine($"DigitLab training benchmark on {gpu.Name} ({gpu.Accelerator.AcceleratorType}): batch {batch}, {warmup} warm-up + {steps} timed steps, Adam; data: {dataNote}");
        foreach (var name in models)
        {
            var r = GpuBench.Measure(gpu, name, data, steps, warmup, batch, inferenceBatch);
            Console.WriteLine(string.Create(ci, $"{r.Model,-14} {r.TrainSamplesPerSecond,10:N0} train samples/s ({r.MsPerStep,7:F3} ms/step)  {r.InferenceImagesPerSecond,11:N0} inference img/s (batch {inferenceBatch})"));
        }
        return 0;
    }
}
