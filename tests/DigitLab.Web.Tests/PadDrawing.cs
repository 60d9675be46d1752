// PadDrawing: drawing on the Recognise page's canvas with real mouse events, for every browser test that draws.
using Microsoft.Playwright;

namespace DigitLab.Web.Tests;

internal static class PadDrawing
{
    /// <summary>
    /// Draws a polyline given in the canvas's own coordinates (280×280, or the number mode's 700×200) with real mouse
    /// events, mapped onto the canvas's size on the page.
    /// </summary>
    public static async Task Stroke(IPage page, (double X, double Y)[] points, double canvasWidth = 280, double canvasHeight = 280)
    {
        var box = (await page.Locator("#pad").BoundingBoxAsync())!;
        (float, float) At((double X, double Y) p) => ((float)(box.X + p.X * box.Width / canvasWidth), (float)(box.Y + p.Y * box.Height / canvasHeight));
        var (x0, y0) = At(points[0]);
        await page.Mouse.MoveAsync(x0, y0);
        await page.Mouse.DownAsync();
        foreach (var p in points.Skip(1))
        {
            var (x, y) = At(p);
            await page.Mouse.MoveAsync(x, y, new MouseMoveOptions { Steps = 4 });
        }
        await page.Mouse.UpAsync();
    }

    /// <summary>An ellipse as a closed polyline (a 0), clockwise from the top.</summary>
    public static (double, double)[] Ellipse(double cx, double cy, double rx, double ry, int steps = 36) =>
        Enumerable.Range(0, steps + 1).Select(i => (cx + rx * Math.Sin(2 * Math.PI * i / steps), cy - ry * Math.Cos(2 * Math.PI * i / steps))).ToArray();
}
