// Saliency: what the model looked at: gradient × input, integrated gradients, occlusion sensitivity and Grad-CAM, each a 28×28 map for one image and one class.
using DigitLab.Data;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

/// <summary>The saliency methods of <c>digitlab explain</c>.</summary>
public enum SaliencyMethod { GradientTimesInput, IntegratedGradients, Occlusion, GradCam }

/// <summary>A saliency map for one image and class.</summary>
/// <param name="Map">784 values, row-major 28×28; positive = evidence for the class (Grad-CAM: ≥ 0 only).</param>
/// <param name="ClassIndex">The class explained.</param>
/// <param name="Probabilities">The model's probabilities for the clean image.</param>
/// <param name="Settings">The method's settings, stated ("steps 64, baseline black").</param>
public sealed record SaliencyMap(SaliencyMethod Method, float[] Map, int ClassIndex, float[] Probabilities, string Settings);

/// <summary>
/// Saliency over pixels in [0, 1] (ink = 1), so attributions are per pixel value and a black image is the natural
/// baseline. Class scores are logits (pre-softmax), as in the integrated-gradients and Grad-CAM papers; occlusion uses
/// the class probability. All model calls go through <see cref="ModelRunner"/>.
/// </summary>
public static class Saliency
{
    private const int P = MnistDataset.Pixels, Side = MnistDataset.Rows;

    /// <summary>Integrated gradients' default number of steps (midpoint Riemann sum from the baseline to the image).</summary>
    public const int DefaultSteps = 64;

    /// <summary>Occlusion's default square patch side and stride (pixels); the patch is filled with the background (0).</summary>
    public const int DefaultPatch = 4, DefaultStride = 1;

    /// <summary>Runs <paramref name="method"/> for <paramref name="pixels"/> (784 values in [0, 1]); <paramref name="classIndex"/> null = the predicted class.</summary>
    public static SaliencyMap Explain(ModelRunner runner, ReadOnlySpan<float> pixels, SaliencyMethod method, int? classIndex = null,
        int steps = DefaultSteps, int patch = DefaultPatch, int stride = DefaultStride)
    {
        var image = pixels.ToArray();
        var logits = Logits(runner, [image]);
        var probabilities = Predictor.Softmax(logits.AsSpan(0, logits.Length));
        int k = classIndex ?? Metrics.ArgMax(probabilities);
        if ((uint)k >= probabilities.Length) throw new ArgumentException($"--class {k} does not exist: the model has {probabilities.Length} classes (0..{probabilities.Length - 1}).");
        return method switch
        {
            SaliencyMethod.GradientTimesInput => new(method, GradientTimesInput(runner, image, k), k, probabilities, "baseline black (gradient × (pixel − 0))"),
            SaliencyMethod.IntegratedGradients => new(method, IntegratedGradients(runner, image, new float[P], k, steps), k, probabilities, $"steps {steps} (midpoint rule), baseline black"),
            SaliencyMethod.Occlusion => new(method, Occlusion(runner, image, k, patch, stride), k, probabilities, $"patch {patch}×{patch}, stride {stride}, filled with 0; drop in class probability"),
            SaliencyMethod.GradCam => new(method, GradCam(runner, image, k, out string layer), k, probabilities, $"layer {layer}, upsampled bilinearly to 28×28"),
            _ => throw new ArgumentOutOfRangeException(nameof(method)),
        };
    }

    /// <summary>d logit[k] / d pixel for each image in <paramref name="images"/> (pixels in [0, 1]), in one batch.</summary>
    public static float[] PixelGradient(ModelRunner runner, IReadOnlyList<float[]> images, int k, out float[] logits)
    {
        var input = Input(runner, images);
        var (l, grad) = runner.LogitsAndGradient(input, k);
        logits = l;
        // The model sees (p − mean) / std, so d/dp = d/dx / std.
        float scale = 1f / runner.Normalization.Std;
        for (int i = 0; i < grad!.Length; i++) grad[i] *= scale;
        return grad;
    }

    /// <summary>pixel × d logit[k] / d pixel: the first-order share of each pixel in the class score relative to a black image.</summary>
    public static float[] GradientTimesInput(ModelRunner runner, float[] image, int k)
    {
        var g = PixelGradient(runner, [image], k, out _);
        for (int i = 0; i < P; i++) g[i] *= image[i];
        return g;
    }

    /// <summary>
    /// Integrated gradients (Sundararajan et al. 2017): (x − baseline) × the mean gradient along the straight path, by the
    /// midpoint rule with <paramref name="steps"/> points. The attributions sum to about logit(x) − logit(baseline).
    /// </summary>
    public static float[] IntegratedGradients(ModelRunner runner, float[] image, float[] baseline, int k, int steps)
    {
        if (steps < 1) throw new ArgumentException($"Integrated gradients needs at least 1 step, found {steps}.");
        var path = new List<float[]>(steps);
        for (int s = 0; s < steps; s++)
        {
            float alpha = (s + 0.5f) / steps;
            var point = new float[P];
            for (int i = 0; i < P; i++) point[i] = baseline[i] + alpha * (image[i] - baseline[i]);
            path.Add(point);
        }
        var grads = PixelGradient(runner, path, k, out _);               // (steps, 784)
        var map = new float[P];
        for (int i = 0; i < P; i++)
        {
            double sum = 0;
            for (int s = 0; s < steps; s++) sum += grads[s * P + i];
            map[i] = (float)((image[i] - baseline[i]) * sum / steps);
        }
        return map;
    }

