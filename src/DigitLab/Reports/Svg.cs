// Svg: the small drawing layer every chart writes through: elements, escaping, invariant numbers, the palette.
using System.Globalization;
using System.Text;

namespace DigitLab.Reports;

/// <summary>Fixed colours so that a model or a digit has the same colour in every figure.</summary>
public static class Palette
{
    /// <summary>matplotlib's tab10, the colours readers of the studies already know.</summary>
    public static readonly string[] Tab10 =
    [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ];

    public const string Text = "#222222";
    public const string Axis = "#555555";
    public const string Grid = "#e6e6e6";
    public const string FontFamily = "'Helvetica Neue', Helvetica, Arial, 'DejaVu Sans', sans-serif";

    /// <summary>The colour of series <paramref name="index"/> (wraps after ten).</summary>
    public static string Series(int index) => Tab10[((index % Tab10.Length) + Tab10.Length) % Tab10.Length];

    // Anchors of a sequential white→blue scale (seaborn's "Blues"), light for 0, dark for 1.
    private static readonly (double T, byte R, byte G, byte B)[] BluesStops =
    [
        (0.0, 0xf7, 0xfb, 0xff), (0.125, 0xde, 0xeb, 0xf7), (0.25, 0xc6, 0xdb, 0xef), (0.375, 0x9e, 0xca, 0xe1),
        (0.5, 0x6b, 0xae, 0xd6), (0.625, 0x42, 0x92, 0xc6), (0.75, 0x21, 0x71, 0xb5), (0.875, 0x08, 0x51, 0x9c),
        (1.0, 0x08, 0x30, 0x6b),
    ];

    /// <summary>A colour on the "Blues" scale for <paramref name="t"/> in [0, 1] (clamped).</summary>
    public static (byte R, byte G, byte B) Blues(double t)
    {
        t = Math.Clamp(t, 0, 1);
        for (int i = 1; i < BluesStops.Length; i++)
        {
            if (t > BluesStops[i].T) continue;
            var (t0, r0, g0, b0) = BluesStops[i - 1];
            var (t1, r1, g1, b1) = BluesStops[i];
            double f = (t - t0) / (t1 - t0);
            return (Lerp(r0, r1, f), Lerp(g0, g1, f), Lerp(b0, b1, f));
        }
        return (BluesStops[^1].R, BluesStops[^1].G, BluesStops[^1].B);
    }

    private static byte Lerp(byte a, byte b, double f) => (byte)Math.Round(a + (b - a) * f);

    public static string Hex((byte R, byte G, byte B) c) => $"#{c.R:x2}{c.G:x2}{c.B:x2}";

    /// <summary>Relative luminance (sRGB, 0..1); text on a background above ~0.45 should be dark.</summary>
    public static double Luminance((byte R, byte G, byte B) c)
    {
        static double Channel(byte v)
        {
            double s = v / 255.0;
            return s <= 0.03928 ? s / 12.92 : Math.Pow((s + 0.055) / 1.055, 2.4);
        }
        return 0.2126 * Channel(c.R) + 0.7152 * Channel(c.G) + 0.0722 * Channel(c.B);
    }
}

/// <summary>
/// Builds one SVG document. Coordinates are written with two decimals in the invariant culture; all
/// text is XML-escaped, so any model name or label is safe to pass.
/// </summary>
public sealed class SvgDocument
{
    private readonly StringBuilder _body = new();

    public SvgDocument(double width, double height)
    {
        Width = width;
        Height = height;
    }

    public double Width { get; }
    public double Height { get; }

    private static int _nextId;

    /// <summary>A document-unique id (clip paths must not collide when several charts share one HTML page).</summary>
    public static string NextId(string prefix) => prefix + Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string N(double v) => Math.Round(v, 2).ToString("0.##", CultureInfo.InvariantCulture);

    public static string Escape(string text) => text
        .Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;").Replace("'", "&#39;");

    private static string Tooltip(string? tooltip) => tooltip is null ? "" : $"<title>{Escape(tooltip)}</title>";

    public SvgDocument Rect(double x, double y, double w, double h, string fill, string? stroke = null,
        double strokeWidth = 1, string? tooltip = null, string? extra = null)
    {
        _body.Append($"<rect x=\"{N(x)}\" y=\"{N(y)}\" width=\"{N(Math.Max(0, w))}\" height=\"{N(Math.Max(0, h))}\" fill=\"{fill}\"");
        if (stroke is not null) _body.Append($" stroke=\"{stroke}\" stroke-width=\"{N(strokeWidth)}\"");
        if (extra is not null) _body.Append(' ').Append(extra);
        if (tooltip is null) _body.Append("/>");
        else _body.Append('>').Append(Tooltip(tooltip)).Append("</rect>");
        return this;
    }

