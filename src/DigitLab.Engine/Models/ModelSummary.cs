// ModelSummary: the table the studies print with torchsummary: layer, output shape, parameters, totals, memory.
using System.Globalization;
using System.Text;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Models;

/// <summary>One row: a layer's state-dict name, its type, output shape for one image (batch shown as -1), and its own parameters.</summary>
public sealed record SummaryRow(string Name, string Type, int[] OutputShape, long Parameters, int Depth);

/// <summary>A model's layers in forward order with their output shapes and parameter counts, plus torchsummary's totals.</summary>
/// <remarks>
/// Shapes come from <see cref="Module.OutputShape"/>, so no forward pass runs. Containers that are plain sequences
/// (Sequential) are walked, not listed; a residual block lists its inner layers and then itself, as torchsummary's hooks do.
/// Memory figures follow torchsummary for batch size 1: input size, forward/backward pass size (every listed output
/// twice, for the value and its gradient), parameter size, float32 throughout, in MiB (printed as "MB" like torchsummary).
/// </remarks>
public sealed class ModelSummary
{
    public IReadOnlyList<SummaryRow> Rows { get; }
    public int[] InputShape { get; }
    public int[] OutputShape { get; }
    public long TotalParameters { get; }
    public long TrainableParameters => TotalParameters;
    /// <summary>Parameters that are not trained; DigitLab has none (batch-norm running statistics are buffers, counted in <see cref="BufferValues"/>).</summary>
    public long NonTrainableParameters => 0;
    /// <summary>Values in buffers (batch-norm running mean and variance): saved in checkpoints, not trained.</summary>
    public long BufferValues { get; }

    public double InputMegabytes => InputShape.Aggregate(1L, (a, d) => a * d) * 4.0 / (1 << 20);
    public double ForwardBackwardMegabytes => 2.0 * Rows.Sum(r => r.OutputShape.Skip(1).Aggregate(1L, (a, d) => a * d)) * 4.0 / (1 << 20);
    public double ParameterMegabytes => TotalParameters * 4.0 / (1 << 20);
    public double TotalMegabytes => InputMegabytes + ForwardBackwardMegabytes + ParameterMegabytes;

    private ModelSummary(List<SummaryRow> rows, int[] input, int[] output, long total, long buffers)
    {
        Rows = rows; InputShape = input; OutputShape = output; TotalParameters = total; BufferValues = buffers;
    }

    /// <summary>Summarises <paramref name="model"/> for inputs of <paramref name="inputShape"/>, e.g. (1, 1, 28, 28).</summary>
    public static ModelSummary Build(Module model, int[] inputShape)
    {
        var rows = new List<SummaryRow>();
        var output = Walk(model, "", inputShape, 0, rows);
        long buffers = model.NamedBuffers().Sum(b => (long)b.Tensor.Length);
        return new ModelSummary(rows, inputShape, output, model.ParameterCount(), buffers);
    }

    private static int[] Walk(Module module, string name, int[] input, int depth, List<SummaryRow> rows)
    {
        string Child(string c) => name.Length == 0 ? c : name + "." + c;
        switch (module)
        {
            case Sequential seq:
            {
                var shape = input;
                foreach (var (childName, child) in seq.Children()) shape = Walk(child, Child(childName), shape, depth, rows);
                return shape;
            }
            case BasicBlock block:
            {
                var shape = input;
                foreach (var (childName, child) in block.Children())
                    if (childName != "downsample") shape = Walk(child, Child(childName), shape, depth + 1, rows);
                if (block.Downsample is not null) Walk(block.Downsample, Child("downsample"), input, depth + 1, rows);
                var output = block.OutputShape(input);
                rows.Add(new SummaryRow(name, nameof(BasicBlock), output, 0, depth));
                return output;
            }
            default:
            {
                var output = module.OutputShape(input);
                rows.Add(new SummaryRow(name, module.GetType().Name, output, module.ParameterCount(), depth));
                return output;
            }
        }
    }

    /// <summary>The torchsummary-style text table.</summary>
    public string ToText()
    {
        var ci = CultureInfo.InvariantCulture;
        int nameWidth = Math.Max(24, Rows.Max(r => r.Name.Length + r.Type.Length + 3 + 2 * r.Depth));
        string rule = new('-', nameWidth + 50), doubleRule = new('=', nameWidth + 50);
        var sb = new StringBuilder();
        sb.AppendLine(rule);
        sb.AppendLine($"{"Layer (type)".PadLeft(nameWidth)}  {"Output Shape",25}  {"Param #",15}");
        sb.AppendLine(doubleRule);
        foreach (var r in Rows)
        {
            string label = new string(' ', 2 * r.Depth) + $"{r.Name} ({r.Type})";
            string shape = "[-1, " + string.Join(", ", r.OutputShape.Skip(1)) + "]";
            sb.AppendLine($"{label.PadLeft(nameWidth)}  {shape,25}  {r.Parameters.ToString("N0", ci),15}");
        }
        sb.AppendLine(doubleRule);
        sb.AppendLine($"Total params: {TotalParameters.ToString("N0", ci)}");
        sb.AppendLine($"Trainable params: {TrainableParameters.ToString("N0", ci)}");
        sb.AppendLine($"Non-trainable params: {NonTrainableParameters.ToString("N0", ci)}");
        sb.AppendLine($"Buffers (batch-norm running statistics, not trained): {BufferValues.ToString("N0", ci)}");
        sb.AppendLine(rule);
        sb.AppendLine($"Input size (MB): {InputMegabytes.ToString("F2", ci)}");
        sb.AppendLine($"Forward/backward pass size (MB): {ForwardBackwardMegabytes.ToString("F2", ci)}");
        sb.AppendLine($"Params size (MB): {ParameterMegabytes.ToString("F2", ci)}");
        sb.AppendLine($"Estimated Total Size (MB): {TotalMegabytes.ToString("F2", ci)}");
        sb.AppendLine(rule);
        return sb.ToString();
    }
}
