// InferenceThreads: how many threads one prepared layer of a single image (or a batch smaller than the thread count) uses.
using DigitLab.Runtime;

namespace DigitLab.Nn.Inference;

/// <summary>
/// The per-layer thread choice of a <see cref="PreparedModel"/> for a single image: a layer whose work (<see cref="Work"/>:
/// multiply-adds over live taps plus the weights it reads) is below the model's split threshold runs on the calling
/// thread alone, on a one-thread context, so no other thread is woken for it; a larger one gets the caller's context and
/// its kernel's own split. Decided from the layer's shape only, never from timing. A batch always gets the caller's context.
/// </summary>
/// <remarks>
/// The answer does not change the output bits: for one image every kernel computes each output value in one fixed order
/// whichever thread, and however many, compute it (tested at 1, 2 and 3 threads and three thresholds). Not so for a batch
/// smaller than the thread count: a one-thread context would put positions of two images in one register tile, where
/// the split route keeps each image's tiles apart, and the sums would round differently.
/// </remarks>
internal static class InferenceThreads
{
    /// <summary>
    /// Default least <see cref="Work"/> of one layer call for a single image to be shared between the threads: 2^20 (about
    /// 10 µs of one core's work at the packed kernel's ~200 GFLOP/s). Below it, handing work to a second thread costs about
    /// what it saves: at two threads, cnn's single image ran 0.08–0.10 ms split layer by layer against 0.056–0.069 ms on one
    /// thread (session 7's profile). `digitlab bench infer --min-split-work N` measures other values.
    /// </summary>
    public const long DefaultMinSplitWork = 1 << 20;

    /// <summary>
    /// Multiply-adds one weight float read per call is counted as: a layer whose weights come from beyond the core's L2 is
    /// paced by reading them (cnn's 3136 → 128 linear layer, 0.4 M multiply-adds over 1.6 MB of weights: 16 µs for a
    /// single image at one thread, where its multiply-adds alone take ~4 µs at 200 GFLOP/s: ~3 multiply-adds per float).
    /// </summary>
    public const int WeightCost = 4;

    /// <summary>A layer call's work: <paramref name="multiplyAdds"/> + <see cref="WeightCost"/> · <paramref name="weightFloats"/>.</summary>
    public static long Work(long multiplyAdds, long weightFloats) => multiplyAdds + WeightCost * weightFloats;

    /// <summary>One-thread contexts, by route choice: their parallel-for runs inline, so one instance serves every caller.</summary>
    private static readonly ComputeContext SerialDirect = new(1, directConvolution: true), SerialGemm = new(1, directConvolution: false);

    /// <summary>
    /// The context a layer call on <paramref name="batch"/> images doing <paramref name="work"/> multiply-adds runs on:
    /// <paramref name="compute"/> itself, or a one-thread context with its route choice when the batch is one image and
    /// <paramref name="work"/> is below <paramref name="minSplitWork"/>.
    /// </summary>
    public static ComputeContext For(ComputeContext compute, int batch, long work, long minSplitWork) =>
        compute.Threads > 1 && batch == 1 && work < minSplitWork
            ? compute.DirectConvolution ? SerialDirect : SerialGemm
            : compute;
}
