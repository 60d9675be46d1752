// BrowserTests: the pages in a real browser (headless chromium): drawing digits with the mouse, browsing and
// filtering the dataset, starting and cancelling a training job, and screenshots at desktop and phone sizes.
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using DigitLab.Web.Api;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace DigitLab.Web.Tests;

[CollectionDefinition("browser")]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>;

[Collection("browser")]
public sealed class BrowserTests(BrowserFixture fixture)
{
    static BrowserTests() => SetDefaultExpectTimeout(30_000); // a guard against hangs on a busy machine, not a timing check

    private static Task Stroke(IPage page, params (double X, double Y)[] points) => PadDrawing.Stroke(page, points);
    private static (double, double)[] Ellipse(double cx, double cy, double rx, double ry) => PadDrawing.Ellipse(cx, cy, rx, ry);

    [Fact]
    public async Task Recognise_DrawnDigits_WithTheMouse()
    {
        var page = await fixture.NewPage();
        await page.GotoAsync("index.html");
        await Expect(page.Locator("#model")).ToContainTextAsync(BrowserFixture.ModelName);

        await page.ClickAsync("#recognise");
        await Expect(page.Locator("#status")).ToContainTextAsync("empty");
        await Expect(page.Locator("#digit")).ToHaveTextAsync("?");

        await Stroke(page, Ellipse(140, 140, 55, 90));
        await Expect(page.Locator("#digit")).ToHaveTextAsync("0");
        await Expect(page.Locator("#bars .track")).ToHaveCountAsync(10);
        // The winning bar is drawn nearly full width; touch drawing must not scroll the page.
        Assert.True(await page.EvaluateAsync<bool>("() => { const t = document.querySelector('#bars .track.best'); return t.firstElementChild.getBoundingClientRect().width > 0.5 * t.getBoundingClientRect().width; }"));
        Assert.Equal("none", await page.EvaluateAsync<string>("() => getComputedStyle(document.getElementById('pad')).touchAction"));
        // The 28×28 image the model saw is drawn: some pixel of it is lit.
        Assert.True(await page.EvaluateAsync<bool>("() => { const d = document.getElementById('seen').getContext('2d').getImageData(0,0,28,28).data; return d.some((v,i) => i % 4 === 0 && v > 0); }"));

        await page.ClickAsync("#clear");
        await Stroke(page, (140, 40), (140, 240));
        await Expect(page.Locator("#digit")).ToHaveTextAsync("1");

        await page.ClickAsync("#clear");
        await Stroke(page, (75, 55), (205, 55), (115, 240));
        await Expect(page.Locator("#digit")).ToHaveTextAsync("7");

        await page.CheckAsync("#compare");
        await Expect(page.Locator("#compare-table tbody tr")).ToHaveCountAsync(2);
        await Expect(page.Locator("#compare-table")).ToContainTextAsync(BrowserFixture.CopyName);
    }

    /// <summary>With "Show what the model looked at" on, the answer's map is drawn over the input in red and blue, and
    /// hovering another digit's bar shows that digit's map.</summary>
    [Fact]
    public async Task Recognise_ShowsWhatTheModelLookedAt_PerDigitOnHover()
    {
        var page = await fixture.NewPage();
        await page.GotoAsync("index.html");
        await Expect(page.Locator("#model")).ToContainTextAsync(BrowserFixture.ModelName);
        await Expect(page.Locator("#looked-panel")).ToBeHiddenAsync();
        await page.CheckAsync("#explain");
        await Stroke(page, Ellipse(140, 140, 55, 90));
        await Expect(page.Locator("#digit")).ToHaveTextAsync("0");
        await Expect(page.Locator("#looked-panel")).ToBeVisibleAsync();
        await Expect(page.Locator("#looked-caption")).ToHaveTextAsync("what pointed to 0 (its answer)");
        const string tinted = "() => { const d = document.getElementById('looked').getContext('2d').getImageData(0,0,28,28).data; " +
                              "let red = 0, blue = 0; for (let i = 0; i < d.length; i += 4) { if (d[i] > d[i+2] + 60) red++; if (d[i+2] > d[i] + 60) blue++; } return [red, blue]; }";
        var answerTint = await page.EvaluateAsync<int[]>(tinted);
        Assert.True(answerTint[0] > 0, "no pixel of the map raised the answer's score");
        string answerMap = await page.EvaluateAsync<string>("() => document.getElementById('looked').toDataURL()");

        await page.HoverAsync("#bars .track >> nth=6");
        await Expect(page.Locator("#looked-caption")).ToHaveTextAsync("what pointed to 6");
        Assert.NotEqual(answerMap, await page.EvaluateAsync<string>("() => document.getElementById('looked').toDataURL()"));
        await page.HoverAsync("#pad");
        await Expect(page.Locator("#looked-caption")).ToHaveTextAsync("what pointed to 0 (its answer)");
    }

