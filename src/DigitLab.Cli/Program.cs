// digitlab: the command line. Program.cs only wires commands; each lives in Commands/.
using System.CommandLine;
using System.CommandLine.Help;
using DigitLab.Cli.Commands;

// A RootCommand names itself after the executable (DigitLab.Cli) and cannot be renamed, so the root is a
// plain command named as people type it, with the help and version options a RootCommand would add.
var root = new Command("digitlab", "DigitLab: train, evaluate, compare and understand handwritten-digit classifiers on MNIST.")
{
    new HelpOption(),
    new VersionOption(),
};
foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
return await root.Parse(args).InvokeAsync();
