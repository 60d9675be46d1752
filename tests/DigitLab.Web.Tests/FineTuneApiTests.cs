// FineTuneApiTests: POST /api/training/finetune over the fake backend: the job it starts (base model, architecture,
// replay), its before/after figures in the job's status, and every refusal.
using System.Net;
using System.Net.Http.Json;
using DigitLab.Web.Api;
using DigitLab.Web.Services;
using Microsoft.Extensions.DependencyInjection;

namespace DigitLab.Web.Tests;

public sealed class FineTuneApiTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30); // a guard against hangs, not a timing check
    private readonly FakeWebApp _app = new();
    private readonly HttpClient _client;

    public FineTuneApiTests()
    {
        _app.Store.Add("alpha").Add("beta");
        _app.Backend.FreeRun = true;
        _client = _app.CreateClient();
    }

    public void Dispose() => _app.Dispose();

    private async Task SaveDrawings(int count)
    {
        for (int i = 0; i < count; i++)
            Assert.Equal(HttpStatusCode.Created, (await _client.PostAsJsonAsync("/api/mydigits",
                new { width = 200, height = 200, pixels = Convert.ToBase64String(TestImages.Rectangle(200, 92, 20, 16, 160)), label = i % 10 })).StatusCode);
    }

    [Fact]
    public async Task Options_ListModelsActiveFirstChoiceAndDrawings()
    {
        await SaveDrawings(3);
        var options = await HttpAssert.Ok<FineTuneOptions>(await _client.GetAsync("/api/training/finetune/options"));
        Assert.Equal(["alpha", "beta"], options.Models.Order());
        Assert.Equal("alpha", options.Active);
        Assert.Equal(3, options.Drawings);
        Assert.Equal(FineTuneData.MinDrawings, options.MinDrawings);
    }

    [Fact]
    public async Task Start_FineTunesTheActiveModel_AndTheStatusCarriesBeforeAndAfter()
    {
        await SaveDrawings(4);
        var started = await HttpAssert.Ok<JobStatus>(await _client.PostAsJsonAsync("/api/training/finetune",
            new { epochs = 2, batchSize = 4, learningRate = 0.0005, replayFraction = 0.25, name = "alpha-mine" }), HttpStatusCode.Accepted);
        Assert.Equal("alpha", started.Request!.FineTune!.BaseModel);
        Assert.Equal(0.25, started.Request.FineTune.ReplayFraction);
        Assert.Equal("band", started.Request.Architecture); // the base model's architecture
        Assert.Contains("Fine-tuning alpha", started.Message);
        await _app.Services.GetRequiredService<TrainingJobs>().Completion.WaitAsync(Patience);

        var status = await HttpAssert.Ok<JobStatus>(await _client.GetAsync("/api/training"));
        Assert.Equal("completed", status.State);
        Assert.Equal(_app.Backend.Figures, status.FineTune);
        Assert.Contains("held-out drawings: 50.0% before, 100.0% after", status.Message);
        var request = Assert.Single(_app.Backend.Requests);
        Assert.Equal((2, 4, 0.0005, "alpha-mine"), (request.Epochs, request.BatchSize, request.LearningRate, request.Name));

        // A plain training job afterwards carries no fine-tuning figures.
        await HttpAssert.Ok<JobStatus>(await _client.PostAsJsonAsync("/api/training", new { model = "mlp", epochs = 1 }), HttpStatusCode.Accepted);
        await _app.Services.GetRequiredService<TrainingJobs>().Completion.WaitAsync(Patience);
        Assert.Null((await HttpAssert.Ok<JobStatus>(await _client.GetAsync("/api/training"))).FineTune);
    }

    [Fact]
    public async Task Start_NamedBaseModel()
    {
        await SaveDrawings(2);
        var started = await HttpAssert.Ok<JobStatus>(await _client.PostAsJsonAsync("/api/training/finetune", new { baseModel = "beta", epochs = 1 }), HttpStatusCode.Accepted);
        Assert.Equal("beta", started.Request!.FineTune!.BaseModel);
        Assert.StartsWith("beta-mine-", started.Request.Name);
        await _app.Services.GetRequiredService<TrainingJobs>().Completion.WaitAsync(Patience);
    }

    [Fact]
    public async Task Start_Refusals_NameWhatIsWrong_AndStartNothing()
    {
        await SaveDrawings(1);
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training/finetune", new { epochs = 1 }), HttpStatusCode.Conflict, "at least 2", "holds 1");
        await SaveDrawings(1);
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training/finetune", new { baseModel = "nope" }), HttpStatusCode.BadRequest, "'nope'", "alpha");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training/finetune", new { replayFraction = 1.0 }), HttpStatusCode.BadRequest, "replayFraction", "1");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training/finetune", new { replayFraction = -0.1 }), HttpStatusCode.BadRequest, "replayFraction");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training/finetune", new { epochs = 0 }), HttpStatusCode.BadRequest, "epochs");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training/finetune", new { augmentation = "mixup" }), HttpStatusCode.BadRequest, "'mixup'", "robust");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training/finetune", new { name = "beta" }), HttpStatusCode.BadRequest, "already saved");
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training/finetune", new { name = "../x" }), HttpStatusCode.BadRequest, "may use only");
        Assert.Empty(_app.Backend.Requests);
    }
}
