// BatchNorm: the shared body of BatchNorm1d and BatchNorm2d (parameters, running statistics, both modes).
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// Batch normalisation over channel dimension 1 of its input, PyTorch's <c>_BatchNorm</c>:
/// weight γ (C) initialised to 1, bias β (C) to 0; buffers running_mean (0), running_var (1) and
/// num_batches_tracked (a 1-element tensor). Training uses batch statistics and moves the running
/// averages by <see cref="Momentum"/> (unbiased variance); evaluation uses the running averages.
/// </summary>
public abstract class BatchNorm : Module
{
    public int Features { get; }
    public float Eps { get; }
    public float Momentum { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }
    public Tensor RunningMean { get; }
    public Tensor RunningVar { get; }
    /// <summary>Training-mode Forward calls so far (PyTorch keeps it as int64; a float holds counts up to 2²⁴ exactly).</summary>
    public Tensor NumBatchesTracked { get; } = new(1);

    /// <summary>One caller's activations, in its workspace.</summary>
    private sealed class State
    {
        public Tensor? Input;                       // the caller's tensor, read again by Backward
        public readonly Tensor Output = new(0);     // input's shape
        public readonly Tensor InputGrad = new(0);  // input's shape
        public float[] SavedMean = [], SavedInvStd = []; // (C) the statistics the last Forward normalised with
        public bool BatchStatistics;
    }

    protected BatchNorm(int features, float eps, float momentum)
    {
        if (features <= 0) throw new ArgumentOutOfRangeException(nameof(features), features, "Batch norm needs at least one feature/channel.");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be positive, e.g. 1e-5.");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be in [0, 1], e.g. 0.1.");
        Features = features;
        Eps = eps;
        Momentum = momentum;
        Weight = new Parameter("weight", features);
        Bias = new Parameter("bias", features);
        RunningMean = new Tensor(features);
        RunningVar = new Tensor(features);
        ResetParameters(new Rng(0));
        ResetRunningStats();
    }

    /// <summary>(N, C, S): the sample count, and the values per sample and channel (1 for features, H·W for images).</summary>
    protected abstract (int N, int S) Layout(int[] inputShape);

    /// <remarks>
    /// A training pass normalises with the batch's statistics and moves the running averages (the model's buffers);
    /// an evaluation pass reads the running averages only.
    /// </remarks>
    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var (n, s) = Layout(input.Shape);
        var state = workspace.StateOf<State>(this);
        if (state.SavedMean.Length != Features) { state.SavedMean = new float[Features]; state.SavedInvStd = new float[Features]; }
        state.Output.Resize(input.Shape);
        state.BatchStatistics = workspace.Training;
        if (workspace.Training)
        {
            Kernels.BatchNorm.ForwardTraining(workspace.Compute, n, Features, s, input.Data, Weight.Value.Data, Bias.Value.Data, Eps, Momentum,
                RunningMean.Data, RunningVar.Data, state.SavedMean, state.SavedInvStd, state.Output.Data);
            NumBatchesTracked.Data[0] += 1;
        }
        else
        {
            Kernels.BatchNorm.ForwardInference(workspace.Compute, n, Features, s, input.Data, Weight.Value.Data, Bias.Value.Data, Eps,
                RunningMean.Data, RunningVar.Data, state.SavedMean, state.SavedInvStd, state.Output.Data);
        }
        state.Input = input;
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        var input = ShapeCheck.Forwarded(this, state.Input);
        ShapeCheck.Grad(this, outputGrad, state.Output.Shape);
        var (n, s) = Layout(input.Shape);
        state.InputGrad.Resize(input.Shape);
        Kernels.BatchNorm.Backward(workspace.Compute, n, Features, s, input.Data, outputGrad.Data, Weight.Value.Data, state.SavedMean, state.SavedInvStd,
            state.BatchStatistics, state.InputGrad.Data, Weight.Grad.Data, Bias.Grad.Data);
        return state.InputGrad;
    }

    public override IEnumerable<Parameter> OwnParameters() => [Weight, Bias];

    public override IEnumerable<(string Name, Tensor Tensor)> OwnBuffers() =>
        [("running_mean", RunningMean), ("running_var", RunningVar), ("num_batches_tracked", NumBatchesTracked)];

    /// <summary>γ = 1, β = 0 (PyTorch's default; no randomness, the rng is not drawn from).</summary>
    public override void ResetParameters(Rng rng)
    {
        Weight.Value.Span.Fill(1f);
        Bias.Value.Span.Clear();
    }

    /// <summary>running_mean = 0, running_var = 1, num_batches_tracked = 0.</summary>
    public void ResetRunningStats()
    {
        RunningMean.Span.Clear();
        RunningVar.Span.Fill(1f);
        NumBatchesTracked.Span.Clear();
    }

    /// <summary>"BatchNorm2d(32)", with eps and momentum only when they differ from PyTorch's defaults.</summary>
    protected string Describe(string name)
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        string extra = (Eps != 1e-5f ? $", eps={Eps.ToString(culture).ToLowerInvariant()}" : "")
            + (Momentum != 0.1f ? $", momentum={Momentum.ToString(culture)}" : "");
        return $"{name}({Features}{extra})";
    }
}
