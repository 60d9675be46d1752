// PredictCommand: `digitlab predict CHECKPOINT IMAGE` prints the ten probabilities and the most likely digit for a PNG or PGM image.
using System.CommandLine;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Training;

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
        var device = DeviceTraining.Option();
        command.Options.Add(device);
        command.SetAction(r => ModelCli.Run(() =>
        {
            DeviceTraining.Selected = DigitLab.Gpu.GpuDevice.Parse(r.GetValue(device)!);
            string path = r.GetValue(image)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"IMAGE '{path}' does not exist. Give a PNG or PGM file of one digit.", path);
            // The image is read and preprocessed before the checkpoint is loaded, so a bad image fails before that work.
            byte[] pixels;
            try { pixels = Preprocess.ToMnist(path); }
            catch (InvalidDataException e) { throw new InvalidDataException($"IMAGE is not a readable PNG or PGM: {e.Message}", e); }
            var (model, info) = ModelCli.LoadCheckpoint(r.GetValue(checkpoint)!, "CHECKPOINT");
            float[] p = DeviceTraining.Predict(model, pixels, new Normalization(info.NormalizationMean, info.NormalizationStd));
            int best = Trainer.ArgMax(p);
            if (r.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { model = info.Architecture, image = path, prediction = best, probabilities = p }, ModelCli.Json));
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
