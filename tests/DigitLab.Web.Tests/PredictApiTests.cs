// PredictApiTests: /api/predict (784 values), /api/predict/drawing and /api/predict/image, good and bad input.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using DigitLab.Web.Api;

namespace DigitLab.Web.Tests;

public sealed class PredictApiTests : IDisposable
{
    private readonly FakeWebApp _app = new();
    private readonly HttpClient _client;

    public PredictApiTests()
    {
        _app.Store.Add("alpha").Add("beta");
        _client = _app.CreateClient();
    }

    public void Dispose() => _app.Dispose();

    /// <summary>An image whose ink sits in the column band of <paramref name="digit"/> (the band classifier's answer).</summary>
    private static float[] BandImage(int digit)
    {
        var pixels = new float[784];
        int x = (int)Math.Ceiling(digit * 28 / 10.0);
        for (int y = 4; y < 24; y++) pixels[y * 28 + x] = 0.8f;
        return pixels;
    }

    [Fact]
    public async Task Pixels_AreClassifiedByTheActiveModel_AndEchoed()
    {
        var pixels = BandImage(7);
        var response = await HttpAssert.Ok<PredictResponse>(await _client.PostAsJsonAsync("/api/predict", new { pixels }));
        var only = Assert.Single(response.Results);
        Assert.Equal("alpha", only.Model);
        Assert.Equal(7, only.Digit);
        Assert.Equal(10, only.Probabilities.Length);
        Assert.Equal(only.Probabilities.Max(), only.Confidence);
        var echoed = Convert.FromBase64String(response.Image);
        Assert.Equal(784, echoed.Length);
        Assert.Equal((byte)Math.Round(0.8 * 255), echoed[4 * 28 + 20]);
    }

    [Fact]
    public async Task Pixels_NamedModelAndCompareAll()
    {
        var named = await HttpAssert.Ok<PredictResponse>(await _client.PostAsJsonAsync("/api/predict", new { pixels = BandImage(2), model = "beta" }));
        Assert.Equal("beta", Assert.Single(named.Results).Model);
        var all = await HttpAssert.Ok<PredictResponse>(await _client.PostAsJsonAsync("/api/predict", new { pixels = BandImage(2), compare = true }));
        Assert.Equal(["alpha", "beta"], all.Results.Select(r => r.Model));
        Assert.All(all.Results, r => Assert.Equal(2, r.Digit));
    }

    [Theory]
    [InlineData(783)]
    [InlineData(785)]
    [InlineData(0)]
    public async Task Pixels_WrongLength_Is400(int length)
    {
        var response = await _client.PostAsJsonAsync("/api/predict", new { pixels = new float[length] });
        await HttpAssert.Problem(response, HttpStatusCode.BadRequest, "784", $"found {length}");
    }

    [Theory]
    [InlineData("\"NaN\"", "NaN")]
    [InlineData("\"Infinity\"", "is Infinity")]
    [InlineData("\"-Infinity\"", "is -Infinity")]
    public async Task Pixels_NotFinite_Is400(string literal, string shown)
    {
        string values = string.Join(",", Enumerable.Repeat("0", 783));
        var response = await _client.PostAsync("/api/predict", HttpAssert.Json($"{{\"pixels\":[{values},{literal}]}}"));
        await HttpAssert.Problem(response, HttpStatusCode.BadRequest, "pixels[783]", shown, "finite");
    }

