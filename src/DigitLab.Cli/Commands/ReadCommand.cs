// ReadCommand: `digitlab read CHECKPOINT IMAGE` reads a number written in one image (digits, confidences, boxes drawn into --out); `--benchmark` measures the reader on generated numbers.
using System.CommandLine;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Reports;
using Spectre.Console;

using DigitLab.Runtime;
using DigitLab.IO;

namespace DigitLab.Cli.Commands;

internal static class ReadCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("CHECKPOINT") { Description = "A .safetensors checkpoint written by digitlab train" };
        var image = new Argument<string?>("IMAGE") { Description = "A PNG or PGM image of a number (several digits side by side, either polarity)", Arity = ArgumentArity.ZeroOrOne };
        var output = new Option<string?>("--out") { Description = "Write the input with a box around each digit read (PNG)" };
        var benchmark = new Option<bool>("--benchmark") { Description = "Instead of IMAGE: read generated numbers from MNIST test digits and report sequence and digit accuracy by spacing (gap, touching, overlap)" };
        var count = new Option<int>("--count") { Description = "--benchmark: numbers per spacing class and length group", DefaultValueFactory = _ => 300 };
        var seed = new Option<ulong>("--seed") { Description = "--benchmark: seed of the generated numbers", DefaultValueFactory = _ => 1 };
        var data = new DataOptions();
        var json = CliCommon.JsonOption();
        var command = new Command("read", "Read a number written in one image: segment the digits (connected components, merge and split rules), recognise each, print the number with a confidence per digit and overall");
        command.Arguments.Add(checkpoint);
        command.Arguments.Add(image);
        foreach (var o in new Option[] { output, benchmark, count, seed }) command.Options.Add(o);
        data.AddTo(command);
        command.Options.Add(json);
        command.SetAction(r => ModelCli.Run(() =>
        {
            using var compute = new ComputeContext();
            bool quiet = r.GetValue(json);
            string? path = r.GetValue(image);
            if (!r.GetValue(benchmark))
            {
                if (path is null) throw new ArgumentException("read needs an IMAGE of a number (or --benchmark to measure the reader on generated numbers).");
                if (!File.Exists(path)) throw new FileNotFoundException($"IMAGE '{path}' does not exist. Give a PNG or PGM file of a number.", path);
            }
            var (model, info) = ModelCli.LoadCheckpoint(r.GetValue(checkpoint)!, "CHECKPOINT");
            var runner = new ModelRunner(model, new Normalization(info.NormalizationMean, info.NormalizationStd), compute);
            DigitClassifier classify = images => runner.ProbabilitiesBatch(images);
            if (r.GetValue(benchmark))
            {
                int n = r.GetValue(count);
                if (n < 1) throw new ArgumentException($"--count must be at least 1, found {n}.");
                var (_, test) = data.Load(r, DatasetKind.Mnist, quiet);
                var progress = new Progress<string>(m => { if (!quiet) Console.Error.WriteLine(m); });
                var started = System.Diagnostics.Stopwatch.StartNew();
                var results = NumberBenchmark.Run(test, classify, n, r.GetValue(seed), progress);
                if (quiet)
                {
                    Console.WriteLine(JsonSerializer.Serialize(new { model = info.Architecture, seed = r.GetValue(seed), seconds = started.Elapsed.TotalSeconds, results = results.Select(x => new { spacing = x.Spacing.ToString().ToLowerInvariant(), x.Lengths, x.Numbers, x.SequenceAccuracy, x.DigitAccuracy, x.SegmentedRight, x.CropError, x.SourceError }) }, CliCommon.Json));
                    return 0;
                }
                var t = new Table().Border(TableBorder.Simple).Title($"{info.Architecture}: numbers generated from MNIST test digits, seed {r.GetValue(seed)}");
                foreach (var h in new[] { "spacing", "digits", "numbers", "seq. acc.", "digit acc.", "right count", "crop err.", "source err." }) t.AddColumn(new TableColumn(h).RightAligned().PadLeft(1).PadRight(0));
                foreach (var x in results) t.AddRow(x.Spacing.ToString().ToLowerInvariant(), x.Lengths, $"{x.Numbers}", ModelCli.Percent(x.SequenceAccuracy), ModelCli.Percent(x.DigitAccuracy),
                    ModelCli.Percent(x.SegmentedRight), ModelCli.Percent(x.CropError), ModelCli.Percent(x.SourceError));
                AnsiConsole.Write(t);
                Console.WriteLine("right count: numbers read as the right number of digits; crop err.: of their digits, those misread; " +
                    "source err.: the same digits' dataset images misread by the same model.");
                Console.WriteLine($"{started.Elapsed.TotalSeconds:F1} s");
                return 0;
            }
            RasterImage raster;
            try { raster = ImageFile.Read(path!); }
            catch (InvalidDataException e) { throw new InvalidDataException($"IMAGE is not a readable PNG or PGM: {e.Message}", e); }
            var grey = raster.ToGrey();
            var result = NumberReader.Read(grey, raster.Width, raster.Height, classify);
            if (r.GetValue(output) is { } outPath) WriteBoxes(outPath, grey, raster.Width, raster.Height, result);
            if (quiet)
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    model = info.Architecture, image = path, number = result.Text, confidence = result.Confidence,
                    digits = result.Digits.Select(d => new { digit = d.Digit, confidence = d.Confidence, box = new { x = d.Box.X, y = d.Box.Y, width = d.Box.Width, height = d.Box.Height }, probabilities = d.Probabilities }),
                }, CliCommon.Json));
                return 0;
            }
            Console.WriteLine($"{info.Architecture}: {result.Text}  (confidence {ModelCli.Percent(result.Confidence)})");
            foreach (var d in result.Digits)
                Console.WriteLine($"  {d.Digit}  {ModelCli.Percent(d.Confidence)}  box x {d.Box.X}, y {d.Box.Y}, {d.Box.Width}x{d.Box.Height}");
            return 0;
        }));
        return command;
    }

    /// <summary>The input in grey with a red rectangle around each digit read.</summary>
    private static void WriteBoxes(string path, byte[] grey, int width, int height, ReadResult result)
    {
        var rgb = new byte[width * height * 3];
        for (int i = 0; i < grey.Length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grey[i];
        void Set(int x, int y)
        {
            if ((uint)x >= width || (uint)y >= height) return;
            int o = 3 * (y * width + x);
            (rgb[o], rgb[o + 1], rgb[o + 2]) = ((byte)230, (byte)30, (byte)30);
        }
        foreach (var d in result.Digits)
        {
            int x0 = d.Box.X - 1, y0 = d.Box.Y - 1, x1 = d.Box.Right, y1 = d.Box.Bottom;
            for (int x = x0; x <= x1; x++) { Set(x, y0); Set(x, y1); }
            for (int y = y0; y <= y1; y++) { Set(x0, y); Set(x1, y); }
        }
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        PngWriter.WriteRgb(path, width, height, rgb);
    }
}
