// OnnxExport: a DigitLab model as a standard ONNX graph (ONNX's own onnx.proto, written with Google.Protobuf).
using System.Globalization;
using System.Runtime.InteropServices;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Reports;
using DigitLab.Tensors;
using Google.Protobuf;
using Onnx;
using DigitLab.IO;

namespace DigitLab.Interop;

/// <summary>What the exported file says about the model besides its weights.</summary>
/// <param name="Name">Model name (the zoo architecture, e.g. "cnn"); the graph's name.</param>
/// <param name="Mean">Pixel normalisation mean the model was trained with (x = (pixel/255 − Mean) / Std).</param>
/// <param name="Std">Pixel normalisation standard deviation.</param>
/// <param name="Metadata">Further metadata_props entries (recipe, seed, test accuracy), by key.</param>
public sealed record OnnxModelInfo(string Name, float Mean, float Std, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>
/// Builds an ONNX <see cref="ModelProto"/> from a DigitLab module tree, with evaluation-mode semantics:
/// dropout is left out and batch norm uses its running statistics (an ONNX BatchNormalization node in inference mode).
/// </summary>
/// <remarks>
/// The graph:
/// <list type="bullet">
/// <item>input <c>image</c>, float (N, 1, 28, 28), N dynamic ("batch"): pixels scaled to [0, 1] (byte/255), 0 = background,
/// 1 = ink, preprocessed as MNIST was (digit in a 20×20 box centred by mass in 28×28);</item>
/// <item>the normalisation folded in as its first two nodes: (image − mean) / std, with the checkpoint's mean and std
/// (also in metadata_props as <c>digitlab.normalization_mean</c> / <c>_std</c>);</item>
/// <item>outputs <c>logits</c> (N, 10), the network's raw scores, and <c>probabilities</c> (N, 10), their softmax.</item>
/// </list>
/// Opset <see cref="Opset"/> of the default domain, IR version <see cref="IrVersion"/>. Modules supported: Sequential,
/// Linear, Conv2d, BatchNorm1d/2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, ReLU, Sigmoid, Tanh, Dropout (left out),
/// Flatten, Residual and ResNet's BasicBlock; any other module is refused with <see cref="NotSupportedException"/>
/// naming it.
/// </remarks>
public static class OnnxExport
{
    /// <summary>ONNX operator set (default domain) the graph is written in.</summary>
    public const int Opset = 23;

    /// <summary>ONNX IR version 11 (IR_VERSION_2025_05_12), the one that goes with opset 23 (ONNX 1.18); ONNX Runtime 1.32 loads both.</summary>
    public const long IrVersion = 11;

    public const string InputName = "image";
    public const string LogitsName = "logits";
    public const string ProbabilitiesName = "probabilities";

    /// <summary>Builds the ONNX model of <paramref name="model"/> for 1×28×28 images.</summary>
    /// <exception cref="NotSupportedException">The tree holds a module the exporter does not know; the message names it.</exception>
    public static ModelProto Build(Module model, OnnxModelInfo info)
    {
        var graph = new GraphBuilder(info.Name);
        var outputShape = model.OutputShape([1, 1, 28, 28]);
        if (outputShape.Length != 2)
            throw new NotSupportedException($"ONNX export expects a classifier whose output is (N, classes); '{info.Name}' gives {Tensor.Format(outputShape)}.");
        int classes = outputShape[1];

        string x = graph.Node("Sub", [InputName, graph.Scalar("normalization.mean", info.Mean)], "normalize_sub");
        x = graph.Node("Div", [x, graph.Scalar("normalization.std", info.Std)], "normalize_div");
        x = graph.Emit(model, "", x);
        graph.Node("Identity", [x], "logits", output: LogitsName);
        graph.Node("Softmax", [LogitsName], "softmax", output: ProbabilitiesName, attributes: [Int("axis", 1)]);

        graph.Proto.Input.Add(TensorValue(InputName, "batch", 1, 28, 28));
        graph.Proto.Output.Add(TensorValue(LogitsName, "batch", classes));
        graph.Proto.Output.Add(TensorValue(ProbabilitiesName, "batch", classes));
        graph.Proto.DocString = $"{info.Name}: input {InputName} (N, 1, 28, 28) pixels in [0, 1], normalised inside the graph with " +
                                $"mean {Format(info.Mean)} and std {Format(info.Std)}; outputs {LogitsName} and {ProbabilitiesName} (softmax), (N, {classes}).";

        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "DigitLab",
            ProducerVersion = Training.Checkpoint.DigitLabVersion,
            Domain = "digitlab",
            ModelVersion = 1,
            DocString = graph.Proto.DocString,
            Graph = graph.Proto,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["digitlab.model"] = info.Name,
            ["digitlab.version"] = Training.Checkpoint.DigitLabVersion,
            ["digitlab.input"] = $"{InputName}: float (N, 1, 28, 28), pixel/255 (0 = background, 1 = ink), MNIST-style centred digit",
            ["digitlab.outputs"] = $"{LogitsName}: (N, {classes}) raw scores; {ProbabilitiesName}: (N, {classes}) softmax of the logits",
            ["digitlab.normalization"] = "folded into the graph: (image - mean) / std",
            ["digitlab.normalization_mean"] = Format(info.Mean),
            ["digitlab.normalization_std"] = Format(info.Std),
        };
        foreach (var (key, value) in info.Metadata ?? new Dictionary<string, string>()) metadata[key] = value;
        foreach (var (key, value) in metadata) proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    /// <summary>Builds the ONNX model and writes it to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, Module model, OnnxModelInfo info) =>
        AtomicFile.WriteAllBytes(path, Build(model, info).ToByteArray());

    /// <summary>The export info of a checkpoint: its architecture, normalisation, seed, recipe and test figures.</summary>
    public static OnnxModelInfo InfoFor(Training.CheckpointInfo checkpoint)
    {
        var ci = CultureInfo.InvariantCulture;
        var metadata = new Dictionary<string, string>
        {
            ["digitlab.seed"] = checkpoint.Seed.ToString(ci),
            ["digitlab.checkpoint_version"] = checkpoint.Version,
            ["digitlab.model_options"] = System.Text.Json.JsonSerializer.Serialize(checkpoint.Options, IO.DigitLabJson.Options),
        };
        if (checkpoint.Log is { } log)
        {
            metadata["digitlab.recipe"] = System.Text.Json.JsonSerializer.Serialize(log.Recipe, IO.DigitLabJson.Options);
            metadata["digitlab.dataset"] = log.Dataset;
            if (log.Test is { } test)
                metadata["digitlab.test_accuracy"] = test.Accuracy.ToString("R", ci);
        }
        return new OnnxModelInfo(checkpoint.Architecture, checkpoint.NormalizationMean, checkpoint.NormalizationStd, metadata);
    }

    private static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    /// <summary>A float tensor value whose first dimension is the symbolic <paramref name="batch"/>.</summary>
    private static ValueInfoProto TensorValue(string name, string batch, params int[] rest)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        foreach (int d in rest) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    /// <summary>Accumulates nodes and initializers; <see cref="Emit"/> walks the module tree.</summary>
    private sealed class GraphBuilder(string name)
    {
        public GraphProto Proto { get; } = new() { Name = name };
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);

        /// <summary>Adds a node with one output (named after the node unless <paramref name="output"/> is given) and returns the output's name.</summary>
        public string Node(string op, string[] inputs, string nodeName, string? output = null, AttributeProto[]? attributes = null)
        {
            string unique = Unique(nodeName);
            output ??= unique;
            var node = new NodeProto { OpType = op, Name = unique };
            node.Input.Add(inputs);
            node.Output.Add(output);
            if (attributes is not null) node.Attribute.Add(attributes);
            Proto.Node.Add(node);
            return output;
        }

        /// <summary>Adds <paramref name="tensor"/>'s values as an initializer called <paramref name="tensorName"/> (its state-dict name).</summary>
        public string Initializer(string tensorName, Tensor tensor) => Initializer(tensorName, tensor.ReadOnlySpan, tensor.Shape);

        public string Scalar(string tensorName, float value) => Initializer(tensorName, [value], []);

        private string Initializer(string tensorName, ReadOnlySpan<float> values, int[] shape)
        {
            if (!BitConverter.IsLittleEndian)
                throw new PlatformNotSupportedException("ONNX raw_data is little-endian; exporting on a big-endian machine is not supported.");
            string unique = Unique(tensorName);
            var t = new TensorProto { Name = unique, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.Add(shape.Select(d => (long)d));
            t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
            Proto.Initializer.Add(t);
            return unique;
        }

        private string Unique(string candidate)
        {
            string n = candidate;
            for (int i = 1; !_names.Add(n); i++) n = $"{candidate}_{i}";
            return n;
        }

        private static string Join(string path, string child) => path.Length == 0 ? child : path + "." + child;

        /// <summary>Emits <paramref name="module"/> (its state-dict path is <paramref name="path"/>) on <paramref name="x"/>; returns its output's name.</summary>
        public string Emit(Module module, string path, string x)
        {
            string at = path.Length == 0 ? "model" : path;
            switch (module)
            {
                case Sequential seq:
                    foreach (var (childName, child) in seq.Children()) x = Emit(child, Join(path, childName), x);
                    return x;
                case Linear linear:
                {
                    var inputs = new List<string> { x, Initializer(Join(path, "weight"), linear.Weight.Value) };
                    if (linear.Bias is not null) inputs.Add(Initializer(Join(path, "bias"), linear.Bias.Value));
                    // y = x·Wᵀ + b: Gemm with transB = 1 reads the (out, in) weight as stored.
                    return Node("Gemm", inputs.ToArray(), at, attributes: [Int("transB", 1)]);
                }
                case Conv2d conv:
                {
                    var inputs = new List<string> { x, Initializer(Join(path, "weight"), conv.Weight.Value) };
                    if (conv.Bias is not null) inputs.Add(Initializer(Join(path, "bias"), conv.Bias.Value));
                    return Node("Conv", inputs.ToArray(), at, attributes:
                    [
                        Ints("kernel_shape", conv.KernelSize, conv.KernelSize), Ints("strides", conv.Stride, conv.Stride),
                        Ints("pads", conv.Padding, conv.Padding, conv.Padding, conv.Padding), Ints("dilations", 1, 1), Int("group", 1),
                    ]);
                }
                case BatchNorm bn:
                    // Inference mode (no training_mode attribute): y = (x − running_mean)/√(running_var + ε)·γ + β, per channel (dim 1).
                    return Node("BatchNormalization",
                    [
                        x, Initializer(Join(path, "weight"), bn.Weight.Value), Initializer(Join(path, "bias"), bn.Bias.Value),
                        Initializer(Join(path, "running_mean"), bn.RunningMean), Initializer(Join(path, "running_var"), bn.RunningVar),
                    ], at, attributes: [Float("epsilon", bn.Eps)]);
                case MaxPool2d pool:
                    return Node("MaxPool", [x], at, attributes:
                    [
                        Ints("kernel_shape", pool.KernelSize, pool.KernelSize), Ints("strides", pool.Stride, pool.Stride),
                        Ints("pads", pool.Padding, pool.Padding, pool.Padding, pool.Padding), Int("ceil_mode", 0),
                    ]);
                case AvgPool2d pool:
                    return Node("AveragePool", [x], at, attributes:
                    [
                        Ints("kernel_shape", pool.KernelSize, pool.KernelSize), Ints("strides", pool.Stride, pool.Stride),
                        Ints("pads", 0, 0, 0, 0), Int("ceil_mode", 0),
                    ]);
                case AdaptiveAvgPool2d:
                    return Node("GlobalAveragePool", [x], at);
                case ReLU:
                    return Node("Relu", [x], at);
                case Sigmoid:
                    return Node("Sigmoid", [x], at);
                case Tanh:
                    return Node("Tanh", [x], at);
                case Dropout:
                    return x; // the identity in evaluation mode
                case Flatten:
                    return Node("Flatten", [x], at, attributes: [Int("axis", 1)]);
                case Residual residual:
                {
                    string body = Emit(residual.Body, Join(path, "body"), x);
                    string skip = residual.Shortcut is null ? x : Emit(residual.Shortcut, Join(path, "shortcut"), x);
                    string sum = Node("Add", [body, skip], Join(at, "add"));
                    return residual.ReluAfter ? Node("Relu", [sum], Join(at, "relu_out")) : sum;
                }
                case BasicBlock block:
                {
                    // relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the children in torchvision's order.
                    string body = x;
                    foreach (var (childName, child) in block.Children())
                        if (childName != "downsample") body = Emit(child, Join(path, childName), body);
                    string skip = block.Downsample is null ? x : Emit(block.Downsample, Join(path, "downsample"), x);
                    string sum = Node("Add", [body, skip], Join(at, "add"));
                    return Node("Relu", [sum], Join(at, "relu_out"));
                }
                default:
                    throw new NotSupportedException(
                        $"ONNX export does not know the module {module.GetType().Name} ('{module}') at '{at}'. Supported: Sequential, Linear, Conv2d, " +
                        "BatchNorm1d/2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, ReLU, Sigmoid, Tanh, Dropout, Flatten, Residual, BasicBlock; " +
                        "add a case for it in OnnxExport.");
            }
        }
    }
}
