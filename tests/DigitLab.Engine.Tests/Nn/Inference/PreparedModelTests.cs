// PreparedModel against the plain eval pass on every zoo model, with random batch-norm statistics so folding is exercised.
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Nn.Inference;
using DigitLab.Runtime;
using DigitLab.Tensors;
using Xunit.Abstractions;

namespace DigitLab.Tests.Nn.Inference;

public class PreparedModelTests(ITestOutputHelper output)
{
    /// <summary>
    /// Largest allowed |p_prepared − p_plain| over every class probability of every image. Folding rounds the weights
    /// once (W·s in float) and sums the same products in another order; measured at most 3e-8 over the zoo (printed),
    /// while leaving the variance out of the fold moves them by more than 1e-3.
    /// </summary>
    private const double ProbabilityTolerance = 1e-6;

    public static TheoryData<string> ZooModels() => [.. ModelZoo.Names];

    /// <summary>A zoo model with random batch-norm running statistics and affine parameters (folding is the identity otherwise).</summary>
    private static Module RandomisedModel(string name)
    {
        var model = ModelZoo.Create(name, seed: 7);
        var rng = new Rng(11);
        foreach (var (_, module) in Walk(model))
            if (module is BatchNorm bn)
                for (int c = 0; c < bn.Features; c++)
                {
                    bn.RunningMean.Data[c] = rng.Uniform(-0.5f, 0.5f);
                    bn.RunningVar.Data[c] = rng.Uniform(0.3f, 2.5f);
                    bn.Weight.Value.Data[c] = rng.Uniform(0.5f, 1.5f);
                    bn.Bias.Value.Data[c] = rng.Uniform(-0.5f, 0.5f);
                }
        return model;
    }

    private static IEnumerable<(string, Module)> Walk(Module module)
    {
        yield return ("", module);
        foreach (var (name, child) in module.Children())
            foreach (var item in Walk(child)) yield return item;
    }

    private static Tensor Images(int n) => TestUtil.Random(new Rng(5), 0f, 1f, n, 1, 28, 28);

    private static float[] Probabilities(Tensor logits)
    {
        int n = logits.Shape[0], k = logits.Shape[1];
        var p = new float[n * k];
        for (int i = 0; i < n; i++)
            System.Numerics.Tensors.TensorPrimitives.SoftMax(logits.ReadOnlySpan.Slice(i * k, k), p.AsSpan(i * k, k));
        return p;
    }

    private static int ArgMax(ReadOnlySpan<float> row) => System.Numerics.Tensors.TensorPrimitives.IndexOfMax(row);

    [Theory]
    [MemberData(nameof(ZooModels))]
    public void PreparedModelMatchesThePlainEvalPass(string name)
    {
        var model = RandomisedModel(name);
        var prepared = PreparedModel.Prepare(model);
        // Batch 1 takes the split-by-output-channel route, batch 8 the batched kernels (channel lanes from 6 images).
        foreach (int n in new[] { 1, 8 })
        {
            var images = Images(n);
            var plain = Probabilities(model.Forward(images, ModuleCalls.NewEvaluationWorkspace()));
            var fast = Probabilities(prepared.Forward(images, ModuleCalls.NewEvaluationWorkspace()));
            double worst = 0;
            for (int i = 0; i < plain.Length; i++) worst = Math.Max(worst, Math.Abs(plain[i] - fast[i]));
            output.WriteLine($"{name} batch {n}: largest probability difference {worst:E2} (tolerance {ProbabilityTolerance:E0}); {prepared}");
            Assert.True(worst <= ProbabilityTolerance, $"{name} batch {n}: probabilities differ by {worst:E3} > {ProbabilityTolerance:E0}.");
            for (int i = 0; i < n; i++)
                Assert.Equal(ArgMax(plain.AsSpan(i * 10, 10)), ArgMax(fast.AsSpan(i * 10, 10)));
        }
    }

