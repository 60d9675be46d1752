// RealModelTests: the HTTP API over the real library (checkpoint store, MNIST, Preprocess, PNG reader, Evaluator)
// against the app on a real 127.0.0.1 port, with the MLP the browser fixture trained.
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Training;
using DigitLab.Web.Api;
using DigitLab.Evaluation;

namespace DigitLab.Web.Tests;

[Collection("browser")]
public sealed class RealModelTests(BrowserFixture fixture)
{
    /// <summary>One epoch of the MLP reaches about 97% on MNIST's test set; 90% leaves room for the 300-image sample.</summary>
    private const double MinimumAccuracy = 0.90;

    private HttpClient Client() => new() { BaseAddress = new Uri(fixture.BaseUrl) };

    /// <summary>
    /// POST /api/explain gives, for the active model, the probabilities /api/predict gives and ten maps, each equal to the
    /// library's integrated gradients for that digit on the same checkpoint (the report's and `explain`'s code).
    /// </summary>
    [Fact]
    public async Task Explain_GivesEachDigitsIntegratedGradients_AndRefusesBadInput()
    {
        using var client = Client();
        var test = DatasetStore.LoadTest(null);
        var pixels = test.Image(3).ToArray().Select(b => b / 255f).ToArray();
        var answer = await HttpAssert.Ok<DigitLab.Web.Services.Explanation>(await client.PostAsJsonAsync("api/explain", new { pixels }));
        Assert.Equal(BrowserFixture.ModelName, answer.Model);
        Assert.Equal(10, answer.Maps.Length);
        Assert.All(answer.Maps, m => Assert.Equal(784, m.Length));
        var predicted = await HttpAssert.Ok<PredictResponse>(await client.PostAsJsonAsync("api/predict", new { pixels }));
        for (int d = 0; d < 10; d++) Assert.InRange(answer.Probabilities[d], predicted.Results[0].Probabilities[d] - 1e-5f, predicted.Results[0].Probabilities[d] + 1e-5f);

        var (model, info) = Checkpoint.Load(Path.Combine(fixture.ModelsDirectory, BrowserFixture.ModelName + ".safetensors"));
        var runner = new ModelRunner(model, new Normalization(info.NormalizationMean, info.NormalizationStd), new Runtime.ComputeContext(1));
        for (int d = 0; d < 10; d++)
        {
            var expected = Saliency.IntegratedGradients(runner, pixels, new float[784], d, DigitLab.Web.Services.Explanation.Steps);
            for (int i = 0; i < 784; i++)
                Assert.True(Math.Abs(expected[i] - answer.Maps[d][i]) <= 1e-5f + 1e-4f * Math.Abs(expected[i]), $"digit {d}, pixel {i}: {expected[i]} vs {answer.Maps[d][i]}");
        }
        Assert.NotEqual(answer.Maps[0], answer.Maps[1]);

        await HttpAssert.Problem(await client.PostAsJsonAsync("api/explain", new { pixels = new float[10] }), System.Net.HttpStatusCode.BadRequest, "Expected 784 pixel values");
        await HttpAssert.Problem(await client.PostAsJsonAsync("api/explain", new { pixels, model = "no-such-model" }), System.Net.HttpStatusCode.BadRequest, "no model named 'no-such-model'");
    }

    [Fact]
    public async Task Predict_MnistTestImages_MostlyRight()
    {
        using var client = Client();
        var test = DatasetStore.LoadTest(null);
        int right = 0, count = 300;
        for (int i = 0; i < count; i++)
        {
            var pixels = test.Image(i).ToArray().Select(b => b / 255f).ToArray();
            var answer = await HttpAssert.Ok<PredictResponse>(await client.PostAsJsonAsync("api/predict", new { pixels, model = BrowserFixture.ModelName }));
            if (answer.Results[0].Digit == test.Labels[i]) right++;
        }
        Assert.True(right >= MinimumAccuracy * count, $"{right}/{count} right");
    }

