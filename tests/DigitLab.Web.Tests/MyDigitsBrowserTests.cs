// MyDigitsBrowserTests: the web app learning the user's handwriting, in a real browser (headless chromium): draw digits,
// correct a label, save, see them on My digits, delete one, export the image folder, import it, and fine-tune on it.
using System.IO.Compression;
using System.Net.Http.Json;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.IO;
using DigitLab.Training;
using DigitLab.Web.Services;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace DigitLab.Web.Tests;

[Collection("browser")]
public sealed class MyDigitsBrowserTests(BrowserFixture fixture)
{
    private const string FineTuned = "browser-mine";

    /// <summary>Fine-tuning a few images for one epoch at a tenth of the rate must not cost the model more MNIST accuracy than this.</summary>
    private const double MnistMargin = 0.02;

    static MyDigitsBrowserTests() => SetDefaultExpectTimeout(30_000); // a guard against hangs on a busy machine, not a timing check

    private static Task Stroke(IPage page, params (double X, double Y)[] points) => PadDrawing.Stroke(page, points);
    private static (double, double)[] Ellipse(double cx, double cy, double rx, double ry) => PadDrawing.Ellipse(cx, cy, rx, ry);

    /// <summary>
    /// Draws, presses Recognise, waits for the answer and the Teach panel with that answer preselected, optionally corrects
    /// it, and saves. Live recognition is off in this test, so exactly one answer arrives per drawing.
    /// </summary>
    private static async Task DrawAndSave(IPage page, string expected, int? correctTo, params (double, double)[] points)
    {
        await page.ClickAsync("#clear");
        await Expect(page.Locator("#teach")).ToBeHiddenAsync();
        await Stroke(page, points);
        await page.ClickAsync("#recognise");
        await Expect(page.Locator("#digit")).ToHaveTextAsync(expected);
        await Expect(page.Locator("#teach")).ToBeVisibleAsync();
        await Expect(page.Locator("#teach-digits button.on")).ToHaveTextAsync(expected); // the answer is preselected
        if (correctTo is { } label) await page.ClickAsync($"#teach-digits button[data-digit=\"{label}\"]");
        await page.ClickAsync("#save-drawing");
        await Expect(page.Locator("#teach-note")).ToContainTextAsync($"Saved as {correctTo?.ToString() ?? expected}");
        await Expect(page.Locator("#save-drawing")).ToBeDisabledAsync(); // saved once: drawing again enables it
    }

