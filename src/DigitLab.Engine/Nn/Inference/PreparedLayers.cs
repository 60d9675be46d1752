// PreparedLayers: the nodes of a PreparedModel: folded convolution and linear layers, frozen batch norm, sequence, residual.
using DigitLab.Kernels;
using DigitLab.Runtime;
using DigitLab.Tensors;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace DigitLab.Nn.Inference;

/// <summary>The folding rule shared by convolution and linear layers: per output channel scale and shift from a batch norm.</summary>
internal static class Folding
{
    /// <summary>
    /// weight (O, F) and bias (O) of a layer followed by <paramref name="bn"/> in evaluation mode, folded:
    /// W'[o] = W[o]·s[o], b'[o] = (b[o] − mean[o])·s[o] + β[o], s[o] = γ[o]/√(var[o] + ε), in double.
    /// Without a batch norm, copies (bias zero when the layer has none).
    /// </summary>
    public static (float[] Weight, float[] Bias) Fold(Tensor weight, Tensor? bias, int outChannels, BatchNorm? bn)
    {
        int fan = weight.Length / outChannels;
        var w = (float[])weight.Data.Clone();
        var b = bias is null ? new float[outChannels] : (float[])bias.Data.Clone();
        if (bn is null) return (w, b);
        for (int o = 0; o < outChannels; o++)
        {
            double scale = bn.Weight.Value.Data[o] / Math.Sqrt(bn.RunningVar.Data[o] + (double)bn.Eps);
            for (int j = 0; j < fan; j++) w[o * fan + j] = (float)(weight.Data[o * fan + j] * scale);
            b[o] = (float)((b[o] - (double)bn.RunningMean.Data[o]) * scale + bn.Bias.Value.Data[o]);
        }
        return (w, b);
    }
}

/// <summary>
/// Conv2d with its batch norm folded in and its ReLU applied while the output is still in cache. Input (N, C, H, W),
/// output (N, O, OH, OW). A single image (N = 1) is split by output channel across the compute context's threads:
/// each thread convolves the whole input with its own slice of the weights (pre-split at preparation) into its own
/// output slice, which is contiguous in the (1, O, OH, OW) output.
/// </summary>
internal sealed class PreparedConvolution : Module
{
    /// <summary>Least multiply-adds per thread for a single image to be split (below it a thread hand-off costs more).</summary>
    private const long MinSplitWork = 1 << 17;

    private readonly int _in, _out, _kernel, _stride, _padding;
    private readonly float[] _weight, _bias;
    private readonly bool _relu;
    /// <summary>Least work for a single image's call to use more than the calling thread (<see cref="InferenceThreads"/>).</summary>
    private readonly long _minSplitWork;
    private readonly Lazy<Slice[]> _slices;
    /// <summary>Weights packed for <see cref="PackedConvolution"/>, one plan per input size (built on first use; each is immutable).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Height, int Width), PackedConvolution.Plan> _plans = new();
    /// <summary>The packed weights in narrower chunks for a single image on more threads than the plan has chunks, per input size and thread count.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Height, int Width, int Threads), PackedConvolution.Plan> _narrowPlans = new();
    /// <summary>Weights transformed for <see cref="WinogradConvolution"/>, one plan per input size (built on first use; each is immutable).</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Height, int Width), WinogradConvolution.Plan> _winograd = new();
    /// <summary>Single-image packs for tiny output planes where the packed route is not taken, one per input size.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(int Height, int Width), SmallPlaneConvolution> _smallPlanes = new();

    /// <summary>One thread's output channels [Start, Start + Count) with their weights and bias.</summary>
    private sealed record Slice(int Start, int Count, float[] Weight, float[] Bias);

    private sealed class State
    {
        public readonly Tensor Output = new(0);
        public float[] Scratch = [];
        public float[][] SliceScratch = [];
        public float[][] SliceOutput = [];
    }

    /// <summary>Whether the next layer of the sequence is a convolution (its Winograd split threshold is lower: see <see cref="WinogradConvolution.MinSplitWorkBeforeConvolution"/>).</summary>
    internal bool FeedsConvolution { get; }

