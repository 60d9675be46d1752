// WebAppFactory: the app in memory (TestServer) with fakes behind its interfaces and a temporary models dir.
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace DigitLab.Web.Tests;

internal sealed class FakeWebApp : WebApplicationFactory<Program>
{
    public FakeModelStore Store { get; } = new();
    public FakeDataset Data { get; } = new();
    public FakeTrainingBackend Backend { get; } = new();
    public bool RequireToken { get; init; }
    public const string Token = "test-token-123";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DigitLab:ModelsDir", Path.Combine(Path.GetTempPath(), "digitlab-web-tests", Guid.NewGuid().ToString("N")));
        builder.UseSetting("DigitLab:RequireToken", RequireToken ? "true" : "false");
        builder.UseSetting("DigitLab:Token", Token);
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<IModelStore>(Store);
            services.AddSingleton<IDatasetProvider>(Data);
            services.AddSingleton<ITrainingBackend>(Backend);
        });
    }
}
