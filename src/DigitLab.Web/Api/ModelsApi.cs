// ModelsApi: the saved models, their summaries, metrics and charts; choosing the active one; testing one.
using DigitLab.Training;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using DigitLab.Evaluation;

namespace DigitLab.Web.Api;

/// <summary>The models list: where they live, which is active, and each model's headline figures.</summary>
/// <remarks><c>Damaged</c> names the checkpoints that could not be read, each with the reason.</remarks>
public sealed record ModelsList(string Directory, string? Active, IReadOnlyList<ModelInfo> Models, IReadOnlyList<DamagedModel>? Damaged = null);

public static class ModelsApi
{
    public static RouteGroupBuilder MapModelsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/models").WithTags("Models");
        group.MapGet("/", List);
        group.MapGet("/{name}", Get);
        group.MapGet("/{name}/charts/{chart}", Chart);
        group.MapPost("/{name}/activate", Activate).ChangesState();
        group.MapPost("/{name}/test", Test).ChangesState();
        return group;
    }

    public static Ok<ModelsList> List(IModelStore store) =>
        TypedResults.Ok(new ModelsList(store.Directory, store.ActiveName, store.List(), store.Damaged()));

    public static Results<Ok<ModelDetails>, ProblemHttpResult> Get(string name, IModelStore store) =>
        store.Details(name) is { } details ? TypedResults.Ok(details) : Unknown(name, store);

    /// <summary>An SVG chart of the model: "loss.svg" and "accuracy.svg" (learning curves), "confusion.svg" (test confusion matrix).</summary>
    public static Results<ContentHttpResult, ProblemHttpResult> Chart(string name, string chart, IModelStore store)
    {
        if (store.Details(name) is not { } details) return Unknown(name, store);
        if (chart is not ("loss.svg" or "accuracy.svg" or "confusion.svg"))
            return Problems.NotFound("Unknown chart", $"There is no chart '{chart}': use loss.svg, accuracy.svg or confusion.svg.");
        string? svg = chart switch
        {
            "loss.svg" => ModelCharts.Loss(details.Log),
            "accuracy.svg" => ModelCharts.Accuracy(details.Log),
            _ => ModelCharts.Confusion(details.Log.Test),
        };
        if (svg is null)
            return Problems.NotFound("No data for this chart",
                chart == "confusion.svg" ? $"Model '{name}' has not been tested yet: press Test to evaluate it on the test set." : $"Model '{name}' has no finished epoch to draw.");
        return TypedResults.Content(svg, "image/svg+xml");
    }

    public static Results<Ok<ModelsList>, ProblemHttpResult> Activate(string name, HttpRequest request, IModelStore store, DigitLabOptions options)
    {
        if (Problems.CheckToken(request, options) is { } forbidden) return forbidden;
        if (!store.SetActive(name)) return Unknown(name, store);
        return TypedResults.Ok(new ModelsList(store.Directory, store.ActiveName, store.List(), store.Damaged()));
    }

    /// <summary>Evaluates the model on the 10,000 test images and keeps the result with the model.</summary>
    public static async Task<Results<Ok<EvaluationResult>, ProblemHttpResult>> Test(
        string name, HttpRequest request, IModelStore store, IDatasetProvider data, DigitLabOptions options, CancellationToken ct)
    {
        if (Problems.CheckToken(request, options) is { } forbidden) return forbidden;
        if (store.Details(name) is null) return Unknown(name, store);
        if (data.Get("test", out var problem) is null)
            return Problems.Unavailable("Dataset not available", problem ?? $"MNIST is not in {data.DataDirectory}: run ./digitlab data");
        var result = await Task.Run(() => store.Test(name, data, ct), ct);
        return result is null ? Unknown(name, store) : TypedResults.Ok(result);
    }

    private static ProblemHttpResult Unknown(string name, IModelStore store)
    {
        var names = store.List().Select(m => m.Name).ToList();
        return Problems.NotFound("Unknown model", names.Count == 0
            ? $"There is no model named '{name}': no model is saved yet in {store.Directory}. Train one on the Train page."
            : $"There is no model named '{name}'. Saved models: {string.Join(", ", names)}.");
    }
}
