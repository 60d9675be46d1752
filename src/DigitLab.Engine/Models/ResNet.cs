// ResNet: torchvision's ResNet-18 for one-channel 28x28 digits, and a small-stem variant that keeps more resolution.
using DigitLab.Nn;

namespace DigitLab.Models;

public static class ResNet
{
    /// <summary>
    /// torchvision's resnet18 with a one-channel stem: conv1 7x7 s2 p3 (1→64) + bn1 + relu + maxpool 3x3 s2 p1,
    /// layer1..layer4 of two <see cref="BasicBlock"/>s each (64, 128, 256, 512 channels; stride 2 from layer2 on,
    /// 1x1 projection shortcuts with batch norm), global average pool, fc 512→classes: 11,175,370 parameters for 10 classes.
    /// With <paramref name="smallStem"/> the stem is conv 3x3 s1 p1 without max-pool (11,172,810 parameters), so a
    /// 28x28 image reaches layer4 at 4x4 instead of 1x1.
    /// Input (N, 1, 28, 28) -> stem (N, 64, 7, 7) [small: (N, 64, 28, 28)] -> ... -> (N, 512, 1, 1) -> logits (N, classes).
    /// </summary>
    public static Sequential ResNet18(int classes = 10, bool smallStem = false)
    {
        var layers = new List<(string, Module)>();
        if (smallStem)
        {
            layers.Add(("conv1", new Conv2d(1, 64, 3, stride: 1, padding: 1, bias: false)));
            layers.Add(("bn1", new BatchNorm2d(64)));
            layers.Add(("relu", new ReLU()));
        }
        else
        {
            layers.Add(("conv1", new Conv2d(1, 64, 7, stride: 2, padding: 3, bias: false)));
            layers.Add(("bn1", new BatchNorm2d(64)));
            layers.Add(("relu", new ReLU()));
            layers.Add(("maxpool", new MaxPool2d(3, stride: 2, padding: 1)));
        }
        int channels = 64;
        int[] widths = [64, 128, 256, 512];
        for (int stage = 0; stage < widths.Length; stage++)
        {
            int stride = stage == 0 ? 1 : 2;
            layers.Add(($"layer{stage + 1}", new Sequential(
                new BasicBlock(channels, widths[stage], stride),
                new BasicBlock(widths[stage], widths[stage], 1))));
            channels = widths[stage];
        }
        layers.Add(("avgpool", new AdaptiveAvgPool2d()));
        layers.Add(("flatten", new Flatten()));
        layers.Add(("fc", new Linear(512, classes)));
        return new Sequential(layers.ToArray());
    }
}
