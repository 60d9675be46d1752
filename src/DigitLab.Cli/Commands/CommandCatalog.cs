// CommandCatalog: the list of subcommands. Each command is built by a static Create() in its own file.
using System.CommandLine;

namespace DigitLab.Cli.Commands;

internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return DataCommand.Create();
        yield return TrainCommand.Create();
        yield return EvaluateCommand.Create();
        yield return PredictCommand.Create();
        yield return CompareCommand.Create();
        yield return SummaryCommand.Create();
        yield return BenchCommand.Create();
        yield return ReportCommand.Create();
        yield return SweepCommand.Create();
        yield return ExportCommand.Create();
        yield return RobustnessCommand.Create();
        yield return ExplainCommand.Create();
        yield return ReadCommand.Create();
        yield return WorkerCommand.Create();
        yield return DevicesCommand.Create();
    }
}
