// HardeningTests: the web app's defences from issue 13 over HTTP: the token follows the addresses actually bound,
// cross-site and non-JSON requests cannot change state, foreign Host names are refused on loopback, a cut-short
// upload is a 400, and a damaged checkpoint is read once and shown as damaged.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using DigitLab.Web.Api;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DigitLab.Web.Tests;

/// <summary>The app on real Kestrel, its address given only by Kestrel endpoint configuration (no "urls", no forced token).</summary>
internal sealed class KestrelEndpointApp(string url) : WebApplicationFactory<Program>
{
    public FakeModelStore Store { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DigitLab:ModelsDir", Path.Combine(Path.GetTempPath(), "digitlab-web-tests", Guid.NewGuid().ToString("N")));
        builder.UseSetting("DigitLab:Token", FakeWebApp.Token);
        builder.UseSetting("Kestrel:Endpoints:Web:Url", url);
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<IModelStore>(Store);
            services.AddSingleton<IDatasetProvider>(new FakeDataset());
            services.AddSingleton<ITrainingBackend>(new FakeTrainingBackend());
        });
    }

    /// <summary>Starts Kestrel and returns a client for the bound port, reached over 127.0.0.1.</summary>
    public HttpClient Start()
    {
        UseKestrel();
        StartServer();
        string bound = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        var port = new Uri(bound.Replace("0.0.0.0", "127.0.0.1")).Port;
        return new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }
}

public sealed class HardeningTests : IDisposable
{
    private readonly FakeWebApp _app = new();
    private readonly HttpClient _client;

    public HardeningTests()
    {
        _app.Store.Add("alpha").Add("beta");
        _client = _app.CreateClient();
    }

    public void Dispose() => _app.Dispose();

    // ---- 2. the token follows the bound addresses ----

    [Fact]
    public async Task Token_IsRequired_WhenKestrelConfigurationBindsBeyondLoopback()
    {
        using var app = new KestrelEndpointApp("http://0.0.0.0:0");
        app.Store.Add("alpha");
        using var client = app.Start();
        Assert.True((await HttpAssert.Ok<TrainingOptions>(await client.GetAsync("api/training/options"))).TokenRequired);
        await HttpAssert.Problem(await client.PostAsync("api/models/alpha/activate", null), HttpStatusCode.Forbidden, DigitLabOptions.TokenHeader);
        var withToken = new HttpRequestMessage(HttpMethod.Post, "api/models/alpha/activate");
        withToken.Headers.Add(DigitLabOptions.TokenHeader, FakeWebApp.Token);
        await HttpAssert.Ok<ModelsList>(await client.SendAsync(withToken));
    }

    [Fact]
    public async Task Token_IsNotRequired_WhenKestrelConfigurationBindsLoopbackOnly()
    {
        using var app = new KestrelEndpointApp("http://127.0.0.1:0");
        app.Store.Add("alpha");
        using var client = app.Start();
        Assert.False((await HttpAssert.Ok<TrainingOptions>(await client.GetAsync("api/training/options"))).TokenRequired);
        await HttpAssert.Ok<ModelsList>(await client.PostAsync("api/models/alpha/activate", null));
    }

    // ---- 3. cross-site requests and host names ----

    private static HttpRequestMessage Activate(string model = "beta", HttpContent? content = null, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/models/{model}/activate") { Content = content };
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        return request;
    }

    [Fact]
    public async Task CrossSiteFormPost_CannotActivateAModel()
    {
        var form = new FormUrlEncodedContent([new("x", "1")]);
        await HttpAssert.Problem(await _client.SendAsync(Activate(content: form, headers: ("Origin", "http://evil.example"))),
            HttpStatusCode.Forbidden, "http://evil.example");
        Assert.NotEqual("beta", _app.Store.ActiveName);
    }

    [Theory]
    [InlineData("Origin", "http://evil.example")]
    [InlineData("Origin", "http://localhost:5081")] // another port is another origin
    [InlineData("Origin", "null")]                  // sandboxed frames and file: pages
    [InlineData("Referer", "http://evil.example/page.html")]
    [InlineData("Sec-Fetch-Site", "cross-site")]
    [InlineData("Sec-Fetch-Site", "same-site")]
    public async Task EveryStateChangingEndpoint_RefusesAnotherOrigin(string header, string value)
    {
        await HttpAssert.Problem(await _client.SendAsync(Activate(headers: (header, value))), HttpStatusCode.Forbidden, "another");
        var cancel = new HttpRequestMessage(HttpMethod.Post, "/api/training/cancel");
        cancel.Headers.TryAddWithoutValidation(header, value);
        await HttpAssert.Problem(await _client.SendAsync(cancel), HttpStatusCode.Forbidden, "another");
        var test = new HttpRequestMessage(HttpMethod.Post, "/api/models/beta/test");
        test.Headers.TryAddWithoutValidation(header, value);
        await HttpAssert.Problem(await _client.SendAsync(test), HttpStatusCode.Forbidden, "another");
        var start = new HttpRequestMessage(HttpMethod.Post, "/api/training") { Content = JsonContent.Create(new { model = "fast" }) };
        start.Headers.TryAddWithoutValidation(header, value);
        await HttpAssert.Problem(await _client.SendAsync(start), HttpStatusCode.Forbidden, "another");
        Assert.Equal("alpha", _app.Store.ActiveName);
        Assert.Empty(_app.Backend.Requests);
    }

