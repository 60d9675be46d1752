// GpuModel: a CPU Module tree mirrored on the device (weights copied in, trained there, copied back into the same Module).
using DigitLab.Gpu.Kernels;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Gpu;

/// <summary>
/// The device twin of a CPU <see cref="Module"/>: built by walking the module tree, one device layer per module, with
/// every parameter in one flat device buffer (and its gradient in another). <see cref="CopyToHost"/> writes weights,
/// batch-norm statistics and counters back into the very tensors of the CPU module, so checkpoints are the same
/// safetensors files whichever device trained them.
/// </summary>
public sealed class GpuModel : IDisposable
{
    public GpuDevice Device { get; }
    public Module Module { get; }
    /// <summary>All parameter values, in <c>Module.NamedParameters()</c> order, back to back.</summary>
    public DeviceTensor Values { get; }
    /// <summary>All parameter gradients, laid out as <see cref="Values"/>.</summary>
    public DeviceTensor Grads { get; }
    /// <summary>Each CPU parameter and the offset of its values in <see cref="Values"/>.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter, int Offset)> Layout { get; }

    private readonly Dictionary<Parameter, int> _offsets = new(ReferenceEqualityComparer.Instance);
    private readonly GpuLayer _root;
    private readonly List<IDisposable> _owned = [];

    public GpuModel(GpuDevice device, Module module)
    {
        Device = device;
        Module = module;
        var layout = new List<(string, Parameter, int)>();
        int total = 0;
        foreach (var (name, p) in module.NamedParameters())
        {
            layout.Add((name, p, total));
            _offsets[p] = total;
            total += p.Length;
        }
        Layout = layout;
        Values = new DeviceTensor(device.Accelerator, total);
        Grads = new DeviceTensor(device.Accelerator, total);
        _root = Build(module);
        CopyToDevice();
    }

    /// <summary>Uploads every parameter and buffer of the CPU module.</summary>
    public void CopyToDevice()
    {
        var all = new float[Values.Length];
        foreach (var (_, p, offset) in Layout) p.Value.ReadOnlySpan.CopyTo(all.AsSpan(offset));
        Values.Upload(all);
        _root.Visit(l => l.BuffersToDevice());
    }

    /// <summary>Downloads every parameter and buffer into the CPU module's own tensors.</summary>
    public void CopyToHost()
    {
        var all = Values.ToArray();
        foreach (var (_, p, offset) in Layout) all.AsSpan(offset, p.Length).CopyTo(p.Value.Span);
        _root.Visit(l => l.BuffersToHost());
    }

    /// <summary>Downloads the parameter gradients into the CPU parameters' Grad tensors (for tests and checks).</summary>
    public void GradientsToHost()
    {
        var all = Grads.ToArray();
        foreach (var (_, p, offset) in Layout) all.AsSpan(offset, p.Length).CopyTo(p.Grad.Span);
    }

    public void ZeroGrad() => GpuOps.Fill(Device, Grads, 0f);

    /// <summary>Runs the model on <paramref name="input"/> (N, ...) in training or evaluation mode; returns its output (owned by the model).</summary>
    public DeviceTensor Forward(DeviceTensor input, bool training) => _root.Forward(input, training);

    /// <summary>dL/d(output) in, dL/d(input) out; accumulates parameter gradients into <see cref="Grads"/>.</summary>
    public DeviceTensor Backward(DeviceTensor outputGrad) => _root.Backward(outputGrad);

    internal DeviceTensor ValueOf(Parameter p) => new(Values.View.SubView(_offsets[p], p.Length), p.Shape);
    internal DeviceTensor GradOf(Parameter p) => new(Grads.View.SubView(_offsets[p], p.Length), p.Shape);

    internal DeviceTensor NewTensor(params int[] shape)
    {
        var t = new DeviceTensor(Device.Accelerator, shape);
        _owned.Add(t);
        return t;
    }

    internal DeviceInts NewInts()
    {
        var t = new DeviceInts(Device.Accelerator);
        _owned.Add(t);
        return t;
    }

