// ReadApi: a number written on the Recognise page's wide canvas ("number" mode): segmented, each digit recognised, boxes returned.
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace DigitLab.Web.Api;

/// <summary>One digit of a number read: its value, the model's probability for it, and its box in the drawing's pixels.</summary>
public sealed record ReadDigitResponse(int Digit, float Confidence, int X, int Y, int Width, int Height);

/// <summary>The number read from a drawing: its text, the overall confidence (the product of the digits') and each digit.</summary>
public sealed record ReadResponse(string Model, string Text, double Confidence, IReadOnlyList<ReadDigitResponse> Digits);

public static class ReadApi
{
    public static RouteHandlerBuilder MapReadApi(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/api/read", Read).WithTags("Predict");

    /// <summary>
    /// POST /api/read {width, height, pixels: base64 grey bytes (ink bright), model?}: the library's <see cref="NumberReader"/>
    /// (connected components, merge and split rules, each part preprocessed as MNIST) with the named or active model.
    /// </summary>
    public static async Task<Results<Ok<ReadResponse>, ProblemHttpResult>> Read(
        HttpRequest request, IModelStore store, IOptions<JsonOptions> json, CancellationToken ct)
    {
        var (body, problem) = await Problems.ReadJsonAsync<DrawingRequest>(request, PredictApi.DrawingBodyLimit, json.Value.SerializerOptions, ct);
        if (problem is not null) return problem;
        var (grey, drawingProblem) = PredictApi.ReadDrawing(body!.Width, body.Height, body.Pixels);
        if (drawingProblem is not null) return drawingProblem;
        var (classifiers, choose) = PredictApi.Choose(store, body.Model, compare: false);
        if (choose is not null) return choose;
        var classifier = classifiers![0];
        float[][] Classify(IReadOnlyList<byte[]> images) => images.Select(image => classifier.Probabilities(PredictApi.ToUnit(image))).ToArray();
        try
        {
            var result = NumberReader.Read(grey!, body.Width, body.Height, Classify);
            return TypedResults.Ok(new ReadResponse(classifier.Name, result.Text, result.Confidence,
                result.Digits.Select(d => new ReadDigitResponse(d.Digit, d.Confidence, d.Box.X, d.Box.Y, d.Box.Width, d.Box.Height)).ToList()));
        }
        catch (EmptyImageException e)
        {
            return Problems.BadRequest("Empty drawing", e.Message);
        }
        catch (InvalidDataException e) // a model whose weights overflow
        {
            return TypedResults.Problem(detail: $"Model '{classifier.Name}': {e.Message}", statusCode: StatusCodes.Status500InternalServerError, title: "The model has no answer");
        }
    }
}
