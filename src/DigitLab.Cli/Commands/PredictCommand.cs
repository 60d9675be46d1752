// PredictCommand: `digitlab predict CHECKPOINT IMAGE` prints the ten probabilities and the most likely digit for a PNG or PGM image.
using System.CommandLine;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Training;
using DigitLab.Evaluation;

using DigitLab.Runtime;

namespace DigitLab.Cli.Commands;

internal static class PredictCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("CHECKPOINT") { Description = "A .safetensors checkpoint written by digitlab train" };
        var image = new Argument<string>("IMAGE") { Description = "A PNG, JPEG, WebP, GIF, BMP or PGM image of one digit, up to 2048x2048 pixels, dark-on-light or light-on-dark" };
        var json = CliCommon.JsonOption();
        var command = new Command("predict", "Classify one digit image: preprocessed as MNIST was (bounding box into 20x20, centred by mass in 28x28)");
        command.Arguments.Add(checkpoint);
        command.Arguments.Add(image);
        command.Options.Add(json);
        var device = DeviceTraining.Option();
        command.Options.Add(device);
        command.SetAction(r => ModelCli.Run(() =>
        {
            var selected = DigitLab.Gpu.GpuDevice.Parse(r.GetValue(device)!);
            string path = r.GetValue(image)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"IMAGE '{path}' does not exist. Give a PNG, JPEG, WebP, GIF, BMP or PGM file of one digit.", path);
            // The image is read and preprocessed before the checkpoint is loaded, so a bad image fails before that work.
            byte[] pixels;
            try { pixels = Preprocess.ToMnist(path); }
            catch (InvalidDataException e) { throw new InvalidDataException($"IMAGE {(DigitLab.IO.ImageDecoder.IsTooLarge(e) ? "is too large" : "is not a readable image")}: {e.Message}", e); }
            var (model, info) = ModelCli.LoadCheckpoint(r.GetValue(checkpoint)!, "CHECKPOINT");
            using var compute = new ComputeContext();
            float[] p = DeviceTraining.Predict(selected, model, pixels, new Normalization(info.NormalizationMean, info.NormalizationStd), compute);
            int best = Metrics.ArgMax(p);
            if (r.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { model = info.Architecture, image = path, prediction = best, probabilities = p }, CliCommon.Json));
                return 0;
            }
            // Plain lines (one per digit, probability to 4 decimals, a bar of up to 40 '#') so the output reads the same in a
            // terminal, a pipe or a log.
            Console.WriteLine($"{info.Architecture}: probability per digit");
            for (int d = 0; d < p.Length; d++)
                Console.WriteLine($"  {d}  {ModelCli.F(p[d])}  {new string('#', (int)Math.Round(p[d] * 40))}{(d == best ? "  <-" : "")}");
            Console.WriteLine($"Prediction: {best} ({ModelCli.Percent(p[best])})");
            return 0;
        }));
        return command;
    }
}
