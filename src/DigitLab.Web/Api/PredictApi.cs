// PredictApi: recognise a digit from 784 pixel values, from a canvas drawing, or from an uploaded image,
// with the active model, a chosen one, or every saved model side by side ("compare").
using DigitLab.Data;
using DigitLab.IO;
using DigitLab.Reports;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

using DigitLab.Tensors;

namespace DigitLab.Web.Api;

/// <summary>784 values (28×28 row by row, 0 = background, 1 = ink), used as they are.</summary>
public sealed record PixelsRequest(float[]? Pixels, string? Model = null, bool Compare = false);

/// <summary>A canvas drawing: <c>Width</c>×<c>Height</c> grey bytes (0 = background, 255 = ink) in base64; preprocessed as MNIST was.</summary>
public sealed record DrawingRequest(int Width, int Height, string? Pixels, string? Model = null, bool Compare = false);

/// <summary>One model's answer.</summary>
public sealed record Prediction(string Model, int Digit, float Confidence, float[] Probabilities);

/// <summary>The 28×28 image the models received (784 bytes, base64) and each model's answer.</summary>
public sealed record PredictResponse(string Image, IReadOnlyList<Prediction> Results);

public static class PredictApi
{
    /// <summary>784 numbers of up to ~20 characters each fit comfortably.</summary>
    public const long PixelsBodyLimit = 64 * 1024;
    /// <summary>A 1024×1024 drawing in base64 plus JSON.</summary>
    public const long DrawingBodyLimit = 1536 * 1024;
    public const long ImageBodyLimit = 2 * 1024 * 1024;
    public const int MaxDrawingSide = 1024;