    /// <summary>
    /// The same on a context without direct routes: the prepared layers fall back to im2col + GEMM with the bias, ReLU
    /// and residual sum as passes of their own (the route machines without AVX-512 take).
    /// </summary>
    [Theory]
    [InlineData("resnet18")]
    [InlineData("net3")]
    [InlineData("mlp")]
    public void PreparedModelMatchesThePlainEvalPassWithoutDirectRoutes(string name)
    {
        var model = RandomisedModel(name);
        var prepared = PreparedModel.Prepare(model);
        using var compute = new ComputeContext(2, directConvolution: false);
        foreach (int n in new[] { 1, 8 })
        {
            var images = Images(n);
            var plain = Probabilities(model.Forward(images, ModuleCalls.NewEvaluationWorkspace()));
            var fast = Probabilities(prepared.Forward(images, new Workspace(compute, training: false)));
            double worst = 0;
            for (int i = 0; i < plain.Length; i++) worst = Math.Max(worst, Math.Abs(plain[i] - fast[i]));
            output.WriteLine($"{name} batch {n}, im2col + GEMM: largest probability difference {worst:E2} (tolerance {ProbabilityTolerance:E0})");
            Assert.True(worst <= ProbabilityTolerance, $"{name} batch {n}: probabilities differ by {worst:E3} > {ProbabilityTolerance:E0}.");
        }
    }

    /// <summary>
    /// A batch larger than a group runs the whole network group by group, each thread its own run of the batch (groups of
    /// one image here; 7 images over 3 threads: runs of 2, 2 and 3): every image's probabilities equal the plain eval
    /// pass's as closely as the ungrouped batch's do.
    /// </summary>
    [Theory]
    [InlineData("cnn", 1)]
    [InlineData("cnn", 3)]
    [InlineData("best", 2)]
    public void ALargeBatchRunsInGroupsWithTheSameAnswers(string name, int threads)
    {
        var model = RandomisedModel(name);
        var prepared = PreparedModel.Prepare(model);
        using var compute = new ComputeContext(threads);
        var images = Images(7);
        var plain = Probabilities(model.Forward(images, new Workspace(compute, training: false)));
        prepared.GroupBudget = 1; // one image per thread in a group: groups of `threads` images
        prepared.MinGroupedActivations = 0; // however small the batch
        var grouped = Probabilities(prepared.Forward(images, new Workspace(compute, training: false)));
        double worst = 0;
        for (int i = 0; i < plain.Length; i++) worst = Math.Max(worst, Math.Abs(plain[i] - grouped[i]));
        output.WriteLine($"{name} batch 7 in groups of {threads}: largest probability difference {worst:E2} (tolerance {ProbabilityTolerance:E0})");
        Assert.True(worst <= ProbabilityTolerance, $"{name}: grouped probabilities differ by {worst:E3} > {ProbabilityTolerance:E0}.");
        Assert.Equal(grouped, Probabilities(prepared.Forward(images, new Workspace(compute, training: false)))); // the same bits again
    }