    /// <summary>Number mode: a 3-digit number written with the mouse on the wide canvas is read back, one box per digit.</summary>
    [Fact]
    public async Task Recognise_NumberMode_ReadsAThreeDigitNumberWrittenWithTheMouse()
    {
        var page = await fixture.NewPage();
        await page.GotoAsync("index.html");
        await Expect(page.Locator("#model")).ToContainTextAsync(BrowserFixture.ModelName);
        await page.CheckAsync("#number-mode");
        Assert.Equal(700, await page.EvaluateAsync<int>("() => document.getElementById('pad').width"));
        Task Write(params (double X, double Y)[] points) => PadDrawing.Stroke(page, points, 700, 200); // the number mode's 700×200 canvas
        await page.UncheckAsync("#live");
        await Write((130, 20), (112, 182));                                       // 1, slanted as handwriting is
        await Write((250, 30), (360, 30), (285, 175));                            // 7
        await Write(Ellipse(520, 100, 45, 72));                                   // 0
        await page.ClickAsync("#recognise");
        await Expect(page.Locator("#digit")).ToHaveTextAsync("170");
        await Expect(page.Locator("#bars .track")).ToHaveCountAsync(3);
        // The boxes are drawn over the pad (green), never into the drawing that was sent.
        Assert.True(await page.EvaluateAsync<bool>("() => { const d = document.getElementById('pad-boxes').getContext('2d').getImageData(0,0,700,200).data; for (let i = 0; i < d.length; i += 4) if (d[i+1] > 150 && d[i] < 100 && d[i+3] > 0) return true; return false; }"));
        Assert.False(await page.EvaluateAsync<bool>("() => { const d = document.getElementById('pad').getContext('2d').getImageData(0,0,700,200).data; for (let i = 0; i < d.length; i += 4) if (d[i+1] !== d[i]) return true; return false; }"));
    }

    [Fact]
    public async Task Recognise_UploadedPng_DarkInkOnPaper()
    {
        var page = await fixture.NewPage();
        await page.GotoAsync("index.html");
        var grey = TestImages.Rectangle(200, 92, 20, 16, 160); // a vertical bar: a "1"
        for (int i = 0; i < grey.Length; i++) grey[i] = (byte)(255 - grey[i]); // black ink on white paper
        await page.SetInputFilesAsync("#upload", new FilePayload { Name = "one.png", MimeType = "image/png", Buffer = TestImages.GreyPng(grey, 200, 200) });
        await Expect(page.Locator("#status")).ToContainTextAsync("one.png");
        await Expect(page.Locator("#digit")).ToHaveTextAsync("1");
    }

    [Fact]
    public async Task Recognise_RandomTestImage_ShowsItsLabel()
    {
        var page = await fixture.NewPage();
        await page.GotoAsync("index.html");
        await page.ClickAsync("#random");
        await Expect(page.Locator("#truth")).ToContainTextAsync("True label");
        await Expect(page.Locator("#digit")).ToHaveTextAsync(new Regex("^[0-9]$"));
        await page.CheckAsync("#compare"); // the same test image, asked of every model
        await Expect(page.Locator("#compare-table tbody tr")).Not.ToHaveCountAsync(0);
        await Expect(page.Locator("#compare-table")).ToContainTextAsync(BrowserFixture.CopyName);
        await Expect(page.Locator("#truth")).ToContainTextAsync("True label");
    }

