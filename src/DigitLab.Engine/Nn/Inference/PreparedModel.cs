// PreparedModel: an eval-mode model compiled once for inference: batch norm folded into the weights, ReLU fused, dropout gone.
using DigitLab.Models;
using DigitLab.Tensors;

namespace DigitLab.Nn.Inference;

/// <summary>
/// An inference-only copy of an evaluation-mode <see cref="Module"/> tree, prepared once: each batch norm that follows a
/// <see cref="Conv2d"/> or <see cref="Linear"/> is folded into that layer's weight and bias (W' = W·γ/√(var+ε),
/// b' = (b − mean)·γ/√(var+ε) + β, computed in double), a ReLU that follows is applied in the layer's epilogue,
/// dropout is removed, convolutions and linear layers run on weights packed once (<see cref="Kernels.PackedConvolution"/>,
/// with a residual block's sum and ReLU in its last convolution's epilogue) where that is the faster route, 3×3 stride-1
/// layers of a batch run Winograd's F(2×2, 3×3) (<see cref="Kernels.WinogradConvolution"/>), max pooling keeps no argmax,
/// sigmoid and average pooling run on kernels compiled fully optimised at first use, a large batch runs the whole network
/// in cache-sized groups of images, and a single image's layers are shared by every thread. Input and output shapes are
/// the source model's.
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
    public static PreparedModel Prepare(Module model) => Prepare(model, InferenceThreads.DefaultMinSplitWork);

    /// <summary>
    /// As <see cref="Prepare(Module)"/>, with <paramref name="minSplitWork"/> the least work (multiply-adds plus weights read,
    /// <see cref="InferenceThreads.Work"/>) of a layer call on a single image that is shared between threads (<see cref="InferenceThreads"/>; 0: every layer, as far as its kernel
    /// splits; <see cref="long.MaxValue"/>: none). The output bits do not depend on it.
    /// </summary>
    internal static PreparedModel Prepare(Module model, long minSplitWork)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(minSplitWork);
        var builder = new Builder(minSplitWork);
        var root = builder.Build(model);
        return new PreparedModel(root, model.GetType().Name)
        {
            FoldedBatchNorms = builder.Folded, FusedActivations = builder.Fused, RemovedDropouts = builder.Dropped, WeightFloats = builder.Weights,
        };
    }

    /// <summary>The output for <paramref name="input"/>; <paramref name="workspace"/> must be an evaluation workspace.</summary>
    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        if (workspace.Training)
            throw new InvalidOperationException("A PreparedModel only evaluates: pass a Workspace created with training: false, "
                + "and train the source model instead (then prepare it again).");
        int n = input.Rank >= 2 ? input.Shape[0] : 0;
        int group = n > 1 && WeightFloats <= MaxGroupedWeights ? GroupSize(input.Shape) : 0;
        int threads = Math.Min(workspace.Compute.Threads, n);
        if (group == 0 || n <= group * threads) return _root.Forward(input, workspace);
        // A large batch runs the whole network on groups of images whose activations stay in cache, instead of every
        // layer over the whole batch (each layer's output streamed through memory and read back by the next: on cnn
        // the 2×2 pools and the first convolution took a fifth of the batch's time doing that). Each thread takes one
        // contiguous run of the batch and runs its groups through the network alone, on a one-thread context and a
        // workspace of its own: layer by layer over both threads, small groups spent more time handing work over at
        // every layer than computing (cnn, two threads: 20.8k img/s grouped against 34k summed over the layers).
        var state = workspace.StateOf<GroupState>(this);
        state.Prepare(threads, workspace.Compute.DirectConvolution);
        var outShape = _root.OutputShape(input.Shape);
        state.Output.Resize(outShape);
        var call = (Root: _root, Input: input, State: state, Group: group, Threads: threads, N: n);
        workspace.Compute.For(threads, 1, call, static (c, ts, te) =>
        {
            int inPer = c.Input.Length / c.N, outPer = c.State.Output.Length / c.N;
            for (int t = ts; t < te; t++)
            {
                var worker = c.State.Workers[t];
                int start = (int)((long)c.N * t / c.Threads), end = (int)((long)c.N * (t + 1) / c.Threads);
                for (int first = start; first < end; first += c.Group)
                {
                    int count = Math.Min(c.Group, end - first);
                    var shape = (int[])c.Input.Shape.Clone();
                    shape[0] = count;
                    worker.Input.Resize(shape);
                    c.Input.ReadOnlySpan.Slice(first * inPer, count * inPer).CopyTo(worker.Input.Span);
                    var y = c.Root.Forward(worker.Input, worker.Workspace);
                    y.ReadOnlySpan.CopyTo(c.State.Output.Span.Slice(first * outPer, count * outPer));
                }
            }
        });
        return state.Output;
    }

    /// <summary>The group-by-group route's output for the whole batch and, per thread, its workspace and group input.</summary>
    private sealed class GroupState
    {
        public readonly Tensor Output = new(0);
        public Worker[] Workers = [];

        /// <summary>Grows the per-thread workers to <paramref name="threads"/> (one-thread contexts, the caller's route choice).</summary>
        public void Prepare(int threads, bool directConvolution)
        {
            if (Workers.Length >= threads && (Workers.Length == 0 || Workers[0].Workspace.Compute.DirectConvolution == directConvolution)) return;
            foreach (var w in Workers) w.Workspace.Compute.Dispose();
            Workers = new Worker[threads];
            for (int t = 0; t < threads; t++) Workers[t] = new Worker(new Workspace(new Runtime.ComputeContext(1, directConvolution), training: false));
        }
    }

    /// <summary>One thread's share of the group-by-group route.</summary>
    private sealed record Worker(Workspace Workspace)
    {
        public readonly Tensor Input = new(0);
    }

    /// <summary>
    /// Activation bytes per thread a group may hold: half a core's 1 MiB L2 (cnn's batch at one thread, 1,000 images:
    /// 13.9–14.8k img/s with 512 KiB groups, 13.9k with 1 MiB, 14.0–14.3k with 2 MiB, 12.0k ungrouped). Settable for tests.
    /// </summary>
    internal int GroupBudget { get; set; } = 1 << 19;

    /// <summary>
    /// Most weight floats (8 MB) of a model whose batches run in groups: each group reads every layer's weights again, which
    /// costs more than it saves once they outgrow the cache (resnet18's 45 MB: 2.3–2.45k img/s grouped against 2.9–3.0k
    /// ungrouped at one thread).
    /// </summary>
    private const long MaxGroupedWeights = 2 << 20;

    /// <summary>Bytes of the batch's largest layer input and output from which the batch runs in groups (8 MB: past the L3 share). Settable for tests.</summary>
    internal long MinGroupedActivations { get; set; } = 8 << 20;

    /// <summary>Floats in the prepared convolution and linear layers' weights.</summary>
    public long WeightFloats { get; private init; }

    /// <summary>
    /// Images per thread's group for inputs of <paramref name="shape"/>: as many as keep the largest layer's input and output
    /// within <see cref="GroupBudget"/> (at least one); 0 when the model has no layer worth grouping for.
    /// </summary>
    private int GroupSize(int[] shape)
    {
        var one = (int[])shape.Clone();
        one[0] = 1;
        long largest = 0;
        IReadOnlyList<Module> nodes = _root is PreparedSequence sequence ? sequence.Nodes : new[] { _root };
        var x = one;
        foreach (var node in nodes)
        {
            var y = node.OutputShape(x);
            long floats = Product(x) + Product(y);
            largest = Math.Max(largest, floats);
            x = y;
        }
        // A batch whose largest activations fit the shared cache gains nothing from groups (mlp at 1,000 images: 3.6 MB;
        // grouped it ran 0.90–0.95× ORT against 1.08–1.12× ungrouped, one thread).
        if ((long)shape[0] * largest * 4 <= MinGroupedActivations) return 0;
        return (int)Math.Min(int.MaxValue, Math.Max(1, GroupBudget / (4 * largest)));
    }

    private static long Product(int[] shape)
    {
        long p = 1;
        foreach (int d in shape) p *= d;
        return p;
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
    private sealed class Builder(long minSplitWork)
    {
        public int Folded, Fused, Dropped;
        public long Weights;

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
            MaxPool2d pool => new PreparedMaxPool(pool, minSplitWork),
            Sigmoid => new PreparedSigmoid(minSplitWork),
            AvgPool2d pool => new PreparedAvgPool(pool, minSplitWork),
            ReLU or Tanh or AdaptiveAvgPool2d or Flatten => module,
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
                    Weights += layer is Conv2d c2 ? c2.Weight.Value.Length : ((Linear)layer).Weight.Value.Length;
                    if (relu) Fused++;
                    nodes.Add(layer is Conv2d conv ? PreparedConvolution.Create(conv, bn, relu, minSplitWork, feedsConvolution: next < layers.Count && layers[next] is Conv2d)
                        : PreparedLinear.Create((Linear)layer, bn, relu, minSplitWork));
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
