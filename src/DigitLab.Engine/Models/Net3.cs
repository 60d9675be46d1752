// Net3: the three-convolution CNN with dropout that one study reported at 99.3%+.
using DigitLab.Nn;

namespace DigitLab.Models;

public static class Net3
{
    /// <summary>
    /// Conv 1→32 5x5, ReLU, Conv 32→32 5x5, ReLU, MaxPool 2, Dropout 0.25; Conv 32→64 5x5, ReLU, MaxPool 2,
    /// Dropout 0.25; Linear 576→256, ReLU, Dropout 0.5, Linear 256→10: 228,010 parameters.
    /// Input (N, 1, 28, 28) -> (N, 32, 24, 24) -> (N, 32, 10, 10) -> (N, 64, 3, 3) -> logits (N, 10).
    /// <paramref name="dropout"/> false sets every dropout probability to 0 (same layers, same names).
    /// </summary>
    public static Sequential Create(bool dropout = true)
    {
        float Rate(float p) => dropout ? p : 0f;
        return new Sequential(
            ("conv1", new Conv2d(1, 32, 5)), ("relu1", new ReLU()),
            ("conv2", new Conv2d(32, 32, 5)), ("relu2", new ReLU()), ("pool1", new MaxPool2d(2)), ("dropout1", new Dropout(Rate(0.25f))),
            ("conv3", new Conv2d(32, 64, 5)), ("relu3", new ReLU()), ("pool2", new MaxPool2d(2)), ("dropout2", new Dropout(Rate(0.25f))),
            ("flatten", new Flatten()),
            ("fc1", new Linear(64 * 3 * 3, 256)), ("relu4", new ReLU()), ("dropout3", new Dropout(Rate(0.5f))),
            ("fc2", new Linear(256, 10)));
    }
}
