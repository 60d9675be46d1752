// TrainingApiTests: starting, watching (server-sent events), cancelling, one job at a time, the token, bad input.
using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;
using DigitLab.Training;
using DigitLab.Web.Api;
using DigitLab.Web.Services;
using Microsoft.Extensions.DependencyInjection;

namespace DigitLab.Web.Tests;

public sealed class TrainingApiTests : IDisposable
{
    /// <summary>Guards against a hang only (a failing test, not a timing assertion).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly FakeWebApp _app = new();
    private readonly HttpClient _client;

    public TrainingApiTests() => _client = _app.CreateClient();

    public void Dispose()
    {
        _app.Backend.FreeRun = true;
        _app.Backend.Step(1000);
        _app.Dispose();
    }

    private sealed class EventReader(HttpResponseMessage response, Stream stream) : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private IAsyncEnumerator<SseItem<string>>? _events;
        private readonly List<string> _seen = [];

        public async Task<(string Type, JsonElement Data)> Next()
        {
            _events ??= SseParser.Create(stream).EnumerateAsync(_stop.Token).GetAsyncEnumerator();
            var next = _events.MoveNextAsync().AsTask();
            if (await Task.WhenAny(next, Task.Delay(Patience)) != next)
                Assert.Fail($"no event within {Patience.TotalSeconds} s; seen so far: {string.Join(" | ", _seen)}");
            Assert.True(await next, "the event stream ended");
            _seen.Add(_events.Current.EventType + " " + _events.Current.Data);
            return (_events.Current.EventType, JsonDocument.Parse(_events.Current.Data).RootElement.Clone());
        }

        /// <summary>Reads events until one of <paramref name="type"/> satisfies <paramref name="match"/>.</summary>
        public async Task<JsonElement> Until(string type, Func<JsonElement, bool> match)
        {
            while (true)
            {
                var (t, data) = await Next();
                if (t == type && match(data)) return data;
            }
        }