    private GpuLayer Build(Module m) => m switch
    {
        Sequential s => new GpuSequential(s.Children().Select(c => Build(c.Module)).ToArray()),
        Linear l => new GpuLinear(this, l),
        Conv2d c => new GpuConv2d(this, c),
        ReLU => new GpuActivation(this, GpuActivation.Kind.Relu),
        Sigmoid => new GpuActivation(this, GpuActivation.Kind.Sigmoid),
        Nn.Tanh => new GpuActivation(this, GpuActivation.Kind.Tanh),
        MaxPool2d p => new GpuMaxPool(this, p),
        AvgPool2d p => new GpuAvgPool(this, p),
        AdaptiveAvgPool2d => new GpuGlobalAvgPool(this),
        BatchNorm b => new GpuBatchNorm(this, b),
        Dropout d => new GpuDropout(this, d),
        Flatten => new GpuFlatten(),
        Residual r => new GpuResidual(this, Build(r.Body), r.Shortcut is null ? null : Build(r.Shortcut), r.ReluAfter),
        BasicBlock b => new GpuResidual(this,
            new GpuSequential([Build(b.Conv1), Build(b.Bn1), Build(b.Relu), Build(b.Conv2), Build(b.Bn2)]),
            b.Downsample is null ? null : Build(b.Downsample), reluAfter: true),
        _ => throw new NotSupportedException($"The device backend has no kernel for {m.GetType().Name} ({m}); train this model with --device cpu."),
    };

    public void Dispose()
    {
        foreach (var o in _owned) o.Dispose();
        Values.Dispose();
        Grads.Dispose();
    }
}

/// <summary>A device layer: Forward caches what Backward needs; Backward accumulates into the model's gradient buffer.</summary>
internal abstract class GpuLayer
{
    public abstract DeviceTensor Forward(DeviceTensor x, bool training);
    public abstract DeviceTensor Backward(DeviceTensor dy);
    public virtual void BuffersToDevice() { }
    public virtual void BuffersToHost() { }
    public virtual void Visit(Action<GpuLayer> action) => action(this);

    protected static void RequireLength(DeviceTensor dy, DeviceTensor expected, string layer)
    {
        if (dy.Length != expected.Length)
            throw new ArgumentException($"{layer}: the output gradient has {dy.Length} values but the output had {expected.Length}; call Backward right after Forward with a gradient of the output's shape.");
    }
}

internal sealed class GpuSequential(GpuLayer[] layers) : GpuLayer
{
    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        foreach (var l in layers) x = l.Forward(x, training);
        return x;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        for (int i = layers.Length - 1; i >= 0; i--) dy = layers[i].Backward(dy);
        return dy;
    }

    public override void Visit(Action<GpuLayer> action)
    {
        foreach (var l in layers) l.Visit(action);
    }
}

