// GpuOptimizer: Adam/AdamW/SGD steps on the device, driven by a CPU Optimizer that holds the hyperparameters and the step count.
using DigitLab.Gpu.Kernels;
using DigitLab.Nn;
using ILGPU;

namespace DigitLab.Gpu;

/// <summary>
/// Runs the update of <paramref name="host"/> (an <see cref="Adam"/>, <see cref="AdamW"/> or <see cref="Sgd"/> over the same
/// model's parameters) on the device, one launch per step over the flat parameter buffer. The host optimizer keeps the
/// learning rate, momentum and step count (so the learning-rate schedules apply to it unchanged) and receives the device
/// state (Adam's moments, SGD's buffers) in <see cref="CopyStateToHost"/> for checkpoints.
/// </summary>
public sealed class GpuOptimizer : IDisposable
{
    private readonly GpuModel _model;
    private readonly DeviceTensor _state1, _state2; // Adam: exp_avg, exp_avg_sq; SGD: momentum buffer, unused
    private readonly DeviceTensor _norm;
    public Optimizer Host { get; }

    public GpuOptimizer(GpuModel model, Optimizer host)
    {
        if (host is not (Adam or Sgd))
            throw new NotSupportedException($"The device backend runs Adam, AdamW and SGD; {host.GetType().Name} is not one of them.");
        for (int i = 0; i < host.NamedParameters.Count; i++)
            if (!ReferenceEquals(host.NamedParameters[i].Parameter, model.Layout[i].Parameter))
                throw new ArgumentException("The optimizer must be built over model.NamedParameters() of the same model, in order.");
        _model = model;
        Host = host;
        var a = model.Device.Accelerator;
        _state1 = new DeviceTensor(a, model.Values.Length);
        _state2 = new DeviceTensor(a, model.Values.Length);
        _norm = new DeviceTensor(a, 1);
        CopyStateToDevice();
    }

    /// <summary>Uploads the host optimizer's state tensors (zeros for a fresh one, saved moments when resuming).</summary>
    public void CopyStateToDevice()
    {
        var (s1, s2) = (new float[_state1.Length], new float[_state2.Length]);
        Gather(s1, s2, toHost: false);
        _state1.Upload(s1);
        _state2.Upload(s2);
    }

    /// <summary>Downloads the device state into the host optimizer's <see cref="Optimizer.NamedState"/> tensors.</summary>
    public void CopyStateToHost()
    {
        var (s1, s2) = (_state1.ToArray(), _state2.ToArray());
        Gather(s1, s2, toHost: true);
    }

    private void Gather(float[] s1, float[] s2, bool toHost)
    {
        var state = Host.NamedState().ToDictionary(s => s.Name, s => s.Tensor);
        foreach (var (name, p, offset) in _model.Layout)
        {
            foreach (var (prefix, flat) in new[] { ("exp_avg.", s1), ("exp_avg_sq.", s2), ("momentum_buffer.", s1) })
            {
                if (!state.TryGetValue(prefix + name, out var t)) continue;
                if (toHost) flat.AsSpan(offset, p.Length).CopyTo(t.Span);
                else t.ReadOnlySpan.CopyTo(flat.AsSpan(offset));
            }
        }
    }

    /// <summary>Clips the global gradient norm to <paramref name="maxNorm"/> as <c>GradientClipping.ClipByNorm</c> (one float comes back).</summary>
    public void ClipGradients(double maxNorm)
    {
        var g = _model.Grads;
        if (g.Length == 0) return;
        var d = _model.Device;
        d.SumOfSquares(new KernelConfig(1, DeviceKernels.ReduceThreads), g.View, _norm.View, g.Length);
        float norm = MathF.Sqrt(_norm.ToArray()[0]);
        float coefficient = (float)maxNorm / (norm + 1e-6f); // in float, as GradientClipping and PyTorch
        if (coefficient < 1f) d.Scale(g.Length, g.View, coefficient);
    }

    /// <summary>One update of every parameter from the device gradients; counts the step on the host optimizer.</summary>
    public void Step()
    {
        Host.StepCount++;
        int n = _model.Values.Length;
        if (n == 0) return;
        var d = _model.Device;
        if (Host is Adam adam)
        {
            var c = Adam.Coefficients(adam.LearningRate, adam.Beta1, adam.Beta2, adam.Epsilon, adam.WeightDecay, adam is AdamW, adam.StepCount);
            d.Adam(n, _model.Values.View, _model.Grads.View, _state1.View, _state2.View,
                new AdamStep(c.Beta1, c.OneMinusBeta1, c.Beta2, c.OneMinusBeta2, c.L2WeightDecay, c.DecoupledDecay, c.BiasCorrection2Sqrt, c.Epsilon, c.NegStepSize));
        }
        else
        {
            var sgd = (Sgd)Host;
            d.Sgd(n, _model.Values.View, _model.Grads.View, _state1.View,
                new SgdStep((float)-sgd.LearningRate, (float)sgd.WeightDecay, (float)sgd.Momentum, sgd.HasMomentum, sgd.Nesterov));
        }
    }

    public void Dispose()
    {
        _state1.Dispose(); _state2.Dispose(); _norm.Dispose();
    }
}
