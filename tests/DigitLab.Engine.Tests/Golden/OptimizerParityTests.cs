// OptimizerParityTests: SGD, Adam, AdamW, schedules and clipping against PyTorch 1.13 golden values.
using DigitLab.Nn;
using DigitLab.Tensors;
using Xunit.Abstractions;

namespace DigitLab.Tests.Golden;

public class OptimizerParityTests(ITestOutputHelper log)
{
    public static TheoryData<string> OptimizerCases =>
        ["sgd_plain", "sgd_momentum_wd", "sgd_nesterov_wd", "adam", "adam_wd", "adamw"];

    private static (List<(string Name, Parameter Parameter)> Parameters, Optimizer Optimizer) Build(GoldenFile golden)
    {
        var parameters = golden.NamesUnder("param.")
            .Select(name =>
            {
                var initial = golden.Tensor("param." + name);
                var p = new Parameter(name, initial.Shape);
                p.Value.CopyFrom(initial);
                return (name, p);
            })
            .ToList();
        return (parameters, MakeOptimizer(golden, parameters));
    }

    private static Optimizer MakeOptimizer(GoldenFile golden, List<(string Name, Parameter Parameter)> parameters)
    {
        double lr = golden.MetaDouble("lr"), wd = golden.MetaDouble("weight_decay", 0);
        return golden.Meta("optimizer") switch
        {
            "SGD" => new Sgd(parameters, lr, golden.MetaDouble("momentum", 0), golden.MetaBool("nesterov", false), wd),
            "Adam" => new Adam(parameters, lr, golden.MetaDouble("beta1", 0.9), golden.MetaDouble("beta2", 0.999),
                golden.MetaDouble("eps", 1e-8), wd),
            "AdamW" => new AdamW(parameters, lr, golden.MetaDouble("beta1", 0.9), golden.MetaDouble("beta2", 0.999),
                golden.MetaDouble("eps", 1e-8), golden.MetaDouble("weight_decay", 0.01)),
            var other => throw new InvalidDataException($"Unknown optimizer '{other}' in golden file {golden.Name}."),
        };
    }

