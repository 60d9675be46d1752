// Adam: adaptive moments with bias correction and L2 weight decay, as torch.optim.Adam (1.13, amsgrad off).
using System.Runtime.Intrinsics;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// Adam as PyTorch 1.13 defines it: g = grad + wd·p; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
/// p -= lr/(1-β1ᵗ) · m / (√v / √(1-β2ᵗ) + ε).
/// </summary>
/// <remarks>
/// ε is added outside the square root, after the bias correction of v, as PyTorch does.
/// Weight decay is L2 (added to the gradient); <see cref="AdamW"/> decouples it instead.
/// State: "exp_avg.{name}" and "exp_avg_sq.{name}" per parameter, plus <see cref="Optimizer.StepCount"/>.
/// </remarks>
public class Adam : Optimizer
{
    private readonly Tensor[] _expAvg;
    private readonly Tensor[] _expAvgSq;
    private readonly bool _decoupled;
    private double _beta1;

    public Adam(IEnumerable<(string Name, Parameter Parameter)> parameters, double lr = 1e-3, double beta1 = 0.9,
        double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(parameters, lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay: false) { }

    private protected Adam(IEnumerable<(string Name, Parameter Parameter)> parameters, double lr, double beta1,
        double beta2, double eps, double weightDecay, bool decoupledWeightDecay)
        : base(parameters, lr)
    {
        RequireRange(beta1, 0, 1, nameof(beta1));
        RequireRange(beta2, 0, 1, nameof(beta2));
        RequireRange(eps, 0, double.PositiveInfinity, nameof(eps));
        RequireRange(weightDecay, 0, double.PositiveInfinity, nameof(weightDecay));
        _beta1 = beta1;
        Beta2 = beta2;
        Epsilon = eps;
        WeightDecay = weightDecay;
        _decoupled = decoupledWeightDecay;
        _expAvg = ZeroStateLikeParameters();
        _expAvgSq = ZeroStateLikeParameters();
    }

    public double Beta1 => _beta1;
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }

    /// <summary>Adam's momentum is β1 (PyTorch's OneCycleLR cycles it).</summary>
    public override bool HasMomentum => true;

    public override double Momentum
    {
        get => _beta1;
        set { RequireRange(value, 0, 1, nameof(Momentum)); _beta1 = value; }
    }

    /// <summary>Fewest elements per thread when <see cref="Optimizer.Compute"/> splits a parameter's update.</summary>
    private const int MinPerThread = 1 << 16;

    protected override void Update(int index, Parameter parameter) => Update(index, parameter, zeroGrad: false);

    protected override void UpdateAndZeroGrad(int index, Parameter parameter) => Update(index, parameter, zeroGrad: true);

    private void Update(int index, Parameter parameter, bool zeroGrad)
    {
        var c = Coefficients(LearningRate, _beta1, Beta2, Epsilon, WeightDecay, _decoupled, StepCount);
        if (Compute is null)
        {
            Apply(parameter.Value.Span, parameter.Grad.Span, _expAvg[index].Span, _expAvgSq[index].Span, c, zeroGrad);
            return;
        }
        // Contiguous ranges over the threads; every element's update is the same whatever range it falls in.
        Compute.For(parameter.Length, MinPerThread, (parameter, m: _expAvg[index], v: _expAvgSq[index], c, zeroGrad), static (a, s, e) =>
            Apply(a.parameter.Value.Span[s..e], a.parameter.Grad.Span[s..e], a.m.Span[s..e], a.v.Span[s..e], a.c, a.zeroGrad));
    }

    public override IEnumerable<(string Name, Tensor Tensor)> NamedState()
    {
        for (int i = 0; i < NamedParameters.Count; i++)
        {
            yield return ("exp_avg." + NamedParameters[i].Name, _expAvg[i]);
            yield return ("exp_avg_sq." + NamedParameters[i].Name, _expAvgSq[i]);
        }
    }

