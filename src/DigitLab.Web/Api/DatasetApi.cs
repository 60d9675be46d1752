// DatasetApi: pages of 100 training or test images (optionally only some digits), and single images
// with every saved model's prediction.
using DigitLab.Data;
using DigitLab.Web.Services;
using Microsoft.AspNetCore.Http.HttpResults;

namespace DigitLab.Web.Api;

/// <summary>One image of a page: its index in the split and its label.</summary>
public sealed record DatasetItem(int Index, int Label);

/// <summary>A page of images. <c>Images</c> is base64 of Items.Count × 784 bytes (row-major 28×28 each), in item order.</summary>
public sealed record DatasetPage(string Split, int Page, int PageCount, int PageSize, int Total, int[] Digits, IReadOnlyList<DatasetItem> Items, string Images);

/// <summary>One image with its label and every saved model's prediction.</summary>
public sealed record DatasetImage(string Split, int Index, int Label, string Image, IReadOnlyList<Prediction> Predictions);

public static class DatasetApi
{
    public const int PageSize = 100;

    public static RouteGroupBuilder MapDatasetApi(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/dataset").WithTags("Dataset");
        group.MapGet("/{split}", GetPage);
        group.MapGet("/{split}/random", GetRandom);
        group.MapGet("/{split}/{index}", GetImage);
        return group;
    }

    /// <param name="page">1-based page number (default 1).</param>
    /// <param name="digits">Comma-separated digits to keep, e.g. "3,5,8" (default: all).</param>
    public static Results<Ok<DatasetPage>, ProblemHttpResult> GetPage(string split, string? page, string? digits, IDatasetProvider data)
    {
        var (set, problem) = Load(split, data);
        if (problem is not null) return problem;
        if (!TryParseDigits(digits, out var wanted, out var digitProblem)) return digitProblem!;
        int pageNumber = 1;
        if (!string.IsNullOrWhiteSpace(page) && (!int.TryParse(page, out pageNumber) || pageNumber < 1))
            return Problems.BadRequest("Bad page", $"page must be a whole number from 1 up, found '{page}'.");

        var indices = Filter(set!, wanted);
        int pageCount = Math.Max(1, (indices.Count + PageSize - 1) / PageSize);
        if (pageNumber > pageCount)
            return Problems.BadRequest("Page out of range",
                $"Page {pageNumber} is past the last page: {set!.Name} has {indices.Count} image(s){DigitsText(wanted)}, {pageCount} page(s) of {PageSize}.");
        int start = (pageNumber - 1) * PageSize, count = Math.Min(PageSize, indices.Count - start);
        var items = new DatasetItem[count];
        var images = new byte[count * 784];
        for (int i = 0; i < count; i++)
        {
            int index = indices[start + i];
            items[i] = new DatasetItem(index, set!.Labels[index]);
            set.Images.AsSpan(index * 784, 784).CopyTo(images.AsSpan(i * 784));
        }
        return TypedResults.Ok(new DatasetPage(split, pageNumber, pageCount, PageSize, indices.Count, wanted, items, Convert.ToBase64String(images)));
    }

    public static Results<Ok<DatasetImage>, ProblemHttpResult> GetImage(string split, string index, IDatasetProvider data, IModelStore store)
    {
        var (set, problem) = Load(split, data);
        if (problem is not null) return problem;
        if (!int.TryParse(index, out int i) || i < 0 || i >= set!.Count)
            return Problems.BadRequest("Bad index", $"index must be a whole number from 0 to {set!.Count - 1} for {split}, found '{index}'.");
        return TypedResults.Ok(Describe(set, split, i, store));
    }

    /// <summary>A random image of the split (for "Random" on the Recognise page), optionally of one digit.</summary>
    public static Results<Ok<DatasetImage>, ProblemHttpResult> GetRandom(string split, string? digit, IDatasetProvider data, IModelStore store)
    {
        var (set, problem) = Load(split, data);
        if (problem is not null) return problem;
        if (!TryParseDigits(digit, out var wanted, out var digitProblem)) return digitProblem!;
        var indices = Filter(set!, wanted);
        if (indices.Count == 0) return Problems.BadRequest("No images", $"{split} has no image{DigitsText(wanted)}.");
        return TypedResults.Ok(Describe(set!, split, indices[Random.Shared.Next(indices.Count)], store));
    }

    private static DatasetImage Describe(MnistDataset set, string split, int index, IModelStore store)
    {
        var pixels = set.Images.AsSpan(index * 784, 784);
        var image = new float[784];
        for (int p = 0; p < 784; p++) image[p] = pixels[p] / 255f;
        var predictions = new List<Prediction>();
        foreach (var info in store.List())
            if (store.Open(info.Name) is { } classifier) predictions.Add(PredictApi.Predict(classifier, image));
        return new DatasetImage(split, index, set.Labels[index], Convert.ToBase64String(pixels), predictions);
    }

    private static (MnistDataset? Set, ProblemHttpResult? Problem) Load(string split, IDatasetProvider data)
    {
        if (split is not ("train" or "test"))
            return (null, Problems.BadRequest("Unknown split", $"The split must be 'train' or 'test', found '{split}'."));
        var set = data.Get(split, out var problem);
        return set is null ? (null, Problems.Unavailable("Dataset not available", problem ?? $"MNIST is not in {data.DataDirectory}: run ./digitlab data")) : (set, null);
    }

    /// <summary>Parses "3,5,8" (spaces allowed) into sorted distinct digits; empty means all.</summary>
    internal static bool TryParseDigits(string? text, out int[] digits, out ProblemHttpResult? problem)
    {
        digits = []; problem = null;
        if (string.IsNullOrWhiteSpace(text)) return true;
        var set = new SortedSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, out int d) || d < 0 || d > 9)
            {
                problem = Problems.BadRequest("Bad digit filter", $"digits must be a comma-separated list of digits 0-9 such as '3,5', found '{part}' in '{text}'.");
                return false;
            }
            set.Add(d);
        }
        digits = [.. set];
        return true;
    }

    private static List<int> Filter(MnistDataset set, int[] digits)
    {
        var indices = new List<int>(digits.Length == 0 ? set.Count : set.Count / 10 * digits.Length + 16);
        Span<bool> keep = stackalloc bool[10];
        foreach (var d in digits) keep[d] = true;
        for (int i = 0; i < set.Count; i++)
            if (digits.Length == 0 || keep[set.Labels[i]]) indices.Add(i);
        return indices;
    }

    private static string DigitsText(int[] digits) => digits.Length == 0 ? "" : $" of digit(s) {string.Join(",", digits)}";
}
