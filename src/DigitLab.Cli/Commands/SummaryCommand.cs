// SummaryCommand: `digitlab summary MODEL` prints the layer table (output shapes, parameters, totals, memory) as torchsummary does.
using System.CommandLine;
using System.Text.Json;
using DigitLab.Models;

namespace DigitLab.Cli.Commands;

internal static class SummaryCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = $"Architecture: {string.Join(", ", ModelZoo.Names)}" };
        var json = CliCommon.JsonOption();
        var command = new Command("summary", "Print a model's layers with output shapes and parameter counts, its totals and memory sizes");
        command.Arguments.Add(model);
        command.Options.Add(json);
        command.SetAction(r => ModelCli.Run(() =>
        {
            string name = r.GetValue(model)!.Trim().ToLowerInvariant();
            if (!ModelZoo.Exists(name))
                throw new ArgumentException($"MODEL '{r.GetValue(model)}' is not a known model; use one of {string.Join(", ", ModelZoo.Names)}.");
            var summary = ModelSummary.Build(ModelZoo.Create(name, seed: 0), [1, 1, 28, 28]);
            if (r.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    model = name.ToLowerInvariant(),
                    layers = summary.Rows.Select(row => new { name = row.Name, type = row.Type, outputShape = row.OutputShape, parameters = row.Parameters }),
                    totalParameters = summary.TotalParameters,
                    trainableParameters = summary.TrainableParameters,
                    nonTrainableParameters = summary.NonTrainableParameters,
                    bufferValues = summary.BufferValues,
                    inputMegabytes = summary.InputMegabytes,
                    forwardBackwardMegabytes = summary.ForwardBackwardMegabytes,
                    parameterMegabytes = summary.ParameterMegabytes,
                    totalMegabytes = summary.TotalMegabytes,
                }, CliCommon.Json));
                return 0;
            }
            Console.WriteLine($"{name.ToLowerInvariant()}: {ModelZoo.Describe(name)}");
            Console.Write(summary.ToText());
            return 0;
        }));
        return command;
    }
}