    public SvgDocument Line(double x1, double y1, double x2, double y2, string stroke, double width = 1, string? dash = null)
    {
        _body.Append($"<line x1=\"{N(x1)}\" y1=\"{N(y1)}\" x2=\"{N(x2)}\" y2=\"{N(y2)}\" stroke=\"{stroke}\" stroke-width=\"{N(width)}\"");
        if (dash is not null) _body.Append($" stroke-dasharray=\"{dash}\"");
        _body.Append("/>");
        return this;
    }

    public SvgDocument Polyline(IEnumerable<(double X, double Y)> points, string stroke, double width = 2, string? dash = null)
    {
        _body.Append("<polyline fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"");
        foreach (var (x, y) in points) _body.Append(N(x)).Append(',').Append(N(y)).Append(' ');
        _body.Append($"\" stroke=\"{stroke}\" stroke-width=\"{N(width)}\"");
        if (dash is not null) _body.Append($" stroke-dasharray=\"{dash}\"");
        _body.Append("/>");
        return this;
    }

    public SvgDocument Circle(double cx, double cy, double r, string fill, double opacity = 1, string? stroke = null, string? tooltip = null)
    {
        _body.Append($"<circle cx=\"{N(cx)}\" cy=\"{N(cy)}\" r=\"{N(r)}\" fill=\"{fill}\"");
        if (opacity < 1) _body.Append($" fill-opacity=\"{N(opacity)}\"");
        if (stroke is not null) _body.Append($" stroke=\"{stroke}\"");
        if (tooltip is null) _body.Append("/>");
        else _body.Append('>').Append(Tooltip(tooltip)).Append("</circle>");
        return this;
    }

    /// <summary>Text; <paramref name="anchor"/> is start, middle or end; <paramref name="rotate"/> in degrees about (x, y).</summary>
    public SvgDocument Text(double x, double y, string text, double size = 12, string anchor = "start",
        string fill = Palette.Text, string weight = "normal", double rotate = 0, string baseline = "auto")
    {
        _body.Append($"<text x=\"{N(x)}\" y=\"{N(y)}\" font-size=\"{N(size)}\" fill=\"{fill}\"");
        if (anchor != "start") _body.Append($" text-anchor=\"{anchor}\"");
        if (weight != "normal") _body.Append($" font-weight=\"{weight}\"");
        if (baseline != "auto") _body.Append($" dominant-baseline=\"{baseline}\"");
        if (rotate != 0) _body.Append($" transform=\"rotate({N(rotate)} {N(x)} {N(y)})\"");
        _body.Append('>').Append(Escape(text)).Append("</text>");
        return this;
    }

    /// <summary>An embedded raster image (a data: URI), drawn without smoothing so digits stay crisp.</summary>
    public SvgDocument Image(double x, double y, double w, double h, string dataUri, string? tooltip = null)
    {
        _body.Append($"<image x=\"{N(x)}\" y=\"{N(y)}\" width=\"{N(w)}\" height=\"{N(h)}\" preserveAspectRatio=\"none\" image-rendering=\"pixelated\" style=\"image-rendering:pixelated\" href=\"{dataUri}\"");
        if (tooltip is null) _body.Append("/>");
        else _body.Append('>').Append(Tooltip(tooltip)).Append("</image>");
        return this;
    }

    /// <summary>Raw markup (already escaped), e.g. a &lt;g&gt; opening tag.</summary>
    public SvgDocument Raw(string markup)
    {
        _body.Append(markup);
        return this;
    }

    /// <summary>The whole document: a standalone SVG with its own font, usable inline in HTML or as a file.</summary>
    public string ToSvg(string? title = null)
    {
        var sb = new StringBuilder();
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{N(Width)}\" height=\"{N(Height)}\" viewBox=\"0 0 {N(Width)} {N(Height)}\" ");
        sb.Append($"font-family=\"{Escape(Palette.FontFamily)}\" role=\"img\">");
        if (title is not null) sb.Append("<title>").Append(Escape(title)).Append("</title>");
        sb.Append($"<rect width=\"{N(Width)}\" height=\"{N(Height)}\" fill=\"#ffffff\"/>");
        sb.Append(_body);
        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>Approximate width of <paramref name="text"/> in pixels at <paramref name="size"/> (for layout only).</summary>
    public static double TextWidth(string text, double size)
    {
        double w = 0;
        foreach (char c in text)
            w += c switch
            {
                'i' or 'l' or 'j' or '.' or ',' or ':' or ';' or '!' or '|' or '\'' or 'I' => 0.28,
                'f' or 't' or 'r' or ' ' or '(' or ')' or '[' or ']' or '-' => 0.36,
                'm' or 'w' or 'M' or 'W' => 0.86,
                >= 'A' and <= 'Z' => 0.68,
                _ => 0.56,
            };
        return w * size;
    }
}
