// LeNet5: LeCun et al.'s LeNet-5 as the studies built it (sigmoid, average pooling), and a ReLU/max-pool variant.
using DigitLab.Nn;

namespace DigitLab.Models;

public static class LeNet5
{
    /// <summary>
    /// Conv 1→6 5x5 p2, act, pool 2; Conv 6→16 5x5, act, pool 2; Linear 400→120, act, Linear 120→84, act,
    /// Linear 84→10: 61,706 parameters. act/pool are Sigmoid/AvgPool2d (classic) or ReLU/MaxPool2d (<paramref name="relu"/>).
    /// Input (N, 1, 28, 28) -> (N, 6, 14, 14) -> (N, 16, 5, 5) -> logits (N, 10).
    /// </summary>
    public static Sequential Create(bool relu = false)
    {
        Module Act() => relu ? new ReLU() : new Sigmoid();
        Module Pool() => relu ? new MaxPool2d(2) : new AvgPool2d(2);
        return new Sequential(
            ("conv1", new Conv2d(1, 6, 5, padding: 2)), ("act1", Act()), ("pool1", Pool()),
            ("conv2", new Conv2d(6, 16, 5)), ("act2", Act()), ("pool2", Pool()),
            ("flatten", new Flatten()),
            ("fc1", new Linear(16 * 5 * 5, 120)), ("act3", Act()),
            ("fc2", new Linear(120, 84)), ("act4", Act()),
            ("fc3", new Linear(84, 10)));
    }
}
