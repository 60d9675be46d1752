// Bias: adding a bias vector and summing gradients into it, for rows (Linear) and channels (Conv2d).
// These loops are their own reference: each is one line of arithmetic over an Elementwise call.

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

    /// <summary>sums[c] += Σ_{n, i} data[n, c, i] (the bias gradient of a convolution), one plane at a time in batch order.</summary>
    public static void AccumulateChannelSums(ReadOnlySpan<float> data, Span<float> sums, int planeSize)
    {
        int channels = sums.Length;
        for (int plane = 0; plane * planeSize < data.Length; plane++)
            sums[plane % channels] += Elementwise.Sum(data.Slice(plane * planeSize, planeSize));
    }
}