    public static RouteGroupBuilder MapPredictApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/predict").WithTags("Predict");
        group.MapPost("/", PredictPixels);
        group.MapPost("/drawing", PredictDrawing);
        group.MapPost("/image", PredictImage);
        return group;
    }

    public static async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> PredictPixels(
        HttpRequest request, IModelStore store, IOptions<JsonOptions> json, CancellationToken ct)
    {
        var (body, problem) = await Problems.ReadJsonAsync<PixelsRequest>(request, PixelsBodyLimit, json.Value.SerializerOptions, ct);
        if (problem is not null) return problem;
        if (CheckPixels(body!.Pixels) is { } bad) return bad;
        return Answer(store, body.Pixels!, body.Model, body.Compare);
    }

    /// <summary>The checks of a 784-value image (28×28 row by row, each a finite number in [0, 1]): a problem naming the first fault, or null.</summary>
    internal static ProblemHttpResult? CheckPixels(float[]? pixels)
    {
        if (pixels is null)
            return Problems.BadRequest("Missing pixels", "The body has no 'pixels': send 784 numbers (28×28 row by row) in [0, 1], 0 = background, 1 = ink.");
        if (pixels.Length != 784)
            return Problems.BadRequest("Wrong number of pixels", $"Expected 784 pixel values (28×28), found {pixels.Length}. Send one value per pixel, row by row.");
        for (int i = 0; i < pixels.Length; i++)
        {
            float v = pixels[i];
            if (!float.IsFinite(v))
                return Problems.BadRequest("Pixel is not a number", $"pixels[{i}] is {v}: every value must be a finite number in [0, 1].");
            if (v < 0 || v > 1)
                return Problems.BadRequest("Pixel out of range", $"pixels[{i}] = {v} is outside [0, 1]: scale 0..255 values by 1/255.");
        }
        return null;
    }

    public static async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> PredictDrawing(
        HttpRequest request, IModelStore store, IOptions<JsonOptions> json, CancellationToken ct)
    {
        var (body, problem) = await Problems.ReadJsonAsync<DrawingRequest>(request, DrawingBodyLimit, json.Value.SerializerOptions, ct);
        if (problem is not null) return problem;
        var (grey, drawingProblem) = ReadDrawing(body!.Width, body.Height, body.Pixels);
        if (drawingProblem is not null) return drawingProblem;
        if (!Preprocess.TryRun(grey!, body.Width, body.Height, out var prepared, out var empty))
            return Problems.BadRequest("Empty drawing", empty!);
        return Answer(store, ToUnit(prepared!.Pixels), body.Model, body.Compare);
    }

    /// <summary>The grey bytes of a canvas drawing (<paramref name="width"/>×<paramref name="height"/>, base64), or the problem with them; shared with saving a drawing to My digits.</summary>
    internal static (byte[]? Grey, ProblemHttpResult? Problem) ReadDrawing(int width, int height, string? pixels)
    {
        if (width is < 8 or > MaxDrawingSide || height is < 8 or > MaxDrawingSide)
            return (null, Problems.BadRequest("Bad drawing size", $"The drawing is {width}×{height}; width and height must be between 8 and {MaxDrawingSide}."));
        if (string.IsNullOrEmpty(pixels))
            return (null, Problems.BadRequest("Missing pixels", $"The body has no 'pixels': send {width}×{height} grey bytes (0 = background, 255 = ink) in base64."));
        var grey = new byte[width * height];
        if (!Convert.TryFromBase64String(pixels, grey, out int written))
            return (null, Problems.BadRequest("Bad pixels", $"'pixels' is not base64 of {grey.Length} bytes ({width}×{height}); it is {pixels.Length} characters long."));
        if (written != grey.Length)
            return (null, Problems.BadRequest("Wrong number of pixels", $"Expected {grey.Length} bytes ({width}×{height}), found {written}."));
        return (grey, null);
    }

    /// <summary>An image upload (PNG, JPEG, WebP, GIF, BMP, PGM; at most <see cref="ImageDecoder.MaxPixels"/> pixels): multipart form field "image", or the raw file as the body.</summary>
    /// <remarks>Preprocessed by <see cref="Preprocess.FromImage"/>: 28×28 images are taken as MNIST images (dark ink on light paper inverted); any other size (a drawing, a photo of paper) is cleaned up and preprocessed.</remarks>
    public static async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> PredictImage(
        HttpRequest request, IModelStore store, string? model, string? compare, CancellationToken ct)
    {
        bool compareAll = false;
        if (!string.IsNullOrEmpty(compare) && !bool.TryParse(compare, out compareAll))
            return Problems.BadRequest("Bad compare flag", $"compare must be true or false, found '{compare}'.");
        byte[] bytes;
        if (request.HasFormContentType)
        {
            if (request.ContentLength > ImageBodyLimit) return Problems.TooLarge(ImageBodyLimit);
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(new Microsoft.AspNetCore.Http.Features.FormOptions { MultipartBodyLengthLimit = ImageBodyLimit }, ct);
            }
            // A body cut short (the client went away or lied about its length) is the client's fault: IOException "Unexpected end of Stream".
            catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
            {
                return Problems.BadRequest("Bad upload", $"The multipart form could not be read: {e.Message}");
            }
            var file = form.Files["image"] ?? form.Files.FirstOrDefault();
            if (file is null) return Problems.BadRequest("No file", "The form has no file: upload a PNG in the field 'image'.");
            if (file.Length > ImageBodyLimit) return Problems.TooLarge(ImageBodyLimit);
            using var stream = new MemoryStream();
            await file.CopyToAsync(stream, ct);
            bytes = stream.ToArray();
        }
        else
        {
            var (body, problem) = await Problems.ReadBoundedAsync(request, ImageBodyLimit, ct);
            if (problem is not null) return problem;
            bytes = body!;
        }
        RasterImage raster;
        try
        {
            // The one decoder for untrusted bytes: the size is read from the header and limited before any pixel memory.
            raster = ImageDecoder.Decode(bytes, "The upload");
        }
        catch (InvalidDataException e)
        {
            return Problems.BadRequest(ImageDecoder.IsTooLarge(e) ? "Image too large" : "Not a readable image", e.Message);
        }
        // The library's one entry point for decoded images (as the CLI's predict and image folders use): a 28×28 image is
        // taken as an MNIST image (inverted if dark on light), any other is cleaned up (photos of paper too) and boxed.
        if (!Preprocess.TryFromImage(raster, out var prepared, out var empty))
            return Problems.BadRequest("Empty image", empty!);
        float[] image = ToUnit(prepared!.Pixels);
        return Answer(store, image, model, compareAll);
    }

    /// <summary>Runs the chosen model(s) on a 784-value image.</summary>
    internal static Results<Ok<PredictResponse>, ProblemHttpResult> Answer(IModelStore store, float[] image, string? model, bool compare)
    {
        var (classifiers, problem) = Choose(store, model, compare);
        if (problem is not null) return problem;
        var results = new List<Prediction>(classifiers!.Count);
        foreach (var classifier in classifiers)
        {
            try { results.Add(Predict(classifier, image)); }
            catch (InvalidDataException e) // a model whose weights overflow: no answer rather than NaN (FiniteCheck.Probabilities)
            {
                return TypedResults.Problem(detail: $"Model '{classifier.Name}': {e.Message}", statusCode: StatusCodes.Status500InternalServerError, title: "The model has no answer");
            }
        }
        return TypedResults.Ok(new PredictResponse(Convert.ToBase64String(ToBytes(image)), results));
    }

    internal static Prediction Predict(IDigitClassifier classifier, ReadOnlySpan<float> image)
    {
        var p = classifier.Probabilities(image);
        int best = 0;
        for (int i = 1; i < p.Length; i++) if (p[i] > p[best]) best = i;
        return new Prediction(classifier.Name, best, p[best], p);
    }

    /// <summary>The classifiers a request names: every model (compare), the named one, or the active one.</summary>
    internal static (IReadOnlyList<IDigitClassifier>? Classifiers, ProblemHttpResult? Problem) Choose(IModelStore store, string? model, bool compare)
    {
        var saved = store.List();
        if (saved.Count == 0)
            return (null, Problems.Conflict("No trained model yet",
                $"No model is saved in {store.Directory}. Train one on the Train page (the 'fast' model takes well under a minute), or run: ./digitlab train --model fast"));
        if (compare)
        {
            var all = new List<IDigitClassifier>();
            foreach (var info in saved) if (store.Open(info.Name) is { } c) all.Add(c);
            return (all, null);
        }
        string name = string.IsNullOrWhiteSpace(model) ? store.ActiveName! : model;
        if (store.Open(name) is { } classifier) return ([classifier], null);
        return (null, Problems.BadRequest("Unknown model",
            $"There is no model named '{name}'. Saved models: {string.Join(", ", saved.Select(m => m.Name))}."));
    }

    internal static float[] ToUnit(ReadOnlySpan<byte> pixels)
    {
        var unit = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) unit[i] = pixels[i] / 255f;
        return unit;
    }

    internal static byte[] ToBytes(ReadOnlySpan<float> image)
    {
        var bytes = new byte[image.Length];
        for (int i = 0; i < image.Length; i++) bytes[i] = (byte)Math.Clamp(MathF.Round(image[i] * 255f), 0, 255);
        return bytes;
    }
}
