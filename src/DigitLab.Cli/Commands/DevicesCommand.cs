// DevicesCommand: `digitlab devices` lists what ILGPU sees; --check compares the device with the CPU engine model by model.
using System.CommandLine;
using System.Globalization;
using DigitLab.Gpu;

namespace DigitLab.Cli.Commands;

internal static class DevicesCommand
{
    public static Command Create()
    {
        var check = new Option<string?>("--check")
        {
            Description = "Comma-separated zoo models to run one training step of on the device and on the CPU engine, printing the largest differences",
        };
        var device = DeviceTraining.Option();
        device.DefaultValueFactory = _ => "auto";
        var command = new Command("devices", "List the compute devices ILGPU sees (CUDA GPUs with memory, architecture and driver; the CPU accelerator)") { check, device };
        command.SetAction(r =>
        {
            var ci = CultureInfo.InvariantCulture;
            foreach (var d in GpuDevice.List())
                Console.WriteLine(string.Create(ci, $"{d.Kind,-5} {d.Name}  memory {d.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB  arch {d.Architecture}  driver {d.Driver}  SMs {d.Multiprocessors}  warp {d.WarpSize}"));
            if (r.GetValue(check) is not { } models) return 0;
            var selected = GpuDevice.Parse(r.GetValue(device)!);
            using var gpu = selected == ComputeDevice.Cpu ? GpuDevice.OpenCpu() : GpuDevice.Open(selected) ?? GpuDevice.OpenCpu();
            Console.WriteLine($"Check on {gpu.Name} ({gpu.Accelerator.AcceleratorType}) against the CPU engine, batch 16, one Adam step:");
            int failures = 0;
            foreach (var name in models.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var c = GpuBench.Check(gpu, name);
                // The bounds of the CPU-accelerator tests (1e-5 + 1e-4·|x|) grow with depth; 1e-3 absolute flags real errors on whole models.
                bool ok = c.MaxLogitDifference < 1e-3f && c.MaxGradientDifference < 1e-3f && c.MaxWeightDifferenceAfterStep < 1e-4f;
                if (!ok) failures++;
                Console.WriteLine(string.Create(ci, $"  {name,-14} logits {c.MaxLogitDifference:E2}  gradients {c.MaxGradientDifference:E2}  weights after step {c.MaxWeightDifferenceAfterStep:E2}  {(ok ? "ok" : "MISMATCH")}"));
            }
            return failures == 0 ? 0 : 1;
        });
        return command;
    }
}
