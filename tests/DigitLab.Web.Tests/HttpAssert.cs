// HttpAssert: checks that a response is the expected ProblemDetails, naming what was wrong.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace DigitLab.Web.Tests;

internal static class HttpAssert
{
    /// <summary>Asserts the status and that the ProblemDetails detail contains every fragment; returns the detail.</summary>
    public static async Task<string> Problem(HttpResponseMessage response, HttpStatusCode status, params string[] fragments)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(body);
        Assert.Equal((int)status, json.RootElement.GetProperty("status").GetInt32());
        string detail = json.RootElement.GetProperty("detail").GetString() ?? "";
        foreach (var fragment in fragments) Assert.Contains(fragment, detail);
        return detail;
    }

    public static async Task<T> Ok<T>(HttpResponseMessage response, HttpStatusCode status = HttpStatusCode.OK)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<T>(body, JsonSerializerOptions.Web)!;
    }

    public static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
