// SimpleCnn: the two-convolution CNN of the studies (`cnn`), optionally with dropout before each Linear (`cnn-dropout`).
using DigitLab.Nn;

namespace DigitLab.Models;

public static class SimpleCnn
{
    /// <summary>
    /// Conv 1→32 3x3 p1, ReLU, MaxPool 2; Conv 32→64 3x3 p1, ReLU, MaxPool 2; Linear 3136→128, ReLU, Linear 128→10:
    /// 421,642 parameters. With <paramref name="withDropout"/> a Dropout sits before each Linear ("dropout1" p=0.25,
    /// "dropout2" p=0.5, the rates of the studies' variant); <paramref name="dropoutOn"/> false sets both to 0.
    /// Input (N, 1, 28, 28) -> (N, 32, 14, 14) -> (N, 64, 7, 7) -> logits (N, 10).
    /// </summary>
    public static Sequential Create(bool withDropout = false, bool dropoutOn = true)
    {
        var layers = new List<(string, Module)>
        {
            ("conv1", new Conv2d(1, 32, 3, padding: 1)), ("relu1", new ReLU()), ("pool1", new MaxPool2d(2)),
            ("conv2", new Conv2d(32, 64, 3, padding: 1)), ("relu2", new ReLU()), ("pool2", new MaxPool2d(2)),
            ("flatten", new Flatten()),
        };
        if (withDropout) layers.Add(("dropout1", new Dropout(dropoutOn ? 0.25f : 0f)));
        layers.Add(("fc1", new Linear(64 * 7 * 7, 128)));
        layers.Add(("relu3", new ReLU()));
        if (withDropout) layers.Add(("dropout2", new Dropout(dropoutOn ? 0.5f : 0f)));
        layers.Add(("fc2", new Linear(128, 10)));
        return new Sequential(layers.ToArray());
    }
}
