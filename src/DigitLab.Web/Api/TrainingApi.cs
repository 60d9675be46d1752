// TrainingApi: start, watch (server-sent events) and cancel the one training job the server runs.
using DigitLab.Models;
using DigitLab.Training;
using System.Net.ServerSentEvents;
using System.Text.RegularExpressions;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace DigitLab.Web.Api;

/// <summary>What the Train page sends; null fields take the defaults shown by GET /api/training/options.</summary>
/// <param name="Augmentation">"none", "affine", "robust", … (as <c>train --augment</c>); <paramref name="Augment"/> true means affine
/// (what pages and scripts sent before this field existed).</param>
public sealed record StartTrainingRequest(string? Model, int? Epochs = null, int? BatchSize = null, double? LearningRate = null, bool? Augment = null, string? Name = null,
    string? Augmentation = null);

/// <summary>Choices and defaults for the Train page.</summary>
/// <remarks><c>LearningRates</c> holds each architecture's default rate (fast takes a higher one-cycle peak).
/// <c>Augmentations</c> lists the augmentation names a request may give, <c>Augmentation</c> the default.</remarks>
public sealed record TrainingOptions(IReadOnlyList<string> Architectures, string DefaultArchitecture, int Epochs, int BatchSize, double LearningRate, bool Augment, bool TokenRequired, int MaxEpochs, int MaxBatchSize, IReadOnlyDictionary<string, double> LearningRates,
    IReadOnlyList<string> Augmentations, string Augmentation);

public static partial class TrainingApi
{
    public const int DefaultEpochs = 1, MaxEpochs = 100, DefaultBatchSize = 64, MaxBatchSize = 4096;
    public const double DefaultLearningRate = 1e-3, MaxLearningRate = 10;

    /// <summary>The model's own rate from its recipe (<see cref="TrainerOptions.ForModel"/>: fast and best take higher one-cycle peaks).</summary>
    public static double DefaultRate(string architecture) => ModelZoo.Exists(architecture) ? TrainerOptions.ForModel(architecture).LearningRate : DefaultLearningRate;
    public const long BodyLimit = 16 * 1024;