    [Fact]
    public async Task Pixels_OutOfRange_MissingOrMalformed_Are400()
    {
        var pixels = new float[784];
        pixels[10] = 255;
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/predict", new { pixels }), HttpStatusCode.BadRequest, "pixels[10]", "[0, 1]");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/predict", new { model = "alpha" }), HttpStatusCode.BadRequest, "'pixels'");
        await HttpAssert.Problem(await _client.PostAsync("/api/predict", HttpAssert.Json("{\"pixels\": [1, 2,")), HttpStatusCode.BadRequest, "could not be read as JSON");
        await HttpAssert.Problem(await _client.PostAsync("/api/predict", HttpAssert.Json("{\"pixels\": [null]}")), HttpStatusCode.BadRequest, "could not be read as JSON");
        await HttpAssert.Problem(await _client.PostAsync("/api/predict", HttpAssert.Json("")), HttpStatusCode.BadRequest, "empty");
    }

    [Fact]
    public async Task Pixels_NotJson_Is415()
    {
        var response = await _client.PostAsync("/api/predict", new StringContent("pixels=1", System.Text.Encoding.UTF8, "text/plain"));
        await HttpAssert.Problem(response, HttpStatusCode.UnsupportedMediaType, "application/json", "text/plain");
    }

    [Fact]
    public async Task Pixels_OversizedBody_Is413()
    {
        string padding = new(' ', (int)PredictApi.PixelsBodyLimit + 1);
        var response = await _client.PostAsync("/api/predict", HttpAssert.Json("{\"pixels\":[]" + padding + "}"));
        await HttpAssert.Problem(response, HttpStatusCode.RequestEntityTooLarge, PredictApi.PixelsBodyLimit.ToString("N0"));
    }

    [Fact]
    public async Task UnknownModel_Is400_AndNamesTheSavedOnes()
    {
        var response = await _client.PostAsJsonAsync("/api/predict", new { pixels = new float[784], model = "gamma" });
        await HttpAssert.Problem(response, HttpStatusCode.BadRequest, "'gamma'", "alpha, beta");
    }

    [Fact]
    public async Task NoModelSaved_Is409_AndSaysHowToTrainOne()
    {
        using var empty = new FakeWebApp();
        var response = await empty.CreateClient().PostAsJsonAsync("/api/predict", new { pixels = new float[784] });
        await HttpAssert.Problem(response, HttpStatusCode.Conflict, "No model", "fast");
    }

    [Fact]
    public async Task Drawing_IsPreprocessedAsMnist_BoxInto20x20_CentreOfMassAtCentre()
    {
        // A 40×120 bar in the top-left corner of a 280×280 canvas: tall, so its height becomes 20 and its width 40/120·20 ≈ 7.
        var grey = TestImages.Rectangle(280, 10, 5, 40, 120);
        var response = await HttpAssert.Ok<PredictResponse>(await _client.PostAsJsonAsync("/api/predict/drawing",
            new { width = 280, height = 280, pixels = Convert.ToBase64String(grey) }));
        var image = Convert.FromBase64String(response.Image);
        var rows = Enumerable.Range(0, 28).Where(y => Enumerable.Range(0, 28).Any(x => image[y * 28 + x] > 0)).ToList();
        var cols = Enumerable.Range(0, 28).Where(x => Enumerable.Range(0, 28).Any(y => image[y * 28 + x] > 0)).ToList();
        Assert.Equal(20, rows.Count);
        Assert.Equal(7, cols.Count);
        var (cx, cy) = TestImages.CentreOfMass(image);
        Assert.InRange(cx, 13.5, 14.5); // whole-pixel placement: within half a pixel of MNIST's centre (14, 14)
        Assert.InRange(cy, 13.5, 14.5);
        Assert.Equal(response.Image, Convert.ToBase64String(PredictApi.ToBytes(_app.Store.Classifier("alpha").LastImage!)));
    }

    [Fact]
    public async Task Drawing_Empty_Is400_WithAClearMessage()
    {
        var response = await _client.PostAsJsonAsync("/api/predict/drawing", new { width = 280, height = 280, pixels = Convert.ToBase64String(new byte[280 * 280]) });
        await HttpAssert.Problem(response, HttpStatusCode.BadRequest, "empty", "Draw a digit");
    }

    [Fact]
    public async Task Drawing_BadInput_Is400()
    {
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/predict/drawing", new { width = 280, height = 280, pixels = "not base64!" }),
            HttpStatusCode.BadRequest, "base64");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/predict/drawing", new { width = 280, height = 280, pixels = Convert.ToBase64String(new byte[100]) }),
            HttpStatusCode.BadRequest, "78400", "found 100");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/predict/drawing", new { width = 5000, height = 280, pixels = "AAAA" }),
            HttpStatusCode.BadRequest, "5000×280");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/predict/drawing", new { width = 28, height = 28 }),
            HttpStatusCode.BadRequest, "'pixels'");
    }

    [Fact]
    public async Task Image_28x28Png_IsUsedAsIs()
    {
        var grey = new byte[784];
        for (int y = 3; y < 25; y++) grey[y * 28 + 25] = 200; // band 8
        var content = new ByteArrayContent(TestImages.GreyPng(grey, 28, 28));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        var response = await HttpAssert.Ok<PredictResponse>(await _client.PostAsync("/api/predict/image?model=beta", content));
        Assert.Equal(grey, Convert.FromBase64String(response.Image));
        Assert.Equal(8, Assert.Single(response.Results).Digit);
    }

    [Fact]
    public async Task Image_MultipartUpload_DarkInkOnWhite_IsInvertedAndPreprocessed()
    {
        var grey = TestImages.Rectangle(100, 60, 10, 20, 80, ink: 255);
        for (int i = 0; i < grey.Length; i++) grey[i] = (byte)(255 - grey[i]); // black bar on white paper
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(TestImages.GreyPng(grey, 100, 100));
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "digit.png");
        var response = await HttpAssert.Ok<PredictResponse>(await _client.PostAsync("/api/predict/image?compare=true", form));
        Assert.Equal(2, response.Results.Count);
        var image = Convert.FromBase64String(response.Image);
        Assert.Equal(0, image[0]); // background is black after inversion
        var (cx, cy) = TestImages.CentreOfMass(image);
        Assert.InRange(cx, 13.5, 14.5);
        Assert.InRange(cy, 13.5, 14.5);
    }

    [Fact]
    public async Task Image_NotAnImage_Is400()
    {
        var text = new ByteArrayContent("hello, this is not a picture"u8.ToArray());
        text.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        await HttpAssert.Problem(await _client.PostAsync("/api/predict/image", text), HttpStatusCode.BadRequest, "not a readable PNG", "68656C6C");
        var truncated = new ByteArrayContent(TestImages.GreyPng(new byte[784], 28, 28)[..40]);
        await HttpAssert.Problem(await _client.PostAsync("/api/predict/image", truncated), HttpStatusCode.BadRequest, "PNG", "truncated");
        await HttpAssert.Problem(await _client.PostAsync("/api/predict/image?compare=perhaps", new ByteArrayContent(TestImages.GreyPng(new byte[784], 28, 28))),
            HttpStatusCode.BadRequest, "'perhaps'");
        using var form = new MultipartFormDataContent { { new StringContent("x"), "note" } };
        await HttpAssert.Problem(await _client.PostAsync("/api/predict/image", form), HttpStatusCode.BadRequest, "no file");
    }

    [Fact]
    public async Task Image_ThatWouldInflateHuge_IsRefusedBeforeDecoding()
    {
        var png = TestImages.DeclaredPng(40_000, 40_000); // a valid header (CRC and all) declaring 1.6 gigapixels
        await HttpAssert.Problem(await _client.PostAsync("/api/predict/image", new ByteArrayContent(png)), HttpStatusCode.BadRequest, "40000×40000", "at most");
    }

    [Fact]
    public async Task Image_WithADecoyHeader_IsRefused_NotDecodedAtItsRealSize()
    {
        // 3000×3000 (9 megapixels) behind a 28×28 decoy header: the old size check read the decoy and the decoder the real one.
        var png = TestImages.DecoyPng(TestImages.Rectangle(3000, 1000, 800, 600, 1400), 3000, 3000);
        var response = await _client.PostAsync("/api/predict/image", new ByteArrayContent(png));
        await HttpAssert.Problem(response, HttpStatusCode.BadRequest, "The upload");
        Assert.Null(_app.Store.Classifier("alpha").LastImage); // no model ran
    }

    [Fact]
    public async Task Image_OverThePixelLimit_Is400_NamingTheLimit()
    {
        // Within the old 4096-per-side check, but over what a digit image may cost (ImageDecoder.MaxPixels).
        var png = TestImages.GreyPng(TestImages.Rectangle(2049, 600, 600, 400, 800)[..(2049 * 2048)], 2049, 2048);
        var response = await _client.PostAsync("/api/predict/image", new ByteArrayContent(png));
        await HttpAssert.Problem(response, HttpStatusCode.BadRequest, "2049×2048", "4,194,304");
    }

    [Fact]
    public async Task Image_JpegUpload_IsAccepted()
    {
        var grey = TestImages.Rectangle(100, 40, 10, 20, 80);
        var info = new SkiaSharp.SKImageInfo(100, 100, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque);
        using var bitmap = new SkiaSharp.SKBitmap(info);
        grey.CopyTo(bitmap.GetPixelSpan());
        using var jpeg = SkiaSharp.SKImage.FromBitmap(bitmap).Encode(SkiaSharp.SKEncodedImageFormat.Jpeg, 95);
        var content = new ByteArrayContent(jpeg.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        var response = await HttpAssert.Ok<PredictResponse>(await _client.PostAsync("/api/predict/image", content));
        var (cx, cy) = TestImages.CentreOfMass(Convert.FromBase64String(response.Image));
        Assert.InRange(cx, 13.5, 14.5);
        Assert.InRange(cy, 13.5, 14.5);
    }

    [Fact]
    public async Task Image_Oversized_Is413()
    {
        var big = new ByteArrayContent(new byte[PredictApi.ImageBodyLimit + 1]);
        big.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        await HttpAssert.Problem(await _client.PostAsync("/api/predict/image", big), HttpStatusCode.RequestEntityTooLarge, "bytes");
    }
}
