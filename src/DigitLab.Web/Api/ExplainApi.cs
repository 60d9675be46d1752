// ExplainApi: what the model looked at for the image on the Recognise page: one integrated-gradient map per digit.
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace DigitLab.Web.Api;

public static class ExplainApi
{
    public static RouteHandlerBuilder MapExplainApi(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/api/explain", Explain).WithTags("Predict");

    /// <summary>
    /// POST /api/explain {pixels: 784 values in [0, 1], model?}: the named (or active) model's probabilities and, for each
    /// digit, a 784-value map (red on the page where a pixel raised that digit's score, blue where it lowered it).
    /// </summary>
    public static async Task<Results<Ok<Explanation>, ProblemHttpResult>> Explain(
        HttpRequest request, CheckpointModelStore store, IOptions<JsonOptions> json, CancellationToken ct)
    {
        var (body, problem) = await Problems.ReadJsonAsync<PixelsRequest>(request, PredictApi.PixelsBodyLimit, json.Value.SerializerOptions, ct);
        if (problem is not null) return problem;
        if (PredictApi.CheckPixels(body!.Pixels) is { } bad) return bad;
        // The same choice of model, and the same refusals, as a prediction's.
        var (classifiers, choose) = PredictApi.Choose(store, body.Model, compare: false);
        if (choose is not null) return choose;
        string name = classifiers![0].Name;
        try
        {
            return store.Explain(name, body.Pixels!) is { } explanation
                ? TypedResults.Ok(explanation)
                : Problems.NotFound("Unknown model", $"The model '{name}' can no longer be read from {store.Directory}; GET /api/models lists them.");
        }
        catch (InvalidDataException e) // weights that overflow: no map rather than NaN
        {
            return TypedResults.Problem(detail: $"Model '{name}': {e.Message}", statusCode: StatusCodes.Status500InternalServerError, title: "The model has no answer");
        }
    }
}