    public static RouteGroupBuilder MapTrainingApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/training").WithTags("Training");
        group.MapGet("/", GetStatus);
        group.MapGet("/options", GetOptions);
        group.MapGet("/events", GetEvents);
        group.MapPost("/", Start).ChangesState();
        group.MapPost("/cancel", Cancel).ChangesState();
        return group;
    }

    public static Ok<JobStatus> GetStatus(TrainingJobs jobs) => TypedResults.Ok(jobs.Status());

    public static Ok<TrainingOptions> GetOptions(TrainingJobs jobs, DigitLabOptions options)
    {
        var names = jobs.Architectures;
        string preferred = names.Contains("fast") ? "fast" : names.FirstOrDefault() ?? "";
        return TypedResults.Ok(new TrainingOptions(names, preferred, DefaultEpochs, DefaultBatchSize, DefaultRate(preferred), false, options.RequireToken,
            MaxEpochs, MaxBatchSize, names.ToDictionary(n => n, DefaultRate), RecipeChoices.Names<AugmentationKind>(), RecipeChoices.Name(AugmentationKind.None)));
    }

    /// <summary>Server-sent events: "status" (full snapshot; first on every connection), "progress", "epoch".</summary>
    /// <remarks>The stream ends when the browser leaves or the server stops (so an open page never delays shutdown).</remarks>
    public static ServerSentEventsResult<string> GetEvents(TrainingJobs jobs, IHostApplicationLifetime lifetime, CancellationToken ct) =>
        TypedResults.ServerSentEvents(jobs.Events(ct, lifetime.ApplicationStopping));

    public static async Task<Results<Accepted<JobStatus>, ProblemHttpResult>> Start(
        HttpRequest request, TrainingJobs jobs, IModelStore store, DigitLabOptions options, IOptions<JsonOptions> json, CancellationToken ct)
    {
        if (Problems.CheckToken(request, options) is { } forbidden) return forbidden;
        var (body, problem) = await Problems.ReadJsonAsync<StartTrainingRequest>(request, BodyLimit, json.Value.SerializerOptions, ct);
        if (problem is not null) return problem;
        var architectures = jobs.Architectures;
        if (string.IsNullOrWhiteSpace(body!.Model))
            return Problems.BadRequest("Missing model", $"Choose the model to train: one of {string.Join(", ", architectures)}.");
        if (!architectures.Contains(body.Model))
            return Problems.BadRequest("Unknown model", $"There is no architecture '{body.Model}'. Choose one of {string.Join(", ", architectures)}.");
        int epochs = body.Epochs ?? DefaultEpochs, batch = body.BatchSize ?? DefaultBatchSize;
        double lr = body.LearningRate ?? DefaultRate(body.Model);
        if (epochs is < 1 or > MaxEpochs)
            return Problems.BadRequest("Bad epochs", $"epochs must be between 1 and {MaxEpochs}, found {epochs}.");
        if (batch is < 1 or > MaxBatchSize)
            return Problems.BadRequest("Bad batch size", $"batchSize must be between 1 and {MaxBatchSize}, found {batch}.");
        if (!double.IsFinite(lr) || lr <= 0 || lr > MaxLearningRate)
            return Problems.BadRequest("Bad learning rate", $"learningRate must be a number in (0, {MaxLearningRate}], found {lr}.");
        string name = string.IsNullOrWhiteSpace(body.Name) ? $"{body.Model}-{DateTime.Now:yyyyMMdd-HHmmss}" : body.Name.Trim();
        if (!ValidName().IsMatch(name))
            return Problems.BadRequest("Bad model name", $"The name '{name}' may use only letters, digits, '.', '_' and '-' (at most 64 characters), and must not start with '.'.");

        if (store.List().Any(m => m.Name == name))
            return Problems.BadRequest("Name taken", $"A model named '{name}' is already saved in {store.Directory}: choose another name (or leave it empty for a dated one).");
        var (augmentation, badAugmentation) = ReadAugmentation(body.Augment, body.Augmentation);
        if (badAugmentation is not null) return badAugmentation;
        var training = new TrainingRequest(body.Model, epochs, batch, lr, augmentation, name);
        if (!jobs.TryStart(training, out var status))
            return Problems.Conflict("A training job is running",
                $"Only one job runs at a time: {status.Request?.Architecture} (\"{status.Request?.Name}\") is at epoch {status.Epoch}/{status.Epochs}. Wait for it or cancel it.");
        return TypedResults.Accepted("/api/training", status);
    }

    public static Results<Ok<JobStatus>, ProblemHttpResult> Cancel(HttpRequest request, TrainingJobs jobs, DigitLabOptions options)
    {
        if (Problems.CheckToken(request, options) is { } forbidden) return forbidden;
        if (!jobs.Cancel(out var status))
            return Problems.Conflict("No training job is running", $"There is nothing to cancel: the last job is {status.State}.");
        return TypedResults.Ok(status);
    }

    /// <summary>
    /// The augmentation a request asks for: <paramref name="augmentation"/> by name, else affine when <paramref name="augment"/> is
    /// true, else none; a 400 for an unknown name or for the two fields disagreeing.
    /// </summary>
    internal static (AugmentationKind Kind, ProblemHttpResult? Problem) ReadAugmentation(bool? augment, string? augmentation)
    {
        if (augmentation is null) return (augment == true ? AugmentationKind.Affine : AugmentationKind.None, null);
        AugmentationKind kind;
        try { kind = RecipeChoices.Parse<AugmentationKind>(augmentation, "augmentation"); }
        catch (ArgumentException e) { return (default, Problems.BadRequest("Bad augmentation", e.Message)); }
        if (augment is { } on && on != (kind != AugmentationKind.None))
            return (default, Problems.BadRequest("Contradicting augmentation",
                $"augment is {(on ? "true" : "false")} but augmentation is '{RecipeChoices.Name(kind)}': send augmentation alone."));
        return (kind, null);
    }

    [GeneratedRegex(@"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    internal static partial Regex ValidName();
}
