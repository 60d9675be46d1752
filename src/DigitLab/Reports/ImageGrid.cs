// ImageGrid: small greyscale images (28×28 digits) in rows and columns, with optional captions and row labels.
namespace DigitLab.Reports;

/// <summary>One cell: Width×Height grey bytes (0 = background), an optional caption under it and a tooltip.</summary>
public sealed record GridImage(byte[] Pixels, string? Caption = null, string? Tooltip = null);

/// <summary>
/// A grid of greyscale images. Each image is embedded as a base64 PNG when <see cref="PngEncoder"/> is set
/// (small files, crisp with pixelated scaling), otherwise drawn as one rectangle per non-zero pixel.
/// Digits are drawn dark on white (<see cref="Invert"/>), as in the studies' figures.
/// </summary>
public sealed class ImageGrid
{
    public string? Title { get; init; }
    public List<GridImage> Images { get; init; } = [];
    public int ImageWidth { get; init; } = 28;
    public int ImageHeight { get; init; } = 28;
    public int Columns { get; init; } = 10;
    /// <summary>Screen pixels per image pixel.</summary>
    public double Zoom { get; init; } = 2;
    /// <summary>Labels at the left of each row (e.g. the digit), or empty.</summary>
    public IReadOnlyList<string> RowLabels { get; init; } = [];
    public bool Invert { get; init; } = true;
    /// <summary>Encodes (grey pixels, width, height) as PNG bytes; null draws rectangles instead.</summary>
    public Func<byte[], int, int, byte[]>? PngEncoder { get; init; }

    /// <exception cref="ArgumentException">No images, or an image whose pixel count is not Width×Height.</exception>
    public string ToSvg()
    {
        if (Images.Count == 0) throw new ArgumentException($"Image grid '{Title}' has no images.");
        if (Columns < 1) throw new ArgumentException($"Image grid '{Title}': Columns must be at least 1, found {Columns}.");
        int size = ImageWidth * ImageHeight;
        for (int i = 0; i < Images.Count; i++)
            if (Images[i].Pixels.Length != size)
                throw new ArgumentException($"Image {i} of grid '{Title}' has {Images[i].Pixels.Length} pixels; expected {ImageWidth}×{ImageHeight} = {size}.");

        bool captions = Images.Any(im => !string.IsNullOrEmpty(im.Caption));
        double w = ImageWidth * Zoom, h = ImageHeight * Zoom, gap = 4, captionH = captions ? 15 : 0;
        double labelW = RowLabels.Count == 0 ? 0 : RowLabels.Max(l => SvgDocument.TextWidth(l, ChartFrame.LabelSize)) + 12;
        int rows = (Images.Count + Columns - 1) / Columns;
        double left = 8 + labelW, top = string.IsNullOrEmpty(Title) ? 8 : 34;
        double width = left + Columns * (w + gap) + 4;
        double height = top + rows * (h + gap + captionH) + 4;
        var svg = new SvgDocument(Math.Max(width, SvgDocument.TextWidth(Title ?? "", ChartFrame.TitleSize) + 16), height);
        ChartFrame.Title(svg, Title, width / 2);

        for (int i = 0; i < Images.Count; i++)
        {
            int r = i / Columns, c = i % Columns;
            double x = left + c * (w + gap), y = top + r * (h + gap + captionH);
            var image = Images[i];
            byte[] shown = Invert ? image.Pixels.Select(p => (byte)(255 - p)).ToArray() : image.Pixels;
            if (PngEncoder is not null)
            {
                string uri = "data:image/png;base64," + Convert.ToBase64String(PngEncoder(shown, ImageWidth, ImageHeight));
                svg.Image(x, y, w, h, uri, image.Tooltip);
            }
            else
            {
                svg.Rect(x, y, w, h, Invert ? "#ffffff" : "#000000", tooltip: image.Tooltip);
                for (int py = 0; py < ImageHeight; py++)
                    for (int px = 0; px < ImageWidth; px++)
                    {
                        byte v = image.Pixels[py * ImageWidth + px];
                        if (v == 0) continue;
                        byte g = shown[py * ImageWidth + px];
                        svg.Rect(x + px * Zoom, y + py * Zoom, Zoom + 0.05, Zoom + 0.05, $"#{g:x2}{g:x2}{g:x2}");
                    }
            }
            svg.Rect(x, y, w, h, "none", "#cccccc", 0.5);
            if (!string.IsNullOrEmpty(image.Caption))
                svg.Text(x + w / 2, y + h + 12, image.Caption, 10, "middle", Palette.Text);
            if (c == 0 && r < RowLabels.Count)
                svg.Text(left - 8, y + h / 2 + 5, RowLabels[r], ChartFrame.LabelSize, "end", Palette.Text, "600");
        }
        return svg.ToSvg(Title);
    }
}
