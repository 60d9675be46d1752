// Mlp: the multilayer perceptron of the studies, 784 -> 128 -> 10.
using DigitLab.Nn;

namespace DigitLab.Models;

public static class Mlp
{
    /// <summary>
    /// Flatten, Linear 784→128, ReLU, Linear 128→10: 101,770 parameters.
    /// Input (N, 1, 28, 28), output logits (N, 10).
    /// </summary>
    public static Sequential Create() => new(
        ("flatten", new Flatten()),
        ("fc1", new Linear(784, 128)),
        ("relu", new ReLU()),
        ("fc2", new Linear(128, 10)));
}
