// ModelsApiTests: listing, details, charts, activation and testing of saved models.
using System.Net;
using DigitLab.Training;
using DigitLab.Web.Api;
using DigitLab.Evaluation;

namespace DigitLab.Web.Tests;

public sealed class ModelsApiTests : IDisposable
{
    private readonly FakeWebApp _app = new();
    private readonly HttpClient _client;

    public ModelsApiTests()
    {
        _app.Store.Add("alpha").Add("beta");
        _client = _app.CreateClient();
    }

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task List_Details_AndActivate()
    {
        var list = await HttpAssert.Ok<ModelsList>(await _client.GetAsync("/api/models"));
        Assert.Equal(["alpha", "beta"], list.Models.Select(m => m.Name));
        Assert.Equal("alpha", list.Active);

        var details = await HttpAssert.Ok<Services.ModelDetails>(await _client.GetAsync("/api/models/beta"));
        Assert.Equal("beta", details.Info.Name);
        Assert.Equal(2, details.Log.Epochs.Count);

        var activated = await HttpAssert.Ok<ModelsList>(await _client.PostAsync("/api/models/beta/activate", null));
        Assert.Equal("beta", activated.Active);
        Assert.Equal("beta", (await HttpAssert.Ok<ModelsList>(await _client.GetAsync("/api/models"))).Active);
    }

    [Fact]
    public async Task UnknownModel_Is404_Everywhere()
    {
        await HttpAssert.Problem(await _client.GetAsync("/api/models/zeta"), HttpStatusCode.NotFound, "'zeta'", "alpha, beta");
        await HttpAssert.Problem(await _client.PostAsync("/api/models/zeta/activate", null), HttpStatusCode.NotFound, "'zeta'");
        await HttpAssert.Problem(await _client.PostAsync("/api/models/zeta/test", null), HttpStatusCode.NotFound, "'zeta'");
        await HttpAssert.Problem(await _client.GetAsync("/api/models/zeta/charts/loss.svg"), HttpStatusCode.NotFound, "'zeta'");
    }

    [Fact]
    public async Task Charts_AreSvg_AndConfusionNeedsATest()
    {
        foreach (var chart in new[] { "loss.svg", "accuracy.svg" })
        {
            var curves = await _client.GetAsync($"/api/models/alpha/charts/{chart}");
            Assert.Equal(HttpStatusCode.OK, curves.StatusCode);
            Assert.Equal("image/svg+xml", curves.Content.Headers.ContentType?.MediaType);
            Assert.Contains("<svg", await curves.Content.ReadAsStringAsync());
        }
        await HttpAssert.Problem(await _client.GetAsync("/api/models/alpha/charts/confusion.svg"), HttpStatusCode.NotFound, "not been tested", "Test");
        await HttpAssert.Problem(await _client.GetAsync("/api/models/alpha/charts/pie.svg"), HttpStatusCode.NotFound, "'pie.svg'");
    }

    [Fact]
    public async Task Test_EvaluatesOnTheTestSet()
    {
        var result = await HttpAssert.Ok<EvaluationResult>(await _client.PostAsync("/api/models/alpha/test", null));
        Assert.Equal(250, result.Count);
        Assert.Equal(1, _app.Store.TestCalls);
        _app.Data.Missing = true;
        await HttpAssert.Problem(await _client.PostAsync("/api/models/alpha/test", null), HttpStatusCode.ServiceUnavailable, "./digitlab data");
    }

    [Fact]
    public async Task StaticPages_AreServed()
    {
        foreach (var page in new[] { "/", "/dataset.html", "/train.html", "/models.html", "/app.css", "/app.js" })
        {
            var response = await _client.GetAsync(page);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{page}: {(int)response.StatusCode}");
        }
    }
}
