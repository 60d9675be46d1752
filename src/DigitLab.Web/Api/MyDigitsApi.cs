// MyDigitsApi: the user's own drawings: save one from the Recognise page (Teach), list, view, delete, count, export
// as an image-folder zip, import one, and how a model does on them.
using System.Globalization;
using DigitLab.Data;
using DigitLab.IO;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace DigitLab.Web.Api;

/// <summary>A drawing to save: the canvas as <see cref="DrawingRequest"/> sends it, and the digit the user confirmed or corrected.</summary>
/// <param name="Model">The model whose answer is stored beside the label (default: the active model).</param>
public sealed record SaveDrawingRequest(int Width, int Height, string? Pixels, int? Label, string? Model = null);

/// <summary>The saved drawing, the 28×28 input stored for it (784 bytes, base64), and the new counts per digit.</summary>
public sealed record SavedDrawing(MyDrawing Drawing, string Image, int[] Counts);

/// <summary>The collection (or one digit of it): where the database lives, counts per digit (10), and the drawings.</summary>
public sealed record MyDigitsList(string Database, int[] Counts, int Total, IReadOnlyList<MyDrawing> Items);

/// <summary>An image-folder zip to import, as base64 (state-changing endpoints take JSON bodies only).</summary>
public sealed record ImportRequest(string? Zip, string? Name = null);

/// <summary>One digit's figures: drawings of it, how many the model read right, and the share.</summary>
public sealed record DigitScore(int Digit, int Count, int Correct, double? Accuracy);

/// <summary>How a model does on the collection: overall and per digit (10 rows).</summary>
public sealed record MyDigitsEvaluation(string Model, int Count, double Accuracy, double Loss, IReadOnlyList<DigitScore> PerDigit);

public static class MyDigitsApi
{
    /// <summary>A drawing plus its label: as large as a drawing to predict.</summary>
    public const long SaveBodyLimit = PredictApi.DrawingBodyLimit;
    /// <summary>The server's own body limit: a zip of some 10,000 28×28 PNGs, in base64.</summary>
    public const long ImportBodyLimit = WebSetup.MaxRequestBodyBytes;