/// <summary>y = x·Wᵀ + b on the tiled GEMM; input (N, in), output (N, out).</summary>
internal sealed class GpuLinear(GpuModel model, Linear layer) : GpuLayer
{
    private readonly DeviceTensor _output = model.NewTensor(0), _inputGrad = model.NewTensor(0);
    private readonly DeviceTensor _ones = model.NewTensor(0); // (N) ones: the bias is a rank-1 GEMM update
    private DeviceTensor? _input;

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        layer.OutputShape(x.Shape);
        int n = x.Shape[0], i = layer.InFeatures, o = layer.OutFeatures;
        _input = x;
        _output.Resize(n, o);
        var d = model.Device;
        GpuOps.Gemm(d, false, true, n, o, i, x.View, i, model.ValueOf(layer.Weight).View, i, _output.View, o, accumulate: false);
        if (layer.Bias is not null)
        {
            Ones(n);
            // (N, out) += ones (N, 1) · bias (1, out)
            GpuOps.Gemm(d, false, false, n, o, 1, _ones.View, 1, model.ValueOf(layer.Bias).View, o, _output.View, o, accumulate: true);
        }
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        var x = _input ?? throw new InvalidOperationException($"{layer}: Backward was called before Forward.");
        RequireLength(dy, _output, layer.ToString());
        int n = x.Shape[0], i = layer.InFeatures, o = layer.OutFeatures;
        var d = model.Device;
        // dW (out, in) += dYᵀ · X
        GpuOps.Gemm(d, true, false, o, i, n, dy.View, o, x.View, i, model.GradOf(layer.Weight).View, i, accumulate: true);
        if (layer.Bias is not null)
        {
            Ones(n);
            // db (1, out) += onesᵀ (1, N) · dY (N, out): fixed-order sums, no atomics
            GpuOps.Gemm(d, false, false, 1, o, n, _ones.View, n, dy.View, o, model.GradOf(layer.Bias).View, o, accumulate: true);
        }
        _inputGrad.Resize(x.Shape);
        GpuOps.Gemm(d, false, false, n, i, o, dy.View, o, model.ValueOf(layer.Weight).View, i, _inputGrad.View, i, accumulate: false);
        return _inputGrad;
    }

    private void Ones(int n)
    {
        if (_ones.Length == n) return;
        _ones.Resize(n);
        GpuOps.Fill(model.Device, _ones, 1f);
    }
}

/// <summary>Convolution as im2col + GEMM on the device; input (N, C, H, W), output (N, O, OH, OW).</summary>
internal sealed class GpuConv2d(GpuModel model, Conv2d layer) : GpuLayer
{
    private readonly DeviceTensor _cols = model.NewTensor(0);     // (N·OH·OW, C·K·K); Backward reuses it for dcols
    private readonly DeviceTensor _product = model.NewTensor(0);  // (N·OH·OW, O); Backward reuses it for dY in rows
    private readonly DeviceTensor _output = model.NewTensor(0), _inputGrad = model.NewTensor(0);
    private ConvShape _g;
    private bool _forwarded;

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        var shape = layer.OutputShape(x.Shape);
        var s = x.Shape;
        _g = new ConvShape(s[0], s[1], s[2], s[3], layer.OutChannels, layer.KernelSize, layer.Stride, layer.Padding);
        var d = model.Device;
        _cols.Resize(_g.Rows, _g.Cols);
        _product.Resize(_g.Rows, _g.O);
        _output.Resize(shape);
        if (_cols.Length > 0) d.Im2Col(_cols.Length, x.View, _cols.View, _g);
        // (N·OH·OW, O) = cols · Wᵀ, W viewed as (O, C·K·K)
        GpuOps.Gemm(d, false, true, _g.Rows, _g.O, _g.Cols, _cols.View, _g.Cols, model.ValueOf(layer.Weight).View, _g.Cols, _product.View, _g.O, false);
        var bias = layer.Bias is null ? _product.View : model.ValueOf(layer.Bias).View;
        if (_output.Length > 0) d.RowsToChannels(_output.Length, _product.View, bias, _output.View, _g, layer.Bias is null ? 0 : 1);
        _forwarded = true;
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        if (!_forwarded) throw new InvalidOperationException($"{layer}: Backward was called before Forward.");
        RequireLength(dy, _output, layer.ToString());
        var d = model.Device;
        if (_product.Length > 0) d.ChannelsToRows(_product.Length, dy.View, _product.View, _g);
        // dW (O, C·K·K) += dYrowsᵀ (O, N·OH·OW) · cols
        GpuOps.Gemm(d, true, false, _g.O, _g.Cols, _g.Rows, _product.View, _g.O, _cols.View, _g.Cols, model.GradOf(layer.Weight).View, _g.Cols, true);
        if (layer.Bias is not null)
            d.ChannelSum(GpuOps.PerChannel(_g.O), dy.View, model.GradOf(layer.Bias).View, new NormShape(_g.N, _g.O, _g.OH * _g.OW, 0, 0));
        _inputGrad.Resize(_g.N, _g.C, _g.H, _g.W);
        if (!layer.ComputeInputGradient)
        {
            GpuOps.Fill(d, _inputGrad, 0f);
            return _inputGrad;
        }
        // dcols (N·OH·OW, C·K·K) = dYrows · W, then folded back onto the input
        GpuOps.Gemm(d, false, false, _g.Rows, _g.Cols, _g.O, _product.View, _g.O, model.ValueOf(layer.Weight).View, _g.Cols, _cols.View, _g.Cols, false);
        if (_inputGrad.Length > 0) d.Col2Im(_inputGrad.Length, _cols.View, _inputGrad.View, _g);
        _forwarded = false; // the columns are gone
        return _inputGrad;
    }
}

