// GpuLoss: the fused softmax + cross-entropy on the device; only per-row losses and hits come back to the host.
using DigitLab.Gpu.Kernels;

namespace DigitLab.Gpu;

/// <summary>
/// PyTorch's <c>CrossEntropyLoss(label_smoothing=ε)</c>, mean over the batch, on logits (N, C) already on the device.
/// One kernel writes the probabilities, dL/dlogits (for the mean loss), each row's loss and whether its arg-max is the label;
/// <see cref="Forward"/> downloads the N row losses and hits (the loss and the accuracy, summed on the host in double).
/// </summary>
public sealed class GpuLoss : IDisposable
{
    private readonly GpuDevice _device;
    private readonly float _smoothing;
    private readonly DeviceInts _labels, _correct;
    private int[] _hostLabels = [], _hostCorrect = [];
    private float[] _hostLoss = [];

    public DeviceTensor Probabilities { get; }
    public DeviceTensor LogitsGrad { get; }
    private readonly DeviceTensor _rowLoss;

    public GpuLoss(GpuDevice device, float labelSmoothing)
    {
        _device = device;
        _smoothing = labelSmoothing;
        var a = device.Accelerator;
        _labels = new DeviceInts(a);
        _correct = new DeviceInts(a);
        Probabilities = new DeviceTensor(a, 0);
        LogitsGrad = new DeviceTensor(a, 0);
        _rowLoss = new DeviceTensor(a, 0);
    }

    /// <summary>Mean loss and correct count of logits (N, C) against <paramref name="labels"/>; fills <see cref="LogitsGrad"/>.</summary>
    public (float MeanLoss, int Correct) Forward(DeviceTensor logits, ReadOnlySpan<byte> labels)
    {
        if (logits.Shape.Length != 2 || logits.Shape[0] != labels.Length)
            throw new ArgumentException($"The loss expects logits (N, classes) and N labels; found logits ({string.Join(", ", logits.Shape)}) and {labels.Length} labels.");
        int n = labels.Length, classes = logits.Shape[1];
        if (_hostLabels.Length != n) (_hostLabels, _hostCorrect, _hostLoss) = (new int[n], new int[n], new float[n]);
        for (int i = 0; i < n; i++) _hostLabels[i] = labels[i];
        _labels.Upload(_hostLabels);
        _correct.Resize(n);
        Probabilities.Resize(logits.Shape);
        LogitsGrad.Resize(logits.Shape);
        _rowLoss.Resize(n);
        if (n == 0) return (0f, 0);
        _device.SoftmaxCrossEntropy(n, logits.View, _labels.View, Probabilities.View, _rowLoss.View, _correct.View, LogitsGrad.View, classes, _smoothing, 1f / n);
        _rowLoss.Download(_hostLoss);
        _correct.Download(_hostCorrect);
        double sum = 0;
        int correct = 0;
        for (int i = 0; i < n; i++) { sum += _hostLoss[i]; correct += _hostCorrect[i]; }
        return ((float)(sum / n), correct);
    }

    public void Dispose()
    {
        _labels.Dispose(); _correct.Dispose();
        Probabilities.Dispose(); LogitsGrad.Dispose(); _rowLoss.Dispose();
    }
}