    private PreparedConvolution(Conv2d conv, float[] weight, float[] bias, bool relu, long minSplitWork, bool feedsConvolution)
    {
        FeedsConvolution = feedsConvolution;
        (_in, _out, _kernel, _stride, _padding) = (conv.InChannels, conv.OutChannels, conv.KernelSize, conv.Stride, conv.Padding);
        (_weight, _bias, _relu, _minSplitWork) = (weight, bias, relu, minSplitWork);
        // Slices for up to this machine's cores, in multiples of 8 channels (whole vectors for the kernels' stores); cut on
        // first use, since only single images on the unpacked route need them (a packed ResNet would hold its weights twice more).
        _slices = new Lazy<Slice[]>(() =>
        {
            int parts = Math.Clamp(Math.Min(Environment.ProcessorCount, _out / 8), 1, 8);
            int fan = _in * _kernel * _kernel;
            var slices = new Slice[parts];
            for (int p = 0; p < parts; p++)
            {
                int start = _out * p / parts / 8 * 8, end = p == parts - 1 ? _out : _out * (p + 1) / parts / 8 * 8;
                slices[p] = new Slice(start, end - start, weight.AsSpan(start * fan, (end - start) * fan).ToArray(), bias.AsSpan(start, end - start).ToArray());
            }
            return slices;
        });
    }

    /// <param name="minSplitWork">Least work (<see cref="InferenceThreads.Work"/>) for a single image's call of this layer to use more than one thread.</param>
    /// <param name="feedsConvolution">Whether the next layer is a convolution.</param>
    public static PreparedConvolution Create(Conv2d conv, BatchNorm? bn, bool relu, long minSplitWork = InferenceThreads.DefaultMinSplitWork,
        bool feedsConvolution = false)
    {
        var (w, b) = Folding.Fold(conv.Weight.Value, conv.Bias?.Value, conv.OutChannels, bn);
        return new PreparedConvolution(conv, w, b, relu, minSplitWork, feedsConvolution);
    }

    public override Tensor Forward(Tensor input, Workspace workspace) => Forward(input, null, _relu, workspace);

    /// <summary>
    /// Whether <paramref name="g"/> runs on <see cref="PackedConvolution"/>: strided layers and small planes (where the other
    /// routes pack weights per call or multiply padding), and large stride-1 planes with at least <see cref="PackedMinTaps"/>
    /// taps per output and two vectors of output channels, single images included since the packed tiles store transposed
    /// and walk every tap in one go (cnn's single image 0.144–0.145 → 0.085–0.089 ms, best's 0.33 → 0.20–0.21 ms, one
    /// thread, `bench infer --threads 1`; before that, split by output channels had been faster on two threads: 0.092–0.100
    /// against 0.125–0.131 ms for cnn). Below that (one-channel first layers, 16- or 24-channel layers)
    /// its tiles are short of work for their loads and strided stores, and the direct or GEMM routes ran faster
    /// (measured per layer on the zoo's shapes, batch 1 and 200). A context without direct routes (im2col + GEMM
    /// everywhere, for comparisons) does not take it either.
    /// </summary>
    internal static bool Packs(ComputeContext compute, in ConvGeometry g) =>
        PackedConvolution.Fast && compute.DirectConvolution && (g.Stride > 1 || g.OutPlane < Convolution.MinImagePlane
            || (g.ColumnRows >= PackedMinTaps && g.OutChannels >= 2 * PackedConvolution.Lanes));