/// <summary>ReLU, Sigmoid or Tanh; Backward reads the forward output.</summary>
internal sealed class GpuActivation(GpuModel model, GpuActivation.Kind kind) : GpuLayer
{
    public enum Kind { Relu, Sigmoid, Tanh }

    private readonly DeviceTensor _output = model.NewTensor(0), _inputGrad = model.NewTensor(0);

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        _output.Resize(x.Shape);
        if (x.Length == 0) return _output;
        var d = model.Device;
        (kind switch { Kind.Relu => d.Relu, Kind.Sigmoid => d.Sigmoid, _ => d.Tanh })(x.Length, x.View, _output.View);
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        RequireLength(dy, _output, kind.ToString());
        _inputGrad.Resize(_output.Shape);
        if (dy.Length == 0) return _inputGrad;
        var d = model.Device;
        (kind switch { Kind.Relu => d.ReluBack, Kind.Sigmoid => d.SigmoidBack, _ => d.TanhBack })(dy.Length, _output.View, dy.View, _inputGrad.View);
        return _inputGrad;
    }
}

internal sealed class GpuMaxPool(GpuModel model, MaxPool2d layer) : GpuLayer
{
    private readonly DeviceTensor _output = model.NewTensor(0), _inputGrad = model.NewTensor(0);
    private readonly DeviceInts _argmax = model.NewInts(); // (N, C, OH, OW): h·W + w of each window's maximum
    private ConvShape _g;

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        var shape = layer.OutputShape(x.Shape);
        var s = x.Shape;
        _g = new ConvShape(s[0], s[1], s[2], s[3], s[1], layer.KernelSize, layer.Stride, layer.Padding);
        _output.Resize(shape);
        _argmax.Resize(_output.Length);
        if (_output.Length > 0) model.Device.MaxPool(_output.Length, x.View, _output.View, _argmax.View, _g);
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        RequireLength(dy, _output, layer.ToString());
        _inputGrad.Resize(_g.N, _g.C, _g.H, _g.W);
        if (_inputGrad.Length > 0) model.Device.MaxPoolBack(_inputGrad.Length, dy.View, _argmax.View, _inputGrad.View, _g);
        return _inputGrad;
    }
}

internal sealed class GpuAvgPool(GpuModel model, AvgPool2d layer) : GpuLayer
{
    private readonly DeviceTensor _output = model.NewTensor(0), _inputGrad = model.NewTensor(0);
    private ConvShape _g;

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        var shape = layer.OutputShape(x.Shape);
        var s = x.Shape;
        _g = new ConvShape(s[0], s[1], s[2], s[3], s[1], layer.KernelSize, layer.Stride, 0);
        _output.Resize(shape);
        if (_output.Length > 0) model.Device.AvgPool(_output.Length, x.View, _output.View, _g);
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        RequireLength(dy, _output, layer.ToString());
        _inputGrad.Resize(_g.N, _g.C, _g.H, _g.W);
        if (_inputGrad.Length > 0) model.Device.AvgPoolBack(_inputGrad.Length, dy.View, _inputGrad.View, _g);
        return _inputGrad;
    }
}

