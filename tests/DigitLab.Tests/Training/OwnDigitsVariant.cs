// OwnDigitsVariant: a stand-in for a user's own handwriting built from MNIST images (thicker strokes, off-centre, fainter),
// so fine-tuning tests have digits that look "different" before the folder datasets exist.
using DigitLab.Data;

namespace DigitLab.Tests.Training;

public static class OwnDigitsVariant
{
    /// <summary>
    /// Images [start, start + count) of <paramref name="source"/>, each dilated by a 3×3 maximum (a thick pen), moved
    /// <paramref name="shift"/> pixels right and down (not centred by mass as MNIST is) and scaled to 70% brightness.
    /// </summary>
    public static MnistDataset Make(MnistDataset source, int start, int count, int shift = 4, string name = "own-variant")
    {
        const int S = MnistDataset.Rows, P = MnistDataset.Pixels;
        var images = new byte[count * P];
        var labels = new byte[count];
        for (int k = 0; k < count; k++)
        {
            var src = source.Image(start + k);
            labels[k] = source.Labels[start + k];
            var dst = images.AsSpan(k * P, P);
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                {
                    int sy = y - shift, sx = x - shift, max = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                        {
                            int yy = sy + dy, xx = sx + dx;
                            if (yy >= 0 && yy < S && xx >= 0 && xx < S) max = Math.Max(max, src[yy * S + xx]);
                        }
                    dst[y * S + x] = (byte)(max * 7 / 10);
                }
        }
        return new MnistDataset(images, labels, name);
    }
}