    /// <summary>
    /// A single image gives the same logits, bit for bit, at 1, 2 and 3 threads whichever layers share the threads: every
    /// layer split as far as its kernel allows (threshold 0), none (every layer on the calling thread), and the default rule.
    /// </summary>
    [Theory]
    [MemberData(nameof(ZooModels))]
    public void ASingleImageGivesTheSameBitsWhateverTheThreadSplit(string name)
    {
        var model = RandomisedModel(name);
        var splits = new[] { 0L, InferenceThreads.DefaultMinSplitWork, long.MaxValue };
        var prepared = splits.Select(split => PreparedModel.Prepare(model, split)).ToArray();
        var image = Images(1);
        using var one = new ComputeContext(1);
        var expected = prepared[1].Forward(image, new Workspace(one, training: false)).ReadOnlySpan.ToArray();
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var compute = new ComputeContext(threads);
            for (int s = 0; s < splits.Length; s++)
            {
                var workspace = new Workspace(compute, training: false);
                for (int call = 0; call < 2; call++) // the second call on warm workspace state
                    Assert.True(expected.AsSpan().SequenceEqual(prepared[s].Forward(image, workspace).ReadOnlySpan),
                        $"{name}, {threads} threads, split from {splits[s]} multiply-adds, call {call}: logits differ from one thread's");
            }
        }
    }

    /// <summary>A convolution followed by another convolution knows it (its single-image Winograd split starts lower); one followed by a pool does not.</summary>
    [Fact]
    public void ConvolutionsKnowWhetherAConvolutionReadsTheirOutput()
    {
        static bool[] Feeds(string name) => PreparedModel.Prepare(ModelZoo.Create(name, seed: 1)).Layers(Images(1), new Workspace(new ComputeContext(1), training: false))
            .Select(l => l.Layer).OfType<PreparedConvolution>().Select(c => c.FeedsConvolution).ToArray();
        Assert.Equal([false, true, false, false], Feeds("best"));   // conv1 → pool; conv2 → conv3; conv3 → pool; conv4 → pool
        Assert.Equal([false, false], Feeds("cnn"));                 // each convolution → pool
    }

    [Fact]
    public void OnlySmallLayersOfASingleImageRunOnTheCallingThreadAlone()
    {
        using var two = new ComputeContext(2);
        using var gemm = new ComputeContext(2, directConvolution: false);
        using var one = new ComputeContext(1);
        const long min = 1000;
        Assert.Same(two, InferenceThreads.For(two, 1, min, min));      // at the threshold: split
        var serial = InferenceThreads.For(two, 1, min - 1, min);       // below: one thread, same routes
        Assert.Equal(1, serial.Threads);
        Assert.True(serial.DirectConvolution);
        var serialGemm = InferenceThreads.For(gemm, 1, min - 1, min);
        Assert.Equal(1, serialGemm.Threads);
        Assert.False(serialGemm.DirectConvolution);
        Assert.Same(two, InferenceThreads.For(two, 2, 0, min));        // a batch: its kernels' own split
        Assert.Same(one, InferenceThreads.For(one, 1, 0, min));        // one thread already
    }

    [Fact]
    public void WeightsAreCountedForTheGroupingRule()
    {
        // cnn: conv 1→32 and 32→64 (3×3), linear 3136→128 and 128→10; resnet18's 11 million are past the grouping limit.
        Assert.Equal(32 * 9 + 64 * 32 * 9 + 3136 * 128 + 128 * 10, PreparedModel.Prepare(ModelZoo.Create("cnn", 1)).WeightFloats);
        Assert.True(PreparedModel.Prepare(ModelZoo.Create("resnet18", 1)).WeightFloats > 11_000_000);
    }

    [Fact]
    public void PreparationFoldsEveryBatchNormOfResNetAndRemovesDropout()
    {
        var resnet = PreparedModel.Prepare(ModelZoo.Create("resnet18", 1));
        Assert.Equal(20, resnet.FoldedBatchNorms); // stem + 8 blocks × 2 + 3 downsamples
        Assert.Equal(9, resnet.FusedActivations);  // stem + one per block (the block's last ReLU follows the sum)
        var net3 = PreparedModel.Prepare(ModelZoo.Create("net3", 1));
        Assert.Equal(3, net3.RemovedDropouts);
        Assert.Equal(4, net3.FusedActivations);
    }

    [Fact]
    public void PreparedModelKeepsItsWeightsWhenTheSourceChanges()
    {
        var model = RandomisedModel("fast");
        var prepared = PreparedModel.Prepare(model);
        var images = Images(2);
        var before = prepared.Forward(images, ModuleCalls.NewEvaluationWorkspace()).ReadOnlySpan.ToArray();
        foreach (var p in model.Parameters()) p.Value.Span.Fill(0.5f);
        Assert.Equal(before, prepared.Forward(images, ModuleCalls.NewEvaluationWorkspace()).ReadOnlySpan.ToArray());
    }

    [Fact]
    public void ConcurrentCallersWithTheirOwnWorkspacesGetTheSameAnswer()
    {
        var prepared = PreparedModel.Prepare(RandomisedModel("best"));
        var images = Images(1);
        var expected = prepared.Forward(images, ModuleCalls.NewEvaluationWorkspace()).ReadOnlySpan.ToArray();
        var results = new float[4][];
        Parallel.For(0, 4, i =>
        {
            var ws = ModuleCalls.NewEvaluationWorkspace();
            for (int r = 0; r < 5; r++) results[i] = prepared.Forward(images, ws).ReadOnlySpan.ToArray();
        });
        foreach (var r in results) Assert.Equal(expected, r);
    }

    [Fact]
    public void TrainingWorkspaceIsRefusedWithAMessage()
    {
        var prepared = PreparedModel.Prepare(ModelZoo.Create("mlp", 1));
        var error = Assert.Throws<InvalidOperationException>(() => prepared.Forward(Images(1), new Workspace(ModuleCalls.Compute, training: true)));
        Assert.Contains("training: false", error.Message);
    }
}
