// ModelParityTests: a small CNN end to end (loss, all gradients, one step of each optimizer) against PyTorch 1.13.
using DigitLab.Nn;
using DigitLab.Tensors;
using Xunit.Abstractions;

namespace DigitLab.Tests.Golden;

public class ModelParityTests(ITestOutputHelper log)
{
    private const string Name = "model_small_cnn";

    /// <summary>PyTorch's nn.Sequential with the same layers: state_dict names 0, 3, 7 and 9.</summary>
    private static Sequential SmallCnn() => new(
        new Conv2d(1, 4, 3, padding: 1), new ReLU(), new MaxPool2d(2),
        new Conv2d(4, 4, 3, padding: 1), new ReLU(), new MaxPool2d(2),
        new Flatten(), new Linear(4 * 7 * 7, 12), new ReLU(), new Linear(12, 10));

    [Fact]
    public void ForwardBackwardAndOneStepOfEachOptimizerMatchPyTorch()
    {
        var g = GoldenFile.Load(Name);
        var model = SmallCnn();
        GoldenModule.LoadWeights(g, model);
        model.Train();
        model.ZeroGrad();
        var loss = new SoftmaxCrossEntropy();
        var logits = model.Forward(g.Tensor("input"));
        Parity.AssertClose(g.Tensor("output"), logits, GoldenTolerances.Model, $"{Name} logits", log);
        float value = loss.Forward(logits, g.Doubles("target").Select(t => (byte)t).ToArray());
        Parity.AssertClose(g.Doubles("loss"), [value], GoldenTolerances.Model, $"{Name} loss", log);
        var inputGrad = model.Backward(loss.Backward());
        Parity.AssertClose(g.Tensor("grad_input"), inputGrad, GoldenTolerances.Model, $"{Name} input gradient", log);
        foreach (var (name, p) in model.NamedParameters())
            Parity.AssertClose(g.Tensor("grad." + name), p.Grad, GoldenTolerances.Model, $"{Name} gradient of {name}", log);

        // One step of each optimizer from the same weights and our own gradients: the whole chain.
        var steps = new (string Prefix, Func<IEnumerable<(string, Parameter)>, Optimizer> Make)[]
        {
            ("sgd", ps => new Sgd(ps, g.MetaDouble("sgd_lr"), g.MetaDouble("sgd_momentum"), false, g.MetaDouble("sgd_weight_decay"))),
            ("sgd_nesterov", ps => new Sgd(ps, g.MetaDouble("sgd_lr"), g.MetaDouble("sgd_momentum"), true, g.MetaDouble("sgd_weight_decay"))),
            ("adam", ps => new Adam(ps, g.MetaDouble("adam_lr"), weightDecay: g.MetaDouble("adam_weight_decay"))),
            ("adamw", ps => new AdamW(ps, g.MetaDouble("adamw_lr"), weightDecay: g.MetaDouble("adamw_weight_decay"))),
        };
        foreach (var (prefix, make) in steps)
        {
            GoldenModule.LoadWeights(g, model);  // values back to the start; gradients stay
            make(model.NamedParameters()).Step();
            foreach (var (name, p) in model.NamedParameters())
                Parity.AssertClose(g.Tensor($"{prefix}.{name}"), p.Value, GoldenTolerances.ModelStep, $"{Name} after one {prefix} step: {name}", log);
        }
    }

    [Fact]
    public void FiveTrainingStepsWithSchedulesMatchPyTorch()
    {
        // The training loop end to end: schedule, zero grad, forward, loss, backward, step; five times on one batch.
        // Adam's run uses one-cycle, which cycles beta1 as PyTorch's cycle_momentum does.
        var g = GoldenFile.Load("model_small_cnn_train");
        int steps = g.MetaInt("steps");
        var input = g.Tensor("input");
        byte[] labels = g.Doubles("target").Select(t => (byte)t).ToArray();
        var runs = new (string Prefix, Func<Sequential, Optimizer> Optimizer, LearningRateSchedule Schedule)[]
        {
            ("sgd_cosine", m => new Sgd(m.NamedParameters(), g.MetaDouble("sgd_lr"), g.MetaDouble("sgd_momentum"), weightDecay: g.MetaDouble("sgd_weight_decay")),
                new CosineSchedule(g.MetaDouble("sgd_lr"), steps, g.MetaDouble("cosine_min"))),
            ("adam_onecycle", m => new Adam(m.NamedParameters(), g.MetaDouble("adam_max_lr")),
                new OneCycleSchedule(g.MetaDouble("adam_max_lr"), steps)),
        };
        foreach (var (prefix, makeOptimizer, schedule) in runs)
        {
            var model = SmallCnn();
            GoldenModule.LoadWeights(g, model);
            model.Train();
            var optimizer = makeOptimizer(model);
            var loss = new SoftmaxCrossEntropy();
            var losses = new double[steps];
            for (int step = 0; step < steps; step++)
            {
                schedule.Apply(optimizer, step);
                optimizer.ZeroGrad();
                losses[step] = loss.Forward(model.Forward(input), labels);
                model.Backward(loss.Backward());
                optimizer.Step();
            }
            Parity.AssertClose(g.Doubles(prefix + "_losses"), losses, GoldenTolerances.Model, $"{prefix} losses over {steps} steps", log);
            foreach (var (name, p) in model.NamedParameters())
                Parity.AssertClose(g.Tensor($"{prefix}.{name}"), p.Value, GoldenTolerances.ModelStep, $"{prefix} {name} after {steps} steps", log);
        }
    }
}