    [Fact]
    public async Task Teach_MyDigits_Export_Import_FineTune()
    {
        var store = fixture.App.Services.GetRequiredService<MyDigitsStore>();
        foreach (var drawing in store.List()) store.Delete(drawing.Id);
        string modelPath = Path.Combine(fixture.ModelsDirectory, FineTuned + ".safetensors");
        try
        {
            var page = await fixture.NewPage();
            await page.GotoAsync("index.html");
            await Expect(page.Locator("#model")).ToContainTextAsync(BrowserFixture.ModelName);
            await page.UncheckAsync("#live");

            await DrawAndSave(page, "0", null, Ellipse(140, 140, 55, 90));
            await DrawAndSave(page, "1", 7, (140, 40), (140, 240)); // the user says this one is a 7: the label is corrected
            await Expect(page.Locator("#teach-note")).ToContainTextAsync("the model said 1");
            await DrawAndSave(page, "7", null, (75, 55), (205, 55), (115, 240));
            await DrawAndSave(page, "1", null, (150, 35), (140, 245));

            // The store holds what the page sent: labels as chosen, the model's answers beside them.
            var saved = store.List();
            Assert.Equal([0, 7, 7, 1], saved.Select(d => d.Label));
            Assert.Equal([0, 1, 7, 1], saved.Select(d => d.Predicted ?? -1));
            Assert.All(saved, d => Assert.Equal(BrowserFixture.ModelName, d.Model));

            await page.ClickAsync("nav >> text=My digits");
            await Expect(page.Locator("#total")).ToHaveTextAsync("4");
            await Expect(page.Locator("section[data-digit=\"7\"] .thumb")).ToHaveCountAsync(2);
            await Expect(page.Locator("#counts .count[data-digit=\"7\"]")).ToContainTextAsync("2");
            await Expect(page.Locator("#per-digit")).ToBeVisibleAsync(); // how the active model does on them
            await Expect(page.Locator("#accuracy")).ToHaveTextAsync("75.0%"); // the corrected 7 is read as 1
            // Every thumbnail is the stored 28×28 input, served as a PNG the browser could decode.
            await page.WaitForFunctionAsync("() => [...document.querySelectorAll('.thumb img')].every(i => i.complete && i.naturalWidth === 28)");

            await page.ClickAsync("section[data-digit=\"0\"] button.delete");
            await Expect(page.Locator("#total")).ToHaveTextAsync("3");
            await Expect(page.Locator("section[data-digit=\"0\"]")).ToHaveCountAsync(0);

            // Export: a zip of the image-folder layout, one 28×28 PNG per drawing, each equal to the stored input.
            var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#export"));
            string zipPath = Path.Combine(fixture.ModelsDirectory, "export.zip");
            await download.SaveAsAsync(zipPath);
            using (var zip = ZipFile.OpenRead(zipPath))
            {
                Assert.Equal(["1", "7", "7"], zip.Entries.Select(e => e.FullName.Split('/')[0]).Order());
                foreach (var entry in zip.Entries)
                {
                    using var stream = entry.Open();
                    using var copy = new MemoryStream();
                    stream.CopyTo(copy);
                    var image = ImageDecoder.Decode(copy.ToArray());
                    long id = long.Parse(Path.GetFileNameWithoutExtension(entry.Name));
                    Assert.Equal(store.Input(id), image.ToGrey());
                }
            }

            // Import the exported folder back: the collection doubles.
            await page.SetInputFilesAsync("#import", zipPath);
            await Expect(page.Locator("#import-result")).ToContainTextAsync("Imported 3 image(s)");
            await Expect(page.Locator("#total")).ToHaveTextAsync("6");

            // Fine-tune the active model on MNIST + these six drawings, one epoch, from the Train page.
            await page.ClickAsync("text=Fine-tune a model on them");
            await Expect(page.Locator("#ft-drawings")).ToContainTextAsync("6 drawing(s)");
            await page.SelectOptionAsync("#ft-base", BrowserFixture.ModelName);
            await page.FillAsync("#ft-epochs", "1");
            await page.FillAsync("#ft-name", FineTuned);
            await page.ClickAsync("#ft-start");
            await Expect(page.Locator("#status")).ToContainTextAsync($"saved as \"{FineTuned}\"", new() { Timeout = 120_000 });
            await Expect(page.Locator("#finetune-table")).ToContainTextAsync("MNIST test (10,000)");
            await Expect(page.Locator("#finetune-table")).ToContainTextAsync("Your held-out drawings (1)");
            Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots"));
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(AppContext.BaseDirectory, "screenshots", "finetune-desktop.png"), FullPage = true });

            // The figures are real: "before" on MNIST is the base model's own test accuracy, and one epoch on a few
            // drawings at a tenth of the rate keeps MNIST within the margin.
            using var client = new HttpClient { BaseAddress = new Uri(fixture.BaseUrl) };
            var status = await client.GetFromJsonAsync<JobStatus>("api/training", JsonSerializerOptions.Web);
            var figures = status!.FineTune!;
            Assert.Equal((5, 1, 5, 10_000), (figures.OwnTrain, figures.OwnHeldOut, figures.Replay, figures.MnistTest));
            var baseModel = Checkpoint.Load(Path.Combine(fixture.ModelsDirectory, BrowserFixture.ModelName + ".safetensors"));
            var expected = Evaluator.Evaluate(baseModel.Model, DatasetStore.LoadTest(null),
                new Normalization(baseModel.Info.NormalizationMean, baseModel.Info.NormalizationStd), new Runtime.ComputeContext(0), collectMisclassified: false); // all cores, as the job's trainer
            Assert.Equal(expected.Accuracy, figures.MnistBefore, 12);
            Assert.True(figures.MnistAfter >= figures.MnistBefore - MnistMargin, $"MNIST accuracy fell from {figures.MnistBefore:P2} to {figures.MnistAfter:P2}");
            Assert.True(File.Exists(modelPath));
            Assert.Equal(BrowserFixture.ModelName, File.ReadAllText(Path.Combine(fixture.ModelsDirectory, "active.txt")).Trim()); // fine-tuning does not change the active model
        }
        finally
        {
            // Leave the shared app as the other browser tests expect it: two models, no drawings.
            foreach (var drawing in store.List()) store.Delete(drawing.Id);
            File.Delete(modelPath);
        }
    }
}
