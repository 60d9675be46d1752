// SmallPlaneConvolution: one image through a convolution whose output plane is tiny (ResNet's 2×2 and 1×1 stages) as
// a matrix-vector product over weights packed once with their dead taps left out.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DigitLab.Kernels;
using DigitLab.Runtime;

namespace DigitLab.Nn.Inference;

/// <summary>
/// For a single image on an output plane of at most <see cref="MaxPlane"/> positions, the GEMM routes pack the
/// (O, C·K·K) weights on every call and multiply them by a matrix one to sixteen columns wide: the packing costs more
/// than the product. Here the weights are packed once per input size, keeping only the taps some output position
/// reads (the centre tap alone on 1×1 maps), as W' (O, C·T); each call gathers the image's columns (P, C·T) and
/// computes y[o, p] = b[o] + W'[o]·col[p], the output channels split across the threads.
/// </summary>
internal sealed class SmallPlaneConvolution
{
    /// <summary>Largest output plane (OH·OW) that takes this route.</summary>
    public const int MaxPlane = 16;

    /// <summary>Positions computed together per weight load (each weight vector is read once for them).</summary>
    private const int Block = 4;

    private readonly int _outChannels, _plane, _rows;
    private readonly float[] _weight;   // (O, rows): live taps only
    private readonly float[] _bias;     // (O)
    private readonly int[] _gather;     // (P, rows): index into the (C, H, W) image, or −1 for padding

    public SmallPlaneConvolution(float[] weight, float[] bias, int inChannels, int outChannels, int kernel, int stride, int padding,
        int height, int width)
    {
        int oh = (height + 2 * padding - kernel) / stride + 1, ow = (width + 2 * padding - kernel) / stride + 1;
        var (y0, y1) = ConvGeometry.LiveRange(kernel, stride, padding, height, oh);
        var (x0, x1) = ConvGeometry.LiveRange(kernel, stride, padding, width, ow);
        int ty = y1 - y0, tx = x1 - x0;
        _outChannels = outChannels;
        _plane = oh * ow;
        _rows = inChannels * ty * tx;
        _bias = bias;
        _weight = new float[outChannels * _rows];
        for (int o = 0; o < outChannels; o++)
            for (int c = 0; c < inChannels; c++)
                for (int ky = y0; ky < y1; ky++)
                    for (int kx = x0; kx < x1; kx++)
                        _weight[o * _rows + (c * ty + ky - y0) * tx + kx - x0] = weight[((o * inChannels + c) * kernel + ky) * kernel + kx];
        _gather = new int[_plane * _rows];
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int c = 0; c < inChannels; c++)
                    for (int ky = y0; ky < y1; ky++)
                        for (int kx = x0; kx < x1; kx++)
                        {
                            int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                            bool inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
                            _gather[(oy * ow + ox) * _rows + (c * ty + ky - y0) * tx + kx - x0] = inside ? (c * height + iy) * width + ix : -1;
                        }
    }

    /// <summary>Floats of column scratch <see cref="Forward"/> needs: the positions rounded up to whole blocks.</summary>
    public int ScratchLength => (_plane + Block - 1) / Block * Block * _rows;

    /// <summary>output (O, P) = W' · columns(image) + b, then max(·, 0) when <paramref name="relu"/>.</summary>
    public void Forward(ComputeContext compute, float[] image, float[] output, float[] columns, bool relu)
    {
        int used = _plane * _rows;
        for (int i = 0; i < used; i++)
        {
            int at = _gather[i];
            columns[i] = at >= 0 ? image[at] : 0f;
        }
        columns.AsSpan(used, ScratchLength - used).Clear(); // a partial last block multiplies zeros
        // Each part is at least 16 output channels; ResNet's 256- and 512-channel layers split over both cores.
        compute.For(_outChannels, 16, (Layer: this, Columns: columns, Output: output, Relu: relu),
            static (a, s, e) => a.Layer.Channels(s, e, a.Columns, a.Output, a.Relu));
    }

    private void Channels(int start, int end, float[] columns, float[] output, bool relu)
    {
        int rows = _rows, plane = _plane, width = Vector<float>.Count;
        ref float w0 = ref MemoryMarshal.GetArrayDataReference(_weight);
        ref float c0 = ref MemoryMarshal.GetArrayDataReference(columns);
        for (int o = start; o < end; o++)
        {
            ref float w = ref Unsafe.Add(ref w0, (nint)o * rows);
            for (int p = 0; p < plane; p += Block)
            {
                ref float c = ref Unsafe.Add(ref c0, (nint)p * rows);
                Vector<float> a0 = Vector<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                int j = 0;
                if (plane == 1)
                {
                    for (; j <= rows - width; j += width) a0 += Vector.LoadUnsafe(ref w, (nuint)j) * Vector.LoadUnsafe(ref c, (nuint)j);
                }
                else
                {
                    for (; j <= rows - width; j += width)
                    {
                        var wv = Vector.LoadUnsafe(ref w, (nuint)j);
                        a0 += wv * Vector.LoadUnsafe(ref c, (nuint)j);
                        a1 += wv * Vector.LoadUnsafe(ref c, (nuint)(rows + j));
                        a2 += wv * Vector.LoadUnsafe(ref c, (nuint)(2 * rows + j));
                        a3 += wv * Vector.LoadUnsafe(ref c, (nuint)(3 * rows + j));
                    }
                }
                float s0 = Vector.Sum(a0), s1 = Vector.Sum(a1), s2 = Vector.Sum(a2), s3 = Vector.Sum(a3);
                for (; j < rows; j++)
                {
                    float wj = Unsafe.Add(ref w, j);
                    s0 += wj * Unsafe.Add(ref c, j);
                    if (plane > 1)
                    {
                        s1 += wj * Unsafe.Add(ref c, rows + j);
                        s2 += wj * Unsafe.Add(ref c, 2 * rows + j);
                        s3 += wj * Unsafe.Add(ref c, 3 * rows + j);
                    }
                }
                Span<float> sums = [s0, s1, s2, s3];
                for (int q = 0; q < Block && p + q < plane; q++)
                {
                    float y = sums[q] + _bias[o];
                    output[o * plane + p + q] = relu && y < 0f ? 0f : y;
                }
            }
        }
    }
}
