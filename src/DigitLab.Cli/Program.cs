// digitlab: the command line. Program.cs only wires commands; each lives in Commands/.
using System.CommandLine;
using DigitLab.Cli.Commands;

var root = new RootCommand("DigitLab: train, evaluate, compare and understand handwritten-digit classifiers on MNIST.");
foreach (var command in CommandCatalog.All()) root.Subcommands.Add(command);
return await root.Parse(args).InvokeAsync();
