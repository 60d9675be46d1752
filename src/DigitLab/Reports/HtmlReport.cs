// HtmlReport: the self-contained report document: sections with inline SVG figures and tables, each also saved as its own file.
using System.Net;
using System.Text;
using DigitLab.IO;

namespace DigitLab.Reports;

/// <summary>
/// Builds one HTML file with inline CSS, SVG and a few lines of JavaScript (no network needed to open it).
/// Every figure added is also written to <c>figures/ID.svg</c> and every table to <c>data/ID.csv</c> and <c>data/ID.json</c>.
/// </summary>
public sealed class HtmlReport
{
    private readonly List<HtmlSection> _sections = [];
    private readonly List<string> _files = [];

    public HtmlReport(string outputDirectory, string title)
    {
        OutputDirectory = Path.GetFullPath(outputDirectory);
        Title = title;
    }

    public string OutputDirectory { get; }
    public string Title { get; }
    public List<string> Notes { get; } = [];
    /// <summary>Every file written so far, relative to the output folder.</summary>
    public IReadOnlyList<string> Files => _files;

    public HtmlSection Section(string id, string title)
    {
        var section = new HtmlSection(this, id, title);
        _sections.Add(section);
        return section;
    }

    internal void WriteFile(string relative, string text)
    {
        AtomicFile.WriteAllText(Path.Combine(OutputDirectory, relative), text);
        _files.Add(relative);
    }

    internal void WriteFile(string relative, byte[] bytes)
    {
        AtomicFile.WriteAllBytes(Path.Combine(OutputDirectory, relative), bytes);
        _files.Add(relative);
    }

    /// <summary>Writes index.html and returns its path.</summary>
    public string Write()
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.Append($"<title>{WebUtility.HtmlEncode(Title)}</title><style>{Css}</style></head><body>");
        sb.Append("<nav><strong>DigitLab</strong>");
        foreach (var s in _sections) sb.Append($"<a href=\"#{s.Id}\">{WebUtility.HtmlEncode(s.Title)}</a>");
        sb.Append("</nav><main>");
        sb.Append($"<h1>{WebUtility.HtmlEncode(Title)}</h1>");
        foreach (var note in Notes) sb.Append($"<p class=\"note\">{WebUtility.HtmlEncode(note)}</p>");
        foreach (var s in _sections)
            sb.Append($"<section id=\"{s.Id}\"><h2>{WebUtility.HtmlEncode(s.Title)}</h2>").Append(s.Body).Append("</section>");
        sb.Append($"<footer>Written by DigitLab {WebUtility.HtmlEncode(typeof(HtmlReport).Assembly.GetName().Version?.ToString(3) ?? "")} on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. ");
        sb.Append("Figures: figures/*.svg; numbers: data/*.csv and data/*.json.</footer>");
        sb.Append($"</main><script>{Script}</script></body></html>\n");
        WriteFile("index.html", sb.ToString());
        return Path.Combine(OutputDirectory, "index.html");
    }

    private const string Css = """
        :root { --fg:#222; --muted:#666; --line:#e3e3e3; --accent:#1f77b4; }
        * { box-sizing: border-box; }
        body { margin:0; font-family:'Helvetica Neue',Helvetica,Arial,'DejaVu Sans',sans-serif; color:var(--fg); background:#fafafa; line-height:1.45; }
        nav { position:sticky; top:0; z-index:2; background:#fff; border-bottom:1px solid var(--line); padding:8px 24px; display:flex; flex-wrap:wrap; gap:4px 16px; font-size:14px; }
        nav a { color:var(--accent); text-decoration:none; }
        nav a:hover { text-decoration:underline; }
        main { max-width:1320px; margin:0 auto; padding:8px 24px 40px; }
        h1 { font-size:26px; margin:18px 0 6px; }
        h2 { font-size:21px; margin:0 0 12px; padding-top:8px; }
        h3 { font-size:16px; margin:18px 0 8px; }
        section { background:#fff; border:1px solid var(--line); border-radius:6px; padding:16px 20px; margin:18px 0; }
        p.note, p.caption { color:var(--muted); font-size:13px; margin:4px 0 10px; }
        .figures { display:flex; flex-wrap:wrap; gap:12px 20px; align-items:flex-start; }
        figure { margin:0; display:table; }
        figure svg { display:block; max-width:100%; height:auto; }
        figcaption { display:table-caption; caption-side:bottom; color:var(--muted); font-size:12.5px; margin-top:2px; padding:0 8px; }
        table.data { border-collapse:collapse; font-size:13px; margin:6px 0 14px; }
        table.data th, table.data td { padding:4px 10px; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
        table.data th { background:#f3f5f7; cursor:pointer; user-select:none; }
        table.data th.num, table.data td.num { text-align:right; font-variant-numeric:tabular-nums; }
        table.data tbody tr:hover { background:#f6f9fc; }
        .tables { display:flex; flex-wrap:wrap; gap:0 28px; }
        .gallery { display:flex; flex-wrap:wrap; gap:6px; margin:8px 0 16px; }
        .gallery .item { width:84px; text-align:center; font-size:11.5px; border:1px solid var(--line); border-radius:4px; padding:4px 2px; background:#fff; }
        .gallery .item img, .gallery .item svg { width:56px; height:56px; image-rendering:pixelated; display:block; margin:0 auto 2px; }
        .gallery .pair { font-weight:600; }
        .gallery .maps img { width:36px; height:36px; display:inline-block; margin:2px 1px 0; }
        .gallery .conf { color:var(--muted); }
        button { font:inherit; font-size:13px; padding:3px 10px; margin-right:6px; border:1px solid #bbb; border-radius:4px; background:#fff; cursor:pointer; }
        button:hover { background:#eef4fb; }
        footer { color:var(--muted); font-size:12px; margin-top:24px; }
        """;

    // Sorting: gallery items by confidence or true digit; any data table by a click on its header.
    private const string Script = """
        function sortGallery(id, key, descending) {
          const g = document.getElementById(id);
          if (!g) return;
          const items = Array.from(g.children);
          items.sort((a, b) => {
            const d = parseFloat(a.dataset[key]) - parseFloat(b.dataset[key]);
            return descending ? -d : d;
          });
          items.forEach(i => g.appendChild(i));
        }
        document.querySelectorAll('table.data').forEach(table => {
          table.querySelectorAll('th').forEach((th, col) => {
            th.title = 'Click to sort';
            th.addEventListener('click', () => {
              const body = table.tBodies[0];
              const rows = Array.from(body.rows);
              const descending = th.dataset.sort !== 'desc';
              th.dataset.sort = descending ? 'desc' : 'asc';
              const value = r => {
                const c = r.cells[col];
                return c.dataset.value !== undefined ? parseFloat(c.dataset.value) : c.textContent;
              };
              rows.sort((a, b) => {
                const x = value(a), y = value(b);
                const d = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
                return descending ? -d : d;
              });
              rows.forEach(r => body.appendChild(r));
            });
          });
        });
        """;
}

