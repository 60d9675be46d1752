using Microsoft.Playwright;

namespace DigitLab.Tests.Reports;

/// <summary>Opens the written report in headless Chromium (Debian's /usr/bin/chromium) and checks that it renders cleanly.</summary>
public class BrowserTests(SyntheticReportFixture report) : IClassFixture<SyntheticReportFixture>
{
    private const string Chromium = "/usr/bin/chromium";

    [SkippableFact]
    public async Task ReportRendersWithoutErrorsAndEverySvgHasASize()
    {
        Skip.IfNot(File.Exists(Chromium), $"{Chromium} is not installed (apt-get install chromium); the browser check needs it.");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        });
        var page = await browser.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") errors.Add("console: " + message.Text); };
        page.PageError += (_, error) => errors.Add("page error: " + error);
        page.RequestFailed += (_, request) => errors.Add("request failed: " + request.Url);
        await page.GotoAsync(new Uri(report.Index).AbsoluteUri);
        await page.WaitForLoadStateAsync(LoadState.Load);

        var sizes = await page.EvaluateAsync<double[][]>(
            "() => Array.from(document.querySelectorAll('svg')).map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })");
        Assert.True(sizes.Length >= 20, $"only {sizes.Length} SVGs in the page");
        Assert.All(sizes, s => Assert.True(s[0] > 0 && s[1] > 0, $"an SVG rendered at {s[0]}×{s[1]}"));

        // The gallery sort works: after "least confident first" the first card has the lowest confidence.
        await page.ClickAsync("text=Least confident first");
        var confidences = await page.EvaluateAsync<double[]>(
            "() => Array.from(document.querySelectorAll('.gallery')[0].children).map(c => parseFloat(c.dataset.confidence))");
        Assert.Equal(confidences.Order().ToArray(), confidences);
        var images = await page.EvaluateAsync<int>("() => Array.from(document.images).filter(i => i.complete && i.naturalWidth === 28).length");
        Assert.True(images > 0, "no gallery PNG decoded");
        Assert.Empty(errors);
    }
}
