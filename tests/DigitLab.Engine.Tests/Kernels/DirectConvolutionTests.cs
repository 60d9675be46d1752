// DirectConvolution (the wide-plane route for stride-1 layers on large planes) against the direct reference loops.
using DigitLab.Kernels;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Tests.Kernels;

/// <summary>Runs at several thread counts; runs its kernels on contexts of those thread counts.</summary>
[Collection(GemmThreadsCollection.Name)]
public class DirectConvolutionTests
{
    // (batch, in, H, W, out, kernel, padding), stride 1: the zoo's layers and odd sizes around them.
    public static IEnumerable<object[]> Geometries() =>
    [
        [3, 32, 24, 24, 32, 5, 0],  // net3 conv2
        [2, 1, 28, 28, 32, 5, 0],   // net3 conv1: one input channel (forward and weight gradient only)
        [2, 32, 14, 14, 64, 3, 1],  // cnn conv2
        [3, 6, 14, 14, 16, 5, 0],   // lenet5 conv2: 6 input channels (the input gradient's block of 8 completed with zeros)
        [2, 4, 10, 9, 8, 5, 2],     // 4 input channels: a block of 8 half filled with zero weights
        [2, 8, 11, 13, 8, 3, 2],    // odd sizes, padding 2 with a 3×3 kernel
        [1, 16, 9, 17, 24, 5, 2],   // "same" 5×5 on a wide odd plane, 24 outputs
        [5, 8, 12, 10, 12, 5, 1],   // 12 outputs: a 5×5 weight gradient in fours, no 8-blocks forward
        [2, 32, 12, 12, 64, 5, 0],  // 5×5 on 12×12 (8×8 outputs): flat forward, input gradient and weight gradient
        [3, 8, 12, 9, 16, 3, 0],    // padding 0, 3×3 on an odd non-square plane: reads left of a row meet the zero columns
        [9, 8, 14, 11, 12, 5, 0],   // padding 0, 7 of 11 columns: the flat weight gradient, groups of 8 images and 1, 70-float dY rows
    ];

    [Theory, MemberData(nameof(Geometries))]
    public void MatchesReferenceAtOneTwoAndThreeThreads(int n, int c, int h, int w, int o, int k, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, 1, p);
        Assert.True(DirectConvolution.SupportsForward(g) || DirectConvolution.SupportsBackward(g, inputGradient: false),
            $"{g} should take the direct route");
        CompareWithReferenceAtOneTwoAndThreeThreads(g, bias: (n + k) % 2 == 1);
    }

    /// <summary><see cref="ConvolutionTests.CompareWithReference"/> with 1, 2 and 3 kernel threads (3: uneven splits).</summary>
    internal static void CompareWithReferenceAtOneTwoAndThreeThreads(ConvGeometry g, bool bias)
    {
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var threads_ = ModuleCalls.UseThreads(threads);
            ConvolutionTests.CompareWithReference(g, bias);
        }
    }

    [Fact]
    public void RoutesAreChosenByGeometry()
    {
        // Large stride-1 planes go direct; strided layers and small planes (resnet's 7×7 and below) do not.
        Assert.True(DirectConvolution.SupportsForward(new ConvGeometry(64, 32, 24, 24, 32, 5, 1, 0)));
        Assert.True(DirectConvolution.SupportsBackward(new ConvGeometry(64, 32, 24, 24, 32, 5, 1, 0), inputGradient: true));
        Assert.False(DirectConvolution.SupportsForward(new ConvGeometry(64, 1, 28, 28, 64, 7, 2, 3)));
        Assert.False(DirectConvolution.SupportsForward(new ConvGeometry(64, 64, 7, 7, 64, 3, 1, 1)));
        Assert.True(DirectConvolution.SupportsBackward(new ConvGeometry(64, 6, 14, 14, 16, 5, 1, 0), inputGradient: true));
        Assert.True(DirectConvolution.SupportsBackward(new ConvGeometry(64, 6, 14, 14, 16, 5, 1, 0), inputGradient: false));
        // 12 input channels (fast's second layer) keep the GEMM for their input gradient.
        Assert.False(DirectConvolution.SupportsBackward(new ConvGeometry(64, 12, 14, 14, 24, 3, 1, 1), inputGradient: true));
        // A one-channel layer's input gradient would fill 1 row of a block of 8: it stays on the GEMM.
        Assert.False(DirectConvolution.SupportsBackward(new ConvGeometry(64, 1, 28, 28, 32, 5, 1, 0), inputGradient: true));
        // Too few taps (a one-channel 3×3 first layer) stay on the GEMM both ways.
        Assert.False(DirectConvolution.SupportsForward(new ConvGeometry(64, 1, 28, 28, 32, 3, 1, 1)));
        Assert.False(DirectConvolution.SupportsBackward(new ConvGeometry(64, 1, 28, 28, 32, 3, 1, 1), inputGradient: false));
    }

    [Fact]
    public void ResultsAreIdenticalForTheSameThreadCount() => AssertRepeatable(new ConvGeometry(6, 8, 16, 16, 16, 3, 1, 1), seed: 3);

    /// <summary>Two runs of forward + backward at 2 threads, each from a workspace full of NaN, give the same bits.</summary>
    internal static void AssertRepeatable(ConvGeometry g, ulong seed)
    {
        var rng = new Rng(seed);
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var dy = TestUtil.RandomArray(rng, g.OutputLength);
        float[] Run()
        {
            var ws = new float[Convolution.WorkspaceLength(ModuleCalls.Compute, g)];
            Array.Fill(ws, float.NaN); // nothing may depend on what the workspace held
            var y = new float[g.OutputLength];
            var dw = new float[g.WeightLength];
            var dx = new float[g.InputLength];
            Convolution.Forward(ModuleCalls.Compute, g, x, weight, null, y, ws);
            Convolution.Backward(ModuleCalls.Compute, g, x, weight, dy, dx, dw, null, ws, columnsReady: false);
            return [.. y, .. dw, .. dx];
        }
        using var threads_ = ModuleCalls.UseThreads(2);
        Assert.Equal(Run(), Run());
    }
}