/// <summary>One section of the report; figures and tables added here are also written as files.</summary>
public sealed class HtmlSection
{
    private readonly HtmlReport _report;

    internal HtmlSection(HtmlReport report, string id, string title)
    {
        _report = report; Id = id; Title = title;
    }

    public string Id { get; }
    public string Title { get; }
    internal StringBuilder Body { get; } = new();

    public HtmlSection Heading(string text)
    {
        Body.Append($"<h3>{WebUtility.HtmlEncode(text)}</h3>");
        return this;
    }

    public HtmlSection Paragraph(string text, string cssClass = "note")
    {
        Body.Append($"<p class=\"{cssClass}\">{WebUtility.HtmlEncode(text)}</p>");
        return this;
    }

    /// <summary>Markup the caller built and escaped itself.</summary>
    public HtmlSection Raw(string html)
    {
        Body.Append(html);
        return this;
    }

    public HtmlSection BeginRow(string cssClass = "figures")
    {
        Body.Append($"<div class=\"{cssClass}\">");
        return this;
    }

    public HtmlSection EndRow()
    {
        Body.Append("</div>");
        return this;
    }

    /// <summary>Inlines <paramref name="svg"/> and writes it to figures/<paramref name="id"/>.svg.</summary>
    public HtmlSection Figure(string id, string svg, string? caption = null)
    {
        _report.WriteFile(Path.Combine("figures", id + ".svg"), svg);
        Body.Append($"<figure id=\"fig-{id}\">").Append(svg);
        if (caption is not null) Body.Append($"<figcaption>{WebUtility.HtmlEncode(caption)}</figcaption>");
        Body.Append("</figure>");
        return this;
    }

    /// <summary>Writes an extra file next to the figures (e.g. the PNG of an image grid).</summary>
    public HtmlSection Asset(string relativePath, byte[] bytes)
    {
        _report.WriteFile(relativePath, bytes);
        return this;
    }

    /// <summary>Shows <paramref name="table"/> and writes data/ID.csv and data/ID.json.</summary>
    public HtmlSection Table(ReportTable table, bool showTitle = true)
    {
        _report.WriteFile(Path.Combine("data", table.Id + ".csv"), table.ToCsv());
        _report.WriteFile(Path.Combine("data", table.Id + ".json"), table.ToJson());
        Body.Append("<div>");
        if (showTitle) Body.Append($"<h3>{WebUtility.HtmlEncode(table.Title)}</h3>");
        Body.Append(table.ToHtml()).Append("</div>");
        return this;
    }
}
