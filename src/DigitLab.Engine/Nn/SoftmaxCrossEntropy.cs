// SoftmaxCrossEntropy: the training loss, softmax fused with cross-entropy, mean over the batch.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.CrossEntropyLoss(label_smoothing=ε)</c> with mean reduction, on logits (N, C)
/// and byte labels (N). <see cref="Forward"/> returns the mean loss and keeps the softmax in
/// <see cref="Probabilities"/>; <see cref="Backward"/> returns dL/dlogits (N, C) for that mean loss.
/// </summary>
public sealed class SoftmaxCrossEntropy
{
    public float LabelSmoothing { get; }

    /// <summary>softmax(logits) of the last Forward, (N, C).</summary>
    public Tensor Probabilities { get; } = new(0);

    private readonly Tensor _logitsGrad = new(0); // (N, C)
    private byte[] _labels = [];                   // (N), copied: Backward needs them after the caller's span is gone
    private int _rows = -1;

    public SoftmaxCrossEntropy(float labelSmoothing = 0)
    {
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "Label smoothing must be in [0, 1] (0 = none, 0.1 is usual).");
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>Mean cross-entropy of <paramref name="logits"/> (N, C) against <paramref name="labels"/> (N values in 0..C−1).</summary>
    public float Forward(Tensor logits, ReadOnlySpan<byte> labels)
    {
        if (logits.Rank != 2)
            throw new ArgumentException($"{this} expects logits of shape (N, classes), found {Tensor.Format(logits.Shape)}.");
        int n = logits.Shape[0], classes = logits.Shape[1];
        if (labels.Length != n)
            throw new ArgumentException($"{this} needs one label per row: logits {Tensor.Format(logits.Shape)}, found {labels.Length} labels.");
        Probabilities.Resize(logits.Shape);
        double sum = CrossEntropy.Forward(logits.ReadOnlySpan, labels, classes, LabelSmoothing, Probabilities.Span);
        if (_labels.Length < n) _labels = new byte[n];
        labels.CopyTo(_labels);
        _rows = n;
        return n == 0 ? 0f : (float)(sum / n);
    }

    /// <summary>dL/dlogits (N, C) of the mean loss of the last <see cref="Forward"/>: (softmax − target) / N.</summary>
    public Tensor Backward()
    {
        if (_rows < 0) throw new InvalidOperationException($"{this}.Backward was called before Forward; compute the loss first.");
        _logitsGrad.Resize(Probabilities.Shape);
        if (_rows > 0)
            CrossEntropy.Backward(Probabilities.ReadOnlySpan, _labels.AsSpan(0, _rows), Probabilities.Shape[1],
                LabelSmoothing, 1f / _rows, _logitsGrad.Span);
        return _logitsGrad;
    }

    public override string ToString() => LabelSmoothing == 0f
        ? "SoftmaxCrossEntropy()"
        : $"SoftmaxCrossEntropy(label_smoothing={LabelSmoothing.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
}
