// OptimizerTests: hand-checkable updates, fast kernels against their references, state and errors.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class OptimizerTests
{
    /// <summary>Hand-computed values go through float arithmetic: allow a few float ulps at magnitude 1.</summary>
    private const float HandTolerance = 1e-6f;

    private static (List<(string, Parameter)> Named, Parameter P) One(float value, float grad)
    {
        var p = new Parameter("w", 1);
        p.Value.Span[0] = value;
        p.Grad.Span[0] = grad;
        return ([("w", p)], p);
    }

    [Fact]
    public void PlainSgdSubtractsLearningRateTimesGradient()
    {
        var (named, p) = One(1f, 0.5f);
        new Sgd(named, lr: 0.1).Step();
        Assert.Equal(0.95f, p.Value.Span[0], HandTolerance);
    }

    [Fact]
    public void SgdWeightDecayIsAddedToTheGradient()
    {
        // d = 0.5 + 0.1·2 = 0.7; p = 2 - 0.1·0.7 = 1.93
        var (named, p) = One(2f, 0.5f);
        new Sgd(named, lr: 0.1, weightDecay: 0.1).Step();
        Assert.Equal(1.93f, p.Value.Span[0], HandTolerance);
    }

    [Fact]
    public void SgdMomentumAccumulatesAndNesterovLooksAhead()
    {
        // Constant gradient 1, momentum 0.5, lr 0.1. Buffers: 1, 1.5. Plain: p = 0 - 0.1 - 0.15 = -0.25.
        // Nesterov steps use d + 0.5·buf: 1.5 then 1.75, so p = -0.15 - 0.175 = -0.325.
        var (plainNamed, plain) = One(0f, 1f);
        var (nesterovNamed, nesterov) = One(0f, 1f);
        var sgd = new Sgd(plainNamed, lr: 0.1, momentum: 0.5);
        var nag = new Sgd(nesterovNamed, lr: 0.1, momentum: 0.5, nesterov: true);
        for (int i = 0; i < 2; i++) { sgd.Step(); nag.Step(); }
        Assert.Equal(-0.25f, plain.Value.Span[0], HandTolerance);
        Assert.Equal(-0.325f, nesterov.Value.Span[0], HandTolerance);
        Assert.Equal(1.5f, sgd.NamedState().Single(s => s.Name == "momentum_buffer.w").Tensor.Span[0], HandTolerance);
    }

    [Fact]
    public void AdamFirstStepMovesByLearningRateTimesSignOfGradient()
    {
        // Step 1: bias-corrected m = g, v = g², so the update is lr·g/(|g| + eps) ≈ lr·sign(g), whatever |g| is.
        var (a, pa) = One(1f, 3f);
        var (b, pb) = One(1f, -0.002f);
        new Adam(a, lr: 0.01).Step();
        new Adam(b, lr: 0.01).Step();
        Assert.Equal(0.99f, pa.Value.Span[0], HandTolerance);
        Assert.Equal(1.01f, pb.Value.Span[0], HandTolerance);
    }

    [Fact]
    public void AdamWDecaysWeightsEvenWithZeroGradientButAdamDoesNotWithoutGradient()
    {
        // Zero gradient: moments stay 0, the Adam term is 0/eps = 0; AdamW still multiplies by 1 - lr·wd.
        var (w, pw) = One(2f, 0f);
        new AdamW(w, lr: 0.1, weightDecay: 0.5).Step();
        Assert.Equal(2f * (1f - 0.05f), pw.Value.Span[0], HandTolerance);
        var (a, pa) = One(2f, 0f);
        new Adam(a, lr: 0.1).Step();
        Assert.Equal(2f, pa.Value.Span[0]);
    }

    [Fact]
    public void AdamL2WeightDecayActsThroughTheGradient()
    {
        // Zero gradient plus L2: g = wd·p = 1 > 0, so the first step is -lr·sign(g).
        var (a, pa) = One(2f, 0f);
        new Adam(a, lr: 0.1, weightDecay: 0.5).Step();
        Assert.Equal(1.9f, pa.Value.Span[0], HandTolerance);
    }

    [Fact]
    public void SgdFastKernelIsBitIdenticalToReferenceForEveryLengthAroundTheVectorWidth()
    {
        foreach (bool nesterov in new[] { false, true })
            for (int n = 0; n <= 70; n++)
            {
                var rng = new Rng((ulong)n + 1);
                float[] p = Random(rng, n), g = Random(rng, n), buf = Random(rng, n);
                float[] p2 = (float[])p.Clone(), buf2 = (float[])buf.Clone();
                var c = new Sgd.SgdCoefficients(-0.1f, 0.01f, 0.9f, UseMomentum: true, nesterov);
                Sgd.Apply(p, g, buf, c);
                Sgd.ApplyReference(p2, g, buf2, c);
                Assert.Equal(p2, p);
                Assert.Equal(buf2, buf);
            }
    }

    [Fact]
    public void AdamFastKernelIsBitIdenticalToReferenceForEveryLengthAroundTheVectorWidth()
    {
        foreach (bool decoupled in new[] { false, true })
            for (int n = 0; n <= 70; n++)
            {
                var rng = new Rng((ulong)n + 100);
                float[] p = Random(rng, n), g = Random(rng, n), m = Random(rng, n), v = Random(rng, n).Select(x => x * x).ToArray();
                float[] p2 = (float[])p.Clone(), m2 = (float[])m.Clone(), v2 = (float[])v.Clone();
                var c = Adam.Coefficients(1e-2, 0.9, 0.999, 1e-8, 0.05, decoupled, step: 3);
                Adam.Apply(p, g, m, v, c);
                Adam.ApplyReference(p2, g, m2, v2, c);
                Assert.Equal(p2, p);
                Assert.Equal(m2, m);
                Assert.Equal(v2, v);
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void AdamOnThreadsGivesTheSameBitsAsOnTheCallingThread(int threads)
    {
        // One parameter long enough to be split (several times the per-thread minimum, an odd length), one too short.
        static List<(string, Parameter)> Make()
        {
            var rng = new Rng(9);
            var list = new List<(string, Parameter)>();
            foreach (var (name, length) in new[] { ("big", 3 * 65536 + 77), ("small", 1000) })
            {
                var p = new Parameter(name, length);
                for (int i = 0; i < length; i++) { p.Value.Span[i] = rng.Uniform(-1f, 1f); p.Grad.Span[i] = rng.Uniform(-1f, 1f); }
                list.Add((name, p));
            }
            return list;
        }
        var alone = Make();
        var split = Make();
        var single = new Adam(alone, lr: 0.01, weightDecay: 0.1);
        using var compute = new DigitLab.Runtime.ComputeContext(threads);
        var parallel = new Adam(split, lr: 0.01, weightDecay: 0.1) { Compute = compute };
        for (int step = 0; step < 3; step++) { single.Step(); parallel.Step(); }
        for (int k = 0; k < alone.Count; k++)
        {
            var a = alone[k].Item2.Value.Span;
            var b = split[k].Item2.Value.Span;
            for (int i = 0; i < a.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]),
                    $"{alone[k].Item1}[{i}] on {threads} threads is {b[i]:R}, on the calling thread {a[i]:R}.");
        }
        var stateA = single.NamedState().ToList();
        var stateB = parallel.NamedState().ToList();
        for (int k = 0; k < stateA.Count; k++) Assert.True(stateA[k].Tensor.Span.SequenceEqual(stateB[k].Tensor.Span), stateA[k].Name);
    }

    [Theory]
    [InlineData("adam", 0)]
    [InlineData("adam", 2)]
    [InlineData("sgd", 0)]
    public void StepAndZeroGradEqualsStepThenZeroGrad(string kind, int threads)
    {
        // Lengths around the vector widths (tails) and one long enough for threads to split.
        static List<(string, Parameter)> Make()
        {
            var rng = new Rng(4);
            var list = new List<(string, Parameter)>();
            foreach (int length in new[] { 1, 15, 17, 33, 2 * 65536 + 5 })
            {
                var p = new Parameter("p" + length, length);
                for (int i = 0; i < length; i++) p.Value.Span[i] = rng.Uniform(-1f, 1f);
                list.Add(("p" + length, p));
            }
            return list;
        }
        static void Gradients(List<(string, Parameter)> list, int step)
        {
            var rng = new Rng((ulong)step + 100);
            foreach (var (_, p) in list)
                for (int i = 0; i < p.Length; i++) p.Grad.Span[i] += rng.Uniform(-1f, 1f); // accumulates, as a backward pass
        }
        var separate = Make();
        var fused = Make();
        using var compute = threads > 0 ? new DigitLab.Runtime.ComputeContext(threads) : null;
        Optimizer Create(List<(string, Parameter)> list) =>
            kind == "adam" ? new Adam(list, lr: 0.01) { Compute = compute } : new Sgd(list, lr: 0.1, momentum: 0.9);
        var a = Create(separate);
        var b = Create(fused);
        for (int step = 0; step < 3; step++)
        {
            a.ZeroGrad();
            Gradients(separate, step);
            a.Step();
            Gradients(fused, step);
            b.StepAndZeroGrad();
            foreach (var (name, p) in fused)
                Assert.True(p.Grad.ReadOnlySpan.IndexOfAnyExcept(0f) < 0, $"{kind}: the gradient of {name} is not all zero after StepAndZeroGrad.");
        }
        for (int k = 0; k < separate.Count; k++)
            Assert.True(separate[k].Item2.Value.ReadOnlySpan.SequenceEqual(fused[k].Item2.Value.ReadOnlySpan),
                $"{kind}: {separate[k].Item1} differs between Step + ZeroGrad and StepAndZeroGrad.");
    }

    [Fact]
    public void StepAllocatesNothingInSteadyState()
    {
        var parameters = Enumerable.Range(0, 4).Select(i => ($"p{i}", new Parameter($"p{i}", 100))).ToList();
        foreach (var optimizer in new Optimizer[] { new Sgd(parameters, 0.1, 0.9, true, 1e-4), new Adam(parameters), new AdamW(parameters) })
        {
            optimizer.Step(); // warm-up: JIT and first-call work
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++) { optimizer.Step(); optimizer.ZeroGrad(); }
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
    }

    [Fact]
    public void NamedStateUsesPyTorchNamesAndStepCountIsSettable()
    {
        var parameters = new List<(string, Parameter)> { ("0.weight", new Parameter("weight", 2, 3)), ("0.bias", new Parameter("bias", 2)) };
        Assert.Empty(new Sgd(parameters, 0.1).NamedState());
        Assert.Equal(["momentum_buffer.0.weight", "momentum_buffer.0.bias"], new Sgd(parameters, 0.1, 0.9).NamedState().Select(s => s.Name));
        var adam = new AdamW(parameters);
        Assert.Equal(["exp_avg.0.weight", "exp_avg_sq.0.weight", "exp_avg.0.bias", "exp_avg_sq.0.bias"], adam.NamedState().Select(s => s.Name));
        Assert.All(adam.NamedState(), s => Assert.Equal(s.Name.EndsWith("weight") ? new[] { 2, 3 } : [2], s.Tensor.Shape));
        adam.StepCount = 41;
        adam.Step();
        Assert.Equal(42, adam.StepCount);
    }

    [Fact]
    public void BadArgumentsAreRejectedWithMessagesThatSayWhatToDo()
    {
        var (named, p) = One(0f, 0f);
        Assert.Contains("momentum", Assert.Throws<ArgumentException>(() => new Sgd(named, 0.1, nesterov: true)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(named, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(named, beta1: 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(named).StepCount = -1);
        var twice = Assert.Throws<ArgumentException>(() => new Sgd([("a", p), ("b", p)], 0.1));
        Assert.Contains("'b'", twice.Message);
        Assert.Throws<ArgumentException>(() => new Sgd([("a", p), ("a", new Parameter("w", 1))], 0.1));
        Assert.Throws<InvalidOperationException>(() => new Sgd(named, 0.1).Momentum = 0.9);
    }

    [Fact]
    public void ClipByNormScalesOnlyWhenTheTotalNormExceedsTheMaximum()
    {
        // Gradients (3) and (4): total norm 5.
        var a = new Parameter("a", 1); a.Grad.Span[0] = 3f;
        var b = new Parameter("b", 1); b.Grad.Span[0] = 4f;
        Assert.Equal(5.0, GradientClipping.ClipByNorm([a, b], 10), 12);
        Assert.Equal(3f, a.Grad.Span[0]);
        Assert.Equal(5.0, GradientClipping.ClipByNorm([a, b], 1), 12);
        Assert.Equal(3f / 5f, a.Grad.Span[0], HandTolerance);
        Assert.Equal(4f / 5f, b.Grad.Span[0], HandTolerance);
        b.Grad.Span[0] = float.NaN;
        Assert.Throws<ArithmeticException>(() => GradientClipping.ClipByNorm([a, b], 1));
    }

    private static float[] Random(Rng rng, int n)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextUInt64() % 2001) / 1000f - 1f;
        return x;
    }
}