    /// <summary>
    /// Whether <paramref name="g"/> runs on <see cref="WinogradConvolution"/>: the layers <see cref="Convolution.Winograd"/>
    /// takes (3×3 or 5×5 stride-1 layers with at least 8 input and 16 output channels on planes of 8×8 or more, where it
    /// saves work: cnn's second layer, best's and fast's 14×14 and 28×28 ones, net3's 32 → 32 5×5 one), for as
    /// as many images as threads (one image per thread) and for a single image, which then runs these layers on one thread:
    /// two threads idle, `bench infer --models cnn,best,fast`, single image on Winograd against split over both threads on
    /// the packed route: best 0.152 against 0.176–0.191 ms, fast 0.033–0.042 against 0.043–0.049, cnn 0.084–0.100 against
    /// 0.084–0.090 (two runs each, alternated). One thread, `bench infer --threads 1`, before and after this route: cnn 15.1–15.4k → 19.0–19.3k
    /// img/s, best 5.5–5.8k → 6.8–6.9k (cnn's layer alone 49.6 → 34.1 µs per image); fast's 12 → 24 layer (taken from 8 input
    /// and 16 output channels) 23.5k → 28.0k img/s and 0.052 → 0.033 ms.
    /// Planes of 7×7 (ResNet's layer1, fast's third layer) gained nothing measurable and stay packed.
    /// </summary>
    internal static bool Winograd(ComputeContext compute, in ConvGeometry g) =>
        (g.Batch >= compute.Threads || g.Batch == 1) && Convolution.Winograd(compute, g);

    /// <summary>Taps per output (C·K·K) from which a stride-1 layer on a large plane is packed.</summary>
    private const int PackedMinTaps = 32;

    /// <summary>
    /// act(conv(input) + bias [+ residual]) with act = ReLU when <paramref name="relu"/>: the residual block's last
    /// convolution adds the shortcut and applies the block's ReLU in its own epilogue where the packed route takes it.
    /// </summary>
    internal Tensor Forward(Tensor input, Tensor? residual, bool relu, Workspace workspace)
    {
        var shape = OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        var compute = workspace.Compute;
        var s = input.Shape;
        state.Output.Resize(shape);
        residual?.RequireShape(shape, "prepared residual block (the shortcut must match the last convolution's output)");
        var g = new ConvGeometry(s[0], _in, s[2], s[3], _out, _kernel, _stride, _padding);
        if (residual is null && Winograd(compute, g))
        {
            var plan = _winograd.GetOrAdd((s[2], s[3]), static (key, layer) => new WinogradConvolution.Plan(layer._weight, layer._bias,
                layer._in, layer._out, layer._kernel, layer._padding, key.Height, key.Width), this);
            int length = plan.WorkspaceLength(compute);
            if (state.Scratch.Length < length) state.Scratch = new float[length];
            WinogradConvolution.Forward(compute, plan, s[0], input.Data, state.Output.Data, relu, state.Scratch,
                FeedsConvolution ? WinogradConvolution.MinSplitWorkBeforeConvolution : WinogradConvolution.MinSplitWork);
            return state.Output;
        }
        if (Packs(compute, g))
        {
            var plan = _plans.GetOrAdd((s[2], s[3]), static (key, layer) => new PackedConvolution.Plan(layer._weight, layer._bias,
                layer._in, layer._out, layer._kernel, layer._stride, layer._padding, key.Height, key.Width), this);
            compute = InferenceThreads.For(compute, s[0], InferenceThreads.Work((long)s[0] * plan.Taps * g.OutPlane * _out, plan.Weights.Length), _minSplitWork);
            // A single image split over more threads than the plan has chunks (ResNet's 64-channel layer1, 7×7): the same
            // weights in narrower chunks, one or more per thread (the same sums; see PackedConvolution's remarks).
            if (s[0] < compute.Threads && plan.ChunkCount < compute.Threads && plan.Vectors > 1)
                plan = _narrowPlans.GetOrAdd((s[2], s[3], compute.Threads), static (key, a) => new PackedConvolution.Plan(a.Layer._weight,
                    a.Layer._bias, a.Layer._in, a.Layer._out, a.Layer._kernel, a.Layer._stride, a.Layer._padding, key.Height, key.Width,
                    chunkVectors: Math.Max(1, a.Wide.Vectors / key.Threads)), (Layer: this, Wide: plan));
            int length = plan.WorkspaceLength(compute, s[0]);
            if (state.Scratch.Length < length) state.Scratch = new float[length];
            PackedConvolution.Forward(compute, plan, s[0], input.Data, state.Output.Data, residual?.Data, relu, state.Scratch);
            return state.Output;
        }
        // One-channel first layers: outputs in the lanes (the packed tiles' strided stores cost more than their few taps).
        bool shallow = PackedConvolution.Fast && compute.DirectConvolution && ShallowConvolution.Supports(g);
        int parts = !shallow && s[0] == 1 ? Math.Min(compute.Threads, _slices.Value.Length) : 1;
        if (shallow)
        {
            compute = InferenceThreads.For(compute, s[0], InferenceThreads.Work(g.Batch * (long)g.OutPlane * g.ColumnRows * _out, g.WeightLength), _minSplitWork);
            int need = ShallowConvolution.WorkspaceLength(compute, g);
            if (state.Scratch.Length < need) state.Scratch = new float[need];
            ShallowConvolution.Forward(compute, g, input.Data, _weight, _bias, state.Output.Data, relu && residual is null, state.Scratch);
        }
        else if (s[0] == 1 && g.OutPlane <= SmallPlaneConvolution.MaxPlane)
        {
            // Without the packed route (no AVX-512, or a GEMM-only context): the first step's matrix-vector product.
            var small = _smallPlanes.GetOrAdd((s[2], s[3]), static (key, layer) => new SmallPlaneConvolution(layer._weight, layer._bias,
                layer._in, layer._out, layer._kernel, layer._stride, layer._padding, key.Height, key.Width), this);
            if (state.Scratch.Length < small.ScratchLength) state.Scratch = new float[small.ScratchLength];
            small.Forward(compute, input.Data, state.Output.Data, state.Scratch, relu && residual is null);
        }
        else if (parts > 1 && (long)g.OutPlane * g.ColumnRows * _out / parts >= MinSplitWork)
            ForwardSplit(compute, g, input.Data, state, parts, relu && residual is null);
        else
        {
            int need = Convolution.WorkspaceLength(compute, g);
            if (state.Scratch.Length < need) state.Scratch = new float[need];
            Convolution.Forward(compute, g, input.Data, _weight, _bias, state.Output.Data, state.Scratch);
            if (relu && residual is null) Relu(compute, state.Output.Data, state.Output.Length);
        }
        if (residual is not null) ResidualAdd.Forward(state.Output.ReadOnlySpan, residual.ReadOnlySpan, state.Output.Span, relu);
        return state.Output;
    }

