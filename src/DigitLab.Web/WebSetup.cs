// WebSetup: the services and the request pipeline of the web app, so Program.cs reads as a table of contents.
using System.Text.Json.Serialization;
using DigitLab.Web.Api;
using DigitLab.Web.Services;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DigitLab.Web;

public static class WebSetup
{
    /// <summary>Largest body any endpoint accepts; each endpoint enforces its own, smaller limit too.</summary>
    public const long MaxRequestBodyBytes = 4 * 1024 * 1024;

    public static WebApplicationBuilder AddDigitLab(this WebApplicationBuilder builder)
    {
        // Loopback by default: the app is reachable from elsewhere only when asked (--urls), and then training needs the token.
        if (string.IsNullOrWhiteSpace(builder.Configuration["urls"])) builder.WebHost.UseUrls(DigitLabOptions.DefaultUrl);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes);

        var services = builder.Services;
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(json =>
        {
            // "NaN" and "Infinity" are read so validation can name them instead of failing as malformed JSON.
            json.SerializerOptions.NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.AllowNamedFloatingPointLiterals;
        });
        services.AddSingleton(sp =>
        {
            var configuration = sp.GetRequiredService<IConfiguration>();
            return DigitLabOptions.From(configuration);
        });
        // Predictions run on the web app's own compute context, set once here: a training job has its own, so training
        // never changes how predictions run.
        services.TryAddSingleton(sp => new CheckpointModelStore(sp.GetRequiredService<DigitLabOptions>().ModelsDirectory,
            new Runtime.ComputeContext(sp.GetRequiredService<DigitLabOptions>().PredictionThreads), sp.GetRequiredService<ILogger<CheckpointModelStore>>()));
        services.TryAddSingleton<IModelStore>(sp => sp.GetRequiredService<CheckpointModelStore>());
        services.TryAddSingleton<IDatasetProvider>(sp => new MnistProvider(sp.GetRequiredService<DigitLabOptions>().DataDirectory));
        services.TryAddSingleton<ITrainingBackend>(sp => new LibraryTrainingBackend(
            sp.GetRequiredService<IDatasetProvider>(), sp.GetRequiredService<CheckpointModelStore>(), sp.GetRequiredService<MyDigitsStore>(),
            () => DigitLab.Gpu.GpuDevice.Open(sp.GetRequiredService<DigitLabOptions>().TrainingDevice)));
        services.TryAddSingleton(sp => MyDigitsStore.InModelsDirectory(sp.GetRequiredService<DigitLabOptions>().ModelsDirectory));
        services.AddSingleton<TrainingJobs>();
        services.AddHostedService<TrainingShutdown>(); // shutdown cancels a job as Cancel does and waits for its save
        return builder;
    }

    public static WebApplication UseDigitLab(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<RequestGuard>();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            // The token and host rules follow the addresses actually bound: Kestrel endpoint configuration overrides "urls".
            var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses;
            app.Services.GetRequiredService<DigitLabOptions>().ApplyBoundAddresses(bound?.ToList() ?? []);
            PrintBanner(app);
        });
        return app;
    }

    /// <summary>Maps every JSON API (predict, dataset, training, models, my digits): one list, shared by Program.cs and `digitlab bench web`.</summary>
    public static WebApplication MapDigitLabApis(this WebApplication app)
    {
        app.MapPredictApi();
        app.MapExplainApi();
        app.MapReadApi();
        app.MapDatasetApi();
        app.MapTrainingApi();
        app.MapFineTuneApi();
        app.MapModelsApi();
        app.MapMyDigitsApi();
        return app;
    }

    private static void PrintBanner(WebApplication app)
    {
        var options = app.Services.GetRequiredService<DigitLabOptions>();
        var bound = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var url in bound) Console.WriteLine($"DigitLab is serving on {url}");
        Console.WriteLine($"Models: {options.ModelsDirectory}   Data: {options.DataDirectory}");
        if (options.RequireToken)
            Console.WriteLine($"Bound beyond loopback: starting/cancelling training and activating/testing models need the token {options.Token} (header {DigitLabOptions.TokenHeader}, or the field on the Train page).");
    }
}
