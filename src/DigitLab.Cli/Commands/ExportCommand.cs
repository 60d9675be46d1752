// ExportCommand: `digitlab export CKPT --format onnx --out model.onnx` writes a checkpoint as a standard ONNX model.
using System.CommandLine;
using DigitLab.Interop;

namespace DigitLab.Cli.Commands;

internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("CHECKPOINT") { Description = "A .safetensors checkpoint written by `digitlab train`" };
        var format = new Option<string>("--format") { Description = "Output format: onnx", DefaultValueFactory = _ => "onnx" };
        var output = new Option<string?>("--out") { Description = "Output path (default: the checkpoint's path with .onnx)" };
        var command = new Command("export",
            $"Export a checkpoint as an ONNX model (opset {OnnxExport.Opset}): input '{OnnxExport.InputName}' float (N, 1, 28, 28) with pixels in [0, 1] " +
            $"(the normalisation is inside the graph), outputs '{OnnxExport.LogitsName}' and '{OnnxExport.ProbabilitiesName}' (N, 10); " +
            "evaluation mode (no dropout, batch norm on running statistics); name, version and recipe in metadata_props.");
        command.Arguments.Add(checkpoint);
        command.Options.Add(format);
        command.Options.Add(output);
        command.SetAction(r => ModelCli.Run(() =>
        {
            string kind = r.GetValue(format)!.Trim().ToLowerInvariant();
            if (kind != "onnx") throw new ArgumentException($"--format '{r.GetValue(format)}' is not one DigitLab exports; use --format onnx.");
            string path = r.GetValue(checkpoint)!;
            var (model, info) = ModelCli.LoadCheckpoint(path, "CHECKPOINT");
            string target = r.GetValue(output) ?? Path.ChangeExtension(path, ".onnx");
            try { OnnxExport.Save(target, model, OnnxExport.InfoFor(info)); }
            catch (NotSupportedException e) { throw new ArgumentException(e.Message, e); }
            Console.WriteLine($"Wrote {target} ({new FileInfo(target).Length:N0} bytes): {info.Architecture}, ONNX opset {OnnxExport.Opset}, " +
                              $"input {OnnxExport.InputName} (N, 1, 28, 28) pixels/255, outputs {OnnxExport.LogitsName} and {OnnxExport.ProbabilitiesName}.");
            return 0;
        }));
        return command;
    }
}