    private void ForwardSplit(ComputeContext compute, in ConvGeometry g, float[] input, State state, int parts, bool relu)
    {
        // The slices were cut for _slices.Length threads; with fewer threads each takes a run of slices.
        var slices = _slices.Value;
        if (state.SliceScratch.Length != slices.Length) { state.SliceScratch = new float[slices.Length][]; state.SliceOutput = new float[slices.Length][]; }
        for (int i = 0; i < slices.Length; i++)
        {
            var gi = g with { OutChannels = slices[i].Count };
            int need = Convolution.WorkspaceLength(compute, gi);
            if (state.SliceScratch[i] is null || state.SliceScratch[i].Length < need) state.SliceScratch[i] = new float[need];
            if (state.SliceOutput[i] is null || state.SliceOutput[i].Length < gi.OutputLength) state.SliceOutput[i] = new float[gi.OutputLength];
        }
        var call = (Layer: this, Compute: compute, G: g, Input: input, State: state, Relu: relu);
        // One part per slice; nested kernel calls inside a For body run inline on that thread.
        compute.For(slices.Length, 1, call, static (c, ps, pe) =>
        {
            for (int i = ps; i < pe; i++)
            {
                var slice = c.Layer._slices.Value[i];
                var gi = c.G with { OutChannels = slice.Count };
                var output = c.State.SliceOutput[i];
                Convolution.Forward(c.Compute, gi, c.Input, slice.Weight, slice.Bias, output, c.State.SliceScratch[i]);
                var dst = c.State.Output.Data.AsSpan(slice.Start * gi.OutPlane, gi.OutputLength);
                if (c.Relu) TensorPrimitives.Max(output.AsSpan(0, gi.OutputLength), 0f, dst);
                else output.AsSpan(0, gi.OutputLength).CopyTo(dst);
            }
        });
    }