    [Fact]
    public async Task Dataset_PagesAndFilters()
    {
        var page = await fixture.NewPage();
        await page.GotoAsync("dataset.html");
        await Expect(page.Locator(".thumb")).ToHaveCountAsync(100);
        await Expect(page.Locator("#where")).ToContainTextAsync("Page 1 of 600");
        await page.ClickAsync("#prev");
        await Expect(page.Locator("#status")).ToContainTextAsync("first page");

        await page.ClickAsync("#digits >> text=3");
        await Expect(page.Locator("#where")).ToContainTextAsync("of digit 3");
        var captions = await page.Locator(".thumb div").AllTextContentsAsync();
        Assert.Equal(100, captions.Count);
        Assert.All(captions, c => Assert.StartsWith("3 ·", c));

        await page.ClickAsync("#next");
        await Expect(page.Locator("#where")).ToContainTextAsync("Page 2 of 62"); // 6,131 threes in the training set
        await page.FillAsync("#page", "62");
        await page.Locator("#page").DispatchEventAsync("change");
        await Expect(page.Locator("#where")).ToContainTextAsync("Page 62 of 62");
        await Expect(page.Locator(".thumb")).ToHaveCountAsync(31);
        await page.ClickAsync("#next");
        await Expect(page.Locator("#status")).ToContainTextAsync("last page");

        await page.ClickAsync("#digits >> text=8"); // 3 and 8 together
        await Expect(page.Locator("#where")).ToContainTextAsync("of digits 3, 8");
        await page.Locator(".thumb").First.ClickAsync();
        await Expect(page.Locator("#detail")).ToBeVisibleAsync();
        await Expect(page.Locator("#detail-label")).ToContainTextAsync(new Regex("Label: [38]"));
        using var client = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        var models = await client.GetFromJsonAsync<ModelsList>("api/models", System.Text.Json.JsonSerializerOptions.Web);
        await Expect(page.Locator("#detail-predictions tbody tr")).ToHaveCountAsync(models!.Models.Count); // one row per saved model
        await Expect(page.Locator("#detail-predictions")).ToContainTextAsync(BrowserFixture.CopyName);
        Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(AppContext.BaseDirectory, "screenshots", "dataset-detail-desktop.png") });
    }

    [Fact]
    public async Task Train_StartShowsProgress_ReloadReconnects_CancelKeepsThePartialModel()
    {
        var page = await fixture.NewPage();
        await page.GotoAsync("train.html");
        await page.SelectOptionAsync("#arch", "mlp");
        await page.FillAsync("#epochs", "10"); // far more than the test watches: it is cancelled long before the end
        await page.FillAsync("#batch", "8"); // many small batches: the job runs long enough to watch and cancel
        await page.FillAsync("#name", "browser-partial");
        await page.SelectOptionAsync("#augment", "robust");
        await page.ClickAsync("#start");

        const string Width = "() => parseFloat(document.getElementById('fill').style.width || '0')";
        await Expect(page.Locator("#progress-text")).ToContainTextAsync(new Regex(@"epoch \d+/10"));
        await page.WaitForFunctionAsync($"() => ({Width})() > 0");
        double first = await page.EvaluateAsync<double>(Width);
        // The bar moves on: wait (bounded by the default timeout) for a larger width than the first one seen.
        await page.WaitForFunctionAsync($"w => ({Width})() > w", first);

        await page.ReloadAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("Training mlp");
        await Expect(page.Locator("#cancel")).ToBeEnabledAsync();
        await Expect(page.Locator("#augment")).ToHaveValueAsync("robust"); // the running job's recipe, read back by name
        await page.WaitForFunctionAsync($"w => ({Width})() >= w", first); // after a reload the page shows the running job's progress
        await Expect(page.Locator("#curve polyline")).ToHaveCountAsync(1);
        Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots"));
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(AppContext.BaseDirectory, "screenshots", "train-running-desktop.png"), FullPage = true });

        await page.ClickAsync("#cancel");
        await Expect(page.Locator("#status")).ToContainTextAsync("partial model is saved");
        await Expect(page.Locator("#start")).ToBeEnabledAsync();

        using var client = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
        var models = await client.GetFromJsonAsync<ModelsList>("api/models", System.Text.Json.JsonSerializerOptions.Web);
        var partial = Assert.Single(models!.Models, m => m.Name == "browser-partial");
        Assert.True(partial.Partial);
    }

    [Fact]
    public async Task Screenshots_EveryPage_DesktopAndPhone_NoSidewaysScrolling()
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(dir);
        foreach (var (device, width, height) in new[] { ("desktop", 1280, 900), ("phone", 390, 844) })
        {
            var page = await fixture.NewPage(width, height);
            foreach (var name in new[] { "index", "dataset", "mydigits", "train", "models" })
            {
                await page.GotoAsync($"{name}.html");
                if (name == "train") await Expect(page.Locator("#status")).ToContainTextAsync(new Regex("\\w"));
                if (name == "index") await Stroke(page, Ellipse(140, 140, 55, 90));
                if (name == "index") await Expect(page.Locator("#digit")).ToHaveTextAsync("0");
                if (name == "dataset") await Expect(page.Locator(".thumb")).ToHaveCountAsync(100);
                if (name == "models") await Expect(page.Locator("article")).Not.ToHaveCountAsync(0);
                if (name == "mydigits") await Expect(page.Locator("#summary")).ToContainTextAsync("drawing(s)");
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(dir, $"{name}-{device}.png"), FullPage = true });
                int overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
                Assert.True(overflow <= 0, $"{name} on a {width}px-wide {device} scrolls sideways by {overflow}px");
            }
            await page.Context.CloseAsync();
        }
    }
}
