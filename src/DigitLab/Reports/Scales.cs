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
    /// <summary>Label log ticks as plain numbers (0.0001, 0.02) even on wide ranges: set for explicit ticks such as swept values.</summary>
    private bool PlainLabels { get; init; }

    /// <summary>
    /// A linear scale covering [<paramref name="dataMin"/>, <paramref name="dataMax"/>], widened to whole
    /// tick steps unless <paramref name="exact"/> (used for zoomed or fixed axes such as 0.95–1.0).
    /// A single value (min = max) gets an interval around it so it is drawn in the middle.
    /// </summary>
    /// <param name="integer">Ticks only at whole numbers (epochs, counts): the step is at least 1.</param>
    public static Scale Linear(double dataMin, double dataMax, double pixelStart, double pixelEnd, int tickCount = 6, bool exact = false, bool integer = false)
    {
        RequireFinite(dataMin, dataMax);
        if (dataMin > dataMax) (dataMin, dataMax) = (dataMax, dataMin);
        if (dataMin == dataMax)
        {
            double pad = dataMin == 0 || integer ? 1 : Math.Abs(dataMin) * 0.1;
            dataMin -= pad; dataMax += pad;
            exact = false;
        }
        double step = NiceStep((dataMax - dataMin) / Math.Max(1, tickCount - 1));
        if (integer) step = step < 1 ? 1 : step == 2.5 ? 2 : step; // 2.5 is the only fractional nice step above 1
        double min = exact ? dataMin : Math.Floor(dataMin / step + 1e-9) * step;
        double max = exact ? dataMax : Math.Ceiling(dataMax / step - 1e-9) * step;
        var ticks = new List<double>();
        for (double t = Math.Ceiling(min / step - 1e-9) * step; t <= max + step * 1e-9; t += step)
            ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        return new Scale(min, max, pixelStart, pixelEnd, false, ticks.ToArray(), step);
    }

    /// <summary>
    /// A base-10 logarithmic scale (values must be positive) padded by a tenth of a decade each side; ticks at powers
    /// of ten, plus 2× and 5× when the range spans fewer than three decades.
    /// </summary>
    public static Scale Log(double dataMin, double dataMax, double pixelStart, double pixelEnd)
    {
        RequireFinite(dataMin, dataMax);
        if (dataMin <= 0 || dataMax <= 0)
            throw new ArgumentException($"A log axis needs positive values; found the range [{dataMin}, {dataMax}]. Use a linear axis or drop non-positive values.");
        if (dataMin > dataMax) (dataMin, dataMax) = (dataMax, dataMin);
        double lo = Math.Log10(dataMin) - 0.1, hi = Math.Log10(dataMax) + 0.1;
        if (hi - lo < 1) { double mid = (lo + hi) / 2; lo = mid - 0.5; hi = mid + 0.5; }
        var ticks = new List<double>();
        bool minor = hi - lo < 3;
        for (int e = (int)Math.Floor(lo); e <= (int)Math.Ceiling(hi); e++)
            foreach (double m in minor ? new[] { 1.0, 2, 5 } : [1.0])
            {
                double t = m * Math.Pow(10, e);
                double lt = Math.Log10(t);
                if (lt >= lo - 1e-9 && lt <= hi + 1e-9) ticks.Add(t);
            }
        return new Scale(Math.Pow(10, lo), Math.Pow(10, hi), pixelStart, pixelEnd, true, ticks.ToArray(), 0);
    }

    /// <summary>The same mapping with ticks at <paramref name="ticks"/> (e.g. exactly the learning rates swept).</summary>
    public Scale WithTicks(IEnumerable<double> ticks) =>
        new(Min, Max, PixelStart, PixelEnd, IsLog, ticks.Where(t => t >= Min - 1e-12 && t <= Max + 1e-12).Distinct().Order().ToArray(), TickStep)
        {
            PlainLabels = true,
        };

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
        if (abs < 1e-4) return value.ToString("0.##e+0", CultureInfo.InvariantCulture);
        // Large values read better compactly: 12.5M, 250k (only when the step keeps the digits exact).
        if (abs >= 1e6 && step >= 1e5) return Trim(value / 1e6, step / 1e6) + "M";
        if (abs >= 1e4 && step >= 1e3) return Trim(value / 1e3, step / 1e3) + "k";
        return Trim(value, step);
    }

    /// <summary>The value with as many decimals as the step needs (step 0.25 → 2, step 0.01 → 2, step 5 → 0).</summary>
    private static string Trim(double value, double step)
    {
        int decimals = 0;
        while (decimals < 8 && Math.Abs(step * Math.Pow(10, decimals) - Math.Round(step * Math.Pow(10, decimals))) > 1e-6 * Math.Max(1, step * Math.Pow(10, decimals)))
            decimals++;
        return value.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    /// <summary>Powers of ten as 10⁻⁴ when the axis reaches below 0.01 or above 10⁴, other ticks as plain numbers (0.0002, 0.5, 20).</summary>
    public string FormatLog(double value)
    {
        double e = Math.Log10(value);
        bool powers = !PlainLabels && (Min < 0.01 || Max > 1e4);
        if (powers && Math.Abs(e - Math.Round(e)) < 1e-9) return "10" + Superscript((int)Math.Round(e));
        return value.ToString(value >= 1e4 ? "N0" : "0.#######", CultureInfo.InvariantCulture);
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
