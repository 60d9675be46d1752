// DigitLabJson: the one JSON policy for every file DigitLab writes and every --json it prints.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DigitLab.IO;

/// <summary>
/// Property names in camelCase (as the web API and JSON's own convention write them), indented, case-insensitive on
/// read (so files written before, in PascalCase, still load), NaN/Infinity allowed (a diverged loss is a fact worth
/// keeping), enums by their names ("onecycle").
/// </summary>
public static class DigitLabJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            PropertyNameCaseInsensitive = true,
            // Files and terminal output, never embedded in HTML: "affine+elastic" stays readable instead of "affine\u002Belastic".
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        };
        options.Converters.Add(new JsonStringEnumConverter());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
