// EngineCalls: the few engine calls the Interop code, its benchmark and its tests make (eval-mode forward, thread count), in one place.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Interop;

/// <summary>
/// Evaluation-mode inference through the engine, as the ONNX comparison and the inference benchmark need it.
/// Kept to one small class so that changes to how a model is called (a per-caller workspace, a compute context
/// instead of the static thread count) touch only these lines.
/// </summary>
public static class EngineCalls
{
    /// <summary>The engine's kernel threads (the process-wide setting).</summary>
    public static int Threads
    {
        get => Threading.Threads;
        set => Threading.Threads = value;
    }

    /// <summary>Puts <paramref name="model"/> in evaluation mode (dropout off, batch norm on running statistics).</summary>
    public static void Eval(Module model) => model.Eval();

    /// <summary>
    /// The model's output for <paramref name="images"/> (N, 1, 28, 28), normalised, in evaluation mode: (N, classes).
    /// The returned tensor belongs to the model and is overwritten by its next call; copy it to keep it.
    /// </summary>
    public static Tensor Forward(Module model, Tensor images)
    {
        if (model.IsTraining) model.Eval();
        return model.Forward(images);
    }

    /// <summary>One training-mode forward pass (batch norm moves its running statistics), leaving the model in evaluation mode.</summary>
    public static void ForwardTraining(Module model, Tensor images)
    {
        model.Train();
        model.Forward(images);
        model.Eval();
    }
}
