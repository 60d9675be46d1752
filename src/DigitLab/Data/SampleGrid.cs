// SampleGrid: a picture of dataset samples, one row per class with its label drawn in a tiny bitmap font.
using DigitLab.IO;
using DigitLab.Tensors;

namespace DigitLab.Data;

/// <summary>
/// Lays out sample images in rows: each row starts with a label cell (the class digit drawn in white
/// with <see cref="DigitFont"/>) followed by samples of that class. Cells are separated by a grey
/// 2-pixel gap so the black MNIST backgrounds do not run together.
/// </summary>
public static class SampleGrid
{
    private const int Cell = MnistDataset.Rows, Gap = 2;
    private const byte GapShade = 96, LabelShade = 40;

    /// <summary>The largest zoom: 16 × 28 px per image already makes a 10 × 11 grid about 5,000 px wide.</summary>
    public const int MaxZoom = 16;

    /// <summary>
    /// Renders rows for the given <paramref name="rowLabels"/> (a class may repeat to get several rows of it),
    /// <paramref name="perRow"/> samples each, picked at random (seeded) without repetition within a class.
    /// <paramref name="zoom"/> enlarges every pixel to zoom × zoom.
    /// </summary>
    /// <param name="augmenter">When given, each sample is shown augmented (seeded by <paramref name="seed"/>), to see what training sees.</param>
    public static RasterImage Render(MnistDataset data, IReadOnlyList<int> rowLabels, int perRow = 10, ulong seed = 1, int zoom = 2, Augmenter? augmenter = null)
    {
        if (perRow < 1) throw new ArgumentOutOfRangeException(nameof(perRow), perRow, "At least one sample per row.");
        if (zoom is < 1 or > MaxZoom) throw new ArgumentOutOfRangeException(nameof(zoom), zoom, $"Zoom must be 1..{MaxZoom}.");
        var rng = Rng.Derive(seed, "sample-grid");
        var augmentRng = Rng.Derive(seed, "sample-grid.augment");
        var augmented = new float[MnistDataset.Pixels];
        var shown = new byte[MnistDataset.Pixels];
        var byClass = new Dictionary<int, Queue<int>>();
        foreach (int label in rowLabels.Distinct())
        {
            if (label is < 0 or >= MnistDataset.Classes) throw new ArgumentOutOfRangeException(nameof(rowLabels), label, "Classes are 0..9.");
            var indices = data.IndicesOf(label);
            rng.Shuffle(indices.AsSpan());
            byClass[label] = new Queue<int>(indices);
        }

        int columns = perRow + 1;
        int width = (columns * Cell + (columns + 1) * Gap) * zoom;
        int height = (rowLabels.Count * Cell + (rowLabels.Count + 1) * Gap) * zoom;
        var pixels = new byte[width * height];
        Array.Fill(pixels, GapShade);
        for (int r = 0; r < rowLabels.Count; r++)
        {
            int top = Gap + r * (Cell + Gap);
            var cell = new byte[Cell * Cell];
            cell.AsSpan().Fill(LabelShade); // dark grey, so a label cell never looks like a sample
            DigitFont.Draw(cell, Cell, rowLabels[r], scale: 3);
            Blit(pixels, width, cell, Gap, top, zoom);
            for (int c = 0; c < perRow; c++)
            {
                var queue = byClass[rowLabels[r]];
                if (queue.Count == 0) break; // fewer samples than cells: leave the rest grey
                var image = data.Image(queue.Dequeue());
                if (augmenter is not null)
                {
                    augmenter.Apply(image, augmented, augmentRng);
                    for (int i = 0; i < shown.Length; i++) shown[i] = (byte)Math.Clamp(MathF.Round(augmented[i] * 255f), 0f, 255f);
                    image = shown;
                }
                Blit(pixels, width, image, Gap + (c + 1) * (Cell + Gap), top, zoom);
            }
        }
        return new RasterImage(width, height, 1, pixels);
    }

    private static void Blit(byte[] target, int targetWidth, ReadOnlySpan<byte> cell, int left, int top, int zoom)
    {
        for (int y = 0; y < Cell * zoom; y++)
            for (int x = 0; x < Cell * zoom; x++)
                target[(top * zoom + y) * targetWidth + left * zoom + x] = cell[(y / zoom) * Cell + x / zoom];
    }
}

/// <summary>A 5×7 bitmap font for the digits 0–9, enough to label images without a font library.</summary>
public static class DigitFont
{
    public const int GlyphWidth = 5, GlyphHeight = 7;

    // Each digit: 7 rows of 5 columns, '#' = ink.
    private static readonly string[][] Glyphs =
    [
        [" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "], // 0
        ["  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "], // 1
        [" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"], // 2
        ["#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "], // 3
        ["   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "], // 4
        ["#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "], // 5
        ["  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "], // 6
        ["#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "], // 7
        [" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "], // 8
        [" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "], // 9
    ];

    /// <summary>True when pixel (x, y) of <paramref name="digit"/>'s glyph is ink.</summary>
    public static bool Ink(int digit, int x, int y)
    {
        return Glyphs[digit][y][x] == '#';
    }

    /// <summary>Draws <paramref name="digit"/> in white (255), centred in a square <paramref name="size"/>² grey cell.</summary>
    public static void Draw(Span<byte> cell, int size, int digit, int scale)
    {
        if (digit is < 0 or > 9) throw new ArgumentOutOfRangeException(nameof(digit), digit, "Digits are 0..9.");
        int left = (size - GlyphWidth * scale) / 2, top = (size - GlyphHeight * scale) / 2;
        for (int y = 0; y < GlyphHeight * scale; y++)
            for (int x = 0; x < GlyphWidth * scale; x++)
                if (Ink(digit, x / scale, y / scale))
                    cell[(top + y) * size + left + x] = 255;
    }
}
