// ModelRunner: the one place where robustness, explanations and number reading call a model (forward, backward, eval mode), so an engine API change is adapted here alone.
using DigitLab.Data;
using DigitLab.Nn;
using DigitLab.Runtime;
using DigitLab.Tensors;
using DigitLab.Training;

namespace DigitLab.Evaluation;

/// <summary>
/// A trained model and its input normalisation, used for inference only: evaluation over a labelled set, class
/// probabilities, and the gradient of one class score (a logit) with respect to the input or to an inner layer's output.
/// </summary>
/// <remarks>
/// Every forward and backward pass of the Evaluation code goes through this class, in evaluation mode, each call in an
/// evaluation workspace of its own on <see cref="Compute"/>. Backward passes also accumulate into the parameters'
/// gradient buffers, which inference never reads; so gradients (saliency) want a model no one trains meanwhile.
/// </remarks>
public sealed class ModelRunner(Module model, Normalization normalization, ComputeContext compute)
{
    public Module Model { get; } = model;
    public Normalization Normalization { get; } = normalization;
    public ComputeContext Compute { get; } = compute;

    /// <summary>Accuracy, loss, confusion and mistakes on <paramref name="data"/>.</summary>
    public EvaluationResult Evaluate(MnistDataset data) => Evaluator.Evaluate(Model, data, Normalization, Compute, collectMisclassified: true);

    /// <summary>The ten probabilities for 784 pixel bytes (MNIST polarity: ink 255).</summary>
    public float[] Probabilities(ReadOnlySpan<byte> image784) => Predictor.Probabilities(Model, image784, Normalization, NewWorkspace());

    /// <summary>Probabilities for many images at once: (n, 784) bytes -> n rows of 10.</summary>
    public float[][] ProbabilitiesBatch(IReadOnlyList<byte[]> images)
    {
        if (images.Count == 0) return [];
        var input = new Tensor(images.Count, 1, MnistDataset.Rows, MnistDataset.Cols);
        for (int i = 0; i < images.Count; i++) Normalization.Apply(images[i], input.Span.Slice(i * MnistDataset.Pixels, MnistDataset.Pixels));
        var logits = Model.Forward(input, NewWorkspace()).ReadOnlySpan.ToArray();   // (n, 10)
        int k = logits.Length / images.Count;
        return Enumerable.Range(0, images.Count).Select(i => Predictor.Softmax(logits.AsSpan(i * k, k))).ToArray();
    }

    /// <summary>
    /// Logits of a batch of already-normalised inputs (N, 1, 28, 28) -> (N, classes), and, when <paramref name="classIndex"/>
    /// is given, d logit[classIndex] / d input for every row (same shape as the input).
    /// </summary>
    public (float[] Logits, float[]? InputGradient) LogitsAndGradient(Tensor input, int? classIndex)
    {
        var workspace = NewWorkspace();
        var output = Model.Forward(input, workspace);                               // (N, classes)
        var logits = output.ReadOnlySpan.ToArray();
        if (classIndex is not int k) return (logits, null);
        var seed = OneHot(output.Shape, k);
        var grad = Model.Backward(seed, workspace).ReadOnlySpan.ToArray();          // (N, 1, 28, 28)
        return (logits, grad);
    }

    /// <summary>
    /// For a model built as a <see cref="Sequential"/>: the output of layer <paramref name="layer"/> (an inner activation,
    /// e.g. (1, C, H, W)) for one input, and d logit[classIndex] / d that activation (same shape), plus the logits.
    /// </summary>
    public (Tensor Activation, Tensor Gradient, float[] Logits) LayerGradient(Tensor input, int layer, int classIndex)
    {
        if (Model is not Sequential seq) throw new ArgumentException($"This needs a model built as a sequence of layers; {Model.GetType().Name} is not.");
        var workspace = NewWorkspace();
        var x = input;
        for (int i = 0; i <= layer; i++) x = seq[i].Forward(x, workspace);
        var activation = x.Clone();
        for (int i = layer + 1; i < seq.Layers.Count; i++) x = seq[i].Forward(x, workspace);
        var logits = x.ReadOnlySpan.ToArray();
        Tensor g = OneHot(x.Shape, classIndex);
        for (int i = seq.Layers.Count - 1; i > layer; i--) g = seq[i].Backward(g, workspace);
        return (activation, g.Clone(), logits);
    }

    private static Tensor OneHot(int[] shape, int classIndex)
    {
        int classes = shape[^1];
        if ((uint)classIndex >= classes) throw new ArgumentException($"Class {classIndex} does not exist: the model has {classes} classes (0..{classes - 1}).");
        var t = new Tensor(shape);
        for (int row = 0; row < t.Length / classes; row++) t.Span[row * classes + classIndex] = 1f;
        return t;
    }

    private Workspace NewWorkspace() => new(Compute, training: false);
}
