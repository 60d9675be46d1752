// BrowserFixture: the real app on a real 127.0.0.1 port (Kestrel), a quickly trained MLP in a temporary models dir,
// and Debian's headless chromium driven by Playwright for .NET.
using System.Net;
using DigitLab.Data;
using DigitLab.Training;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace DigitLab.Web.Tests;

public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ModelName = "mlp-quick";
    public const string CopyName = "mlp-copy";

    private RealWebApp? _app;
    public string ModelsDirectory { get; } = Path.Combine(Path.GetTempPath(), "digitlab-browser-tests", Guid.NewGuid().ToString("N"));
    public string BaseUrl { get; private set; } = "";
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public RealWebApp App => _app!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(ModelsDirectory);
        await Task.Run(TrainQuickModel);
        _app = new RealWebApp(ModelsDirectory);
        _app.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        _app.StartServer();
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.First().TrimEnd('/') + "/";
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        });
    }

    /// <summary>An MLP, one epoch on the 60,000 training images (about 97% on the test set): enough to read clear drawn digits.</summary>
    private void TrainQuickModel()
    {
        var train = DatasetStore.LoadTrain(null);
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, BatchSize = 64, LearningRate = 1e-3, ValidationCount = 0, Seed = 7 });
        trainer.Train(train, null);
        trainer.SaveCheckpoint(Path.Combine(ModelsDirectory, ModelName + ".safetensors"));
        File.Copy(Path.Combine(ModelsDirectory, ModelName + ".safetensors"), Path.Combine(ModelsDirectory, CopyName + ".safetensors"));
        File.WriteAllText(Path.Combine(ModelsDirectory, "active.txt"), ModelName);
    }

    public async Task<IPage> NewPage(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height }, BaseURL = BaseUrl });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        return page;
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        _app?.Dispose();
        try { Directory.Delete(ModelsDirectory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The app with every real service; only the models directory is a temporary one.</summary>
public sealed class RealWebApp(string modelsDirectory) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DigitLab:ModelsDir", modelsDirectory);
        builder.UseSetting("DigitLab:RequireToken", "false");
    }
}