    [Fact]
    public async Task SameOrigin_Passes_ButANonJsonBody_Is415()
    {
        var form = new FormUrlEncodedContent([new("x", "1")]);
        await HttpAssert.Problem(await _client.SendAsync(Activate(content: form, headers: ("Origin", "http://localhost"))),
            HttpStatusCode.UnsupportedMediaType, "application/x-www-form-urlencoded");
        var text = new StringContent("hello");
        await HttpAssert.Problem(await _client.SendAsync(Activate(content: text)), HttpStatusCode.UnsupportedMediaType, "text/plain");
        Assert.Equal("alpha", _app.Store.ActiveName);
        // The app's own pages: same origin, JSON (or no body), a same-origin fetch.
        await HttpAssert.Ok<ModelsList>(await _client.SendAsync(Activate(content: JsonContent.Create(new { }),
            headers: [("Origin", "http://localhost"), ("Sec-Fetch-Site", "same-origin"), ("Referer", "http://localhost/models.html")])));
        Assert.Equal("beta", _app.Store.ActiveName);
    }

    [Fact]
    public async Task OnLoopback_AForeignHostName_IsRefused()
    {
        var rebound = new HttpRequestMessage(HttpMethod.Get, "/api/models");
        rebound.Headers.Host = "evil.example";
        await HttpAssert.Problem(await _client.SendAsync(rebound), HttpStatusCode.BadRequest, "evil.example", "localhost");
        foreach (var host in new[] { "localhost", "127.0.0.1:5080", "[::1]:5080" })
        {
            var ok = new HttpRequestMessage(HttpMethod.Get, "/api/models");
            ok.Headers.Host = host;
            await HttpAssert.Ok<ModelsList>(await _client.SendAsync(ok));
        }
    }

    // ---- 7. a cut-short upload ----

    [Fact]
    public async Task TruncatedMultipartUpload_Is400()
    {
        const string boundary = "----digitlab";
        string body = $"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"d.png\"\r\nContent-Type: image/png\r\n\r\n\u0089PNG\r\n\u001a\n0000"; // no closing boundary
        var content = new ByteArrayContent(System.Text.Encoding.Latin1.GetBytes(body));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");
        await HttpAssert.Problem(await _client.PostAsync("/api/predict/image", content), HttpStatusCode.BadRequest, "multipart");
    }

    // ---- 12. one rule for "empty" ----

    [Theory]
    [InlineData(0)]   // all black
    [InlineData(255)] // all white
    public async Task Blank28x28Image_IsEmpty_AsTheCliSays(byte value)
    {
        var grey = new byte[784];
        Array.Fill(grey, value);
        var content = new ByteArrayContent(TestImages.GreyPng(grey, 28, 28));
        await HttpAssert.Problem(await _client.PostAsync("/api/predict/image", content), HttpStatusCode.BadRequest, "empty");
        Assert.Null(_app.Store.Classifier("alpha").LastImage);
        // The library's rule, as the CLI's predict applies it.
        Assert.False(DigitLab.Data.Preprocess.HasDigit(grey, 28, 28, out var problem));
        Assert.Contains("empty", problem);
    }

    // ---- 6. the host stopping during a training job ----

    [Fact]
    public async Task HostShutdown_CancelsTheJobAsCancelDoes_AndWaitsForItsSave()
    {
        var app = new FakeWebApp();
        app.Backend.SaveTime = TimeSpan.FromMilliseconds(500); // the real backend writes the partial checkpoint here
        var client = app.CreateClient();
        await HttpAssert.Ok<JobStatus>(await client.PostAsJsonAsync("/api/training", new { model = "mlp", epochs = 3 }), HttpStatusCode.Accepted);
        app.Backend.Step(2);
        var jobs = app.Services.GetRequiredService<TrainingJobs>();
        SpinWait.SpinUntil(() => jobs.Status().Batch == 2, TimeSpan.FromSeconds(10));
        app.Dispose(); // stops the host as SIGTERM does
        Assert.True(app.Backend.Saved, "the host stopped before the job had saved its partial model");
        var status = jobs.Status();
        Assert.Equal("cancelled", status.State);
        Assert.Contains("partial model is saved", status.Message);
    }

