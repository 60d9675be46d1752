// GradCheck: central finite differences against a module's Backward, for its input and every parameter.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests;

internal static class GradCheck
{
    /// <summary>
    /// Checks Backward of <paramref name="module"/> on L = Σ w ⊙ module(x) with a fixed random w.
    /// Perturbs x and each parameter in float32 by ±<see cref="EngineTolerances.GradStep"/> (at most
    /// <paramref name="maxPerTensor"/> random elements of each), restoring the module's Rngs before
    /// every Forward so dropout masks stay fixed. Set <paramref name="hasKinks"/> for piecewise-linear
    /// modules, where a step that crosses a kink is detected and skipped.
    /// </summary>
    public static void Module(Module module, Tensor input, ulong seed, bool hasKinks = false, int maxPerTensor = 80)
    {
        var rng = new Rng(seed);
        var rngs = module.NamedRngs().Select(r => (r.Rng, State: r.Rng.GetState())).ToArray();
        void RestoreRngs() { foreach (var (r, s) in rngs) r.SetState(s); }

        RestoreRngs();
        var output = module.Forward(input);
        var weights = TestUtil.Random(rng, output.Shape);
        module.ZeroGrad();
        var inputGrad = module.Backward(weights).Clone();
        Assert.Equal(input.Shape, inputGrad.Shape);
        var parameters = module.NamedParameters().Select(p => (p.Name, p.Parameter, Grad: p.Parameter.Grad.Clone())).ToArray();

        double Loss()
        {
            RestoreRngs();
            var y = module.Forward(input);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += (double)weights.Data[i] * y.Data[i];
            return sum;
        }

        var checks = new List<(string, Tensor, Tensor)> { ("input", input, inputGrad) };
        checks.AddRange(parameters.Select(p => (p.Name, p.Parameter.Value, p.Grad)));
        foreach (var (name, values, analytic) in checks)
            Values($"{module} d/d{name}", values, analytic, Loss, rng, hasKinks, maxPerTensor, EngineTolerances.GradAbsolute);
    }

    /// <summary>Checks <paramref name="analytic"/> = dL/d<paramref name="values"/> for a scalar <paramref name="loss"/>.</summary>
    public static void Values(string what, Tensor values, Tensor analytic, Func<double> loss, Rng rng,
        bool hasKinks, int maxPerTensor, double absolute)
    {
        int n = values.Length;
        var indices = n <= maxPerTensor ? Enumerable.Range(0, n).ToArray()
            : Enumerable.Range(0, maxPerTensor).Select(_ => rng.NextInt(n)).Distinct().ToArray();
        double l0 = loss();
        int kinks = 0;
        foreach (int i in indices)
        {
            float original = values.Data[i];
            float plus = original + EngineTolerances.GradStep, minus = original - EngineTolerances.GradStep;
            values.Data[i] = plus;
            double lp = loss();
            values.Data[i] = minus;
            double lm = loss();
            values.Data[i] = original;
            // The steps actually taken in float32, not the nominal ones.
            double numeric = (lp - lm) / ((double)plus - minus);
            if (hasKinks)
            {
                // A kink within the step makes the one-sided slopes differ by a jump that does not
                // shrink with the step; curvature makes them differ by f''·h, which halves with it.
                double forward = (lp - l0) / ((double)plus - original), backward = (l0 - lm) / ((double)original - minus);
                double jump = Math.Abs(forward - backward);
                if (jump > EngineTolerances.KinkJump)
                {
                    float plus2 = original + EngineTolerances.GradStep / 2, minus2 = original - EngineTolerances.GradStep / 2;
                    values.Data[i] = plus2;
                    double lp2 = loss();
                    values.Data[i] = minus2;
                    double lm2 = loss();
                    values.Data[i] = original;
                    double jump2 = Math.Abs((lp2 - l0) / ((double)plus2 - original) - (l0 - lm2) / ((double)original - minus2));
                    if (jump2 > 0.75 * jump) { kinks++; continue; }                   // kink within half a step: no usable difference
                    if (jump2 < 0.25 * jump) numeric = (lp2 - lm2) / ((double)plus2 - minus2); // kink beyond half a step: the half step is clean
                }
            }
            double a = analytic.Data[i];
            double allowed = absolute + EngineTolerances.GradRelative * Math.Abs(numeric);
            Assert.True(Math.Abs(a - numeric) <= allowed,
                $"{what}[{i}]: analytic {a:G6}, numeric {numeric:G6} (difference {Math.Abs(a - numeric):G3}, allowed {allowed:G3})");
        }
        Assert.True(kinks <= EngineTolerances.MaxKinkFraction * indices.Length,
            $"{what}: {kinks} of {indices.Length} checked elements sat on a kink; the test input is badly chosen.");
    }
}
