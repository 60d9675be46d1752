// BenchCommand: `digitlab bench`, the parent of the speed measurements (kernels, training, web).
using System.CommandLine;

namespace DigitLab.Cli.Commands;

internal static class BenchCommand
{
    /// <summary>The benchmarks, one subcommand each, built by a static Create() in its own file.</summary>
    private static IEnumerable<Command> Benchmarks()
    {
        yield return BenchKernelsCommand.Create();
        yield return BenchTrainCommand.Create();
        yield return BenchInferCommand.Create();
        yield return BenchWebCommand.Create();
    }

    public static Command Create()
    {
        var command = new Command("bench",
            "Measure speed: kernels (GEMM GFLOP/s, bytes allocated per call) and more. Run when the machine is otherwise idle.");
        foreach (var benchmark in Benchmarks()) command.Subcommands.Add(benchmark);
        return command;
    }
}
