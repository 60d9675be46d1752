// PredictCommand: `digitlab predict CHECKPOINT IMAGE...|DIR` prints the ten probabilities of one image, or a table / JSON / CSV row per image of many.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Training;
using DigitLab.Evaluation;
using DigitLab.IO;
using DigitLab.Runtime;

namespace DigitLab.Cli.Commands;

internal static class PredictCommand
{
    /// <summary>Exit code when some images of several could not be read (the others were predicted).</summary>
    public const int SomeFailed = 2;

    public static Command Create()
    {
        var checkpoint = new Argument<string>("CHECKPOINT") { Description = "A .safetensors checkpoint written by digitlab train" };
        var image = new Argument<string[]>("IMAGE")
        {
            Description = "PNG, JPEG, WebP, GIF, BMP or PGM images (up to 2048x2048 pixels, either polarity, photos of paper too), or folders (searched recursively for those extensions)",
            Arity = ArgumentArity.OneOrMore,
        };
        var json = CliCommon.JsonOption();
        var csv = new Option<bool>("--csv") { Description = "Several images: CSV rows (path, digit, confidence, p0..p9, error) instead of a table" };
        var showInput = new Option<string?>("--show-input")
        {
            Description = "Write the 28x28 image the model received: to this PNG for one image; for several, this is a folder receiving NNNNN-NAME.png per image (NNNNN its row)",
        };
        var command = new Command("predict", "Classify digit images: preprocessed as MNIST was (photos cleaned up, bounding box into 20x20, centred by mass in 28x28; 28x28 images taken as they are). " +
                                             $"One image: the ten probabilities. Several, or a folder: one row each (table, --json or --csv), read in one process through the prepared model; exit code {SomeFailed} when some could not be read");
        command.Arguments.Add(checkpoint);
        command.Arguments.Add(image);
        command.Options.Add(json);
        command.Options.Add(csv);
        command.Options.Add(showInput);
        var device = DeviceTraining.Option();
        command.Options.Add(device);
        command.SetAction(r => ModelCli.Run(() =>
        {
            var selected = DigitLab.Gpu.GpuDevice.Parse(r.GetValue(device)!);
            var inputs = r.GetValue(image)!;
            if (r.GetValue(json) && r.GetValue(csv)) throw new ArgumentException("--json and --csv cannot be combined: choose one output format.");
            if (inputs.Length == 1 && !Directory.Exists(inputs[0])) return PredictOne(r, checkpoint, inputs[0], json, showInput, selected);
            return PredictMany(r.GetValue(checkpoint)!, inputs, r.GetValue(json), r.GetValue(csv), r.GetValue(showInput));
        }));
        return command;
    }

    private static int PredictOne(ParseResult r, Argument<string> checkpoint, string path, Option<bool> json, Option<string?> showInput, DigitLab.Gpu.ComputeDevice selected)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IMAGE '{path}' does not exist. Give a PNG, JPEG, WebP, GIF, BMP or PGM file of one digit.", path);
        // The image is read and preprocessed before the checkpoint is loaded, so a bad image fails before that work.
        byte[] pixels;
        try { pixels = Preprocess.ToMnist(path); }
        catch (InvalidDataException e) { throw new InvalidDataException($"IMAGE {(ImageDecoder.IsTooLarge(e) ? "is too large" : "is not a readable image")}: {e.Message}", e); }
        var (model, info) = ModelCli.LoadCheckpoint(r.GetValue(checkpoint)!, "CHECKPOINT");
        if (r.GetValue(showInput) is { } shown) PngWriter.WriteGrey(shown, 28, 28, pixels);
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
    }

    private static int PredictMany(string checkpointPath, string[] inputs, bool asJson, bool asCsv, string? showInput)
    {
        // Folders expand to their images; files named are taken as they are (a non-image among them gets its error row).
        var paths = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = BatchPredictor.ImagesIn(input);
                if (found.Count == 0) throw new ArgumentException($"IMAGE folder '{input}' holds no PNG, JPEG, WebP, GIF, BMP or PGM file (searched recursively).");
                paths.AddRange(found);
            }
            else paths.Add(input);
        }
        var (model, info) = ModelCli.LoadCheckpoint(checkpointPath, "CHECKPOINT");
        using var compute = new ComputeContext();
        var clock = Stopwatch.StartNew();
        var rows = BatchPredictor.Predict(model, new Normalization(info.NormalizationMean, info.NormalizationStd), paths, compute);
        double seconds = clock.Elapsed.TotalSeconds;
        int failed = rows.Count(p => !p.Ok);

        if (showInput is not null)
        {
            Directory.CreateDirectory(showInput);
            for (int i = 0; i < rows.Count; i++)
                if (rows[i].Input is { } input)
                    PngWriter.WriteGrey(Path.Combine(showInput, $"{i:D5}-{Path.GetFileNameWithoutExtension(rows[i].Path)}.png"), 28, 28, input);
        }
        if (asJson)
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = info.Architecture,
                images = rows.Select(p => new { path = p.Path, digit = p.Digit, confidence = p.Ok ? p.Confidence : (float?)null, probabilities = p.Probabilities, error = p.Error }),
            }, CliCommon.Json));
        else if (asCsv) Console.Write(Csv(rows));
        else
        {
            int width = Math.Min(80, rows.Max(p => p.Path.Length));
            Console.WriteLine($"{"path".PadRight(width)}  digit  confidence");
            foreach (var p in rows)
                Console.WriteLine(p.Ok ? $"{p.Path.PadRight(width)}  {p.Digit,5}  {ModelCli.Percent(p.Confidence),10}" : $"{p.Path.PadRight(width)}      -           -  error: {p.Error}");
        }
        Console.Error.WriteLine($"{info.Architecture}: {rows.Count - failed:N0} of {rows.Count:N0} images predicted in {seconds:F2} s " +
                                $"({(rows.Count / Math.Max(seconds, 1e-9)).ToString("F0", CultureInfo.InvariantCulture)} images/s, decoding and preprocessing included)" +
                                (failed > 0 ? $"; {failed} could not be read" : ""));
        return failed > 0 ? SomeFailed : 0;
    }

    /// <summary>RFC 4180 CSV: a header, then path, digit, confidence, p0..p9, error per image (numbers invariant, 6 decimals).</summary>
    internal static string Csv(IReadOnlyList<ImagePrediction> rows)
    {
        static string Quote(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        static string N(float v) => v.ToString("F6", CultureInfo.InvariantCulture);
        var text = new StringBuilder("path,digit,confidence," + string.Join(",", Enumerable.Range(0, 10).Select(d => $"p{d}")) + ",error\n");
        foreach (var p in rows)
        {
            text.Append(Quote(p.Path)).Append(',');
            if (p.Ok) text.Append(p.Digit).Append(',').Append(N(p.Confidence)).Append(',').Append(string.Join(",", p.Probabilities!.Select(N))).Append(",\n");
            else text.Append(',').Append(',').Append(new string(',', 10)).Append(Quote(p.Error!)).Append('\n');
        }
        return text.ToString();
    }
}
