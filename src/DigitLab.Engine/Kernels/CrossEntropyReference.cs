// CrossEntropyReference: readable, not fast. The definition the fused CrossEntropy is tested against.
namespace DigitLab.Kernels;

/// <summary>Softmax and label-smoothed cross-entropy written out term by term in double precision.</summary>
public static class CrossEntropyReference
{
    /// <summary>Returns the sum over rows of −Σ_c q_c · log p_c with q = (1 − ε)·onehot + ε/C.</summary>
    public static double Forward(ReadOnlySpan<float> logits, ReadOnlySpan<byte> labels, int classes,
        float labelSmoothing, Span<float> probabilities)
    {
        int rows = CrossEntropy.CheckArguments(logits.Length, labels, classes, labelSmoothing, probabilities.Length);
        double total = 0;
        var logP = new double[classes];
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = Math.Max(max, logits[r * classes + c]);
            double sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp(logits[r * classes + c] - max);
            for (int c = 0; c < classes; c++)
            {
                logP[c] = logits[r * classes + c] - max - Math.Log(sum);
                probabilities[r * classes + c] = (float)Math.Exp(logP[c]);
            }
            for (int c = 0; c < classes; c++)
            {
                double q = (c == labels[r] ? 1.0 - labelSmoothing : 0.0) + labelSmoothing / (double)classes;
                total -= q * logP[c];
            }
        }
        return total;
    }

    /// <summary>dL/dz_c = (p_c − q_c) · scale.</summary>
    public static void Backward(ReadOnlySpan<float> probabilities, ReadOnlySpan<byte> labels, int classes,
        float labelSmoothing, float scale, Span<float> logitsGrad)
    {
        int rows = CrossEntropy.CheckArguments(probabilities.Length, labels, classes, labelSmoothing, logitsGrad.Length);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < classes; c++)
            {
                double q = (c == labels[r] ? 1.0 - labelSmoothing : 0.0) + labelSmoothing / (double)classes;
                logitsGrad[r * classes + c] = (float)((probabilities[r * classes + c] - q) * scale);
            }
    }
}
