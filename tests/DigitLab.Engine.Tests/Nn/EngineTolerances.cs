// EngineTolerances: every tolerance the kernel and layer tests use, in one place, with the reason for each.
namespace DigitLab.Tests;

internal static class EngineTolerances
{
    // Fast element-wise kernels (ReLU/Sigmoid/Tanh/softmax) against double-precision references:
    // a few float32 ulps (2^-23 ≈ 1.2e-7 relative) for TensorPrimitives' Exp/Tanh approximations.
    public const double ElementwiseRelative = 4e-6;
    public const double ElementwiseAbsolute = 1e-7;

    // Kernels that sum up to a few hundred float32 products in a different order than the reference
    // (convolution, pooling, batch norm): values are O(1..10), so 1e-4 is ~1e-5 of them.
    public const double SumRelative = 1e-5;
    public const double SumAbsolute = 1e-4;
    // Weight gradients summed over ~12k float32 terms with partial sums ~40 (the multi-group
    // convolution test): rounding walks ~40·6e-8·√12k ≈ 3e-4; the values are O(1..40).
    public const double LongSumAbsolute = 1e-3;

    // Finite differences: the step, in float32, on inputs of magnitude O(1). Small enough that
    // batch norm over a handful of values (large second derivatives) stays in its linear range.
    public const float GradStep = 2e-3f;
    // Central differences with step 2e-3 have truncation error ~1e-6 times the third derivative,
    // and float32 forward noise ~1e-6/4e-3 = 2.5e-4 on the loss sum(w*y); the gradients checked are O(0.1..3).
    public const double GradRelative = 1e-2;
    public const double GradAbsolute = 1e-3;
    // Loss gradients are (p − q)/N, O(0.01..0.2), so their absolute floor is smaller.
    public const double LossGradAbsolute = 2e-4;
    // One-sided differences that disagree by more than this may mean the step crossed a kink
    // (ReLU at 0, a max-pool tie); GradCheck then halves the step to tell a kink from curvature.
    // An element with a kink within half a step is skipped; at most MaxKinkFraction may be.
    public const double KinkJump = 0.05;
    public const double MaxKinkFraction = 0.1;
}
