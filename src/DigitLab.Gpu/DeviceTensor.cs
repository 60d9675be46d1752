// DeviceTensor: a float32 tensor in device memory with a shape; grows its buffer and reuses it across batches.
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace DigitLab.Gpu;

/// <summary>
/// Device memory with a shape, row-major like <see cref="Tensors.Tensor"/> ((N, C, H, W) for images). Either owns a
/// buffer (grown on <see cref="Resize"/> when too small, otherwise reused) or views part of another one (parameters
/// live in one flat buffer so that an optimizer step and zeroing the gradients are one launch each).
/// </summary>
public sealed class DeviceTensor : IDisposable
{
    private readonly Accelerator? _accelerator; // null for a view
    private MemoryBuffer1D<float, Stride1D.Dense>? _buffer;
    private ArrayView<float> _view;

    public int[] Shape { get; private set; }
    public int Length { get; private set; }

    /// <summary>This tensor's elements on the device.</summary>
    public ArrayView<float> View => _view.SubView(0, Length);

    public DeviceTensor(Accelerator accelerator, params int[] shape)
    {
        _accelerator = accelerator;
        Shape = [];
        Resize(shape);
    }

    /// <summary>A tensor over <paramref name="view"/> (not owned, never resized).</summary>
    public DeviceTensor(ArrayView<float> view, params int[] shape)
    {
        Shape = (int[])shape.Clone();
        Length = Product(shape);
        if (view.Length < Length) throw new ArgumentException($"A device view of {view.Length} values cannot hold shape ({string.Join(", ", shape)}).");
        _view = view;
    }

    /// <summary>Gives the tensor a new shape; reallocates only when the buffer is too small. Contents are unspecified afterwards.</summary>
    public DeviceTensor Resize(params int[] shape)
    {
        int length = Product(shape);
        if (_accelerator is null)
        {
            if (length > _view.Length) throw new InvalidOperationException("A device tensor viewing shared memory cannot grow.");
        }
        else if (_buffer is null || _buffer.Length < length)
        {
            _buffer?.Dispose();
            _buffer = _accelerator.Allocate1D<float>(Math.Max(length, 1));
            _view = _buffer.View;
        }
        if (!Shape.AsSpan().SequenceEqual(shape)) Shape = (int[])shape.Clone();
        Length = length;
        return this;
    }

    public void Upload(ReadOnlySpan<float> values)
    {
        if (values.Length != Length) throw new ArgumentException($"Upload of {values.Length} values into a device tensor of {Length}.");
        if (Length > 0) View.CopyFromCPU(ref MemoryMarshal.GetReference(values), Length);
    }

    public void Download(Span<float> values)
    {
        if (values.Length != Length) throw new ArgumentException($"Download of a device tensor of {Length} values into {values.Length}.");
        if (Length > 0) View.CopyToCPU(ref MemoryMarshal.GetReference(values), Length);
    }

    public float[] ToArray()
    {
        var a = new float[Length];
        Download(a);
        return a;
    }

    internal static int Product(ReadOnlySpan<int> shape)
    {
        long p = 1;
        foreach (int d in shape) p *= d;
        return checked((int)p);
    }

    public void Dispose() => _buffer?.Dispose();
}

/// <summary>An int buffer on the device (labels, argmax indices, per-row flags), grown like <see cref="DeviceTensor"/>.</summary>
public sealed class DeviceInts(Accelerator accelerator) : IDisposable
{
    private MemoryBuffer1D<int, Stride1D.Dense>? _buffer;
    public int Length { get; private set; }
    public ArrayView<int> View => _buffer!.View.SubView(0, Math.Max(Length, 1));

    public DeviceInts Resize(int length)
    {
        if (_buffer is null || _buffer.Length < length)
        {
            _buffer?.Dispose();
            _buffer = accelerator.Allocate1D<int>(Math.Max(length, 1));
        }
        Length = length;
        return this;
    }

    public void Upload(ReadOnlySpan<int> values)
    {
        Resize(values.Length);
        if (Length > 0) View.SubView(0, Length).CopyFromCPU(ref MemoryMarshal.GetReference(values), Length);
    }

    public void Download(Span<int> values)
    {
        if (Length > 0) View.SubView(0, Length).CopyToCPU(ref MemoryMarshal.GetReference(values), Length);
    }

    public void Dispose() => _buffer?.Dispose();
}
