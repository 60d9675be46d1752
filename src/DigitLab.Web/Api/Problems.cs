// Problems: ProblemDetails answers for bad requests, and the bounded JSON body reader every POST uses.
using System.Text.Json;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DigitLab.Web.Api;

internal static class Problems
{
    public static ProblemHttpResult BadRequest(string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest, title: title);

    public static ProblemHttpResult NotFound(string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status404NotFound, title: title);

    public static ProblemHttpResult Conflict(string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status409Conflict, title: title);

    public static ProblemHttpResult TooLarge(long limit) =>
        TypedResults.Problem(
            detail: $"The request body is larger than this endpoint accepts ({limit:N0} bytes). Send a smaller body.",
            statusCode: StatusCodes.Status413PayloadTooLarge, title: "Request body too large");

    public static ProblemHttpResult Unavailable(string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: title);

    public static ProblemHttpResult Forbidden() =>
        TypedResults.Problem(
            detail: $"This server is reachable from other machines, so starting or cancelling training and activating or testing a model need the token printed at start-up: send it in the {DigitLabOptions.TokenHeader} header (the Train page has a field for it).",
            statusCode: StatusCodes.Status403Forbidden, title: "Token required");

    /// <summary>Null when the request may change state (loopback binding, or the right token); else a 403 problem.</summary>
    public static ProblemHttpResult? CheckToken(HttpRequest request, DigitLabOptions options) =>
        options.Accepts(request.Headers[DigitLabOptions.TokenHeader].FirstOrDefault()) ? null : Forbidden();

    /// <summary>Reads at most <paramref name="limit"/> bytes into memory: the body, or a 413 problem.</summary>
    public static async Task<(byte[]? Body, ProblemHttpResult? Problem)> ReadBoundedAsync(HttpRequest request, long limit, CancellationToken ct)
    {
        if (request.ContentLength > limit) return (null, TooLarge(limit));
        // Kestrel enforces the limit as the body streams in; the copy below enforces it for any server.
        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false }) sizeFeature.MaxRequestBodySize = limit;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        try
        {
            while (true)
            {
                int read = await request.Body.ReadAsync(chunk, ct);
                if (read == 0) break;
                if (buffer.Length + read > limit) return (null, TooLarge(limit));
                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge(limit));
        }
        return (buffer.ToArray(), null);
    }

    /// <summary>Reads a JSON body of at most <paramref name="limit"/> bytes: the value, or a problem naming what was wrong.</summary>
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadJsonAsync<T>(
        HttpRequest request, long limit, JsonSerializerOptions json, CancellationToken ct) where T : class
    {
        if (!request.HasJsonContentType())
            return (null, TypedResults.Problem(
                detail: $"Expected a JSON body (Content-Type: application/json), found Content-Type '{request.ContentType ?? "(none)"}'.",
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type"));
        var (body, problem) = await ReadBoundedAsync(request, limit, ct);
        if (problem is not null) return (null, problem);
        if (body!.Length == 0) return (null, BadRequest("Empty body", "The request body is empty: send a JSON object."));
        try
        {
            var value = JsonSerializer.Deserialize<T>(body, json);
            if (value is null) return (null, BadRequest("Empty body", "The request body is JSON null: send a JSON object."));
            return (value, null);
        }
        catch (JsonException e)
        {
            return (null, BadRequest("Malformed JSON", $"The request body could not be read as JSON: {e.Message}"));
        }
    }
}