    /// <summary>In-place ReLU over the output just written (still in cache for the small planes that dominate).</summary>
    internal static void Relu(ComputeContext compute, float[] data, int length) =>
        compute.For(length, 1 << 15, data, static (d, s, e) => TensorPrimitives.Max(d.AsSpan(s, e - s), 0f, d.AsSpan(s, e - s)));

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) => throw new NotSupportedException("Prepared layers only evaluate.");

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length != 4 || inputShape[1] != _in)
            throw new ArgumentException($"{this} expects input (N, {_in}, H, W), found {Tensor.Format(inputShape)}.");
        return [inputShape[0], _out, (inputShape[2] + 2 * _padding - _kernel) / _stride + 1, (inputShape[3] + 2 * _padding - _kernel) / _stride + 1];
    }

    /// <summary>Multiply-adds of one call on an input of <paramref name="inputShape"/> (N, C, H, W): N·O·OH·OW·C·K·K.</summary>
    internal long MultiplyAdds(int[] inputShape)
    {
        var o = OutputShape(inputShape);
        return (long)o[0] * o[1] * o[2] * o[3] * _in * _kernel * _kernel;
    }

    public override string ToString() => $"PreparedConvolution({_in} -> {_out}, k={_kernel}, s={_stride}, p={_padding}{(_relu ? ", relu" : "")})";
}

/// <summary>
/// Linear with its batch norm folded in. Input (N, in), output (N, out). Where <see cref="PackedConvolution"/> runs at speed
/// the layer is its 1×1 convolution on a 1×1 plane (weights packed once, bias and ReLU in the tile epilogue, six images
/// per tile); elsewhere (or on a context without direct routes) a GEMM, then bias and ReLU in one pass over each row.
/// </summary>
internal sealed class PreparedLinear : Module
{
    private readonly int _in, _out;
    private readonly float[] _weight, _bias;
    private readonly bool _relu;
    private readonly long _minSplitWork;
    private readonly PackedConvolution.Plan? _plan;

    private sealed class State
    {
        public readonly Tensor Output = new(0);
        public float[] Scratch = [];
    }

    private PreparedLinear(int inFeatures, int outFeatures, float[] weight, float[] bias, bool relu, long minSplitWork)
    {
        (_in, _out, _weight, _bias, _relu, _minSplitWork) = (inFeatures, outFeatures, weight, bias, relu, minSplitWork);
        if (PackedConvolution.Fast) _plan = new PackedConvolution.Plan(weight, bias, inFeatures, outFeatures, 1, 1, 0, 1, 1);
    }

    /// <param name="minSplitWork">Least work (<see cref="InferenceThreads.Work"/>) for a single image's call of this layer to use more than one thread.</param>
    public static PreparedLinear Create(Linear linear, BatchNorm? bn, bool relu, long minSplitWork = InferenceThreads.DefaultMinSplitWork)
    {
        var (w, b) = Folding.Fold(linear.Weight.Value, linear.Bias?.Value, linear.OutFeatures, bn);
        return new PreparedLinear(linear.InFeatures, linear.OutFeatures, w, b, relu, minSplitWork);
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        int n = input.Shape[0];
        state.Output.Resize(n, _out);
        if (_plan is not null && workspace.Compute.DirectConvolution)
        {
            var compute = InferenceThreads.For(workspace.Compute, n, InferenceThreads.Work((long)n * _in * _out, _plan.Weights.Length), _minSplitWork);
            int length = _plan.WorkspaceLength(compute, n);
            if (state.Scratch.Length < length) state.Scratch = new float[length];
            PackedConvolution.Forward(compute, _plan, n, input.Data, state.Output.Data, null, _relu, state.Scratch);
            return state.Output;
        }
        Gemm.Multiply(workspace.Compute, false, true, n, _out, _in, input.ReadOnlySpan, _in, _weight, _in, state.Output.Span, _out, accumulate: false);
        var y = state.Output.Span;
        for (int r = 0; r < n; r++)
        {
            var row = y.Slice(r * _out, _out);
            TensorPrimitives.Add(row, _bias, row);
            if (_relu) TensorPrimitives.Max(row, 0f, row);
        }
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) => throw new NotSupportedException("Prepared layers only evaluate.");

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length != 2 || inputShape[1] != _in)
            throw new ArgumentException($"{this} expects input (N, {_in}), found {Tensor.Format(inputShape)}.");
        return [inputShape[0], _out];
    }

    /// <summary>Multiply-adds of one call on an input of <paramref name="inputShape"/> (N, in): N·out·in.</summary>
    internal long MultiplyAdds(int[] inputShape) => (long)OutputShape(inputShape)[0] * _out * _in;

    public override string ToString() => $"PreparedLinear({_in} -> {_out}{(_relu ? ", relu" : "")})";
}