internal sealed class GpuGlobalAvgPool(GpuModel model) : GpuLayer
{
    private readonly DeviceTensor _output = model.NewTensor(0), _inputGrad = model.NewTensor(0);
    private int[] _inputShape = [];

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        if (x.Shape.Length != 4) throw new ArgumentException($"AdaptiveAvgPool2d(1) expects (N, C, H, W), found ({string.Join(", ", x.Shape)}).");
        _inputShape = (int[])x.Shape.Clone();
        _output.Resize(x.Shape[0], x.Shape[1], 1, 1);
        if (_output.Length > 0) model.Device.GlobalAvg(_output.Length, x.View, _output.View, x.Shape[2] * x.Shape[3]);
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        RequireLength(dy, _output, "AdaptiveAvgPool2d(1)");
        _inputGrad.Resize(_inputShape);
        if (_inputGrad.Length > 0) model.Device.GlobalAvgBack(_inputGrad.Length, dy.View, _inputGrad.View, _inputShape[2] * _inputShape[3]);
        return _inputGrad;
    }
}

/// <summary>Batch norm (1d or 2d) with running statistics on the device; num_batches_tracked is counted on the host.</summary>
internal sealed class GpuBatchNorm : GpuLayer
{
    private readonly GpuModel _model;
    private readonly BatchNorm _layer;
    private readonly DeviceTensor _runningMean, _runningVar, _savedMean, _savedInvStd;
    private readonly DeviceTensor _output, _inputGrad;
    private DeviceTensor? _input;
    private NormShape _g;
    private bool _batchStatistics;

    public GpuBatchNorm(GpuModel model, BatchNorm layer)
    {
        (_model, _layer) = (model, layer);
        _runningMean = model.NewTensor(layer.Features);
        _runningVar = model.NewTensor(layer.Features);
        _savedMean = model.NewTensor(layer.Features);
        _savedInvStd = model.NewTensor(layer.Features);
        _output = model.NewTensor(0);
        _inputGrad = model.NewTensor(0);
    }

    public override void BuffersToDevice()
    {
        _runningMean.Upload(_layer.RunningMean.ReadOnlySpan);
        _runningVar.Upload(_layer.RunningVar.ReadOnlySpan);
    }

    public override void BuffersToHost()
    {
        _runningMean.Download(_layer.RunningMean.Span);
        _runningVar.Download(_layer.RunningVar.Span);
    }

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        _layer.OutputShape(x.Shape);
        var s = x.Shape;
        int spatial = 1;
        for (int i = 2; i < s.Length; i++) spatial *= s[i];
        _g = new NormShape(s[0], _layer.Features, spatial, _layer.Eps, _layer.Momentum);
        _output.Resize(s);
        _input = x;
        _batchStatistics = training;
        var d = _model.Device;
        var gamma = _model.ValueOf(_layer.Weight).View;
        var beta = _model.ValueOf(_layer.Bias).View;
        if (training)
        {
            if (s[0] * spatial < 2)
                throw new ArgumentException($"{_layer} in training needs more than one value per channel (PyTorch raises the same); found input ({string.Join(", ", s)}). Use a batch of 2 or more.");
            d.BatchNormTrain(GpuOps.PerChannel(_g.C), x.View, gamma, beta, _runningMean.View, _runningVar.View, _savedMean.View, _savedInvStd.View, _output.View, _g);
            _layer.NumBatchesTracked.Data[0] += 1;
        }
        else if (_output.Length > 0)
        {
            d.BatchNormEval(_output.Length, x.View, gamma, beta, _runningMean.View, _runningVar.View, _output.View, _g);
        }
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        var x = _input ?? throw new InvalidOperationException($"{_layer}: Backward was called before Forward.");
        RequireLength(dy, _output, $"{_layer}");
        if (!_batchStatistics)
            throw new NotSupportedException($"{_layer}: the device backend differentiates batch norm in training mode only; run Forward with training: true before Backward.");
        _inputGrad.Resize(x.Shape);
        _model.Device.BatchNormBack(GpuOps.PerChannel(_g.C), x.View, dy.View, _model.ValueOf(_layer.Weight).View, _savedMean.View, _savedInvStd.View,
            _inputGrad.View, _model.GradOf(_layer.Weight).View, _model.GradOf(_layer.Bias).View, _g);
        return _inputGrad;
    }
}