    public override string ToString() =>
        $"{GetType().Name}(lr={LearningRate}, betas=({_beta1}, {Beta2}), eps={Epsilon}, weight_decay={WeightDecay})";

    /// <summary>
    /// One step's constants: computed in double from the hyperparameters and the 1-based step number as
    /// PyTorch computes them in Python, then rounded to float as PyTorch does when it applies them.
    /// </summary>
    public static AdamCoefficients Coefficients(double lr, double beta1, double beta2, double eps, double weightDecay,
        bool decoupledWeightDecay, long step)
    {
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, "Adam steps count from 1.");
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        double stepSize = lr / biasCorrection1;
        return new AdamCoefficients(
            Beta1: (float)beta1, OneMinusBeta1: (float)(1 - beta1),
            Beta2: (float)beta2, OneMinusBeta2: (float)(1 - beta2),
            L2WeightDecay: decoupledWeightDecay ? 0f : (float)weightDecay,
            DecoupledDecay: decoupledWeightDecay ? (float)(1 - lr * weightDecay) : 1f,
            BiasCorrection2Sqrt: (float)Math.Sqrt(biasCorrection2),
            Epsilon: (float)eps,
            NegStepSize: (float)-stepSize);
    }

    /// <summary>
    /// Reference: readable, not fast. Mirrors PyTorch's sequence of tensor ops and their roundings:
    /// <c>add(alpha)</c> is a fused multiply-add, <c>addcmul</c> is self + (value·t1)·t2,
    /// <c>addcdiv</c> is self + (value·t1)/t2.
    /// </summary>
    public static void ApplyReference(Span<float> param, ReadOnlySpan<float> grad, Span<float> expAvg, Span<float> expAvgSq,
        in AdamCoefficients c)
    {
        for (int i = 0; i < param.Length; i++)
        {
            float p = param[i];
            float g = c.L2WeightDecay != 0 ? MathF.FusedMultiplyAdd(p, c.L2WeightDecay, grad[i]) : grad[i];
            if (c.DecoupledDecay != 1) p *= c.DecoupledDecay;
            float m = MathF.FusedMultiplyAdd(g, c.OneMinusBeta1, expAvg[i] * c.Beta1);
            float v = expAvgSq[i] * c.Beta2 + c.OneMinusBeta2 * g * g;
            float denom = MathF.Sqrt(v) / c.BiasCorrection2Sqrt + c.Epsilon;
            expAvg[i] = m;
            expAvgSq[i] = v;
            param[i] = p + c.NegStepSize * m / denom;
        }
    }

    /// <summary>The fast update: Vector512 (or Vector256) lanes, then the reference for the tail; bit-identical to it.</summary>
    public static void Apply(Span<float> param, ReadOnlySpan<float> grad, Span<float> expAvg, Span<float> expAvgSq,
        in AdamCoefficients c) => Apply(param, grad, expAvg, expAvgSq, c, default);

    /// <summary>
    /// <see cref="Apply(Span{float}, ReadOnlySpan{float}, Span{float}, Span{float}, in AdamCoefficients)"/>, then the
    /// gradient set to zero when <paramref name="zeroGrad"/>, each vector as soon as it is read.
    /// </summary>
    public static void Apply(Span<float> param, Span<float> grad, Span<float> expAvg, Span<float> expAvgSq, in AdamCoefficients c, bool zeroGrad) =>
        Apply(param, grad, expAvg, expAvgSq, c, zeroGrad ? grad : default);

    /// <summary>The update; <paramref name="clear"/> is the gradient itself (zeroed as it is read) or empty.</summary>
    private static void Apply(Span<float> param, ReadOnlySpan<float> grad, Span<float> expAvg, Span<float> expAvgSq,
        in AdamCoefficients c, Span<float> clear)
    {
        if (grad.Length != param.Length || expAvg.Length != param.Length || expAvgSq.Length != param.Length)
            throw new ArgumentException($"Adam spans differ in length: param {param.Length}, grad {grad.Length}, exp_avg {expAvg.Length}, exp_avg_sq {expAvgSq.Length}.");
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var wd = Vector512.Create(c.L2WeightDecay); var decay = Vector512.Create(c.DecoupledDecay);
            var b1 = Vector512.Create(c.Beta1); var omb1 = Vector512.Create(c.OneMinusBeta1);
            var b2 = Vector512.Create(c.Beta2); var omb2 = Vector512.Create(c.OneMinusBeta2);
            var bc2 = Vector512.Create(c.BiasCorrection2Sqrt); var eps = Vector512.Create(c.Epsilon); var step = Vector512.Create(c.NegStepSize);
            const int W = 16;
            for (; i <= param.Length - W; i += W)
            {
                var p = Vector512.Create(param.Slice(i, W));
                var g = Vector512.Create(grad.Slice(i, W));
                if (!clear.IsEmpty) Vector512<float>.Zero.CopyTo(clear.Slice(i));
                if (c.L2WeightDecay != 0) g = Vector512.FusedMultiplyAdd(p, wd, g);
                if (c.DecoupledDecay != 1) p *= decay;
                var m = Vector512.FusedMultiplyAdd(g, omb1, Vector512.Create(expAvg.Slice(i, W)) * b1);
                var v = Vector512.Create(expAvgSq.Slice(i, W)) * b2 + omb2 * g * g;
                var denom = Vector512.Sqrt(v) / bc2 + eps;
                m.CopyTo(expAvg.Slice(i));
                v.CopyTo(expAvgSq.Slice(i));
                (p + step * m / denom).CopyTo(param.Slice(i));
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var wd = Vector256.Create(c.L2WeightDecay); var decay = Vector256.Create(c.DecoupledDecay);
            var b1 = Vector256.Create(c.Beta1); var omb1 = Vector256.Create(c.OneMinusBeta1);
            var b2 = Vector256.Create(c.Beta2); var omb2 = Vector256.Create(c.OneMinusBeta2);
            var bc2 = Vector256.Create(c.BiasCorrection2Sqrt); var eps = Vector256.Create(c.Epsilon); var step = Vector256.Create(c.NegStepSize);
            const int W = 8;
            for (; i <= param.Length - W; i += W)
            {
                var p = Vector256.Create(param.Slice(i, W));
                var g = Vector256.Create(grad.Slice(i, W));
                if (!clear.IsEmpty) Vector256<float>.Zero.CopyTo(clear.Slice(i));
                if (c.L2WeightDecay != 0) g = Vector256.FusedMultiplyAdd(p, wd, g);
                if (c.DecoupledDecay != 1) p *= decay;
                var m = Vector256.FusedMultiplyAdd(g, omb1, Vector256.Create(expAvg.Slice(i, W)) * b1);
                var v = Vector256.Create(expAvgSq.Slice(i, W)) * b2 + omb2 * g * g;
                var denom = Vector256.Sqrt(v) / bc2 + eps;
                m.CopyTo(expAvg.Slice(i));
                v.CopyTo(expAvgSq.Slice(i));
                (p + step * m / denom).CopyTo(param.Slice(i));
            }
        }
        ApplyReference(param[i..], grad[i..], expAvg[i..], expAvgSq[i..], c);
        if (!clear.IsEmpty) clear[i..].Clear();
    }
}

/// <summary>
/// Adam's per-step constants in float. <see cref="L2WeightDecay"/> is added to the gradient (Adam);
/// <see cref="DecoupledDecay"/> = 1 - lr·wd multiplies the parameter (AdamW); the unused one is 0 or 1.
/// </summary>
public readonly record struct AdamCoefficients(float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2,
    float L2WeightDecay, float DecoupledDecay, float BiasCorrection2Sqrt, float Epsilon, float NegStepSize);
