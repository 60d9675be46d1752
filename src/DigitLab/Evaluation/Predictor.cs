// Predictor: the ten class probabilities for one image.
using DigitLab.Data;
using DigitLab.Nn;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

public static class Predictor
{
    /// <summary>
    /// Class probabilities (softmax of the logits) for one normalised 28x28 image (784 floats, row-major), computed in
    /// <paramref name="workspace"/> (an evaluation workspace of the caller's: the model is only read, so callers with
    /// their own workspaces may share it).
    /// </summary>
    public static float[] Probabilities(Module model, ReadOnlySpan<float> normalizedImage784, Workspace workspace)
    {
        if (normalizedImage784.Length != MnistDataset.Pixels)
            throw new ArgumentException($"An image for prediction has {MnistDataset.Pixels} values (28x28), found {normalizedImage784.Length}.");
        if (workspace.Training)
            throw new ArgumentException("Prediction runs in evaluation mode: pass a workspace created with training: false.", nameof(workspace));
        var input = new Tensor(1, 1, MnistDataset.Rows, MnistDataset.Cols);
        normalizedImage784.CopyTo(input.Span);
        var logits = model.Forward(input, workspace).ReadOnlySpan;          // (1, 10)
        return FiniteCheck.Probabilities(Softmax(logits)); // no answer carries NaN
    }

    /// <summary>As above, in a fresh evaluation workspace on <paramref name="compute"/> (one-off predictions).</summary>
    public static float[] Probabilities(Module model, ReadOnlySpan<float> normalizedImage784, ComputeContext compute) =>
        Probabilities(model, normalizedImage784, new Workspace(compute, training: false));

    /// <summary>Probabilities for 784 raw pixels (0 = background, 255 = ink, as in MNIST), normalised with <paramref name="normalization"/>.</summary>
    public static float[] Probabilities(Module model, ReadOnlySpan<byte> image784, Normalization normalization, Workspace workspace)
    {
        var x = new float[MnistDataset.Pixels];
        normalization.Apply(image784, x);
        return Probabilities(model, x, workspace);
    }

    /// <summary>
    /// Probabilities for a PNG or PGM file of one digit, any size and polarity, preprocessed as MNIST was
    /// (<see cref="Preprocess.ToMnist(string)"/>: bounding box into 20x20, centred by mass in 28x28).
    /// </summary>
    /// <exception cref="EmptyImageException">Nothing is drawn in the image.</exception>
    public static float[] ProbabilitiesForImageFile(Module model, string path, Normalization normalization, ComputeContext compute) =>
        Probabilities(model, Preprocess.ToMnist(path), normalization, new Workspace(compute, training: false));

    /// <summary>Numerically stable softmax in double precision.</summary>
    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) max = Math.Max(max, v);
        var e = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += e[i] = Math.Exp(logits[i] - max);
        var p = new float[logits.Length];
        for (int i = 0; i < p.Length; i++) p[i] = (float)(e[i] / sum);
        return p;
    }
}
