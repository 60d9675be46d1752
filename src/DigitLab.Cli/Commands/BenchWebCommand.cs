// BenchWebCommand: `digitlab bench web`, a bounded load loop against the web app's predict endpoints on 127.0.0.1:
// requests per second and p50/p90/p99 latency at a given concurrency, and a non-zero exit on any failed request.
using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Web;
using DigitLab.Web.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace DigitLab.Cli.Commands;

internal static class BenchWebCommand
{
    private sealed record Outcome(string Endpoint, int Requests, int Concurrency, double Seconds, double[] LatenciesMs, int Errors, string? FirstError);

    public static Command Create()
    {
        var requests = new Option<int>("--requests") { Description = "Timed requests per endpoint (after warm-up)", DefaultValueFactory = _ => 2000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once", DefaultValueFactory = _ => 8 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed requests first (JIT, model replicas)", DefaultValueFactory = _ => 100 };
        var url = new Option<string?>("--url") { Description = "A running DigitLab web app (loopback only); default: start one in this process on a free 127.0.0.1 port" };
        var modelsDir = new Option<string?>("--models-dir") { Description = "Models directory for the in-process app (default: $DIGITLAB_MODELS or ~/.digitlab/models)" };
        var model = new Option<string?>("--model") { Description = "Model to ask (default: the active one)" };
        var endpoint = new Option<string>("--endpoint") { Description = "pixels (784 values), drawing (280x280 canvas, preprocessed on the server), both, image (a PNG upload, decoded and preprocessed on the server) or all", DefaultValueFactory = _ => "both" };
        var imageSize = new Option<int>("--image-size") { Description = "--endpoint image/all: side of the square PNG uploaded (the decoder accepts up to 2048)", DefaultValueFactory = _ => 280 };

        var command = new Command("web", "Load-test the web app's predict endpoints on 127.0.0.1: requests/s and p50/p90/p99 latency under concurrent requests; fails on any error.")
        {
            requests, concurrency, warmup, url, modelsDir, model, endpoint, imageSize,
        };
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(requests), c = parse.GetValue(concurrency), w = parse.GetValue(warmup);
            string which = parse.GetValue(endpoint)!.Trim().ToLowerInvariant();
            int side = parse.GetValue(imageSize);
            if (n < 1 || c < 1 || w < 0 || which is not ("pixels" or "drawing" or "both" or "image" or "all") || side is < 8 or > 2048)
            {
                Console.Error.WriteLine("error: --requests and --concurrency must be at least 1, --warmup at least 0, --endpoint one of pixels, drawing, both, image, all, --image-size 8 to 2048.");
                return 2;
            }
            return await Run(parse.GetValue(url), parse.GetValue(modelsDir), parse.GetValue(model), which, n, c, w, side, ct);
        });
        return command;
    }

    private static async Task<int> Run(string? url, string? modelsDir, string? model, string which, int n, int c, int warmup, int imageSide, CancellationToken ct)
    {
        WebApplication? app = null;
        try
        {
            if (url is null)
            {
                app = StartApp(modelsDir);
                await app.StartAsync(ct);
                url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            }
            var baseUri = new Uri(url.TrimEnd('/') + "/");
            if (!baseUri.IsLoopback)
            {
                Console.Error.WriteLine($"error: {url} is not a loopback address; this load test only runs against 127.0.0.1 / localhost.");
                return 2;
            }
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = c }) { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(60) };
            var models = await http.GetFromJsonAsync<ModelsList>("api/models", JsonSerializerOptions.Web, ct);
            if (models is null || models.Models.Count == 0)
            {
                Console.Error.WriteLine($"error: no model is saved in {models?.Directory}: train one first (the web app's Train page, or digitlab train --model fast --out <dir>/fast.safetensors).");
                return 1;
            }
            string chosen = model ?? models.Active!;
            AnsiConsole.MarkupLine($"Load test of [bold]{Markup.Escape(baseUri.ToString())}[/] with model [bold]{Markup.Escape(chosen)}[/]: {n:N0} requests per endpoint, {c} in flight, after {warmup} warm-up requests.");

            var outcomes = new List<Outcome>();
            if (which is "pixels" or "both" or "all")
            {
                var images = TestImages();
                outcomes.Add(await Load(http, "pixels", "api/predict", i => new { pixels = images[i % images.Length], model = chosen }, n, c, warmup, ct));
            }
            if (which is "drawing" or "both" or "all")
            {
                var drawing = Convert.ToBase64String(Ellipse(280));
                outcomes.Add(await Load(http, "drawing", "api/predict/drawing", _ => new { width = 280, height = 280, pixels = drawing, model = chosen }, n, c, warmup, ct));
            }
            if (which is "image" or "all")
            {
                // Dark ink on white paper, as a scanned or photographed digit arrives; decoded by the server's one image decoder.
                var png = DigitLab.IO.PngWriter.Encode(imageSide, imageSide, 1, Ellipse(imageSide).Select(b => (byte)(255 - b)).ToArray());
                AnsiConsole.MarkupLine($"[grey]image: a {imageSide}x{imageSide} grey PNG of {png.Length:N0} bytes.[/]");
                outcomes.Add(await Load(http, $"image{imageSide}", $"api/predict/image?model={Uri.EscapeDataString(chosen)}", _ => png, "image/png", n, c, warmup, ct));
            }
            Print(outcomes);
            return outcomes.Any(o => o.Errors > 0) ? 1 : 0;
        }
        finally
        {
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
            }
        }
    }

    /// <summary>The web app, wired as its Program.cs does, on a free loopback port with logging quiet.</summary>
    private static WebApplication StartApp(string? modelsDir)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration["urls"] = "http://127.0.0.1:0";
        if (modelsDir is not null) builder.Configuration["DigitLab:ModelsDir"] = modelsDir;
        builder.Logging.ClearProviders();
        builder.AddDigitLab();
        var app = builder.Build();
        app.UseDigitLab();
        app.MapDigitLabApis();
        return app;
    }

    private static Task<Outcome> Load(HttpClient http, string name, string path, Func<int, object> body, int n, int c, int warmup, CancellationToken ct) =>
        Load(http, name, path, i => JsonSerializer.SerializeToUtf8Bytes(body(i), JsonSerializerOptions.Web), "application/json", n, c, warmup, ct);

    private static async Task<Outcome> Load(HttpClient http, string name, string path, Func<int, byte[]> body, string contentType, int n, int c, int warmup, CancellationToken ct)
    {
        var payloads = Enumerable.Range(0, Math.Min(n, 64)).Select(body).ToArray();
        async Task<(bool Ok, string? Error)> Send(int i)
        {
            using var content = new ByteArrayContent(payloads[i % payloads.Length]);
            content.Headers.ContentType = new(contentType);
            using var response = await http.PostAsync(path, content, ct);
            if (response.IsSuccessStatusCode) { await response.Content.ReadAsByteArrayAsync(ct); return (true, null); }
            return (false, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        }

        for (int i = 0; i < warmup; i++) await Send(i);
        var latencies = new double[n];
        int next = -1, errors = 0;
        string? firstError = null;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, c).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < n)
            {
                long start = Stopwatch.GetTimestamp();
                (bool ok, string? error) result;
                try { result = await Send(i); }
                // A refused connection or a request past HttpClient's timeout counts as an error, not a crash.
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested) { result = (false, e.Message); }
                latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (!result.ok)
                {
                    Interlocked.Increment(ref errors);
                    Interlocked.CompareExchange(ref firstError, result.error, null);
                }
            }
        }, ct)).ToArray();
        await Task.WhenAll(workers);
        clock.Stop();
        Array.Sort(latencies);
        return new Outcome(name, n, c, clock.Elapsed.TotalSeconds, latencies, errors, firstError);
    }

    private static void Print(List<Outcome> outcomes)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("Predict under load: N requests, Conc. in flight, latency in ms");
        table.Expand = false;
        table.AddColumn(new TableColumn("Endpoint").NoWrap());
        foreach (var h in new[] { "N", "Conc.", "Req/s", "p50", "p90", "p99", "max", "Errors" })
            table.AddColumn(new TableColumn(h).RightAligned().NoWrap());
        foreach (var o in outcomes)
            table.AddRow(Markup.Escape(o.Endpoint), $"{o.Requests:N0}", $"{o.Concurrency}", $"{o.Requests / o.Seconds:N0}",
                $"{Percentile(o.LatenciesMs, 0.50):F1}", $"{Percentile(o.LatenciesMs, 0.90):F1}", $"{Percentile(o.LatenciesMs, 0.99):F1}",
                $"{o.LatenciesMs[^1]:F1}", o.Errors == 0 ? "[green]0[/]" : $"[red]{o.Errors}[/]");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("[grey]pixels: POST /api/predict with 784 values (MNIST test images); drawing: POST /api/predict/drawing with a 280x280 canvas, preprocessed on the server; image: POST /api/predict/image with a PNG, decoded and preprocessed on the server.[/]");
        foreach (var o in outcomes.Where(o => o.FirstError is not null))
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(o.Endpoint)}: first error {Markup.Escape(o.FirstError!)}[/]");
        AnsiConsole.MarkupLine($"[grey]{Environment.ProcessorCount} cores; client and server share them, so other load on the machine shows in these figures.[/]");
    }

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    private static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Up to 64 MNIST test images as 784 values in [0, 1], or drawn ellipses when MNIST is not fetched.</summary>
    private static float[][] TestImages()
    {
        try
        {
            // Read only what the store already holds: a load test must not start a download (LoadTest would fetch).
            var test = new DatasetStore(null).ReadTest();
            return Enumerable.Range(0, 64).Select(i => test.Image(i).ToArray().Select(b => b / 255f).ToArray()).ToArray();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or DatasetUnavailableException)
        {
            return [Ellipse(28).Select(b => b / 255f).ToArray()];
        }
    }

    /// <summary>A "0": an ellipse outline with a stroke about a tenth of the size wide, white on black.</summary>
    private static byte[] Ellipse(int size)
    {
        var grey = new byte[size * size];
        double cx = size / 2.0, cy = size / 2.0, rx = size * 0.2, ry = size * 0.32, half = size * 0.04;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double d = Math.Sqrt(Math.Pow((x + 0.5 - cx) / rx, 2) + Math.Pow((y + 0.5 - cy) / ry, 2));
                if (Math.Abs(d - 1) * Math.Min(rx, ry) < half) grey[y * size + x] = 255;
            }
        return grey;
    }
}