    [Fact]
    public async Task ThirtyTwoConcurrentPredictions_OnOneLoadedModel_WhileATrainingJobRuns_AnswerAsOneAtATime()
    {
        // One loaded model serves every request, each in a workspace of its own; a real training job runs meanwhile on
        // its own compute context. Every answer must equal the one-at-a-time answer, bit for bit.
        using var client = Client();
        var test = DatasetStore.LoadTest(null);
        const int images = 8, copies = 4;
        var pixels = Enumerable.Range(0, images).Select(i => test.Image(i).ToArray().Select(b => b / 255f).ToArray()).ToArray();
        var alone = new float[images][];
        for (int i = 0; i < images; i++)
            alone[i] = (await HttpAssert.Ok<PredictResponse>(await client.PostAsJsonAsync("api/predict", new { pixels = pixels[i], model = BrowserFixture.ModelName }))).Results[0].Probabilities;

        const string job = "concurrency-job";
        var started = await client.PostAsJsonAsync("api/training", new { model = "mlp", epochs = 5, batchSize = 32, name = job });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        try
        {
            var together = await Task.WhenAll(Enumerable.Range(0, images * copies).Select(async k =>
            {
                using var response = await client.PostAsJsonAsync("api/predict", new { pixels = pixels[k % images], model = BrowserFixture.ModelName });
                return (Image: k % images, Answer: await HttpAssert.Ok<PredictResponse>(response));
            }));
            using (var status = JsonDocument.Parse(await client.GetStringAsync("api/training")))
                Assert.Equal("running", status.RootElement.GetProperty("state").GetString()); // the job overlapped the predictions
            foreach (var (image, answer) in together)
                Assert.Equal(alone[image], answer.Results[0].Probabilities);
        }
        finally
        {
            // Cancel keeps the partial model: wait for the job to end and its checkpoint to be written, then remove it so
            // the other tests of this collection see the models they expect.
            await client.PostAsync("api/training/cancel", null);
            string saved = Path.Combine(fixture.ModelsDirectory, job + ".safetensors");
            for (int i = 0; i < 600; i++)
            {
                using var status = JsonDocument.Parse(await client.GetStringAsync("api/training"));
                if (status.RootElement.GetProperty("state").GetString() != "running" && File.Exists(saved)) break;
                await Task.Delay(100);
            }
            File.Delete(saved);
            File.Delete(Path.ChangeExtension(saved, ".json"));
        }
        var models = await HttpAssert.Ok<ModelsList>(await client.GetAsync("api/models"));
        Assert.DoesNotContain(models.Models, m => m.Name == job);
    }

    [Fact]
    public async Task Png_OfAnMnistDigit_IsRecognisedAsItsLabel()
    {
        using var client = Client();
        var test = DatasetStore.LoadTest(null);
        // The first test images the model gets right through /api/predict must come out the same through a PNG upload.
        for (int i = 0; i < 5; i++)
        {
            var image = test.Image(i).ToArray();
            var viaPixels = await HttpAssert.Ok<PredictResponse>(await client.PostAsJsonAsync("api/predict", new { pixels = image.Select(b => b / 255f).ToArray() }));
            var content = new ByteArrayContent(TestImages.GreyPng(image, 28, 28));
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            var viaPng = await HttpAssert.Ok<PredictResponse>(await client.PostAsync("api/predict/image", content));
            Assert.Equal(image, Convert.FromBase64String(viaPng.Image));
            Assert.Equal(viaPixels.Results[0].Probabilities, viaPng.Results[0].Probabilities);
        }
    }

    [Fact]
    public async Task Test_EvaluatesTheRealModel_AndTheConfusionChartAppears()
    {
        using var client = Client();
        var result = await HttpAssert.Ok<EvaluationResult>(await client.PostAsync($"api/models/{BrowserFixture.CopyName}/test", null));
        Assert.Equal(10_000, result.Count);
        Assert.True(result.Accuracy > MinimumAccuracy, $"test accuracy {result.Accuracy}");
        Assert.Equal(result.Count, result.Confusion.Sum(row => row.Sum()));

        var list = await HttpAssert.Ok<ModelsList>(await client.GetAsync("api/models"));
        Assert.Equal(result.Accuracy, list.Models.Single(m => m.Name == BrowserFixture.CopyName).TestAccuracy);
        var chart = await client.GetAsync($"api/models/{BrowserFixture.CopyName}/charts/confusion.svg");
        Assert.Equal(HttpStatusCode.OK, chart.StatusCode);
        Assert.Contains("<svg", await chart.Content.ReadAsStringAsync());
        var details = await HttpAssert.Ok<Services.ModelDetails>(await client.GetAsync($"api/models/{BrowserFixture.CopyName}"));
        Assert.Equal(101_770, details.Summary.Sum(r => r.Parameters)); // the layers' parameters add up to the model's
        Assert.Equal(101_770, details.Info.Parameters);
    }

    [Fact]
    public async Task Activate_IsRemembered_AndADamagedCheckpointIsSkipped()
    {
        using var client = Client();
        await File.WriteAllTextAsync(Path.Combine(fixture.ModelsDirectory, "damaged.safetensors"), "this is not a checkpoint");
        try
        {
            var list = await HttpAssert.Ok<ModelsList>(await client.PostAsync($"api/models/{BrowserFixture.CopyName}/activate", null));
            Assert.Equal(BrowserFixture.CopyName, list.Active);
            Assert.DoesNotContain(list.Models, m => m.Name == "damaged");
            Assert.Equal(BrowserFixture.CopyName, (await File.ReadAllTextAsync(Path.Combine(fixture.ModelsDirectory, "active.txt"))).Trim());
            await HttpAssert.Problem(await client.GetAsync("api/models/damaged"), HttpStatusCode.NotFound, "'damaged'");
            await HttpAssert.Problem(await client.PostAsJsonAsync("api/predict", new { pixels = new float[784], model = "damaged" }), HttpStatusCode.BadRequest, "'damaged'");
        }
        finally
        {
            File.Delete(Path.Combine(fixture.ModelsDirectory, "damaged.safetensors"));
            await client.PostAsync($"api/models/{BrowserFixture.ModelName}/activate", null);
        }
    }
}
