// ModelZoo: every architecture DigitLab knows, by name, built and initialised from a seed.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Models;

/// <summary>The named architectures of the studies plus DigitLab's own; see <see cref="Describe"/>.</summary>
public static class ModelZoo
{
    private static readonly (string Name, string Description, Func<ModelOptions, Module> Build)[] Entries =
    [
        ("mlp", "Flatten, Linear 784-128, ReLU, Linear 128-10 (101,770 params)", _ => Mlp.Create()),
        ("cnn", "2 x (Conv 3x3, ReLU, MaxPool), Linear 3136-128-10 (421,642 params)", _ => SimpleCnn.Create()),
        ("cnn-dropout", "cnn with dropout 0.25 / 0.5 before each Linear", o => SimpleCnn.Create(withDropout: true, dropoutOn: o.Dropout)),
        ("lenet5", "LeNet-5: Conv 5x5, Sigmoid, AvgPool x2, Linear 400-120-84-10 (61,706 params)", _ => LeNet5.Create()),
        ("lenet5-relu", "LeNet-5 with ReLU and max-pool", _ => LeNet5.Create(relu: true)),
        ("net3", "3 x Conv 5x5 with max-pool and dropout, Linear 576-256-10 (228,010 params)", o => Net3.Create(o.Dropout)),
        ("resnet18", "torchvision ResNet-18, 1-channel 7x7 s2 stem (11,175,370 params)", _ => ResNet.ResNet18()),
        ("resnet18-small", "ResNet-18 with a 3x3 s1 stem and no max-pool, for 28x28", _ => ResNet.ResNet18(smallStem: true)),
        ("fast", "small batch-norm CNN for 99% in seconds (train with --schedule onecycle)", _ => FastNet.Create()),
        ("best", "batch-norm CNN 32-64-64-128 for the accuracy record (its recipe: 15 epochs, augmentation, onecycle)", o => BestNet.Create(o.Dropout)),
    ];

    /// <summary>Every architecture name, in the order `digitlab --help` lists them.</summary>
    public static IReadOnlyList<string> Names { get; } = Entries.Select(e => e.Name).ToArray();

    /// <summary>One line about <paramref name="name"/>.</summary>
    public static string Describe(string name) => Find(name).Description;

    public static bool Exists(string name) => Entries.Any(e => e.Name == name);

    /// <summary>
    /// Builds <paramref name="name"/> and initialises every parameter with PyTorch's default rules from a generator
    /// derived from <paramref name="seed"/> (dropout generators are seeded from it too): the same seed gives the same model.
    /// </summary>
    /// <exception cref="ArgumentException">Unknown name; the message lists the known ones.</exception>
    public static Module Create(string name, ulong seed, ModelOptions? options = null)
    {
        var model = Find(name).Build(options ?? ModelOptions.Default);
        model.ResetAllParameters(Rng.Derive(seed, "init"));
        return model;
    }

    private static (string Name, string Description, Func<ModelOptions, Module> Build) Find(string name)
    {
        foreach (var e in Entries)
            if (string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)) return e;
        throw new ArgumentException($"Unknown model '{name}'. Known models: {string.Join(", ", Names)}.");
    }
}