    /// <summary>
    /// Occlusion sensitivity (Zeiler &amp; Fergus 2014): slide a <paramref name="patch"/>² square of background over the image;
    /// each pixel gets the mean drop in the class probability over the placements that cover it.
    /// </summary>
    public static float[] Occlusion(ModelRunner runner, float[] image, int k, int patch, int stride)
    {
        if (patch < 1 || patch > Side || stride < 1) throw new ArgumentException($"Occlusion needs 1 ≤ patch ≤ {Side} and stride ≥ 1, found patch {patch}, stride {stride}.");
        var clean = Predictor.Softmax(Logits(runner, [image]))[k];
        var positions = new List<(int R, int C)>();
        for (int r = 0; r + patch <= Side; r += stride)
            for (int c = 0; c + patch <= Side; c += stride) positions.Add((r, c));
        var occluded = positions.Select(pos =>
        {
            var copy = (float[])image.Clone();
            for (int r = pos.R; r < pos.R + patch; r++)
                for (int c = pos.C; c < pos.C + patch; c++) copy[r * Side + c] = 0;
            return copy;
        }).ToList();
        var sum = new double[P];
        var count = new int[P];
        const int batch = 256;                                            // bounds the activation memory of large models
        for (int start = 0; start < occluded.Count; start += batch)
        {
            var chunk = occluded.GetRange(start, Math.Min(batch, occluded.Count - start));
            var logits = Logits(runner, chunk);
            int classes = logits.Length / chunk.Count;
            for (int j = 0; j < chunk.Count; j++)
            {
                float drop = clean - Predictor.Softmax(logits.AsSpan(j * classes, classes))[k];
                var (pr, pc) = positions[start + j];
                for (int r = pr; r < pr + patch; r++)
                    for (int c = pc; c < pc + patch; c++) { sum[r * Side + c] += drop; count[r * Side + c]++; }
            }
        }
        return sum.Select((s, i) => count[i] > 0 ? (float)(s / count[i]) : 0f).ToArray();
    }

    /// <summary>
    /// Grad-CAM (Selvaraju et al. 2017) on the last convolution block (the last Conv2d and the batch norm / activation
    /// layers right after it, before any pooling): ReLU(Σ_c mean(∂logit/∂A_c) · A_c), upsampled to 28×28.
    /// </summary>
    /// <exception cref="ArgumentException">The model is not a sequence of layers with a Conv2d (mlp; resnet18's residual blocks).</exception>
    public static float[] GradCam(ModelRunner runner, float[] image, int k, out string layerName)
    {
        int layer = LastConvolutionBlock(runner.Model, out layerName);
        var (a, g, _) = runner.LayerGradient(Input(runner, [image]), layer, k);   // (1, C, H, W) each
        int channels = a.Shape[1], h = a.Shape[2], w = a.Shape[3], hw = h * w;
        var cam = new float[hw];
        for (int c = 0; c < channels; c++)
        {
            double alpha = 0;
            for (int i = 0; i < hw; i++) alpha += g.Data[c * hw + i];
            alpha /= hw;
            for (int i = 0; i < hw; i++) cam[i] += (float)(alpha * a.Data[c * hw + i]);
        }
        for (int i = 0; i < hw; i++) cam[i] = Math.Max(0, cam[i]);
        return Upsample(cam, h, w);
    }

    /// <summary>Index of the last layer of the last convolution block of a <see cref="Sequential"/> model.</summary>
    public static int LastConvolutionBlock(Module model, out string name)
    {
        if (model is not Sequential seq)
            throw new ArgumentException($"Grad-CAM needs a model built as a sequence of layers with a convolution; {model.GetType().Name} is not (use gradxinput, integrated-gradients or occlusion).");
        int conv = -1;
        for (int i = 0; i < seq.Layers.Count; i++) if (seq[i] is Conv2d) conv = i;
        if (conv < 0) throw new ArgumentException("Grad-CAM needs a convolutional model; this one has no Conv2d layer (use gradxinput, integrated-gradients or occlusion).");
        int last = conv;
        while (last + 1 < seq.Layers.Count && seq[last + 1] is BatchNorm2d or ReLU or Tanh or Sigmoid) last++;
        name = seq.Children().ElementAt(last).Name;
        return last;
    }

    /// <summary>Bilinear up-sampling of an h×w map to 28×28, pixel centres aligned.</summary>
    public static float[] Upsample(float[] map, int h, int w)
    {
        var y = new float[P];
        for (int r = 0; r < Side; r++)
            for (int c = 0; c < Side; c++)
            {
                double sr = Math.Clamp((r + 0.5) * h / Side - 0.5, 0, h - 1), sc = Math.Clamp((c + 0.5) * w / Side - 0.5, 0, w - 1);
                int r0 = (int)sr, c0 = (int)sc, r1 = Math.Min(r0 + 1, h - 1), c1 = Math.Min(c0 + 1, w - 1);
                double fr = sr - r0, fc = sc - c0;
                y[r * Side + c] = (float)((1 - fr) * ((1 - fc) * map[r0 * w + c0] + fc * map[r0 * w + c1]) + fr * ((1 - fc) * map[r1 * w + c0] + fc * map[r1 * w + c1]));
            }
        return y;
    }

    /// <summary>The logits of images given as pixels in [0, 1]: (n, classes) flattened.</summary>
    public static float[] Logits(ModelRunner runner, IReadOnlyList<float[]> images) => runner.LogitsAndGradient(Input(runner, images), null).Logits;

    private static Tensor Input(ModelRunner runner, IReadOnlyList<float[]> images)
    {
        var t = new Tensor(images.Count, 1, Side, Side);
        for (int n = 0; n < images.Count; n++)
        {
            if (images[n].Length != P) throw new ArgumentException($"Saliency works on {P} pixels (28x28), found {images[n].Length}.");
            var dst = t.Span.Slice(n * P, P);
            images[n].CopyTo(dst);
            runner.Normalization.ApplyInPlace(dst);
        }
        return t;
    }
}
