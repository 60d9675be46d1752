// PreparedModel: an eval-mode model compiled once for inference: batch norm folded into the weights, ReLU fused, dropout gone.
using DigitLab.Models;
using DigitLab.Tensors;

namespace DigitLab.Nn.Inference;

/// <summary>
/// An inference-only copy of an evaluation-mode <see cref="Module"/> tree, prepared once: each batch norm that follows a
/// <see cref="Conv2d"/> or <see cref="Linear"/> is folded into that layer's weight and bias (W' = W·γ/√(var+ε),
/// b' = (b − mean)·γ/√(var+ε) + β, computed in double), a ReLU that follows is applied in the layer's epilogue,
/// dropout is removed, convolutions and linear layers run on weights packed once (<see cref="Kernels.PackedConvolution"/>,
/// with a residual block's sum and ReLU in its last convolution's epilogue) where that is the faster route, max pooling
/// keeps no argmax, and a single image's layers are shared by every thread. Input and output shapes are the source model's.
/// </summary>
/// <remarks>
/// Lives in the engine beside <see cref="Module"/> because it is one: it runs with a per-caller <see cref="Workspace"/>
/// (which must be in evaluation mode) exactly as the source model's eval pass does, so one prepared model serves any
/// number of concurrent callers. The weights are copied at preparation: training or loading the source model later does
/// not change the prepared one (prepare again). Results equal the plain eval pass up to float rounding (the folded
/// weights round differently); the tests state the tolerance. <see cref="Backward"/> is not supported.
/// </remarks>
public sealed class PreparedModel : Module
{
    private readonly Module _root;
    private readonly string _description;

    private PreparedModel(Module root, string description)
    {
        _root = root;
        _description = description;
    }

    /// <summary>Layers folded (batch norms merged into the preceding convolution or linear layer) at preparation.</summary>
    public int FoldedBatchNorms { get; private init; }

    /// <summary>ReLUs applied in a convolution's or linear layer's epilogue instead of as their own pass.</summary>
    public int FusedActivations { get; private init; }

    /// <summary>Dropout layers removed.</summary>
    public int RemovedDropouts { get; private init; }

    /// <summary>
    /// Prepares <paramref name="model"/> for inference. Supported: Sequential, Conv2d, Linear, BatchNorm1d/2d, ReLU, Sigmoid,
    /// Tanh, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, Residual and BasicBlock.
    /// </summary>
    /// <exception cref="NotSupportedException">A module type the preparer does not know; the message names it.</exception>
    public static PreparedModel Prepare(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var builder = new Builder();
        var root = builder.Build(model);
        return new PreparedModel(root, model.GetType().Name)
        {
            FoldedBatchNorms = builder.Folded, FusedActivations = builder.Fused, RemovedDropouts = builder.Dropped,
        };
    }