/// <summary>ChannelLaneConvolution (small planes, output channels in the lanes); runs its kernels on contexts of those thread counts.</summary>
[Collection(GemmThreadsCollection.Name)]
public class ChannelLaneConvolutionTests
{
    // (batch, in, H, W, out, kernel, stride, padding): the zoo's small-plane layers, odd batches (tiles of six
    // images with a remainder), strides, taps that only ever meet padding (1×1 and 2×2 planes).
    public static IEnumerable<object[]> Geometries() =>
    [
        [7, 32, 10, 10, 64, 5, 1, 0],  // net3 conv3
        [7, 64, 7, 7, 64, 3, 1, 1],    // resnet18 layer1
        [8, 64, 7, 7, 128, 3, 2, 1],   // resnet18 layer2.0 conv1: stride 2
        [6, 32, 2, 2, 32, 3, 1, 1],    // 2×2 planes: each output meets 4 of the 9 taps
        [13, 64, 1, 1, 64, 3, 1, 1],   // 1×1 planes: only the centre tap; 13 images = two tiles of six and one
        [9, 32, 4, 4, 64, 1, 2, 0],    // a 1×1 projection shortcut, stride 2: input positions no tap reaches
        [7, 32, 2, 2, 32, 3, 2, 1],    // 2×2 → 1×1, stride 2
        [6, 32, 9, 8, 32, 4, 3, 2],    // stride 3, an even kernel, padding 2
        [6, 8, 6, 6, 32, 3, 1, 1],     // 8 input channels: forward and weight gradient here, input gradient batched
        [6, 38, 5, 3, 96, 3, 1, 2],    // odd sizes: 38 input channels (six-channel tiles with a remainder), 96 outputs in 32-chunks
    ];

    [Theory, MemberData(nameof(Geometries))]
    public void MatchesReferenceAtOneTwoAndThreeThreads(int n, int c, int h, int w, int o, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, s, p);
        Assert.True(ChannelLaneConvolution.SupportsForward(g), $"{g} should take the channel-lane route");
        DirectConvolutionTests.CompareWithReferenceAtOneTwoAndThreeThreads(g, bias: (n + k) % 2 == 1);
    }

    [Fact]
    public void FewerImagesThanATileTakeTheGemm()
    {
        // One image would be computed six times over in a tile of six: a single prediction goes to im2col + GEMM.
        Assert.False(ChannelLaneConvolution.SupportsForward(new ConvGeometry(1, 64, 7, 7, 64, 3, 1, 1)));
        Assert.True(ChannelLaneConvolution.SupportsForward(new ConvGeometry(6, 64, 7, 7, 64, 3, 1, 1)));
        ConvolutionTests.CompareWithReference(new ConvGeometry(1, 64, 7, 7, 64, 3, 1, 1), bias: false);
    }

    [Fact]
    public void ResultsAreIdenticalForTheSameThreadCount() =>
        DirectConvolutionTests.AssertRepeatable(new ConvGeometry(9, 32, 4, 4, 64, 3, 1, 1), seed: 4);
}
