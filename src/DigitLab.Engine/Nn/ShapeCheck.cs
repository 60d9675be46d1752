// ShapeCheck: the shape errors every layer raises, worded the same way: what was expected, what was found, what to do.
using DigitLab.Tensors;

namespace DigitLab.Nn;

internal static class ShapeCheck
{
    /// <summary>Throws unless <paramref name="shape"/> has <paramref name="rank"/> dimensions.</summary>
    public static void Rank(Module module, int[] shape, int rank, string expected, string hint = "")
    {
        if (shape.Length != rank) Fail(module, shape, expected, hint);
    }

    /// <summary>Throws unless dimension <paramref name="dim"/> of <paramref name="shape"/> equals <paramref name="size"/>.</summary>
    public static void Dim(Module module, int[] shape, int dim, int size, string expected, string hint = "")
    {
        if (shape.Length <= dim || shape[dim] != size) Fail(module, shape, expected, hint);
    }

    public static void Fail(Module module, int[] shape, string expected, string hint = "") =>
        throw new ArgumentException($"{module} expects input of shape {expected}, found {Tensor.Format(shape)}."
            + (hint.Length > 0 ? " " + hint : ""));

    /// <summary>Throws unless the gradient given to Backward has the shape of the last Forward's output.</summary>
    public static void Grad(Module module, Tensor outputGrad, int[] outputShape)
    {
        if (!Tensor.SameShape(outputGrad.Shape, outputShape))
            throw new ArgumentException($"{module}.Backward expects a gradient of the output's shape {Tensor.Format(outputShape)}, "
                + $"found {Tensor.Format(outputGrad.Shape)}. Call Forward first, and pass dL/d(output) of the same batch.");
    }

    /// <summary>Throws when Backward is called before any Forward.</summary>
    public static T Forwarded<T>(Module module, T? cached) where T : class =>
        cached ?? throw new InvalidOperationException($"{module}.Backward was called before Forward; run Forward on the batch first.");
}
