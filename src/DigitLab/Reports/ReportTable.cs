// ReportTable: one table of numbers that the report shows as HTML and also writes as CSV and JSON, from the same rows.
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace DigitLab.Reports;

/// <summary>How a column's numbers are shown in HTML (CSV and JSON always keep full precision).</summary>
public enum ColumnFormat { Text, Integer, Percent, Fixed3, Fixed4, Seconds, Scientific }

public sealed record ReportColumn(string Name, ColumnFormat Format = ColumnFormat.Text);

/// <summary>
/// A table with typed cells (string, int, long, double or null). <see cref="ToHtml"/> formats numbers for
/// reading; <see cref="ToCsv"/> and <see cref="ToJson"/> keep every number round-trippable ("R").
/// </summary>
public sealed class ReportTable
{
    public ReportTable(string id, string title, params ReportColumn[] columns)
    {
        Id = id; Title = title; Columns = columns;
    }

    /// <summary>File stem of the CSV/JSON and the HTML anchor: letters, digits, '-' and '_' only.</summary>
    public string Id { get; }
    public string Title { get; }
    public IReadOnlyList<ReportColumn> Columns { get; }
    public List<object?[]> Rows { get; } = [];

    public ReportTable Add(params object?[] cells)
    {
        if (cells.Length != Columns.Count)
            throw new ArgumentException($"Table '{Id}' has {Columns.Count} columns ({string.Join(", ", Columns.Select(c => c.Name))}); a row had {cells.Length} cells.");
        Rows.Add(cells);
        return this;
    }

    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    public static string FormatCell(object? value, ColumnFormat format) => value switch
    {
        null => "–",
        double d when !double.IsFinite(d) => d.ToString(Ci),
        double d => format switch
        {
            ColumnFormat.Percent => (d * 100).ToString("F2", Ci) + "%",
            ColumnFormat.Fixed3 => d.ToString("F3", Ci),
            ColumnFormat.Fixed4 => d.ToString("F4", Ci),
            ColumnFormat.Seconds => d < 120 ? d.ToString("F1", Ci) + " s" : (d / 60).ToString("F1", Ci) + " min",
            ColumnFormat.Integer => d.ToString("N0", Ci),
            ColumnFormat.Scientific => d.ToString("G4", Ci),
            _ => d.ToString("G6", Ci),
        },
        int or long => Convert.ToInt64(value, Ci).ToString("N0", Ci),
        _ => Convert.ToString(value, Ci) ?? "",
    };

    /// <summary>The HTML table; numeric columns are right-aligned and carry data-value for sorting.</summary>
    public string ToHtml(string? cssClass = null)
    {
        var sb = new StringBuilder();
        sb.Append($"<table id=\"tbl-{Id}\" class=\"data{(cssClass is null ? "" : " " + cssClass)}\"><thead><tr>");
        foreach (var c in Columns) sb.Append($"<th{(c.Format == ColumnFormat.Text ? "" : " class=\"num\"")}>{WebUtility.HtmlEncode(c.Name)}</th>");
        sb.Append("</tr></thead><tbody>");
        foreach (var row in Rows)
        {
            sb.Append("<tr>");
            for (int i = 0; i < row.Length; i++)
            {
                bool numeric = row[i] is double or int or long;
                string raw = numeric ? Convert.ToString(row[i], Ci)! : "";
                sb.Append(numeric ? $"<td class=\"num\" data-value=\"{raw}\">" : "<td>");
                sb.Append(WebUtility.HtmlEncode(FormatCell(row[i], Columns[i].Format))).Append("</td>");
            }
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        return sb.ToString();
    }

    public string ToCsv()
    {
        var sb = new StringBuilder();
        sb.AppendLine(string.Join(",", Columns.Select(c => Quote(c.Name))));
        foreach (var row in Rows)
            sb.AppendLine(string.Join(",", row.Select(v => v switch
            {
                null => "",
                double d => d.ToString("R", Ci),
                float f => f.ToString("R", Ci),
                IFormattable f => f.ToString(null, Ci),
                _ => Quote(v.ToString() ?? ""),
            })));
        return sb.ToString();
    }

    private static string Quote(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>An array of objects keyed by column name; NaN and infinities become strings ("NaN") since JSON has no such numbers.</summary>
    public string ToJson()
    {
        var array = new JsonArray();
        foreach (var row in Rows)
        {
            var obj = new JsonObject();
            for (int i = 0; i < row.Length; i++)
                obj[Columns[i].Name] = row[i] switch
                {
                    null => null,
                    double d when !double.IsFinite(d) => JsonValue.Create(d.ToString(Ci)),
                    double d => JsonValue.Create(d),
                    int n => JsonValue.Create(n),
                    long n => JsonValue.Create(n),
                    _ => JsonValue.Create(Convert.ToString(row[i], Ci)),
                };
            array.Add(obj);
        }
        return array.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
