// Sequential: layers applied in order; Backward runs them in reverse.
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.Sequential</c>: the output of each layer is the input of the next. Children are
/// named "0", "1", ... or by the names given, so parameter names match PyTorch's state_dict.
/// </summary>
public sealed class Sequential : Module
{
    private readonly (string Name, Module Module)[] _layers;

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Module> Layers { get; }

    /// <summary>An empty stack (the identity); without this, <c>new Sequential()</c> would match both params constructors.</summary>
    public Sequential() : this(Array.Empty<Module>()) { }

    public Sequential(params Module[] layers)
        : this(layers.Select((m, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture), m)).ToArray()) { }

    public Sequential(params (string Name, Module Module)[] layers)
    {
        var duplicate = layers.GroupBy(l => l.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"Sequential layer names must be unique; \"{duplicate.Key}\" is used {duplicate.Count()} times.");
        _layers = layers.ToArray();
        Layers = _layers.Select(l => l.Module).ToArray();
    }

    public Module this[int index] => Layers[index];

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var x = input;
        foreach (var (_, layer) in _layers) x = layer.Forward(x, workspace); // over the array: no enumerator allocated per step
        return x;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var g = outputGrad;
        for (int i = _layers.Length - 1; i >= 0; i--) g = _layers[i].Module.Backward(g, workspace);
        return g;
    }

    public override int[] OutputShape(int[] inputShape)
    {
        var shape = inputShape;
        foreach (var layer in Layers) shape = layer.OutputShape(shape);
        return (int[])shape.Clone();
    }

    public override IEnumerable<(string Name, Module Module)> Children() => _layers;

    /// <summary>PyTorch-style listing, one child per line, nested containers indented.</summary>
    public override string ToString()
    {
        if (_layers.Length == 0) return "Sequential()";
        var lines = _layers.Select(l => $"  ({l.Name}): " + l.Module.ToString()!.Replace("\n", "\n  "));
        return "Sequential(\n" + string.Join("\n", lines) + "\n)";
    }
}
