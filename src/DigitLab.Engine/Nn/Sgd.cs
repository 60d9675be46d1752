// Sgd: stochastic gradient descent with momentum, Nesterov and L2 weight decay, as torch.optim.SGD (1.13).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// SGD as PyTorch 1.13 defines it, dampening 0:
/// d = g + wd·p; buf = momentum·buf + d; d = nesterov ? d + momentum·buf : buf; p -= lr·d.
/// </summary>
/// <remarks>
/// Weight decay is added to the gradient (L2), not decoupled. PyTorch starts the buffer as a copy of
/// the first d; starting it at zero gives bit-identical results (0·momentum + d = d).
/// State: "momentum_buffer.{name}" per parameter when momentum &gt; 0.
/// </remarks>
public sealed class Sgd : Optimizer
{
    private readonly Tensor[] _buffers;
    private readonly bool _useMomentum;
    private double _momentum;

    public Sgd(IEnumerable<(string Name, Parameter Parameter)> parameters, double lr, double momentum = 0,
        bool nesterov = false, double weightDecay = 0)
        : base(parameters, lr)
    {
        RequireRange(momentum, 0, 1, nameof(momentum));
        RequireRange(weightDecay, 0, double.PositiveInfinity, nameof(weightDecay));
        if (nesterov && momentum == 0)
            throw new ArgumentException("Nesterov momentum needs momentum > 0 (PyTorch raises the same); pass e.g. momentum: 0.9.", nameof(nesterov));
        _momentum = momentum;
        Nesterov = nesterov;
        WeightDecay = weightDecay;
        // Buffers exist only with momentum: a schedule may change momentum later but never turn it on.
        _useMomentum = momentum > 0;
        _buffers = _useMomentum ? ZeroStateLikeParameters() : [];
    }

    public bool Nesterov { get; }
    public double WeightDecay { get; }

    public override bool HasMomentum => _useMomentum;

    public override double Momentum
    {
        get => _momentum;
        set
        {
            if (!HasMomentum) throw new InvalidOperationException("This SGD was built without momentum; build it with momentum > 0 to change momentum.");
            RequireRange(value, 0, 1, nameof(Momentum));
            _momentum = value;
        }
    }

    protected override void Update(int index, Parameter parameter)
    {
        var c = new SgdCoefficients((float)-LearningRate, (float)WeightDecay, (float)_momentum,
            UseMomentum: _useMomentum, Nesterov);
        Span<float> buffer = c.UseMomentum ? _buffers[index].Span : default;
        Apply(parameter.Value.Span, parameter.Grad.ReadOnlySpan, buffer, c);
    }

    public override IEnumerable<(string Name, Tensor Tensor)> NamedState()
    {
        for (int i = 0; i < _buffers.Length; i++) yield return ("momentum_buffer." + NamedParameters[i].Name, _buffers[i]);
    }

    public override string ToString() =>
        $"SGD(lr={LearningRate}, momentum={_momentum}, nesterov={Nesterov}, weight_decay={WeightDecay})";

    /// <summary>The update's constants in float, as PyTorch converts them: -lr, weight decay, momentum.</summary>
    public readonly record struct SgdCoefficients(float NegLearningRate, float WeightDecay, float Momentum, bool UseMomentum, bool Nesterov);

    /// <summary>
    /// Reference: readable, not fast. One element at a time, with the same roundings as PyTorch's kernels
    /// (its <c>add(x, alpha)</c> is a fused multiply-add).
    /// </summary>
    public static void ApplyReference(Span<float> param, ReadOnlySpan<float> grad, Span<float> buffer, in SgdCoefficients c)
    {
        for (int i = 0; i < param.Length; i++)
        {
            float d = c.WeightDecay != 0 ? MathF.FusedMultiplyAdd(param[i], c.WeightDecay, grad[i]) : grad[i];
            if (c.UseMomentum)
            {
                buffer[i] = buffer[i] * c.Momentum + d;
                d = c.Nesterov ? MathF.FusedMultiplyAdd(buffer[i], c.Momentum, d) : buffer[i];
            }
            param[i] = MathF.FusedMultiplyAdd(d, c.NegLearningRate, param[i]);
        }
    }

    /// <summary>The fast update: Vector512 (or Vector256) lanes, then the reference for the tail; bit-identical to it.</summary>
    public static void Apply(Span<float> param, ReadOnlySpan<float> grad, Span<float> buffer, in SgdCoefficients c)
    {
        if (grad.Length != param.Length || c.UseMomentum && buffer.Length != param.Length)
            throw new ArgumentException($"SGD spans differ in length: param {param.Length}, grad {grad.Length}, buffer {buffer.Length}.");
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var wd = Vector512.Create(c.WeightDecay); var m = Vector512.Create(c.Momentum); var lr = Vector512.Create(c.NegLearningRate);
            for (; i <= param.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var p = Vector512.Create(param.Slice(i, Vector512<float>.Count));
                var d = Vector512.Create(grad.Slice(i, Vector512<float>.Count));
                if (c.WeightDecay != 0) d = Vector512.FusedMultiplyAdd(p, wd, d);
                if (c.UseMomentum)
                {
                    var b = Vector512.Create(buffer.Slice(i, Vector512<float>.Count)) * m + d;
                    b.CopyTo(buffer.Slice(i));
                    d = c.Nesterov ? Vector512.FusedMultiplyAdd(b, m, d) : b;
                }
                Vector512.FusedMultiplyAdd(d, lr, p).CopyTo(param.Slice(i));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var wd = Vector256.Create(c.WeightDecay); var m = Vector256.Create(c.Momentum); var lr = Vector256.Create(c.NegLearningRate);
            for (; i <= param.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var p = Vector256.Create(param.Slice(i, Vector256<float>.Count));
                var d = Vector256.Create(grad.Slice(i, Vector256<float>.Count));
                if (c.WeightDecay != 0) d = Vector256.FusedMultiplyAdd(p, wd, d);
                if (c.UseMomentum)
                {
                    var b = Vector256.Create(buffer.Slice(i, Vector256<float>.Count)) * m + d;
                    b.CopyTo(buffer.Slice(i));
                    d = c.Nesterov ? Vector256.FusedMultiplyAdd(b, m, d) : b;
                }
                Vector256.FusedMultiplyAdd(d, lr, p).CopyTo(param.Slice(i));
            }
        }
        ApplyReference(param[i..], grad[i..], c.UseMomentum ? buffer[i..] : default, c);
    }
}
