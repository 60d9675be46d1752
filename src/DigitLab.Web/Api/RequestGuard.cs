// RequestGuard: refuses requests another web site makes through the user's browser: a foreign Host name while bound to loopback (DNS rebinding), and cross-origin or non-JSON requests to endpoints that change state.
using DigitLab.Web.Services;
using Microsoft.Net.Http.Headers;

namespace DigitLab.Web.Api;

/// <summary>Marks an endpoint that changes server state (activating a model, starting or cancelling training, testing a model).</summary>
public sealed class StateChangingMetadata
{
    public static readonly StateChangingMetadata Instance = new();
}

/// <summary>
/// The middleware behind <see cref="StateChangingMetadata"/> and loopback host filtering.
/// </summary>
/// <remarks>
/// <para>Host: while the server listens on loopback addresses only (<see cref="DigitLabOptions.LoopbackOnly"/>) and no
/// <c>AllowedHosts</c> is configured, the Host header must be <c>localhost</c> or a loopback address; a page on
/// another site whose name was made to resolve to 127.0.0.1 sends its own name and is refused (400).
/// With <c>AllowedHosts</c> set, ASP.NET Core's host filtering decides instead.</para>
/// <para>State-changing endpoints (POST) answer 403 when the browser says the request comes from another site
/// (<c>Sec-Fetch-Site: cross-site</c> or <c>same-site</c>), or when <c>Origin</c> (else <c>Referer</c>) names another
/// origin than the request's own scheme and host; and 415 when a body is sent with another type than JSON (a form
/// post is a "simple" request a foreign page can send without asking). Requests without those headers (curl, scripts)
/// are not from a browser page and pass: the token covers callers from other machines.</para>
/// </remarks>
public sealed class RequestGuard(RequestDelegate next, DigitLabOptions options, IConfiguration configuration)
{
    private readonly bool _hostsConfigured = !string.IsNullOrWhiteSpace(configuration["AllowedHosts"]);

    public async Task InvokeAsync(HttpContext context)
    {
        if (!_hostsConfigured && options.LoopbackOnly && !IsLoopbackHost(context.Request.Host.Host))
        {
            await Problem(context, StatusCodes.Status400BadRequest, "Host not allowed",
                $"This server listens on loopback only and answers requests for localhost, 127.0.0.1 or [::1]; this one names the host '{context.Request.Host.Host}'. Open it as http://localhost:{context.Request.Host.Port ?? 80}/, or set AllowedHosts.");
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method)
            && context.GetEndpoint()?.Metadata.GetMetadata<StateChangingMetadata>() is not null)
        {
            if (CrossOrigin(context.Request) is { } why)
            {
                await Problem(context, StatusCodes.Status403Forbidden, "Cross-site request refused",
                    $"{why} Models and training can only be changed from this app's own pages (or a client that is not a browser page).");
                return;
            }
            if (HasBody(context.Request) && !context.Request.HasJsonContentType())
            {
                await Problem(context, StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                    $"This endpoint changes server state and accepts only a JSON body (Content-Type: application/json) or none; found Content-Type '{context.Request.ContentType ?? "(none)"}'.");
                return;
            }
        }
        await next(context);
    }

    /// <summary>Why the request comes from another origin, or null when it does not (or a browser did not say).</summary>
    internal static string? CrossOrigin(HttpRequest request)
    {
        string? site = request.Headers["Sec-Fetch-Site"].FirstOrDefault();
        if (site is "cross-site" or "same-site")
            return $"The browser marks this request Sec-Fetch-Site: {site} (sent by a page of another site, so another origin).";
        string own = $"{request.Scheme}://{request.Host.Value}";
        string? origin = request.Headers[HeaderNames.Origin].FirstOrDefault();
        if (!string.IsNullOrEmpty(origin))
            return SameOrigin(origin, own) ? null : $"The request comes from the page origin '{origin}', another origin than this server's '{own}'.";
        string? referer = request.Headers[HeaderNames.Referer].FirstOrDefault();
        if (!string.IsNullOrEmpty(referer))
            return SameOrigin(referer, own) ? null : $"The request comes from the page '{referer}', of another origin than this server's '{own}'.";
        return null;
    }

    private static bool SameOrigin(string url, string own) =>
        Uri.TryCreate(url, UriKind.Absolute, out var a) && Uri.TryCreate(own, UriKind.Absolute, out var b)
        && string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    private static bool HasBody(HttpRequest request) =>
        request.ContentLength > 0 || request.ContentType is not null || request.Headers.TransferEncoding.Count > 0;

    internal static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));

    private static Task Problem(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail },
            (System.Text.Json.JsonSerializerOptions?)null, "application/problem+json");
    }
}

public static class RequestGuardExtensions
{
    /// <summary>Marks the endpoint as changing state: <see cref="RequestGuard"/> refuses cross-origin and non-JSON requests to it.</summary>
    public static RouteHandlerBuilder ChangesState(this RouteHandlerBuilder endpoint) => endpoint.WithMetadata(StateChangingMetadata.Instance);
}
