// GoldenModule: loads PyTorch weights into one of our modules by state_dict name, runs it, compares.
using DigitLab.Nn;
using DigitLab.Tensors;
using Xunit.Abstractions;

namespace DigitLab.Tests.Golden;

internal static class GoldenModule
{
    /// <summary>
    /// Copies every "param.{name}" of <paramref name="golden"/> into the parameter or buffer of
    /// <paramref name="module"/> with that state_dict name (after <paramref name="rename"/>), and checks
    /// that every parameter and buffer of ours received a value, so no weight is left at its init.
    /// </summary>
    public static void LoadWeights(GoldenFile golden, Module module, Func<string, string>? rename = null)
    {
        rename ??= n => n;
        var targets = module.NamedParameters().Select(p => (p.Name, Tensor: p.Parameter.Value))
            .Concat(module.NamedBuffers()).ToDictionary(t => t.Name, t => t.Tensor);
        var loaded = new HashSet<string>();
        foreach (var torchName in golden.NamesUnder("param."))
        {
            string name = rename(torchName);
            if (!targets.TryGetValue(name, out var target))
                Assert.Fail($"{golden.Name}: PyTorch's '{torchName}' (ours '{name}') has no match in {module}; ours are: {string.Join(", ", targets.Keys)}.");
            var value = golden.Tensor("param." + torchName);
            target.CopyFrom(value);
            loaded.Add(name);
        }
        var missing = targets.Keys.Where(k => !loaded.Contains(k)).ToList();
        Assert.True(missing.Count == 0, $"{golden.Name}: our {string.Join(", ", missing)} have no PyTorch value in the golden file.");
    }

    /// <summary>
    /// The full layer check: weights in, train/eval mode as recorded, Forward, Backward with PyTorch's
    /// upstream gradient, then output, input gradient, every parameter gradient and every updated buffer.
    /// </summary>
    public static void Check(string goldenName, Module module, Tolerance tolerance, ITestOutputHelper log,
        Func<string, string>? rename = null)
    {
        rename ??= n => n;
        var golden = GoldenFile.Load(goldenName);
        LoadWeights(golden, module, rename);
        module.SetTraining(golden.MetaBool("train"));
        module.ZeroGrad();
        var output = module.Forward(golden.Tensor("input"));
        Parity.AssertClose(golden.Tensor("output"), output, tolerance, $"{goldenName} output", log);
        var inputGrad = module.Backward(golden.Tensor("grad_output"));
        Parity.AssertClose(golden.Tensor("grad_input"), inputGrad, tolerance, $"{goldenName} input gradient", log);
        var parameters = module.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        foreach (var torchName in golden.NamesUnder("grad."))
            Parity.AssertClose(golden.Tensor("grad." + torchName), parameters[rename(torchName)].Grad, tolerance,
                $"{goldenName} gradient of {torchName}", log);
        var buffers = module.NamedBuffers().ToDictionary(b => b.Name, b => b.Tensor);
        foreach (var torchName in golden.NamesUnder("after."))
            Parity.AssertClose(golden.Tensor("after." + torchName), buffers[rename(torchName)], tolerance,
                $"{goldenName} {torchName} after the forward pass", log);
    }
}
