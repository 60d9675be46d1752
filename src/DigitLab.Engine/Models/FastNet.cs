// FastNet: a small batch-norm CNN built for speed (issue 5's `fast` record: 99% test accuracy in seconds on 2 cores).
using DigitLab.Nn;

namespace DigitLab.Models;

public static class FastNet
{
    /// <summary>
    /// Three Conv 3x3 p1 (no bias) + BatchNorm + ReLU + MaxPool 2 stages, 1→12→24→48 channels, then Linear 432→10.
    /// Input (N, 1, 28, 28) -> (N, 12, 14, 14) -> (N, 24, 7, 7) -> (N, 48, 3, 3) -> logits (N, 10).
    /// About 1.1 M multiply-adds per image, a fifth of `cnn`'s, and batch norm lets it take a high one-cycle rate.
    /// </summary>
    public static Sequential Create()
    {
        return new Sequential(
            ("conv1", new Conv2d(1, 12, 3, padding: 1, bias: false)), ("bn1", new BatchNorm2d(12)), ("relu1", new ReLU()), ("pool1", new MaxPool2d(2)),
            ("conv2", new Conv2d(12, 24, 3, padding: 1, bias: false)), ("bn2", new BatchNorm2d(24)), ("relu2", new ReLU()), ("pool2", new MaxPool2d(2)),
            ("conv3", new Conv2d(24, 48, 3, padding: 1, bias: false)), ("bn3", new BatchNorm2d(48)), ("relu3", new ReLU()), ("pool3", new MaxPool2d(2)),
            ("flatten", new Flatten()),
            ("fc", new Linear(48 * 3 * 3, 10)));
    }
}