/// <summary>
/// Inverted dropout. The mask is drawn on the host from the CPU module's own generator (the same draws, in the same
/// order, as the CPU engine) and uploaded: masks are identical on both devices and checkpoints keep the generator state.
/// </summary>
internal sealed class GpuDropout(GpuModel model, Dropout layer) : GpuLayer
{
    private readonly DeviceTensor _mask = model.NewTensor(0), _output = model.NewTensor(0), _inputGrad = model.NewTensor(0);
    private readonly Rng _rng = layer.OwnRngs().Single().Rng;
    private float[] _hostMask = [];
    private bool _identity;

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        _identity = !training || layer.P == 0f;
        if (_identity) return x;
        if (_hostMask.Length != x.Length) _hostMask = new float[x.Length];
        DigitLab.Kernels.DropoutMask.Fill(_hostMask, layer.P, _rng);
        _mask.Resize(x.Shape);
        _mask.Upload(_hostMask);
        _output.Resize(x.Shape);
        if (x.Length > 0) model.Device.Multiply(x.Length, x.View, _mask.View, _output.View);
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        if (_identity) return dy;
        RequireLength(dy, _output, layer.ToString());
        _inputGrad.Resize(_output.Shape);
        if (dy.Length > 0) model.Device.Multiply(dy.Length, dy.View, _mask.View, _inputGrad.View);
        return _inputGrad;
    }
}

/// <summary>(N, ...) to (N, features): a reshaped view of the same device memory, both ways.</summary>
internal sealed class GpuFlatten : GpuLayer
{
    private int[] _inputShape = [];

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        _inputShape = (int[])x.Shape.Clone();
        int n = x.Shape[0];
        return new DeviceTensor(x.View, n, n == 0 ? 0 : x.Length / n);
    }

    public override DeviceTensor Backward(DeviceTensor dy) => new(dy.View, _inputShape);
}

/// <summary>relu(body(x) + shortcut(x)) (ResNet's basic block and <see cref="Residual"/>); the identity when there is no shortcut.</summary>
internal sealed class GpuResidual(GpuModel model, GpuLayer body, GpuLayer? shortcut, bool reluAfter) : GpuLayer
{
    private readonly DeviceTensor _output = model.NewTensor(0), _sumGrad = model.NewTensor(0), _inputGrad = model.NewTensor(0);

    public override DeviceTensor Forward(DeviceTensor x, bool training)
    {
        var main = body.Forward(x, training);
        var skip = shortcut?.Forward(x, training) ?? x;
        if (!main.Shape.AsSpan().SequenceEqual(skip.Shape))
            throw new ArgumentException($"Residual block: the body gives ({string.Join(", ", main.Shape)}) but the shortcut gives ({string.Join(", ", skip.Shape)}); they must match.");
        _output.Resize(main.Shape);
        if (_output.Length > 0) model.Device.AddRelu(_output.Length, main.View, skip.View, _output.View, reluAfter ? 1 : 0);
        return _output;
    }

    public override DeviceTensor Backward(DeviceTensor dy)
    {
        RequireLength(dy, _output, "Residual");
        var d = model.Device;
        _sumGrad.Resize(_output.Shape);
        if (dy.Length > 0)
        {
            if (reluAfter) d.ReluBack(dy.Length, _output.View, dy.View, _sumGrad.View);
            else d.Copy(dy.Length, dy.View, _sumGrad.View);
        }
        var bodyGrad = body.Backward(_sumGrad);
        var skipGrad = shortcut?.Backward(_sumGrad) ?? _sumGrad; // the shortcut's layers own other buffers: bodyGrad is intact
        _inputGrad.Resize(bodyGrad.Shape);
        if (_inputGrad.Length > 0) d.Add(_inputGrad.Length, bodyGrad.View, skipGrad.View, _inputGrad.View);
        return _inputGrad;
    }

    public override void Visit(Action<GpuLayer> action)
    {
        body.Visit(action);
        shortcut?.Visit(action);
    }
}
