// ModuleCalls: how most tests call a layer or model: as one caller, with one workspace per module they call,
// in training mode until the test switches it (Eval/Train), on a compute context of all cores.
using System.Runtime.CompilerServices;
using DigitLab.Nn;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Tests;

/// <remarks>
/// Tests of a layer's arithmetic need one caller only, so they keep the short form <c>layer.Forward(x)</c> /
/// <c>layer.Backward(g)</c>; the workspace belongs to the module the test calls (its children share it). Tests of
/// the workspace design itself (concurrent callers, thread counts) create their own workspaces and contexts.
/// </remarks>
internal static class ModuleCalls
{
    private static readonly ConditionalWeakTable<Module, Workspace> Workspaces = new();
    private static readonly ComputeContext AllCores = new();
    [ThreadStatic] private static ComputeContext? _scoped;

    /// <summary>The context the tests' kernel calls use: all cores, or the thread count of an enclosing <see cref="UseThreads"/>.</summary>
    public static ComputeContext Compute => _scoped ?? AllCores;

    /// <summary>Until disposed, <see cref="Compute"/> on this thread is a context of <paramref name="threads"/> threads (tests at several thread counts).</summary>
    public static IDisposable UseThreads(int threads)
    {
        var previous = _scoped;
        var context = new ComputeContext(threads);
        _scoped = context;
        return new Scope(() => { _scoped = previous; context.Dispose(); });
    }

    private sealed class Scope(Action end) : IDisposable
    {
        public void Dispose() => end();
    }

    /// <summary>The workspace the short forms use for <paramref name="module"/>.</summary>
    public static Workspace WorkspaceOf(Module module)
    {
        var workspace = Workspaces.GetValue(module, _ => new Workspace(Compute, training: true));
        if (workspace.Compute != Compute) // a UseThreads scope began since: same mode, the scope's threads
            Workspaces.AddOrUpdate(module, workspace = new Workspace(Compute, workspace.Training));
        return workspace;
    }

    /// <summary>A fresh evaluation-mode workspace on <see cref="Compute"/>.</summary>
    public static Workspace NewEvaluationWorkspace() => new(Compute, training: false);

    public static Tensor Forward(this Module module, Tensor input) => module.Forward(input, WorkspaceOf(module));

    public static Tensor Backward(this Module module, Tensor outputGrad) => module.Backward(outputGrad, WorkspaceOf(module));

    /// <summary>Later short-form calls on <paramref name="module"/> run in evaluation mode (a fresh workspace).</summary>
    public static void Eval(this Module module) => SetTraining(module, false);

    /// <summary>Later short-form calls on <paramref name="module"/> run in training mode (a fresh workspace).</summary>
    public static void Train(this Module module) => SetTraining(module, true);

    public static void SetTraining(this Module module, bool training) =>
        Workspaces.AddOrUpdate(module, new Workspace(Compute, training));

    public static bool IsTraining(this Module module) => WorkspaceOf(module).Training;
}