/// <summary>A batch norm with nothing to fold into: y = x·scale + shift per channel, its running statistics copied at preparation.</summary>
internal sealed class FrozenBatchNorm : Module
{
    private readonly int _features;
    private readonly float[] _scale, _shift;

    private sealed class State { public readonly Tensor Output = new(0); }

    public FrozenBatchNorm(BatchNorm bn)
    {
        _features = bn.Features;
        _scale = new float[_features];
        _shift = new float[_features];
        for (int c = 0; c < _features; c++)
        {
            double scale = bn.Weight.Value.Data[c] / Math.Sqrt(bn.RunningVar.Data[c] + (double)bn.Eps);
            _scale[c] = (float)scale;
            _shift[c] = (float)(bn.Bias.Value.Data[c] - bn.RunningMean.Data[c] * scale);
        }
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var s = OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(s);
        int n = s[0], plane = s.Length == 4 ? s[2] * s[3] : s.Length == 3 ? s[2] : 1;
        var x = input.ReadOnlySpan;
        var y = state.Output.Span;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < _features; c++)
            {
                int at = (i * _features + c) * plane;
                var dst = y.Slice(at, plane);
                TensorPrimitives.Multiply(x.Slice(at, plane), _scale[c], dst);
                TensorPrimitives.Add(dst, _shift[c], dst);
            }
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) => throw new NotSupportedException("Prepared layers only evaluate.");

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length is < 2 or > 4 || inputShape[1] != _features)
            throw new ArgumentException($"{this} expects input (N, {_features}, ...), found {Tensor.Format(inputShape)}.");
        return (int[])inputShape.Clone();
    }

    public override string ToString() => $"FrozenBatchNorm({_features})";
}

/// <summary>MaxPool2d without the argmax indices a backward pass would need. Input (N, C, H, W), output (N, C, OH, OW).</summary>
internal sealed class PreparedMaxPool(MaxPool2d pool, long minSplitWork = InferenceThreads.DefaultMinSplitWork) : Module
{
    private sealed class State { public readonly Tensor Output = new(0); }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var shape = pool.OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(shape);
        var s = input.Shape;
        var g = new ConvGeometry(s[0], s[1], s[2], s[3], s[1], pool.KernelSize, pool.Stride, pool.Padding);
        MaxPoolValues.Forward(InferenceThreads.For(workspace.Compute, s[0], (long)g.OutputLength * g.Kernel * g.Kernel, minSplitWork), g,
            input.Data, state.Output.Data);
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) => throw new NotSupportedException("Prepared layers only evaluate.");

    public override int[] OutputShape(int[] inputShape) => pool.OutputShape(inputShape);

    public override string ToString() => $"Prepared{pool}";
}

