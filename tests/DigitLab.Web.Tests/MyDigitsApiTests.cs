// MyDigitsApiTests: /api/mydigits against a real SQLite file in a temporary models directory: save (Teach), list,
// images, delete, counts, export and import as an image-folder zip, evaluation, and hostile input.
using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using DigitLab.IO;
using DigitLab.Web.Api;
using DigitLab.Web.Services;
using Microsoft.Extensions.DependencyInjection;

namespace DigitLab.Web.Tests;

public sealed class MyDigitsApiTests : IDisposable
{
    private readonly FakeWebApp _app = new();
    private readonly HttpClient _client;

    public MyDigitsApiTests()
    {
        _app.Store.Add("alpha");
        _client = _app.CreateClient();
    }

    public void Dispose()
    {
        string dir = ModelsDirectory;
        _app.Dispose();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }

    private string ModelsDirectory => _app.Services.GetRequiredService<DigitLabOptions>().ModelsDirectory;
    private string DatabasePath => Path.Combine(ModelsDirectory, MyDigitsStore.FileName);

    /// <summary>A 200×200 canvas with a vertical bar (a "1"); the band classifier reads any centred bar as 5.</summary>
    private static byte[] Bar() => TestImages.Rectangle(200, 92, 20, 16, 160);

    private static object Drawing(int? label, byte[]? grey = null) =>
        new { width = 200, height = 200, pixels = Convert.ToBase64String(grey ?? Bar()), label };

    private async Task<SavedDrawing> Save(int label, byte[]? grey = null) =>
        await HttpAssert.Ok<SavedDrawing>(await _client.PostAsJsonAsync("/api/mydigits", Drawing(label, grey)), HttpStatusCode.Created);

    private async Task<MyDigitsList> List(string query = "") =>
        await HttpAssert.Ok<MyDigitsList>(await _client.GetAsync("/api/mydigits" + query));

    [Fact]
    public async Task Save_StoresCanvasInputLabelAndAnswer_ListCountsImagesDelete()
    {
        var canvas = Bar();
        var saved = await Save(7, canvas); // the user corrects the model's 5 to 7
        Assert.Equal(7, saved.Drawing.Label);
        Assert.Equal(5, saved.Drawing.Predicted);
        Assert.Equal("alpha", saved.Drawing.Model);
        Assert.InRange(saved.Drawing.Confidence!.Value, 0.1, 1.0);
        Assert.Equal(1, saved.Counts[7]);

        // The stored input is exactly what the predict endpoint gives the model for the same canvas.
        var predicted = await HttpAssert.Ok<PredictResponse>(await _client.PostAsJsonAsync("/api/predict/drawing",
            new { width = 200, height = 200, pixels = Convert.ToBase64String(canvas) }));
        Assert.Equal(predicted.Image, saved.Image);
        Assert.Equal(predicted.Results[0].Confidence, saved.Drawing.Confidence!.Value, 6);

        await Save(3);
        var all = await List();
        Assert.Equal(2, all.Total);
        Assert.Equal([0, 0, 0, 1, 0, 0, 0, 1, 0, 0], all.Counts);
        Assert.Equal(DatabasePath, all.Database);
        var sevens = await List("?digit=7");
        Assert.Equal(saved.Drawing.Id, Assert.Single(sevens.Items).Id);

        var input = ImageDecoder.Decode(await _client.GetByteArrayAsync($"/api/mydigits/{saved.Drawing.Id}/input.png"));
        Assert.Equal((28, 28), (input.Width, input.Height));
        Assert.Equal(Convert.FromBase64String(saved.Image), input.ToGrey());
        var raw = ImageDecoder.Decode(await _client.GetByteArrayAsync($"/api/mydigits/{saved.Drawing.Id}/canvas.png"));
        Assert.Equal((200, 200), (raw.Width, raw.Height));
        Assert.Equal(canvas, raw.ToGrey());

        var afterDelete = await HttpAssert.Ok<MyDigitsList>(await _client.DeleteAsync($"/api/mydigits/{saved.Drawing.Id}"));
        Assert.Equal(0, afterDelete.Counts[7]);
        Assert.Equal(1, afterDelete.Total);
        await HttpAssert.Problem(await _client.DeleteAsync($"/api/mydigits/{saved.Drawing.Id}"), HttpStatusCode.NotFound, $"no drawing {saved.Drawing.Id}");
        await HttpAssert.Problem(await _client.GetAsync($"/api/mydigits/{saved.Drawing.Id}/input.png"), HttpStatusCode.NotFound);
        await HttpAssert.Problem(await _client.GetAsync("/api/mydigits/abc/input.png"), HttpStatusCode.BadRequest, "whole number");
    }

