// Bias: adding a bias vector and summing gradients into it, for rows (Linear) and channels (Conv2d).
// These loops are their own reference: each is one line of arithmetic over an Elementwise call.

using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>Bias broadcast and reduction for (N, F) rows and (N, C, H·W) channel planes.</summary>
public static class Bias
{
    /// <summary>rows[n, f] += bias[f] for rows of shape (N, F), F = bias.Length.</summary>
    public static void AddToRows(Span<float> rows, ReadOnlySpan<float> bias)
    {
        int f = bias.Length;
        for (int start = 0; start + f <= rows.Length; start += f)
        {
            var row = rows.Slice(start, f);
            Elementwise.Add(row, bias, row);
        }
    }

    /// <summary>sums[f] += Σ_n rows[n, f] (the bias gradient of a dense layer).</summary>
    public static void AccumulateRowSums(ReadOnlySpan<float> rows, Span<float> sums)
    {
        int f = sums.Length;
        for (int start = 0; start + f <= rows.Length; start += f)
            Elementwise.Add(sums, rows.Slice(start, f), sums);
    }

    /// <summary>data[n, c, :] += bias[c] for planes of <paramref name="planeSize"/> values.</summary>
    public static void AddToChannels(Span<float> data, ReadOnlySpan<float> bias, int planeSize)
    {
        int channels = bias.Length;
        for (int plane = 0; plane * planeSize < data.Length; plane++)
        {
            var span = data.Slice(plane * planeSize, planeSize);
            Elementwise.Add(span, bias[plane % channels], span);
        }
    }

    /// <summary>
    /// As <see cref="AccumulateChannelSums(ReadOnlySpan{float}, Span{float}, int)"/> over data (N, C, P), its first
    /// N·C·P values, with the channels split over <paramref name="compute"/>'s threads: each channel is summed by one
    /// thread in batch order, so the result is the same for any thread count.
    /// </summary>
    public static void AccumulateChannelSums(ComputeContext compute, float[] data, int batch, int channels, int planeSize, float[] sums)
    {
        if (data.Length < (long)batch * channels * planeSize || sums.Length < channels)
            throw new ArgumentException($"Bias gradient of ({batch}, {channels}, {planeSize}) needs {(long)batch * channels * planeSize} values and {channels} sums; found {data.Length} and {sums.Length}.");
        // At least 64 K values per thread (a few channels of a large layer): below that a thread costs more than it saves.
        int perThread = Math.Max(1, (1 << 16) / Math.Max(1, batch * planeSize));
        compute.For(channels, perThread, (data, batch, channels, planeSize, sums), static (a, c0, c1) =>
        {
            for (int n = 0; n < a.batch; n++)
                for (int c = c0; c < c1; c++)
                    a.sums[c] += Elementwise.Sum(a.data.AsSpan((n * a.channels + c) * a.planeSize, a.planeSize));
        });
    }

    /// <summary>sums[c] += Σ_{n, i} data[n, c, i] (the bias gradient of a convolution), one plane at a time in batch order.</summary>
    public static void AccumulateChannelSums(ReadOnlySpan<float> data, Span<float> sums, int planeSize)
    {
        int channels = sums.Length;
        for (int plane = 0; plane * planeSize < data.Length; plane++)
            sums[plane % channels] += Elementwise.Sum(data.Slice(plane * planeSize, planeSize));
    }
}
