// Scales: data → pixel mappings and "nice" tick positions (1, 2, 5 × 10^k), linear and logarithmic.
using System.Globalization;

namespace DigitLab.Reports;

/// <summary>Maps a data interval onto a pixel interval; <see cref="Ticks"/> are the labelled positions.</summary>
public sealed class Scale
{
    private Scale(double min, double max, double pixelStart, double pixelEnd, bool log, double[] ticks, double tickStep)
    {
        Min = min; Max = max; PixelStart = pixelStart; PixelEnd = pixelEnd; IsLog = log; Ticks = ticks; TickStep = tickStep;
    }

    public double Min { get; }
    public double Max { get; }
    public double PixelStart { get; }
    public double PixelEnd { get; }
    public bool IsLog { get; }
    public double[] Ticks { get; }
    private double TickStep { get; }

    /// <summary>
    /// A linear scale covering [<paramref name="dataMin"/>, <paramref name="dataMax"/>], widened to whole
    /// tick steps unless <paramref name="exact"/> (used for zoomed or fixed axes such as 0.95–1.0).
    /// A single value (min = max) gets an interval around it so it is drawn in the middle.
    /// </summary>
    public static Scale Linear(double dataMin, double dataMax, double pixelStart, double pixelEnd, int tickCount = 6, bool exact = false)
    {
        RequireFinite(dataMin, dataMax);
        if (dataMin > dataMax) (dataMin, dataMax) = (dataMax, dataMin);
        if (dataMin == dataMax)
        {
            double pad = dataMin == 0 ? 1 : Math.Abs(dataMin) * 0.1;
            dataMin -= pad; dataMax += pad;
            exact = false;
        }
        double step = NiceStep((dataMax - dataMin) / Math.Max(1, tickCount - 1));
        double min = exact ? dataMin : Math.Floor(dataMin / step + 1e-9) * step;
        double max = exact ? dataMax : Math.Ceiling(dataMax / step - 1e-9) * step;
        var ticks = new List<double>();
        for (double t = Math.Ceiling(min / step - 1e-9) * step; t <= max + step * 1e-9; t += step)
            ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        return new Scale(min, max, pixelStart, pixelEnd, false, ticks.ToArray(), step);
    }

    /// <summary>A base-10 logarithmic scale over whole decades (values must be positive), ticks at each power of ten.</summary>
    public static Scale Log(double dataMin, double dataMax, double pixelStart, double pixelEnd)
    {
        RequireFinite(dataMin, dataMax);
        if (dataMin <= 0 || dataMax <= 0)
            throw new ArgumentException($"A log axis needs positive values; found the range [{dataMin}, {dataMax}]. Use a linear axis or drop non-positive values.");
        if (dataMin > dataMax) (dataMin, dataMax) = (dataMax, dataMin);
        double lo = Math.Floor(Math.Log10(dataMin) + 1e-9), hi = Math.Ceiling(Math.Log10(dataMax) - 1e-9);
        if (hi <= lo) { lo -= 0.5; hi += 0.5; }
        var ticks = new List<double>();
        for (double e = Math.Ceiling(lo); e <= hi + 1e-9; e++) ticks.Add(Math.Pow(10, e));
        return new Scale(Math.Pow(10, lo), Math.Pow(10, hi), pixelStart, pixelEnd, true, ticks.ToArray(), 0);
    }

    /// <summary>The pixel position of <paramref name="value"/>.</summary>
    public double Map(double value)
    {
        double f = IsLog
            ? (Math.Log10(value) - Math.Log10(Min)) / (Math.Log10(Max) - Math.Log10(Min))
            : (value - Min) / (Max - Min);
        return PixelStart + f * (PixelEnd - PixelStart);
    }

    /// <summary>A tick label with just enough decimals for the step (0.95, 0.96 / 200, 400 / 1e-4).</summary>
    public string Format(double value) => IsLog ? FormatLog(value) : FormatLinear(value, TickStep);

    public static string FormatLinear(double value, double step)
    {
        if (value == 0) return "0";
        double abs = Math.Abs(value);
        if (abs >= 1e6 || abs < 1e-4) return value.ToString("0.##e+0", CultureInfo.InvariantCulture);
        if (abs >= 1000 && step >= 1000 && step % 1000 == 0 && abs >= 10000) return (value / 1000).ToString("0.##", CultureInfo.InvariantCulture) + "k";
        int decimals = step >= 1 ? 0 : (int)Math.Ceiling(-Math.Log10(step) - 1e-9);
        return value.ToString("F" + Math.Clamp(decimals, 0, 8), CultureInfo.InvariantCulture);
    }

    /// <summary>Powers of ten as 10⁻⁴ … 10⁴ when the axis spans tiny or huge values, else plain numbers (0.1, 1, 10).</summary>
    public string FormatLog(double value)
    {
        double e = Math.Log10(value);
        bool powers = Min < 0.01 || Max > 1e4;
        if (powers && Math.Abs(e - Math.Round(e)) < 1e-9) return "10" + Superscript((int)Math.Round(e));
        return value.ToString("0.####", CultureInfo.InvariantCulture);
    }

    private static string Superscript(int k)
    {
        const string digits = "⁰¹²³⁴⁵⁶⁷⁸⁹";
        var s = k.ToString(CultureInfo.InvariantCulture);
        return string.Concat(s.Select(c => c == '-' ? '⁻' : digits[c - '0']));
    }

    /// <summary>The smallest of 1, 2, 2.5, 5 × 10^k that is at least <paramref name="rough"/>.</summary>
    public static double NiceStep(double rough)
    {
        if (rough <= 0 || !double.IsFinite(rough)) return 1;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double f = rough / magnitude;
        double nice = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 2.5 + 1e-9 ? 2.5 : f <= 5 + 1e-9 ? 5 : 10;
        return nice * magnitude;
    }

    private static void RequireFinite(double a, double b)
    {
        if (!double.IsFinite(a) || !double.IsFinite(b))
            throw new ArgumentException($"An axis needs finite limits; found [{a}, {b}]. Remove NaN or infinite values before charting.");
    }
}
