// Workspace: one caller's activations and scratch, apart from the model's weights, with its compute context and mode.
using DigitLab.Runtime;

namespace DigitLab.Nn;

/// <summary>
/// Everything a forward and backward pass writes for one caller: each module's cached activations, output and
/// gradient buffers and kernel scratch, keyed by module; the <see cref="ComputeContext"/> the kernels run on; and
/// whether the pass is in training mode (dropout active, batch norm on batch statistics and updating its running
/// averages) or evaluation mode. The model holds only weights and structure, so one loaded model serves any number
/// of callers at once, each with its own workspace (as llm.c keeps ActivationTensors apart from ParameterTensors).
/// </summary>
/// <remarks>
/// A workspace belongs to one caller at a time (it is not thread-safe); buffers are grown on first use and reused by
/// the next call with the same batch size, so steady-state training allocates nothing. Tensors a module returns are
/// owned by the workspace: copy them to keep them past the next call. Evaluation-mode passes read the model only.
/// </remarks>
public sealed class Workspace
{
    private readonly Dictionary<Module, object> _states = new(ReferenceEqualityComparer.Instance);

    public Workspace(ComputeContext compute, bool training)
    {
        Compute = compute ?? throw new ArgumentNullException(nameof(compute));
        Training = training;
    }

    /// <summary>The threads and routes the kernels run with.</summary>
    public ComputeContext Compute { get; }

    /// <summary>True for training passes (dropout active, batch norm on batch statistics); false for evaluation.</summary>
    public bool Training { get; }

    /// <summary>
    /// A tensor whose gradient this caller never reads, typically the batch of images a training loop feeds the model:
    /// a layer whose input it is may skip dL/d(input) and return zeros (<see cref="Conv2d"/> does). Null (the default):
    /// every layer computes its input gradient, as a saliency map needs.
    /// </summary>
    /// <remarks>
    /// On the caller's workspace rather than the shared model, so a trainer and an explaining web request on the same
    /// model do not disturb each other. Skipped there: net3's first-layer backward went from 3.3 to 0.8 ms per step on
    /// one thread (without the input gradient the 1-channel layer takes the direct route).
    /// </remarks>
    public Tensors.Tensor? InputWithoutGradient { get; set; }

    /// <summary><paramref name="module"/>'s state in this workspace, created on first use.</summary>
    public T StateOf<T>(Module module) where T : class, new()
    {
        if (_states.TryGetValue(module, out var state)) return (T)state;
        var created = new T();
        _states.Add(module, created);
        return created;
    }

    /// <summary><paramref name="module"/>'s state if a forward pass of it ran in this workspace, else null.</summary>
    public T? FindState<T>(Module module) where T : class =>
        _states.TryGetValue(module, out var state) ? (T)state : null;

    /// <summary>Drops every cached activation (the memory is freed once nothing else holds the tensors).</summary>
    public void Clear() => _states.Clear();

    public override string ToString() => $"Workspace({(Training ? "training" : "evaluation")}, {Compute})";
}