/// <summary>Sigmoid for inference on <see cref="InferencePointwise.Sigmoid"/>: any shape, output shaped as the input.</summary>
internal sealed class PreparedSigmoid(long minSplitWork = InferenceThreads.DefaultMinSplitWork) : Module
{
    private sealed class State { public readonly Tensor Output = new(0); }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(input.Shape);
        int batch = input.Rank >= 2 ? input.Shape[0] : 1;
        InferencePointwise.Sigmoid(InferenceThreads.For(workspace.Compute, batch, input.Length, minSplitWork), input.Data, state.Output.Data, input.Length);
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) => throw new NotSupportedException("Prepared layers only evaluate.");

    public override int[] OutputShape(int[] inputShape) => (int[])inputShape.Clone();

    public override string ToString() => "PreparedSigmoid()";
}

/// <summary>AvgPool2d on <see cref="InferencePointwise.AvgPool"/>. Input (N, C, H, W), output (N, C, OH, OW).</summary>
internal sealed class PreparedAvgPool(AvgPool2d pool, long minSplitWork = InferenceThreads.DefaultMinSplitWork) : Module
{
    private sealed class State { public readonly Tensor Output = new(0); }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var shape = pool.OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(shape);
        var s = input.Shape;
        var g = new ConvGeometry(s[0], s[1], s[2], s[3], s[1], pool.KernelSize, pool.Stride, 0);
        InferencePointwise.AvgPool(InferenceThreads.For(workspace.Compute, s[0], (long)g.OutputLength * g.Kernel * g.Kernel, minSplitWork), g,
            input.Data, state.Output.Data);
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) => throw new NotSupportedException("Prepared layers only evaluate.");

    public override int[] OutputShape(int[] inputShape) => pool.OutputShape(inputShape);

    public override string ToString() => $"Prepared{pool}";
}

/// <summary>Prepared nodes applied in order.</summary>
internal sealed class PreparedSequence(Module[] nodes) : Module
{
    public IReadOnlyList<Module> Nodes => nodes;

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var x = input;
        foreach (var node in nodes) x = node.Forward(x, workspace);
        return x;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) => throw new NotSupportedException("Prepared layers only evaluate.");

    public override int[] OutputShape(int[] inputShape)
    {
        var shape = inputShape;
        foreach (var node in nodes) shape = node.OutputShape(shape);
        return (int[])shape.Clone();
    }

    public override string ToString() => "PreparedSequence(" + string.Join(", ", nodes.Select(n => n.ToString())) + ")";
}

/// <summary>
/// relu(body(x) + shortcut(x)) (the ReLU only when asked), the shortcut being the identity when absent. When the body
/// ends in a convolution (ResNet's blocks), the shortcut runs first and that convolution adds it and applies the ReLU in
/// its own epilogue: no separate pass over the sum.
/// </summary>
internal sealed class PreparedResidual(Module body, Module? shortcut, bool reluAfter) : Module
{
    private sealed class State { public readonly Tensor Output = new(0); }

    /// <summary>The body's nodes before its last convolution, and that convolution (null when the body ends otherwise).</summary>
    private readonly (Module[] Head, PreparedConvolution? Last) _split = body switch
    {
        PreparedConvolution conv => ([], conv),
        PreparedSequence { Nodes: [.., PreparedConvolution conv] } sequence => (sequence.Nodes.Take(sequence.Nodes.Count - 1).ToArray(), conv),
        _ => ([], null),
    };

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        if (_split.Last is { } last)
        {
            var skip = shortcut?.Forward(input, workspace) ?? input;
            var x = input;
            foreach (var node in _split.Head) x = node.Forward(x, workspace);
            return last.Forward(x, skip, reluAfter, workspace);
        }
        var main = body.Forward(input, workspace);
        var skipped = shortcut?.Forward(input, workspace) ?? input;
        main.RequireShape(skipped.Shape, "prepared residual sum (body vs shortcut)");
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(main.Shape);
        ResidualAdd.Forward(main.ReadOnlySpan, skipped.ReadOnlySpan, state.Output.Span, reluAfter);
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace) => throw new NotSupportedException("Prepared layers only evaluate.");

    public override int[] OutputShape(int[] inputShape) => body.OutputShape(inputShape);

    public override string ToString() => $"PreparedResidual({body}{(shortcut is null ? "" : $", shortcut {shortcut}")})";
}