    private static void LoadGradients(GoldenFile golden, List<(string Name, Parameter Parameter)> parameters, int step)
    {
        foreach (var (name, p) in parameters) p.Grad.CopyFrom(golden.Tensor($"grad{step}.{name}"));
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void StepsMatchPyTorch(string name)
    {
        var golden = GoldenFile.Load("optim_" + name);
        var (parameters, optimizer) = Build(golden);
        int steps = golden.MetaInt("steps");
        for (int step = 1; step <= steps; step++)
        {
            LoadGradients(golden, parameters, step);
            var before = parameters.Select(p => p.Parameter.Value.Clone()).ToList();
            optimizer.Step();
            for (int i = 0; i < parameters.Count; i++)
            {
                var (pname, p) = parameters[i];
                var expected = golden.Tensor($"step{step}.{pname}");
                Parity.AssertClose(expected, p.Value, GoldenTolerances.OptimizerStep, $"{name} step {step} {pname}", log);
                // The update itself: parameters are O(1), updates O(lr), so this checks the step more finely.
                Parity.AssertClose(Subtract(expected, before[i]), Subtract(p.Value, before[i]),
                    GoldenTolerances.OptimizerUpdate, $"{name} step {step} update of {pname}", log);
            }
        }
        Assert.Equal(steps, optimizer.StepCount);
        var state = optimizer.NamedState().ToDictionary(s => s.Name, s => s.Tensor);
        var expectedState = golden.NamesUnder("state.").ToList();
        Assert.Equal(expectedState.Order(), state.Keys.Order());
        foreach (var stateName in expectedState)
            Parity.AssertClose(golden.Tensor("state." + stateName), state[stateName], GoldenTolerances.OptimizerStep, $"{name} state {stateName}", log);
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void ResumingFromNamedStateMatchesPyTorch(string name)
    {
        var golden = GoldenFile.Load("optim_" + name);
        int steps = golden.MetaInt("steps");
        var (parameters, optimizer) = Build(golden);
        for (int step = 1; step < steps; step++) { LoadGradients(golden, parameters, step); optimizer.Step(); }

        // A checkpoint: parameter values, named state, step count; restored into fresh objects.
        var (resumedParameters, resumed) = Build(golden);
        for (int i = 0; i < parameters.Count; i++) resumedParameters[i].Parameter.Value.CopyFrom(parameters[i].Parameter.Value);
        var saved = optimizer.NamedState().ToDictionary(s => s.Name, s => s.Tensor.Clone());
        foreach (var (stateName, tensor) in resumed.NamedState()) tensor.CopyFrom(saved[stateName]);
        resumed.StepCount = optimizer.StepCount;

        LoadGradients(golden, resumedParameters, steps);
        resumed.Step();
        foreach (var (pname, p) in resumedParameters)
            Parity.AssertClose(golden.Tensor($"step{steps}.{pname}"), p.Value, GoldenTolerances.OptimizerStep, $"{name} resumed step {steps} {pname}", log);
    }

    [Fact]
    public void SchedulesMatchPyTorch()
    {
        var golden = GoldenFile.Load("schedules");
        double lr = golden.MetaDouble("base_lr");
        Check("step", new StepSchedule(lr, golden.MetaInt("step_size"), golden.MetaDouble("step_gamma")));
        Check("cosine", new CosineSchedule(lr, golden.MetaInt("cosine_total"), golden.MetaDouble("cosine_min")));
        var oneCycle = new OneCycleSchedule(golden.MetaDouble("onecycle_max"), golden.MetaInt("onecycle_total"));
        Check("onecycle_lr", oneCycle);
        CheckMomentum("onecycle_momentum", oneCycle);
        var odd = new OneCycleSchedule(golden.MetaDouble("onecycle_odd_max"), golden.MetaInt("onecycle_odd_total"),
            pctStart: golden.MetaDouble("onecycle_odd_pct"));
        Check("onecycle_odd_lr", odd);
        CheckMomentum("onecycle_odd_momentum", odd);

        void Check(string tensor, LearningRateSchedule schedule)
        {
            var expected = golden.Doubles(tensor);
            var actual = Enumerable.Range(0, expected.Length).Select(k => schedule.At(k)).ToArray();
            Parity.AssertClose(expected, actual, GoldenTolerances.Schedule, $"{schedule} learning rates", log);
        }

        void CheckMomentum(string tensor, LearningRateSchedule schedule)
        {
            var expected = golden.Doubles(tensor);
            var actual = Enumerable.Range(0, expected.Length).Select(k => schedule.MomentumAt(k)!.Value).ToArray();
            Parity.AssertClose(expected, actual, GoldenTolerances.Schedule, $"{schedule} momentum", log);
        }
    }

    [Theory]
    [InlineData("clip_grad_norm_clipped")]
    [InlineData("clip_grad_norm_unclipped")]
    public void ClipByNormMatchesPyTorch(string name)
    {
        var golden = GoldenFile.Load(name);
        var parameters = golden.NamesUnder("grad.").Select(i =>
        {
            var g = golden.Tensor("grad." + i);
            var p = new Parameter(i, g.Shape);
            p.Grad.CopyFrom(g);
            return p;
        }).ToList();
        double total = GradientClipping.ClipByNorm(parameters, golden.MetaDouble("max_norm"));
        Parity.AssertClose(golden.Doubles("total_norm"), [total], GoldenTolerances.Elementwise, $"{name} total norm", log);
        foreach (var p in parameters)
            Parity.AssertClose(golden.Tensor("clipped." + p.Name), p.Grad, GoldenTolerances.Elementwise, $"{name} gradient {p.Name}", log);
    }

    private static Tensor Subtract(Tensor a, Tensor b)
    {
        var t = a.Clone();
        System.Numerics.Tensors.TensorPrimitives.Subtract(a.ReadOnlySpan, b.ReadOnlySpan, t.Span);
        return t;
    }
}
