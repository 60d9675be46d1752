// PredictCommand: `digitlab predict CHECKPOINT IMAGE` prints the ten probabilities and the most likely digit for a PNG or PGM image.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Training;
using Spectre.Console;

namespace DigitLab.Cli.Commands;

internal static class PredictCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("CHECKPOINT") { Description = "A .safetensors checkpoint written by digitlab train" };
        var image = new Argument<string>("IMAGE") { Description = "A PNG or PGM image of one digit, any size, dark-on-light or light-on-dark" };
        var json = ModelCli.JsonOption();
        var command = new Command("predict", "Classify one digit image: preprocessed as MNIST was (bounding box into 20x20, centred by mass in 28x28)");
        command.Arguments.Add(checkpoint);
        command.Arguments.Add(image);
        command.Options.Add(json);
        command.SetAction(r => ModelCli.Run(() =>
        {
            var (model, info) = Checkpoint.Load(r.GetValue(checkpoint)!);
            string path = r.GetValue(image)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"No image at '{path}'. Give a PNG or PGM file.", path);
            float[] p = Predictor.ProbabilitiesForImageFile(model, path, new Normalization(info.NormalizationMean, info.NormalizationStd));
            int best = Trainer.ArgMax(p);
            if (r.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { model = info.Architecture, image = path, prediction = best, probabilities = p }, ModelCli.Json));
                return 0;
            }
            var chart = new BarChart().Width(60).Label($"{Markup.Escape(info.Architecture)}: probability per digit");
            for (int d = 0; d < p.Length; d++)
                chart.AddItem(d.ToString(CultureInfo.InvariantCulture), Math.Round(p[d] * 100, 2), d == best ? Color.Green : Color.Grey);
            AnsiConsole.Write(chart);
            AnsiConsole.MarkupLine($"Prediction: [bold green]{best}[/] ({ModelCli.Percent(p[best])})");
            return 0;
        }));
        return command;
    }
}
