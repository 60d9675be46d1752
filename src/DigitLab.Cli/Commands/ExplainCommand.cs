// ExplainCommand: `digitlab explain CHECKPOINT IMAGE --method ... --out map.png` writes what the model looked at for one image (and --json the raw map).
using System.CommandLine;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Reports;

using DigitLab.Runtime;
using DigitLab.IO;

namespace DigitLab.Cli.Commands;

internal static class ExplainCommand
{
    private static readonly Dictionary<string, SaliencyMethod> Methods = new()
    {
        ["gradxinput"] = SaliencyMethod.GradientTimesInput,
        ["integrated-gradients"] = SaliencyMethod.IntegratedGradients,
        ["occlusion"] = SaliencyMethod.Occlusion,
        ["gradcam"] = SaliencyMethod.GradCam,
    };

    public static Command Create()
    {
        var checkpoint = new Argument<string>("CHECKPOINT") { Description = "A .safetensors checkpoint written by digitlab train" };
        var image = new Argument<string>("IMAGE") { Description = "A PNG or PGM image of one digit (preprocessed as MNIST was, like predict)" };
        var method = new Option<string>("--method")
        {
            Description = "gradxinput (gradient × input), integrated-gradients (black baseline), occlusion (patch of background), gradcam (last conv block; convolutional models)",
            DefaultValueFactory = _ => "integrated-gradients",
        };
        method.AcceptOnlyFromAmong([.. Methods.Keys]);
        var output = new Option<string>("--out") { Description = "Where to write the overlay PNG (280×280: red = evidence for the class, blue = against)", DefaultValueFactory = _ => "map.png" };
        var klass = new Option<int?>("--class") { Description = "Class to explain (default: the predicted one)" };
        var steps = new Option<int>("--steps") { Description = "integrated-gradients: points on the path from the black baseline", DefaultValueFactory = _ => Saliency.DefaultSteps };
        var patch = new Option<int>("--patch") { Description = "occlusion: side of the square patch (pixels)", DefaultValueFactory = _ => Saliency.DefaultPatch };
        var json = CliCommon.JsonOption();
        var command = new Command("explain", "What the model looked at: a saliency map for one image (gradient × input, integrated gradients, occlusion or Grad-CAM) drawn over the preprocessed 28×28 input");
        command.Arguments.Add(checkpoint);
        command.Arguments.Add(image);
        foreach (var o in new Option[] { method, output, klass, steps, patch, json }) command.Options.Add(o);
        command.SetAction(r => ModelCli.Run(() =>
        {
            using var compute = new ComputeContext();
            string path = r.GetValue(image)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"IMAGE '{path}' does not exist. Give a PNG or PGM file of one digit.", path);
            byte[] pixels;
            try { pixels = Preprocess.ToMnist(path); }
            catch (InvalidDataException e) { throw new InvalidDataException($"IMAGE is not a readable PNG or PGM: {e.Message}", e); }
            var (model, info) = ModelCli.LoadCheckpoint(r.GetValue(checkpoint)!, "CHECKPOINT");
            var runner = new ModelRunner(model, new Normalization(info.NormalizationMean, info.NormalizationStd), compute);
            var unit = pixels.Select(p => p / 255f).ToArray();
            var m = Methods[r.GetValue(method)!];
            var map = Saliency.Explain(runner, unit, m, r.GetValue(klass), r.GetValue(steps), r.GetValue(patch));
            var (rgb, w, h) = SaliencyOverlay.Render(unit, map.Map);
            string outPath = r.GetValue(output)!;
            string? dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (dir is not null) Directory.CreateDirectory(dir);
            PngWriter.WriteRgb(outPath, w, h, rgb);
            int predicted = Metrics.ArgMax(map.Probabilities);
            if (r.GetValue(json))
            {
                var rows = Enumerable.Range(0, 28).Select(y => map.Map.AsSpan(y * 28, 28).ToArray()).ToArray();
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    model = info.Architecture, image = path, method = r.GetValue(method), settings = map.Settings, @class = map.ClassIndex, predicted,
                    probabilities = map.Probabilities, overlay = outPath, map = rows,
                }, CliCommon.Json));
                return 0;
            }
            Console.WriteLine($"{info.Architecture}: predicted {predicted} ({ModelCli.Percent(map.Probabilities[predicted])}); explained class {map.ClassIndex} with {r.GetValue(method)} ({map.Settings})");
            Console.WriteLine($"Map sum {ModelCli.F(map.Map.Sum())}, largest |value| {ModelCli.F(map.Map.Max(Math.Abs))}; overlay written to {outPath}");
            return 0;
        }));
        return command;
    }
}