    /// <summary>The output for <paramref name="input"/>; <paramref name="workspace"/> must be an evaluation workspace.</summary>
    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        if (workspace.Training)
            throw new InvalidOperationException("A PreparedModel only evaluates: pass a Workspace created with training: false, "
                + "and train the source model instead (then prepare it again).");
        return _root.Forward(input, workspace);
    }

    /// <summary>
    /// Each top-level prepared layer with the input it receives for <paramref name="input"/> (copied), running the model
    /// once in <paramref name="workspace"/>: for per-layer timing (<c>digitlab bench infer --profile</c>).
    /// </summary>
    public IEnumerable<(Module Layer, Tensor Input)> Layers(Tensor input, Workspace workspace)
    {
        IReadOnlyList<Module> nodes = _root is PreparedSequence sequence ? sequence.Nodes : new[] { _root };
        var x = input;
        var result = new List<(Module, Tensor)>();
        foreach (var node in nodes)
        {
            var copy = new Tensor(x.Shape);
            x.ReadOnlySpan.CopyTo(copy.Span);
            result.Add((node, copy));
            x = node.Forward(x, workspace);
        }
        return result;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) =>
        throw new NotSupportedException("A PreparedModel has no backward pass (batch norm is folded, dropout removed); train the source model.");

    public override int[] OutputShape(int[] inputShape) => _root.OutputShape(inputShape);

    public override string ToString() =>
        $"PreparedModel({_description}: {FoldedBatchNorms} batch norms folded, {FusedActivations} ReLUs fused, {RemovedDropouts} dropouts removed)";

    /// <summary>Walks the source tree into prepared nodes, counting what it folded.</summary>
    private sealed class Builder
    {
        public int Folded, Fused, Dropped;

        public Module Build(Module module) => module switch
        {
            Sequential s => BuildSequence(s.Layers),
            BasicBlock b => new PreparedResidual(
                BuildSequence([b.Conv1, b.Bn1, b.Relu, b.Conv2, b.Bn2]),
                b.Downsample is null ? null : BuildSequence(b.Downsample.Layers), reluAfter: true),
            Residual r => new PreparedResidual(Build(r.Body), r.Shortcut is null ? null : Build(r.Shortcut), r.ReluAfter),
            Conv2d or Linear => BuildSequence([module]),
            Dropout => BuildSequence([]),
            // Stateless in evaluation (or reading only their own running statistics): the eval pass already writes
            // only the workspace, so the source layer itself serves; its weights cannot be changed through here.
            BatchNorm => new FrozenBatchNorm((BatchNorm)module),
            MaxPool2d pool => new PreparedMaxPool(pool),
            ReLU or Sigmoid or Tanh or AvgPool2d or AdaptiveAvgPool2d or Flatten => module,
            _ => throw new NotSupportedException($"PreparedModel cannot prepare a {module.GetType().Name} ({module}); "
                + "supported: Sequential, Conv2d, Linear, BatchNorm1d/2d, ReLU, Sigmoid, Tanh, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, "
                + "Flatten, Dropout, Residual, BasicBlock. Use the plain model's eval pass for this one."),
        };

        /// <summary>Folds each Conv2d/Linear with a following batch norm and ReLU (dropout in between is skipped).</summary>
        private Module BuildSequence(IReadOnlyList<Module> layers)
        {
            var nodes = new List<Module>();
            for (int i = 0; i < layers.Count; i++)
            {
                var layer = layers[i];
                if (layer is Dropout) { Dropped++; continue; }
                if (layer is Conv2d or Linear)
                {
                    BatchNorm? bn = null;
                    bool relu = false;
                    int next = i + 1;
                    next = SkipDropouts(layers, next);
                    if (next < layers.Count && layers[next] is BatchNorm candidate && Matches(layer, candidate))
                    {
                        bn = candidate;
                        next = SkipDropouts(layers, next + 1);
                    }
                    if (next < layers.Count && layers[next] is ReLU) { relu = true; next++; }
                    if (bn is not null) Folded++;
                    if (relu) Fused++;
                    nodes.Add(layer is Conv2d conv ? PreparedConvolution.Create(conv, bn, relu) : PreparedLinear.Create((Linear)layer, bn, relu));
                    // Dropouts skipped above are counted as removed.
                    for (int j = i + 1; j < next; j++) if (layers[j] is Dropout) Dropped++;
                    i = next - 1;
                    continue;
                }
                nodes.Add(Build(layer));
            }
            return nodes.Count == 1 ? nodes[0] : new PreparedSequence(nodes.ToArray());
        }

        private static int SkipDropouts(IReadOnlyList<Module> layers, int index)
        {
            while (index < layers.Count && layers[index] is Dropout) index++;
            return index;
        }

        private static bool Matches(Module layer, BatchNorm bn) => layer switch
        {
            Conv2d c => bn is BatchNorm2d && bn.Features == c.OutChannels,
            Linear l => bn is BatchNorm1d && bn.Features == l.OutFeatures,
            _ => false,
        };
    }
}
