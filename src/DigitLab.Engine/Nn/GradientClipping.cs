// GradientClipping: rescale all gradients together when their joint norm is too large (clip_grad_norm_).
using System.Numerics.Tensors;

namespace DigitLab.Nn;

/// <summary>Gradient clipping with torch.nn.utils.clip_grad_norm_ semantics (2-norm).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Computes the 2-norm of all gradients taken together and, when it exceeds <paramref name="maxNorm"/>,
    /// scales every gradient by maxNorm / (norm + 1e-6). Returns the norm before clipping.
    /// </summary>
    /// <remarks>
    /// As PyTorch: the factor is min(1, maxNorm / (norm + 1e-6)), so gradients are left exactly as they
    /// are whenever it is 1. Each tensor's norm is summed in double here (PyTorch uses float), so the
    /// returned norm can differ from PyTorch's in the last float digit. A non-finite norm throws, as
    /// PyTorch does with error_if_nonfinite.
    /// </remarks>
    public static double ClipByNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0 && double.IsFinite(maxNorm)))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be a finite number > 0.");
        var list = parameters as IReadOnlyList<Parameter> ?? parameters.ToList();
        double sumSquares = 0;
        foreach (var p in list) sumSquares += SumOfSquares(p.Grad.ReadOnlySpan);
        double total = Math.Sqrt(sumSquares);
        if (!double.IsFinite(total))
            throw new ArithmeticException($"The gradients' total norm is {total}; training has diverged (lower the learning rate, or check the inputs for NaN).");
        // In float, as PyTorch computes it from its float32 norm tensor.
        float coefficient = (float)maxNorm / ((float)total + 1e-6f);
        if (coefficient < 1f)
            foreach (var p in list) TensorPrimitives.Multiply(p.Grad.ReadOnlySpan, coefficient, p.Grad.Span);
        return total;
    }

    /// <summary>Σ x² accumulated in double, four independent sums so the loop pipelines.</summary>
    internal static double SumOfSquares(ReadOnlySpan<float> x)
    {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i <= x.Length - 4; i += 4)
        {
            s0 += (double)x[i] * x[i];
            s1 += (double)x[i + 1] * x[i + 1];
            s2 += (double)x[i + 2] * x[i + 2];
            s3 += (double)x[i + 3] * x[i + 3];
        }
        for (; i < x.Length; i++) s0 += (double)x[i] * x[i];
        return (s0 + s1) + (s2 + s3);
    }
}
