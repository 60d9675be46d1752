// RecipeChoices: the named choices of a training recipe as enums, with the names the command line, the web app and the
// JSON files use, parsed in one place.
using System.Text.Json.Serialization;
using DigitLab.Data;

namespace DigitLab.Training;

/// <summary>The optimizer: Adam (PyTorch's defaults) or SGD with momentum.</summary>
public enum OptimizerKind
{
    [JsonStringEnumMemberName("adam")] Adam,
    [JsonStringEnumMemberName("sgd")] Sgd,
}

/// <summary>The learning-rate schedule, applied per batch.</summary>
public enum ScheduleKind
{
    [JsonStringEnumMemberName("none")] None,
    [JsonStringEnumMemberName("step")] Step,
    [JsonStringEnumMemberName("cosine")] Cosine,
    [JsonStringEnumMemberName("onecycle")] OneCycle,
}

/// <summary>Training-time augmentation of the images.</summary>
public enum AugmentationKind
{
    [JsonStringEnumMemberName("none")] None,
    [JsonStringEnumMemberName("affine")] Affine,
    [JsonStringEnumMemberName("elastic")] Elastic,
    [JsonStringEnumMemberName("affine+elastic")] AffineElastic,
    /// <summary>Affine plus pixel perturbations on half the images (noise, speckles, blur, lighting, clutter, stroke width).</summary>
    [JsonStringEnumMemberName("robust")] Robust,
}

/// <summary>Pixel normalisation: MNIST's mean and std (0.1307/0.3081) or 0.5/0.5.</summary>
public enum NormalizationKind
{
    [JsonStringEnumMemberName("mnist")] Mnist,
    [JsonStringEnumMemberName("half")] Half,
}

/// <summary>Names and parsing of the recipe choices (the JSON member names are the command line's names).</summary>
public static class RecipeChoices
{
    /// <summary>The name of <paramref name="value"/> as the command line and the files spell it ("onecycle", "affine+elastic").</summary>
    public static string Name<T>(T value) where T : struct, Enum =>
        typeof(T).GetField(value.ToString())!.GetCustomAttributes(typeof(JsonStringEnumMemberNameAttribute), false)
            .Cast<JsonStringEnumMemberNameAttribute>().Single().Name;

    /// <summary>Every name of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<string> Names<T>() where T : struct, Enum => Enum.GetValues<T>().Select(v => Name(v)).ToArray();

    /// <summary>
    /// The choice named <paramref name="text"/> (case and surrounding spaces ignored); otherwise an
    /// <see cref="ArgumentException"/> that names <paramref name="what"/> (an option, a field) and the names allowed.
    /// </summary>
    public static T Parse<T>(string? text, string what) where T : struct, Enum
    {
        string name = (text ?? "").Trim().ToLowerInvariant();
        foreach (var value in Enum.GetValues<T>())
            if (Name(value) == name) return value;
        throw new ArgumentException($"{what} must be one of {string.Join(", ", Names<T>())}, found '{text}'.");
    }

    /// <summary>The augmenter settings of <paramref name="kind"/>; null for none.</summary>
    public static AugmentationOptions? Options(this AugmentationKind kind) => kind switch
    {
        AugmentationKind.Affine => AugmentationOptions.Affine,
        AugmentationKind.Elastic => AugmentationOptions.Elastic,
        AugmentationKind.AffineElastic => AugmentationOptions.AffineElastic,
        AugmentationKind.Robust => AugmentationOptions.Robust,
        _ => null,
    };

    /// <summary>The mean and std of <paramref name="kind"/>.</summary>
    public static Normalization Values(this NormalizationKind kind) => kind == NormalizationKind.Half ? Normalization.Half : Normalization.Mnist;
}