        public ValueTask DisposeAsync()
        {
            _stop.Cancel();
            response.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private async Task<EventReader> Subscribe()
    {
        var response = await _client.GetAsync("/api/training/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var stream = await response.Content.ReadAsStreamAsync();
        return new EventReader(response, stream);
    }

    [Fact]
    public async Task Options_ListTheArchitectures()
    {
        var options = await HttpAssert.Ok<TrainingOptions>(await _client.GetAsync("/api/training/options"));
        Assert.Equal(["fast", "mlp"], options.Architectures);
        Assert.Equal("fast", options.DefaultArchitecture);
        Assert.False(options.TokenRequired);
        Assert.Equal(["none", "affine", "elastic", "affine+elastic", "robust"], options.Augmentations);
        Assert.Equal("none", options.Augmentation);
    }

    [Theory]
    [InlineData("{\"model\":\"fast\",\"augmentation\":\"robust\"}", AugmentationKind.Robust)]
    [InlineData("{\"model\":\"fast\",\"augmentation\":\" Affine+Elastic \"}", AugmentationKind.AffineElastic)]
    [InlineData("{\"model\":\"fast\",\"augmentation\":\"none\",\"augment\":false}", AugmentationKind.None)]
    [InlineData("{\"model\":\"fast\",\"augment\":true}", AugmentationKind.Affine)]
    [InlineData("{\"model\":\"fast\"}", AugmentationKind.None)]
    public async Task Start_TakesTheAugmentationByName_AndTheRecipeRunsIt(string json, AugmentationKind expected)
    {
        var started = await HttpAssert.Ok<JobStatus>(await _client.PostAsync("/api/training", HttpAssert.Json(json)), HttpStatusCode.Accepted);
        Assert.Equal(expected, started.Request!.Augmentation);
        // The page reads the running job's augmentation back by name, and older pages the augment flag.
        var status = await HttpAssert.Ok<JsonElement>(await _client.GetAsync("/api/training"));
        Assert.Equal(RecipeChoices.Name(expected), status.GetProperty("request").GetProperty("augmentation").GetString());
        Assert.Equal(expected != AugmentationKind.None, status.GetProperty("request").GetProperty("augment").GetBoolean());
        Assert.Equal(expected, LibraryTrainingBackend.Recipe(started.Request).Augmentation);
        _app.Backend.Step(FakeTrainingBackend.BatchesPerEpoch); // one epoch, the default
        await _app.Services.GetRequiredService<TrainingJobs>().Completion.WaitAsync(Patience);
    }

    [Fact]
    public async Task Job_StreamsProgressAndEpochs_ThenCompletes()
    {
        await using var events = await Subscribe();
        var (type, first) = await events.Next();
        Assert.Equal(("status", "idle"), (type, first.GetProperty("state").GetString()));

        var started = await HttpAssert.Ok<JobStatus>(await _client.PostAsJsonAsync("/api/training",
            new { model = "mlp", epochs = 2, batchSize = 32, learningRate = 0.01, augment = true, name = "my-mlp" }), HttpStatusCode.Accepted);
        Assert.Equal("running", started.State);
        Assert.Equal(new TrainingRequest("mlp", 2, 32, 0.01, AugmentationKind.Affine, "my-mlp"), started.Request);
        await events.Until("status", s => s.GetProperty("state").GetString() == "running");

        _app.Backend.Step();
        var progress = await events.Until("progress", p => p.GetProperty("batch").GetInt32() == 1);
        Assert.Equal(1.0 / (2 * FakeTrainingBackend.BatchesPerEpoch), progress.GetProperty("progress").GetDouble(), 12);

        _app.Backend.Step(FakeTrainingBackend.BatchesPerEpoch - 1);
        var epoch = await events.Until("epoch", _ => true);
        Assert.Equal(1, epoch.GetProperty("epoch").GetInt32());

        // A second job is refused while this one runs.
        await HttpAssert.Problem(await _client.PostAsJsonAsync("/api/training", new { model = "fast" }), HttpStatusCode.Conflict, "one job", "my-mlp");

        // A page that reloads gets the whole picture in its first event.
        await using (var reloaded = await Subscribe())
        {
            var (_, snapshot) = await reloaded.Next();
            Assert.Equal("running", snapshot.GetProperty("state").GetString());
            Assert.Equal(1, snapshot.GetProperty("epochRecords").GetArrayLength());
            Assert.True(snapshot.GetProperty("losses").GetArrayLength() >= 1);
        }

        _app.Backend.Step(FakeTrainingBackend.BatchesPerEpoch);
        var done = await events.Until("status", s => s.GetProperty("state").GetString() != "running");
        Assert.Equal("completed", done.GetProperty("state").GetString());
        Assert.Equal(1.0, done.GetProperty("progress").GetDouble());
        Assert.Contains("my-mlp", done.GetProperty("message").GetString());
        Assert.Equal("completed", (await HttpAssert.Ok<JobStatus>(await _client.GetAsync("/api/training"))).State);
    }

    [Fact]
    public async Task Cancel_StopsTheJob_AndSaysThePartialModelIsKept()
    {
        await HttpAssert.Problem(await _client.PostAsync("/api/training/cancel", null), HttpStatusCode.Conflict, "nothing to cancel");
        await using var events = await Subscribe();
        await HttpAssert.Ok<JobStatus>(await _client.PostAsJsonAsync("/api/training", new { model = "fast", epochs = 3 }), HttpStatusCode.Accepted);
        _app.Backend.Step(FakeTrainingBackend.BatchesPerEpoch + 1);
        await events.Until("progress", p => p.GetProperty("epoch").GetInt32() == 2);

        var cancelling = await HttpAssert.Ok<JobStatus>(await _client.PostAsync("/api/training/cancel", null));
        Assert.Equal("cancelling", cancelling.State);
        var final = await events.Until("status", s => s.GetProperty("state").GetString() is "cancelled" or "completed" or "failed");
        Assert.Equal("cancelled", final.GetProperty("state").GetString());
        Assert.Contains("partial model", final.GetProperty("message").GetString());
        Assert.Contains("1 full epoch", final.GetProperty("message").GetString());
        await _app.Services.GetRequiredService<TrainingJobs>().Completion.WaitAsync(Patience);
    }

    [Theory]
    [InlineData("{}", "Choose the model", "fast, mlp")]
    [InlineData("{\"model\":\"vgg\"}", "'vgg'", "fast, mlp")]
    [InlineData("{\"model\":\"fast\",\"epochs\":0}", "epochs", "found 0")]
    [InlineData("{\"model\":\"fast\",\"epochs\":1000}", "epochs", "found 1000")]
    [InlineData("{\"model\":\"fast\",\"batchSize\":0}", "batchSize", "found 0")]
    [InlineData("{\"model\":\"fast\",\"learningRate\":-1}", "learningRate", "found -1")]
    [InlineData("{\"model\":\"fast\",\"learningRate\":\"NaN\"}", "learningRate", "found NaN")]
    [InlineData("{\"model\":\"fast\",\"name\":\"../../etc/passwd\"}", "'../../etc/passwd'", "letters, digits")]
    [InlineData("{\"model\":\"fast\",\"epochs\":\"many\"}", "could not be read as JSON", "epochs")]
    [InlineData("{\"model\":\"fast\",\"name\":\"taken\"}", "'taken'", "already saved")]
    [InlineData("{\"model\":\"fast\",\"augmentation\":\"mixup\"}", "'mixup'", "none, affine, elastic, affine+elastic, robust")]
    [InlineData("{\"model\":\"fast\",\"augmentation\":\"robust\",\"augment\":false}", "augment is false", "'robust'")]
    [InlineData("{\"model\":\"fast\",\"augmentation\":\"none\",\"augment\":true}", "augment is true", "'none'")]
    public async Task BadStart_Is400(string json, string fragment1, string fragment2)
    {
        _app.Store.Add("taken");
        await HttpAssert.Problem(await _client.PostAsync("/api/training", HttpAssert.Json(json)), HttpStatusCode.BadRequest, fragment1, fragment2);
        Assert.Empty(_app.Backend.Requests);
    }

    [Fact]
    public async Task BeyondLoopback_StartCancelAndActivateNeedTheToken()
    {
        using var guarded = new FakeWebApp { RequireToken = true };
        guarded.Store.Add("alpha");
        var client = guarded.CreateClient();
        Assert.True((await HttpAssert.Ok<TrainingOptions>(await client.GetAsync("/api/training/options"))).TokenRequired);

        await HttpAssert.Problem(await client.PostAsJsonAsync("/api/training", new { model = "fast" }), HttpStatusCode.Forbidden, "token", DigitLabOptions.TokenHeader);
        await HttpAssert.Problem(await client.PostAsync("/api/training/cancel", null), HttpStatusCode.Forbidden, "token");
        await HttpAssert.Problem(await client.PostAsync("/api/models/alpha/activate", null), HttpStatusCode.Forbidden, "token");
        await HttpAssert.Problem(await client.PostAsync("/api/models/alpha/test", null), HttpStatusCode.Forbidden, "token");
        Assert.Equal(0, guarded.Store.TestCalls);
        var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/training") { Content = JsonContent.Create(new { model = "fast" }) };
        wrong.Headers.Add(DigitLabOptions.TokenHeader, "guess");
        await HttpAssert.Problem(await client.SendAsync(wrong), HttpStatusCode.Forbidden, "token");
        Assert.Empty(guarded.Backend.Requests);

        var right = new HttpRequestMessage(HttpMethod.Post, "/api/training") { Content = JsonContent.Create(new { model = "fast" }) };
        right.Headers.Add(DigitLabOptions.TokenHeader, FakeWebApp.Token);
        await HttpAssert.Ok<JobStatus>(await client.SendAsync(right), HttpStatusCode.Accepted);
        var cancel = new HttpRequestMessage(HttpMethod.Post, "/api/training/cancel");
        cancel.Headers.Add(DigitLabOptions.TokenHeader, FakeWebApp.Token);
        await HttpAssert.Ok<JobStatus>(await client.SendAsync(cancel));
        await guarded.Services.GetRequiredService<TrainingJobs>().Completion.WaitAsync(Patience);
        // Reading is never guarded.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/models")).StatusCode);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5080", true)]
    [InlineData("http://localhost:5080;http://[::1]:5081", true)]
    [InlineData("http://0.0.0.0:5080", false)]
    [InlineData("http://*:5080", false)]
    [InlineData("http://+:5080", false)]
    [InlineData("http://192.168.1.20:5080", false)]
    [InlineData("http://127.0.0.1:5080;http://10.0.0.1:80", false)]
    public void LoopbackDetection(string urls, bool loopback) => Assert.Equal(loopback, DigitLabOptions.AllLoopback(urls));
}