    public static RouteGroupBuilder MapMyDigitsApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/mydigits").WithTags("My digits");
        group.MapGet("/", List);
        group.MapPost("/", Save).ChangesState();
        group.MapGet("/export.zip", Export);
        group.MapPost("/import", Import).ChangesState();
        group.MapGet("/evaluation", Evaluate);
        group.MapGet("/{id}/input.png", InputPng);
        group.MapGet("/{id}/canvas.png", CanvasPng);
        group.MapDelete("/{id}", Delete).ChangesState();
        return group;
    }

    /// <param name="digit">Only this digit's drawings (default: all).</param>
    public static Results<Ok<MyDigitsList>, ProblemHttpResult> List(string? digit, MyDigitsStore store)
    {
        int? only = null;
        if (!string.IsNullOrWhiteSpace(digit))
        {
            if (!int.TryParse(digit, NumberStyles.None, CultureInfo.InvariantCulture, out int d) || d > 9)
                return Problems.BadRequest("Bad digit", $"digit must be one digit 0-9, found '{digit}'.");
            only = d;
        }
        return Guard(() =>
        {
            var counts = store.Counts();
            return TypedResults.Ok(new MyDigitsList(store.DatabasePath, counts, counts.Sum(), store.List(only)));
        });
    }

    /// <summary>Saves a drawing with its label: the canvas (as PNG), the 28×28 input preprocessed as <c>/api/predict/drawing</c> does, and the model's answer.</summary>
    public static async Task<Results<Created<SavedDrawing>, ProblemHttpResult>> Save(
        HttpRequest request, MyDigitsStore store, IModelStore models, IOptions<JsonOptions> json, CancellationToken ct)
    {
        var (body, problem) = await Problems.ReadJsonAsync<SaveDrawingRequest>(request, SaveBodyLimit, json.Value.SerializerOptions, ct);
        if (problem is not null) return problem;
        if (body!.Label is not { } label)
            return Problems.BadRequest("Missing label", "The body has no 'label': send the digit (0-9) the drawing shows.");
        if (label is < 0 or > 9)
            return Problems.BadRequest("Bad label", $"label must be a digit from 0 to 9, found {label}.");
        var (drawing, drawingProblem) = PredictApi.ReadDrawing(body.Width, body.Height, body.Pixels);
        if (drawingProblem is not null) return drawingProblem;
        if (!Preprocess.TryRun(drawing!, body.Width, body.Height, out var prepared, out var empty))
            return Problems.BadRequest("Empty drawing", empty!);
        var input = prepared!.Pixels;

        // The model's answer is computed here, from the very input stored, rather than trusted from the page.
        int? predicted = null; double? confidence = null; string? modelName = null;
        if (models.List().Count > 0)
        {
            var (classifiers, chooseProblem) = PredictApi.Choose(models, body.Model, compare: false);
            if (chooseProblem is not null) return chooseProblem;
            var answer = PredictApi.Predict(classifiers![0], PredictApi.ToUnit(input));
            (predicted, confidence, modelName) = (answer.Digit, answer.Confidence, answer.Model);
        }
        return Guard<Created<SavedDrawing>>(() =>
        {
            var saved = store.Add(label, input, PngWriter.Encode(body.Width, body.Height, 1, drawing), predicted, confidence, modelName);
            return TypedResults.Created($"/api/mydigits/{saved.Id}/input.png", new SavedDrawing(saved, Convert.ToBase64String(input), store.Counts()));
        });
    }

    /// <summary>The 28×28 input of a drawing as a grey PNG (what the model received; what an export writes).</summary>
    public static Results<FileContentHttpResult, ProblemHttpResult> InputPng(string id, MyDigitsStore store) =>
        Png(id, store, i => store.Input(i) is { } input ? PngWriter.Encode(28, 28, 1, input) : null, "input");

    /// <summary>The drawing as the canvas sent it, as a grey PNG; 404 for imported images, which have no canvas.</summary>
    public static Results<FileContentHttpResult, ProblemHttpResult> CanvasPng(string id, MyDigitsStore store) =>
        Png(id, store, store.Canvas, "canvas");

    public static Results<Ok<MyDigitsList>, ProblemHttpResult> Delete(string id, HttpRequest request, MyDigitsStore store, DigitLabOptions options)
    {
        if (Problems.CheckToken(request, options) is { } forbidden) return forbidden;
        if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out long number))
            return Problems.BadRequest("Bad id", $"A drawing's id is a whole number, found '{id}'.");
        return Guard<Ok<MyDigitsList>>(() =>
        {
            if (!store.Delete(number)) throw new KeyNotFoundException($"There is no drawing {number}: it may have been deleted already. Reload the page.");
            var counts = store.Counts();
            return TypedResults.Ok(new MyDigitsList(store.DatabasePath, counts, counts.Sum(), []));
        });
    }

    /// <summary>The collection as a zip in the image-folder layout: <c>0/ID.png … 9/ID.png</c>, 28×28 grey PNGs.</summary>
    public static Results<FileContentHttpResult, ProblemHttpResult> Export(MyDigitsStore store) => Guard<FileContentHttpResult>(() =>
    {
        using var zip = new MemoryStream();
        store.ExportZip(zip);
        return TypedResults.File(zip.ToArray(), "application/zip", $"my-digits-{DateTime.Now:yyyyMMdd-HHmmss}.zip");
    });

    /// <summary>Adds every image of an image-folder zip (any format the decoder reads; other sizes preprocessed as MNIST was); unreadable files are listed with their reason.</summary>
    public static async Task<Results<Ok<ImportReport>, ProblemHttpResult>> Import(
        HttpRequest request, MyDigitsStore store, DigitLabOptions options, IOptions<JsonOptions> json, CancellationToken ct)
    {
        if (Problems.CheckToken(request, options) is { } forbidden) return forbidden;
        var (body, problem) = await Problems.ReadJsonAsync<ImportRequest>(request, ImportBodyLimit, json.Value.SerializerOptions, ct);
        if (problem is not null) return problem;
        if (string.IsNullOrEmpty(body!.Zip))
            return Problems.BadRequest("Missing zip", "The body has no 'zip': send a zip of folders 0 … 9 of digit images, in base64.");
        byte[] bytes;
        try { bytes = Convert.FromBase64String(body.Zip); }
        catch (FormatException) { return Problems.BadRequest("Bad zip", $"'zip' is not base64 ({body.Zip.Length} characters): encode the zip file's bytes in base64."); }
        string name = string.IsNullOrWhiteSpace(body.Name) ? "upload.zip" : Path.GetFileName(body.Name.Trim());
        return Guard<Ok<ImportReport>>(() => TypedResults.Ok(store.ImportZip(new MemoryStream(bytes, writable: false), name)));
    }

    /// <summary>How <paramref name="model"/> (default: the active model) does on the whole collection, overall and per digit.</summary>
    public static Results<Ok<MyDigitsEvaluation>, ProblemHttpResult> Evaluate(string? model, MyDigitsStore store, IModelStore models)
    {
        if (models.List().Count == 0)
            return Problems.Conflict("No trained model yet", $"No model is saved in {models.Directory}: train one on the Train page first.");
        string name = string.IsNullOrWhiteSpace(model) ? models.ActiveName! : model;
        if (models.Open(name) is null)
            return Problems.NotFound("Unknown model", $"There is no model named '{name}'. Saved models: {string.Join(", ", models.List().Select(m => m.Name))}.");
        MnistDataset data;
        try { data = store.ToDataset(); }
        catch (MyDigitsUnavailableException e) { return Problems.Unavailable("My digits database unavailable", e.Message); }
        if (data.Count == 0)
            return Problems.Conflict("No drawings yet", "My digits is empty: draw a digit on the Recognise page and save it, or import an image folder.");
        return Guard<Ok<MyDigitsEvaluation>>(() =>
        {
            var result = models.Evaluate(name, data)!;
            var counts = data.ClassCounts();
            var perDigit = Enumerable.Range(0, MnistDataset.Classes).Select(d =>
                new DigitScore(d, counts[d], result.Confusion[d][d], counts[d] == 0 ? null : result.Confusion[d][d] / (double)counts[d])).ToList();
            return TypedResults.Ok(new MyDigitsEvaluation(name, result.Count, result.Accuracy, result.Loss, perDigit));
        });
    }

    private static Results<FileContentHttpResult, ProblemHttpResult> Png(string id, MyDigitsStore store, Func<long, byte[]?> read, string what)
    {
        if (!long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out long number))
            return Problems.BadRequest("Bad id", $"A drawing's id is a whole number, found '{id}'.");
        return Guard<FileContentHttpResult>(() =>
        {
            var bytes = read(number) ?? throw new KeyNotFoundException(what == "canvas"
                ? $"Drawing {number} has no canvas image (imported images keep only their 28×28 input), or does not exist."
                : $"There is no drawing {number}: it may have been deleted. Reload the page.");
            return TypedResults.File(bytes, "image/png");
        });
    }

    /// <summary>Runs a store call, turning its failures into problems: an unusable database (503), an unknown id (404), a bad upload (400).</summary>
    private static Results<T, ProblemHttpResult> Guard<T>(Func<T> work) where T : IResult
    {
        try { return work(); }
        catch (MyDigitsUnavailableException e) { return Problems.Unavailable("My digits database unavailable", e.Message); }
        catch (KeyNotFoundException e) { return Problems.NotFound("No such drawing", e.Message); }
        catch (ArgumentException e) { return Problems.BadRequest("Cannot use this", e.Message); }
        catch (InvalidDataException e) { return Problems.BadRequest("Import refused", e.Message); }
    }
}