    [Theory]
    [InlineData(10, "0 to 9")]
    [InlineData(-1, "0 to 9")]
    [InlineData(null, "'label'")]
    public async Task Save_BadLabel_IsRefused_NothingStored(int? label, string fragment)
    {
        await Save(1);
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits", Drawing(label)), HttpStatusCode.BadRequest, fragment);
        Assert.Equal(1, (await List()).Total);
    }

    [Fact]
    public async Task Save_CorruptOversizedOrEmptyDrawing_IsRefused_NothingStored()
    {
        await Save(4);
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits", new { width = 200, height = 200, pixels = "not base64!", label = 1 }),
            HttpStatusCode.BadRequest, "not base64");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits", new { width = 2000, height = 200, pixels = "AAAA", label = 1 }),
            HttpStatusCode.BadRequest, "between 8 and");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits", Drawing(1, new byte[200 * 200])), HttpStatusCode.BadRequest, "empty");
        var huge = new string('A', (int)MyDigitsApi.SaveBodyLimit + 10);
        await HttpAssert.Problem(await _client.PostAsync("/api/mydigits", HttpAssert.Json($"{{\"width\":200,\"height\":200,\"label\":1,\"pixels\":\"{huge}\"}}")),
            HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(1, (await List()).Total);
    }

    [Fact]
    public async Task ExportZip_IsTheImageFolderLayout_AndImportsBack()
    {
        var a = await Save(2);
        var b = await Save(9);
        var response = await _client.GetAsync("/api/mydigits/export.zip");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/zip", response.Content.Headers.ContentType?.MediaType);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        using (var zip = new ZipArchive(new MemoryStream(bytes)))
        {
            Assert.Equal([$"2/{a.Drawing.Id}.png", $"9/{b.Drawing.Id}.png"], zip.Entries.Select(e => e.FullName).Order());
            using var stream = zip.GetEntry($"2/{a.Drawing.Id}.png")!.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var image = ImageDecoder.Decode(copy.ToArray());
            Assert.Equal(Convert.FromBase64String(a.Image), image.ToGrey());
        }

        var report = await HttpAssert.Ok<ImportReport>(await _client.PostAsJsonAsync("/api/mydigits/import", new { zip = Convert.ToBase64String(bytes), name = "mine.zip" }));
        Assert.Equal(2, report.Added);
        Assert.Empty(report.Skipped);
        Assert.Equal(2, report.Counts[2]);
        Assert.Equal(2, report.Counts[9]);
        // The imported 28×28 images are taken as they are: their inputs equal the originals.
        var twos = (await List("?digit=2")).Items;
        var imported = Assert.Single(twos, d => d.Id != a.Drawing.Id);
        Assert.StartsWith("import: mine.zip", imported.Model);
        Assert.Equal(await _client.GetByteArrayAsync($"/api/mydigits/{a.Drawing.Id}/input.png"), await _client.GetByteArrayAsync($"/api/mydigits/{imported.Id}/input.png"));
    }

    [Fact]
    public async Task ImportZip_SkipsUnreadableFilesWithReasons_KeepsTheRest()
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] content) { using var s = zip.CreateEntry(name).Open(); s.Write(content); }
            var big = TestImages.Rectangle(120, 50, 10, 20, 100);
            for (int i = 0; i < big.Length; i++) big[i] = (byte)(255 - big[i]); // dark ink on paper, any size: preprocessed
            Add("digits/1/paper.png", TestImages.GreyPng(big, 120, 120));
            Add("digits/6/broken.png", [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
            Add("digits/6/blank.png", TestImages.GreyPng(new byte[28 * 28], 28, 28));
            Add("readme.txt", "hello"u8.ToArray());
        }
        var report = await HttpAssert.Ok<ImportReport>(await _client.PostAsJsonAsync("/api/mydigits/import", new { zip = Convert.ToBase64String(buffer.ToArray()) }));
        Assert.Equal(1, report.Added);
        Assert.Equal(1, report.Counts[1]);
        Assert.Equal(["digits/6/blank.png", "digits/6/broken.png", "readme.txt"], report.Skipped.Select(s => s.Path).Order());
        Assert.Contains("digit folder", report.Skipped.Single(s => s.Path == "readme.txt").Reason);
        Assert.Contains("empty", report.Skipped.Single(s => s.Path == "digits/6/blank.png").Reason);
        Assert.All(report.Skipped, s => Assert.False(string.IsNullOrWhiteSpace(s.Reason)));
    }

    [Fact]
    public async Task Import_NotAZipOrNotBase64_IsRefused_NothingLost()
    {
        await Save(8);
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits/import", new { zip = Convert.ToBase64String("not a zip at all"u8.ToArray()), name = "x.zip" }),
            HttpStatusCode.BadRequest, "x.zip is not a zip archive");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits/import", new { zip = "@@@" }), HttpStatusCode.BadRequest, "not base64");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits/import", new { }), HttpStatusCode.BadRequest, "'zip'");
        Assert.Equal(1, (await List()).Total);
    }

    [Fact]
    public async Task Import_OversizedEntryIsSkipped_AndAZipBombIsRefusedWhole()
    {
        static byte[] Zip(int entries, int bytesEach, bool withGood)
        {
            using var buffer = new MemoryStream();
            using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
            {
                if (withGood) { using var s = zip.CreateEntry("1/good.png").Open(); s.Write(TestImages.GreyPng(TestImages.Rectangle(28, 12, 4, 4, 20), 28, 28)); }
                var zeros = new byte[bytesEach]; // deflates to about a thousandth of its size
                for (int i = 0; i < entries; i++) { using var s = zip.CreateEntry($"2/big{i}.png", CompressionLevel.SmallestSize).Open(); s.Write(zeros); }
            }
            return buffer.ToArray();
        }

        var oneBig = await HttpAssert.Ok<ImportReport>(await _client.PostAsJsonAsync("/api/mydigits/import",
            new { zip = Convert.ToBase64String(Zip(1, (int)MyDigitsStore.MaxImportFileBytes + 1, withGood: true)) }));
        Assert.Equal(1, oneBig.Added);
        Assert.Contains("at most 1,048,576", Assert.Single(oneBig.Skipped).Reason);

        int entries = (int)(MyDigitsStore.MaxImportTotalBytes / MyDigitsStore.MaxImportFileBytes) + 1; // each at the per-file limit
        var bomb = Zip(entries, (int)MyDigitsStore.MaxImportFileBytes, withGood: true);
        Assert.True(bomb.Length < MyDigitsApi.ImportBodyLimit / 2, $"the test's bomb is {bomb.Length:N0} bytes");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits/import", new { zip = Convert.ToBase64String(bomb) }),
            HttpStatusCode.BadRequest, "more than 268,435,456 bytes", "nothing was added");
        Assert.Equal(1, (await List()).Total);
    }

    [Fact]
    public async Task NotADatabaseFile_IsAClearProblem_AndIsLeftUntouched()
    {
        Directory.CreateDirectory(ModelsDirectory);
        byte[] content = "these are my notes, not a database; please keep them\n"u8.ToArray();
        File.WriteAllBytes(DatabasePath, content);
        await HttpAssert.Problem(await _client.GetAsync("/api/mydigits"), HttpStatusCode.ServiceUnavailable, DatabasePath, "not a readable SQLite database", "move the file aside");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/mydigits", Drawing(3)), HttpStatusCode.ServiceUnavailable, "move the file aside");
        await HttpAssert.Problem(await _client.GetAsync("/api/mydigits/export.zip"), HttpStatusCode.ServiceUnavailable, "not a readable SQLite database");
        Assert.Equal(content, File.ReadAllBytes(DatabasePath));
    }

    [Fact]
    public async Task ConcurrentSaves_AllLand()
    {
        const int Count = 32;
        var saves = Enumerable.Range(0, Count).Select(i => _client.PostAsJsonAsync("/api/mydigits", Drawing(i % 10)));
        var responses = await Task.WhenAll(saves);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        // Each request was answered with its own new drawing: ids are unique and are the ids the store lists.
        var answered = await Task.WhenAll(responses.Select(r => HttpAssert.Ok<SavedDrawing>(r, HttpStatusCode.Created)));
        var list = await List();
        Assert.Equal(list.Items.Select(d => d.Id).Order(), answered.Select(a => a.Drawing.Id).Order());
        Assert.Equal(Count, list.Total);
        Assert.Equal(Count, list.Items.Select(d => d.Id).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 10).Select(d => Enumerable.Range(0, Count).Count(i => i % 10 == d)), list.Counts);
    }

    [Fact]
    public async Task Evaluation_OverallAndPerDigit()
    {
        await HttpAssert.Problem(await _client.GetAsync("/api/mydigits/evaluation"), HttpStatusCode.Conflict, "empty");
        await Save(5); // the band classifier reads a centred bar as 5: right
        await Save(5);
        await Save(1); // wrong
        var result = await HttpAssert.Ok<MyDigitsEvaluation>(await _client.GetAsync("/api/mydigits/evaluation"));
        Assert.Equal("alpha", result.Model);
        Assert.Equal(3, result.Count);
        Assert.Equal(2 / 3.0, result.Accuracy, 12);
        Assert.Equal(new DigitScore(5, 2, 2, 1.0), result.PerDigit[5]);
        Assert.Equal(new DigitScore(1, 1, 0, 0.0), result.PerDigit[1]);
        Assert.Equal(new DigitScore(0, 0, 0, null), result.PerDigit[0]);
        await HttpAssert.Problem(await _client.GetAsync("/api/mydigits/evaluation?model=nope"), HttpStatusCode.NotFound, "nope");
    }

    [Fact]
    public async Task BeyondLoopback_DeleteImportAndFineTuneNeedTheToken_SavingDoesNot()
    {
        using var guarded = new FakeWebApp { RequireToken = true };
        guarded.Store.Add("alpha");
        using var client = guarded.CreateClient();
        var saved = await HttpAssert.Ok<SavedDrawing>(await client.PostAsJsonAsync("/api/mydigits", Drawing(4)), HttpStatusCode.Created);
        await HttpAssert.Problem(await client.DeleteAsync($"/api/mydigits/{saved.Drawing.Id}"), HttpStatusCode.Forbidden, "token");
        await HttpAssert.Problem(await client.PostAsJsonAsync("/api/mydigits/import", new { zip = "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==" }), HttpStatusCode.Forbidden, "token");
        await HttpAssert.Problem(await client.PostAsJsonAsync("/api/training/finetune", new { epochs = 1 }), HttpStatusCode.Forbidden, "token");
        var withToken = new HttpRequestMessage(HttpMethod.Delete, $"/api/mydigits/{saved.Drawing.Id}");
        withToken.Headers.Add(DigitLabOptions.TokenHeader, FakeWebApp.Token);
        Assert.Equal(0, (await HttpAssert.Ok<MyDigitsList>(await client.SendAsync(withToken))).Total);
        Assert.Empty(guarded.Backend.Requests);
    }

    [Fact]
    public async Task CrossSiteSave_IsRefused()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/mydigits") { Content = JsonContent.Create(Drawing(2)) };
        request.Headers.Add("Origin", "https://evil.example");
        await HttpAssert.Problem(await _client.SendAsync(request), HttpStatusCode.Forbidden, "evil.example");
        Assert.Equal(0, (await List()).Total);
    }
}
