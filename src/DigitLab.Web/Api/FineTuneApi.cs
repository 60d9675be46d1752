// FineTuneApi: start a fine-tuning job from the Train page: a saved model trained further on MNIST + my digits, run by
// the same one-job runner (live progress, cancel) as training from scratch.
using DigitLab.Training;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace DigitLab.Web.Api;

/// <summary>What the Train page's fine-tune form sends; null fields take the defaults of GET /api/training/finetune/options.</summary>
/// <param name="BaseModel">The saved model to start from (default: the active model).</param>
public sealed record StartFineTuneRequest(string? BaseModel = null, int? Epochs = null, int? BatchSize = null, double? LearningRate = null,
    double? ReplayFraction = null, bool? Augment = null, string? Name = null, string? Augmentation = null);

/// <summary>Choices and defaults for fine-tuning: the saved models (active first), each one's default rate, and how many drawings there are.</summary>
public sealed record FineTuneOptions(IReadOnlyList<string> Models, string? Active, int Epochs, int BatchSize, double ReplayFraction,
    IReadOnlyDictionary<string, double> LearningRates, int Drawings, int MinDrawings, bool TokenRequired);

public static class FineTuneApi
{
    /// <summary>A few passes over a small collection; batches small enough that a few dozen drawings make several steps.</summary>
    public const int DefaultEpochs = 3, DefaultBatchSize = 32;
    public const double DefaultReplayFraction = 0.5;
    /// <summary>Fine-tuning steps a tenth of the model's own training rate, so the trained weights are adjusted, not overwritten.</summary>
    public const double RateDivisor = 10;

    public static RouteGroupBuilder MapFineTuneApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/training/finetune").WithTags("Training");
        group.MapGet("/options", GetOptions);
        group.MapPost("/", Start).ChangesState();
        return group;
    }

    /// <summary>The default fine-tuning rate of a saved model: its recipe's rate over <see cref="RateDivisor"/>.</summary>
    public static double DefaultRate(IModelStore store, string model) =>
        (store.Details(model)?.Log.Recipe?.LearningRate ?? TrainingApi.DefaultRate(store.Details(model)?.Info.Architecture ?? "")) / RateDivisor;

    public static Results<Ok<FineTuneOptions>, ProblemHttpResult> GetOptions(IModelStore store, MyDigitsStore myDigits, DigitLabOptions options)
    {
        var names = store.List().Select(m => m.Name).ToList();
        int drawings;
        try { drawings = myDigits.Counts().Sum(); }
        catch (MyDigitsUnavailableException e) { return Problems.Unavailable("My digits database unavailable", e.Message); }
        return TypedResults.Ok(new FineTuneOptions(names, store.ActiveName, DefaultEpochs, DefaultBatchSize, DefaultReplayFraction,
            names.ToDictionary(n => n, n => DefaultRate(store, n)), drawings, FineTuneData.MinDrawings, options.RequireToken));
    }

    public static async Task<Results<Accepted<JobStatus>, ProblemHttpResult>> Start(
        HttpRequest request, TrainingJobs jobs, IModelStore store, MyDigitsStore myDigits, DigitLabOptions options, IOptions<JsonOptions> json, CancellationToken ct)
    {
        if (Problems.CheckToken(request, options) is { } forbidden) return forbidden;
        var (body, problem) = await Problems.ReadJsonAsync<StartFineTuneRequest>(request, TrainingApi.BodyLimit, json.Value.SerializerOptions, ct);
        if (problem is not null) return problem;
        var saved = store.List();
        if (saved.Count == 0)
            return Problems.Conflict("No trained model yet", $"Fine-tuning starts from a saved model, and none is saved in {store.Directory}: train one first.");
        string baseModel = string.IsNullOrWhiteSpace(body!.BaseModel) ? store.ActiveName! : body.BaseModel.Trim();
        if (store.Details(baseModel) is not { } details)
            return Problems.BadRequest("Unknown model", $"There is no saved model '{baseModel}' to start from. Saved models: {string.Join(", ", saved.Select(m => m.Name))}.");
        int epochs = body.Epochs ?? DefaultEpochs, batch = body.BatchSize ?? DefaultBatchSize;
        double lr = body.LearningRate ?? DefaultRate(store, baseModel), replay = body.ReplayFraction ?? DefaultReplayFraction;
        if (epochs is < 1 or > TrainingApi.MaxEpochs)
            return Problems.BadRequest("Bad epochs", $"epochs must be between 1 and {TrainingApi.MaxEpochs}, found {epochs}.");
        if (batch is < 1 or > TrainingApi.MaxBatchSize)
            return Problems.BadRequest("Bad batch size", $"batchSize must be between 1 and {TrainingApi.MaxBatchSize}, found {batch}.");
        if (!double.IsFinite(lr) || lr <= 0 || lr > TrainingApi.MaxLearningRate)
            return Problems.BadRequest("Bad learning rate", $"learningRate must be a number in (0, {TrainingApi.MaxLearningRate}], found {lr}.");
        if (!double.IsFinite(replay) || replay < 0 || replay > FineTuneData.MaxReplayFraction)
            return Problems.BadRequest("Bad replay fraction", $"replayFraction (the share of MNIST images in the mix) must be in [0, {FineTuneData.MaxReplayFraction}], found {replay}.");
        string name = string.IsNullOrWhiteSpace(body.Name) ? $"{baseModel}-mine-{DateTime.Now:yyyyMMdd-HHmmss}" : body.Name.Trim();
        if (!TrainingApi.ValidName().IsMatch(name))
            return Problems.BadRequest("Bad model name", $"The name '{name}' may use only letters, digits, '.', '_' and '-' (at most 64 characters), and must not start with '.'.");
        if (saved.Any(m => m.Name == name))
            return Problems.BadRequest("Name taken", $"A model named '{name}' is already saved in {store.Directory}: choose another name (or leave it empty for a dated one).");
        int drawings;
        try { drawings = myDigits.Counts().Sum(); }
        catch (MyDigitsUnavailableException e) { return Problems.Unavailable("My digits database unavailable", e.Message); }
        if (drawings < FineTuneData.MinDrawings)
            return Problems.Conflict("Too few drawings", $"Fine-tuning needs at least {FineTuneData.MinDrawings} saved drawings (one to learn from, one to measure on); My digits holds {drawings}. Draw and save some on the Recognise page.");

        var (augmentation, badAugmentation) = TrainingApi.ReadAugmentation(body.Augment, body.Augmentation);
        if (badAugmentation is not null) return badAugmentation;
        var training = new TrainingRequest(details.Info.Architecture, epochs, batch, lr, augmentation, name, new FineTuneSpec(baseModel, replay));
        if (!jobs.TryStart(training, out var status))
            return Problems.Conflict("A training job is running",
                $"Only one job runs at a time: {status.Request?.Architecture} (\"{status.Request?.Name}\") is at epoch {status.Epoch}/{status.Epochs}. Wait for it or cancel it.");
        return TypedResults.Accepted("/api/training", status);
    }
}
