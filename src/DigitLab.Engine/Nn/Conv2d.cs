// Conv2d: 2-D convolution (cross-correlation, as PyTorch), on the direct, Winograd or im2col + Gemm routes.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.Conv2d(in, out, kernel_size, stride, padding, bias)</c> with a square kernel:
/// input (N, C, H, W), output (N, O, OH, OW) with OH = ⌊(H + 2·padding − kernel)/stride⌋ + 1;
/// weight (O, C, K, K), bias (O).
/// </summary>
/// <remarks>
/// Initialisation (PyTorch's default): weight and bias ~ U(−1/√fan_in, 1/√fan_in), fan_in = C·K·K
/// (<c>kaiming_uniform_(a=√5)</c> for the weight). The work is done by <see cref="Convolution"/>;
/// its scratch lives in the caller's <see cref="Workspace"/>, grown once and reused.
/// </remarks>
public sealed class Conv2d : Module
{
    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    /// <summary>
    /// When false, Backward still accumulates the weight and bias gradients but skips dL/d(input)
    /// (a third of the work) and returns zeros. For the first layer of a model, whose input is data; a training
    /// loop can instead name its batch in <see cref="Workspace.InputWithoutGradient"/>, leaving the model unchanged.
    /// </summary>
    public bool ComputeInputGradient { get; set; } = true;

    /// <summary>
    /// Least batch whose forward pass (and input gradient) runs on Winograd: its weights are transformed again on every call
    /// (about 0.2 ms for a 32 → 32 5×5 layer on one thread, about what 5 images save), which a few images do not repay
    /// (net3's single-image latency through the plain model went from 0.27 to 0.38–0.44 ms with it); the zoo's training
    /// batches (64, 128) and evaluation batches do. Small batches keep the routes and bits they had: a run paused by an
    /// older build with batch 16 resumes to the same weights as an uninterrupted run (TrainerOptionsTests).
    /// </summary>
    public const int MinWinogradBatch = 32;

    /// <summary>One caller's activations and kernel scratch, in its workspace.</summary>
    private sealed class State
    {
        public Tensor? Input;                       // (N, C, H, W), the caller's tensor, read again by Backward
        public readonly Tensor Output = new(0);     // (N, O, OH, OW)
        public readonly Tensor InputGrad = new(0);  // (N, C, H, W)
        public float[] Scratch = [];                // im2col columns and GEMM result, see Convolution.WorkspaceLength
        public bool ColumnsReady;                   // the scratch holds the last input's im2col
        public ConvGeometry Geometry;
        public WinogradConvolution.Plan? Winograd;  // this workspace's transformed weights, when the forward runs Winograd
        public WinogradConvolution.Plan? WinogradInputGradient; // the flipped kernels, when the input gradient runs Winograd
    }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true)
    {
        if (inChannels <= 0 || outChannels <= 0 || kernelSize <= 0 || stride <= 0 || padding < 0)
            throw new ArgumentOutOfRangeException(nameof(inChannels),
                $"Conv2d needs positive channels, kernel and stride and padding ≥ 0; found in={inChannels}, out={outChannels}, k={kernelSize}, s={stride}, p={padding}.");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Weight = new Parameter("weight", outChannels, inChannels, kernelSize, kernelSize);
        Bias = bias ? new Parameter("bias", outChannels) : null;
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var shape = OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        var s = input.Shape;
        var geometry = state.Geometry = new ConvGeometry(s[0], InChannels, s[2], s[3], OutChannels, KernelSize, Stride, Padding);
        int need = Convolution.WorkspaceLength(workspace.Compute, geometry);
        state.Output.Resize(shape);
        if (s[0] >= MinWinogradBatch && Convolution.Winograd(workspace.Compute, geometry))
        {
            // The weights change every step: transformed again each forward pass into this workspace's own plan.
            var plan = state.Winograd;
            if (plan is null || plan.Geometry != geometry with { Batch = 1 })
                plan = state.Winograd = new WinogradConvolution.Plan(InChannels, OutChannels, KernelSize, Padding, s[2], s[3]);
            plan.Transform(workspace.Compute, Weight.Value.Data, Bias?.Value.Data);
            need = Math.Max(need, plan.WorkspaceLength(workspace.Compute));
            if (state.Scratch.Length < need) state.Scratch = new float[need];
            WinogradConvolution.Forward(workspace.Compute, plan, s[0], input.Data, state.Output.Data, relu: false, state.Scratch);
            state.ColumnsReady = false;
        }
        else
        {
            if (state.Scratch.Length < need) state.Scratch = new float[need];
            state.ColumnsReady = Convolution.Forward(workspace.Compute, geometry, input.Data, Weight.Value.Data, Bias?.Value.Data, state.Output.Data, state.Scratch);
        }
        state.Input = input;
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        var input = ShapeCheck.Forwarded(this, state.Input);
        ShapeCheck.Grad(this, outputGrad, state.Output.Shape);
        var inputGrad = state.InputGrad;
        inputGrad.Resize(input.Shape);
        bool wanted = ComputeInputGradient && !ReferenceEquals(input, workspace.InputWithoutGradient);
        if (!wanted) inputGrad.Zero();
        var g = state.Geometry;
        // Stride 1: dX is the convolution of dY, padded by K − 1 − P, with the kernels turned 180° and their channel axes
        // swapped, a (N, O, OH, OW) → (N, C, H, W) layer of its own that can run Winograd like a forward pass.
        var transposed = new ConvGeometry(g.Batch, OutChannels, g.OutHeight, g.OutWidth, InChannels, KernelSize, 1, KernelSize - 1 - Padding);
        bool winograd = wanted && g.Batch >= MinWinogradBatch && Stride == 1 && Padding <= KernelSize - 1 && Convolution.Winograd(workspace.Compute, transposed);
        Convolution.Backward(workspace.Compute, g, input.Data, Weight.Value.Data, outputGrad.Data, wanted && !winograd ? inputGrad.Data : null,
            Weight.Grad.Data, Bias?.Grad.Data, state.Scratch, state.ColumnsReady);
        if (winograd)
        {
            var plan = state.WinogradInputGradient;
            if (plan is null || plan.Geometry != transposed with { Batch = 1 })
                plan = state.WinogradInputGradient = new WinogradConvolution.Plan(OutChannels, InChannels, KernelSize, transposed.Padding, g.OutHeight, g.OutWidth);
            plan.Transform(workspace.Compute, Weight.Value.Data, bias: null, flipped: true);
            int need = plan.WorkspaceLength(workspace.Compute);
            if (state.Scratch.Length < need) state.Scratch = new float[need];
            WinogradConvolution.Forward(workspace.Compute, plan, g.Batch, outputGrad.Data, inputGrad.Data, relu: false, state.Scratch);
        }
        state.ColumnsReady = false; // Backward wrote the input gradient's columns over them
        return inputGrad;
    }

    public override int[] OutputShape(int[] inputShape) =>
        PoolShape.Output(this, inputShape, KernelSize, Stride, Padding, InChannels, OutChannels);

    public override IEnumerable<Parameter> OwnParameters() => Bias is null ? [Weight] : [Weight, Bias];

    public override void ResetParameters(Rng rng)
    {
        float bound = Init.DefaultBound(InChannels * KernelSize * KernelSize);
        Init.Uniform(Weight.Value.Span, bound, rng);
        if (Bias is not null) Init.Uniform(Bias.Value.Span, bound, rng);
    }

    public override string ToString() =>
        $"Conv2d({InChannels} -> {OutChannels}, k={KernelSize}, s={Stride}, p={Padding}{(Bias is null ? ", bias=false" : "")})";
}
