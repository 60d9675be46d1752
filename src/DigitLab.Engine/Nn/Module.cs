// Module: the base of every layer and model. Forward and Backward, parameters, buffers, train/eval.
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// A layer or a container of layers: weights and structure only. <see cref="Forward"/> writes its output and what
/// <see cref="Backward"/> needs into the caller's <see cref="Workspace"/>; <see cref="Backward"/> takes dL/d(output),
/// accumulates parameter gradients and returns dL/d(input). Whether a pass trains or evaluates is the workspace's.
/// </summary>
/// <remarks>
/// An evaluation-mode Forward reads the module and writes only the workspace, so concurrent callers with their own
/// workspaces may share one model. Returned tensors are owned by the workspace and reused by its next call with the
/// same batch size (steady-state training allocates nothing); copy them if you need them longer.
/// Names follow PyTorch's state_dict ("features.0.weight", "layer1.0.bn1.running_mean") so that
/// checkpoints and golden files line up with PyTorch.
/// </remarks>
public abstract class Module
{
    /// <summary>The output for <paramref name="input"/>, written into <paramref name="workspace"/>, in its mode.</summary>
    public abstract Tensor Forward(Tensor input, Workspace workspace);

    /// <summary>dL/d(input) from dL/d(output) of the last Forward in <paramref name="workspace"/>; parameter gradients accumulate.</summary>
    public abstract Tensor Backward(Tensor outputGrad, Workspace workspace);

    /// <summary>The output shape for a given input shape (used by the model summary); throws on a bad input shape.</summary>
    public abstract int[] OutputShape(int[] inputShape);

    /// <summary>Direct children with their names ("0", "conv1", "layer1").</summary>
    public virtual IEnumerable<(string Name, Module Module)> Children() => [];

    /// <summary>This module's own parameters, not its children's.</summary>
    public virtual IEnumerable<Parameter> OwnParameters() => [];

    /// <summary>This module's own non-trainable state (batch-norm running statistics), saved in checkpoints.</summary>
    public virtual IEnumerable<(string Name, Tensor Tensor)> OwnBuffers() => [];

    /// <summary>Random generators this module owns (dropout), so checkpoints can save and restore their state.</summary>
    public virtual IEnumerable<(string Name, Rng Rng)> OwnRngs() => [];

    /// <summary>Re-initialises this module's own parameters with PyTorch's default rule.</summary>
    public virtual void ResetParameters(Rng rng) { }

    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var p in OwnParameters()) yield return (prefix + p.Name, p);
        foreach (var (name, child) in Children())
            foreach (var item in child.NamedParameters(prefix + name + ".")) yield return item;
    }

    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    public IEnumerable<(string Name, Tensor Tensor)> NamedBuffers(string prefix = "")
    {
        foreach (var (n, t) in OwnBuffers()) yield return (prefix + n, t);
        foreach (var (name, child) in Children())
            foreach (var item in child.NamedBuffers(prefix + name + ".")) yield return item;
    }

    /// <summary>The state dict: every parameter's value, then every buffer, by PyTorch name, in a fixed order.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> StateTensors() =>
        NamedParameters().Select(p => (p.Name, p.Parameter.Value)).Concat(NamedBuffers());

    public IEnumerable<(string Name, Rng Rng)> NamedRngs(string prefix = "")
    {
        foreach (var (n, r) in OwnRngs()) yield return (prefix + n, r);
        foreach (var (name, child) in Children())
            foreach (var item in child.NamedRngs(prefix + name + ".")) yield return item;
    }

    /// <summary>Total number of trainable values.</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Length);

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad.Zero();
    }

    /// <summary>Re-initialises every parameter in the tree, in a fixed order, from <paramref name="rng"/>.</summary>
    public void ResetAllParameters(Rng rng)
    {
        ResetParameters(rng);
        foreach (var (_, child) in Children()) child.ResetAllParameters(rng);
    }
}