    // ---- 9. no answer carries NaN ----

    [Fact]
    public async Task ModelsThatWouldAnswerNaN_AreRefused_NotAnsweredWithNaN()
    {
        string dir = Path.Combine(Path.GetTempPath(), "digitlab-web-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            // Finite but overflowing weights: loads, yet its probabilities would be NaN.
            var huge = DigitLab.Models.ModelZoo.Create("mlp", 1);
            foreach (var (_, t) in huge.StateTensors()) for (int i = 0; i < t.Length; i++) t.Span[i] = i % 2 == 0 ? 3e38f : -3e38f; // sums meet as inf - inf
            DigitLab.Training.Checkpoint.Save(Path.Combine(dir, "huge.safetensors"), huge, new DigitLab.Training.CheckpointInfo { Architecture = "mlp", Seed = 1 });
            // A NaN normalisation mean: refused at load, listed as damaged.
            DigitLab.Training.Checkpoint.Save(Path.Combine(dir, "nan.safetensors"), DigitLab.Models.ModelZoo.Create("mlp", 1),
                new DigitLab.Training.CheckpointInfo { Architecture = "mlp", Seed = 1, NormalizationMean = float.NaN });
            using var app = new RealStoreApp(dir, new CountingLogs());
            var client = app.CreateClient();
            var pixels = new float[784];
            for (int y = 4; y < 24; y++) pixels[y * 28 + 14] = 1f;
            var response = await client.PostAsJsonAsync("/api/predict", new { pixels, model = "huge" });
            string body = await HttpAssert.Problem(response, HttpStatusCode.InternalServerError, "'huge'", "no answer");
            Assert.DoesNotContain("confidence", body); // a refusal, not an answer with NaN in it
            var list = await HttpAssert.Ok<ModelsList>(await client.GetAsync("/api/models"));
            Assert.Contains("normalization mean is NaN", Assert.Single(list.Damaged!).Problem);
            Assert.DoesNotContain(list.Models, m => m.Name == "nan");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    // ---- 10. a damaged checkpoint ----

    private sealed class CountingLogs : ILoggerProvider
    {
        public ConcurrentQueue<string> Warnings { get; } = new();
        public ILogger CreateLogger(string category) => new Logger(this, category);
        public void Dispose() { }

        private sealed class Logger(CountingLogs owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel level) => true;
            public void Log<TState>(LogLevel level, EventId id, TState state, Exception? e, Func<TState, Exception?, string> format)
            {
                if (level == LogLevel.Warning && category.Contains(nameof(CheckpointModelStore))) owner.Warnings.Enqueue(format(state, e));
            }
        }
    }

    private sealed class RealStoreApp(string modelsDirectory, CountingLogs logs) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("DigitLab:ModelsDir", modelsDirectory);
            builder.UseSetting("DigitLab:RequireToken", "false");
            builder.ConfigureLogging(logging => logging.AddProvider(logs));
        }
    }

    [Fact]
    public async Task DamagedCheckpoint_IsReadOnceUntilItChanges_AndListedAsDamaged()
    {
        string dir = Path.Combine(Path.GetTempPath(), "digitlab-web-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string broken = Path.Combine(dir, "broken.safetensors");
            File.WriteAllText(broken, "not a checkpoint");
            var logs = new CountingLogs();
            using var app = new RealStoreApp(dir, logs);
            var client = app.CreateClient();
            for (int i = 0; i < 5; i++)
            {
                var list = await HttpAssert.Ok<ModelsList>(await client.GetAsync("/api/models"));
                var damaged = Assert.Single(list.Damaged!);
                Assert.Equal("broken", damaged.Name);
                Assert.Contains("safetensors", damaged.Problem);
                await client.PostAsJsonAsync("/api/predict", new { pixels = new float[784], model = "broken" });
            }
            Assert.Single(logs.Warnings); // read (and logged) once, not once per request
            File.WriteAllText(broken, "still not a checkpoint, but a different file");
            var again = await HttpAssert.Ok<ModelsList>(await client.GetAsync("/api/models"));
            Assert.Single(again.Damaged!);
            Assert.Equal(2, logs.Warnings.Count); // a changed file is read again
            File.Delete(broken);
            Assert.Empty((await HttpAssert.Ok<ModelsList>(await client.GetAsync("/api/models"))).Damaged!);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
