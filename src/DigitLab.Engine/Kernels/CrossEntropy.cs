// CrossEntropy: fast fused softmax + cross-entropy with label smoothing. Reference: CrossEntropyReference.
using System.Numerics.Tensors;

namespace DigitLab.Kernels;

/// <summary>
/// Softmax over each row of (N, C) logits fused with the cross-entropy against integer labels.
/// With label smoothing ε the target is q = (1 − ε)·onehot(label) + ε / C, exactly as PyTorch's
/// <c>CrossEntropyLoss(label_smoothing=ε)</c>; the loss of a row is −Σ_c q_c · log softmax(z)_c.
/// </summary>
public static class CrossEntropy
{
    /// <summary>
    /// Writes softmax(logits) into <paramref name="probabilities"/> (N, C) and returns the <em>sum</em>
    /// of the N row losses (divide by N for PyTorch's mean reduction).
    /// </summary>
    public static double Forward(ReadOnlySpan<float> logits, ReadOnlySpan<byte> labels, int classes,
        float labelSmoothing, Span<float> probabilities)
    {
        int rows = CheckArguments(logits.Length, labels, classes, labelSmoothing, probabilities.Length);
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            var z = logits.Slice(r * classes, classes);
            var p = probabilities.Slice(r * classes, classes);
            float max = TensorPrimitives.Max(z);
            TensorPrimitives.Subtract(z, max, p);
            TensorPrimitives.Exp(p, p);
            float sum = TensorPrimitives.Sum(p);
            TensorPrimitives.Multiply(p, 1f / sum, p);
            // loss = logsumexp(z) − Σ q_c z_c, with logsumexp = max + log(sum).
            double logSumExp = max + Math.Log(sum);
            double target = (1.0 - labelSmoothing) * z[labels[r]];
            if (labelSmoothing != 0f) target += labelSmoothing / (double)classes * TensorPrimitives.Sum(z);
            total += logSumExp - target;
        }
        return total;
    }

    /// <summary>
    /// dL/dlogits = (p − q) · <paramref name="scale"/> (scale = 1/N for the mean loss), overwriting
    /// <paramref name="logitsGrad"/> (N, C).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> probabilities, ReadOnlySpan<byte> labels, int classes,
        float labelSmoothing, float scale, Span<float> logitsGrad)
    {
        int rows = CheckArguments(probabilities.Length, labels, classes, labelSmoothing, logitsGrad.Length);
        float off = labelSmoothing / classes * scale;
        float on = (1f - labelSmoothing) * scale;
        for (int r = 0; r < rows; r++)
        {
            var g = logitsGrad.Slice(r * classes, classes);
            TensorPrimitives.Multiply(probabilities.Slice(r * classes, classes), scale, g);
            if (off != 0f) TensorPrimitives.Subtract(g, off, g);
            g[labels[r]] -= on;
        }
    }

    internal static int CheckArguments(int logitsLength, ReadOnlySpan<byte> labels, int classes, float labelSmoothing, int outLength)
    {
        if (classes <= 0) throw new ArgumentOutOfRangeException(nameof(classes), classes, "The number of classes must be positive.");
        if (labelSmoothing < 0f || labelSmoothing > 1f)
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing must be in [0, 1].");
        if (logitsLength % classes != 0)
            throw new ArgumentException($"Logits of length {logitsLength} are not a whole number of rows of {classes} classes.");
        int rows = logitsLength / classes;
        if (labels.Length != rows)
            throw new ArgumentException($"Cross-entropy needs one label per row: {rows} rows of logits, found {labels.Length} labels.");
        if (outLength != logitsLength)
            throw new ArgumentException($"Cross-entropy output must have the logits' length {logitsLength}, found {outLength}.");
        foreach (byte label in labels)
            if (label >= classes)
                throw new ArgumentException($"Label {label} is out of range for {classes} classes (expected 0..{classes - 1}).");
        return rows;
    }
}
