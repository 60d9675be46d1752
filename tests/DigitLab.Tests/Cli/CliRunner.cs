// CliRunner: runs the `digitlab` command tree in-process with stdout, stderr and Spectre's console captured.
using System.CommandLine;
using DigitLab.Cli.Commands;
using Spectre.Console;

namespace DigitLab.Tests.Cli;

/// <summary>What one command line did: its exit code and everything it wrote.</summary>
public sealed record CliResult(int ExitCode, string Out, string Error);

/// <summary>
/// Builds the same tree Program.cs builds (a "digitlab" command over <see cref="CommandCatalog.All"/>) and invokes it.
/// Console.Out/Error and AnsiConsole are process-wide, so callers belong to <see cref="ConsoleCollection"/>.
/// </summary>
internal static class CliRunner
{
    public static async Task<CliResult> RunAsync(params string[] args)
    {
        var root = new Command("digitlab");
        foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
        var output = new StringWriter();
        var error = new StringWriter();
        var (previousOut, previousError, previousAnsi) = (Console.Out, Console.Error, AnsiConsole.Console);
        try
        {
            Console.SetOut(output);
            Console.SetError(error);
            // Spectre keeps its own writer; point it at the same capture, plain and non-interactive as in a pipe.
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(output),
                Ansi = AnsiSupport.No,
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            });
            int exit = await root.Parse(args).InvokeAsync();
            return new CliResult(exit, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
            AnsiConsole.Console = previousAnsi;
        }
    }
}
