// NumberBenchmark: sequence and digit accuracy of the number reader on generated numbers, by spacing class and length.
using DigitLab.Data;
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

/// <summary>Accuracy on one group of generated numbers.</summary>
/// <param name="SequenceAccuracy">Fraction of numbers read exactly.</param>
/// <param name="DigitAccuracy">1 − (edit distance / true length), summed over numbers: digits right, in order.</param>
/// <param name="SegmentedRight">Fraction of numbers read as the right count of digits (segmentation, merging and splitting right, or wrong in ways that cancel).</param>
/// <param name="CropError">Of the digits of numbers read with the right count, the fraction misread (position by position): the error of the reader's own crops.</param>
/// <param name="SourceError">The classifier's error on those same digits' source images, as they are in the dataset: what <paramref name="CropError"/> would be if cutting out, scaling and re-preprocessing lost nothing.</param>
public sealed record NumberAccuracy(DigitSpacing Spacing, string Lengths, int Numbers, double SequenceAccuracy, double DigitAccuracy,
    double SegmentedRight, double CropError, double SourceError);

public static class NumberBenchmark
{
    /// <summary>Source images classified per call.</summary>
    private const int SourceBatch = 256;

    /// <summary>
    /// For each spacing class: <paramref name="count"/> 5-digit numbers, and <paramref name="count"/> numbers of 3–10 digits
    /// (length uniform), generated from <paramref name="source"/> with <paramref name="seed"/>.
    /// </summary>
    public static IReadOnlyList<NumberAccuracy> Run(MnistDataset source, DigitClassifier classify, int count, ulong seed, IProgress<string>? progress = null)
    {
        var results = new List<NumberAccuracy>();
        foreach (var spacing in Enum.GetValues<DigitSpacing>())
            foreach (var (name, length) in new (string, Func<Rng, int>)[] { ("5", _ => 5), ("3-10", r => 3 + r.NextInt(8)) })
            {
                progress?.Report($"{spacing}, {name} digits");
                var rng = Rng.Derive(seed, $"{spacing}/{name}");
                int exact = 0, segmented = 0, cropWrong = 0;
                double digits = 0;
                var sources = new List<(int Index, int Label)>();   // digits of the numbers segmented into the right count
                for (int n = 0; n < count; n++)
                {
                    var number = NumberGenerator.Generate(source, length(rng), spacing, rng);
                    var result = NumberReader.Read(number.Pixels, number.Width, number.Height, classify);
                    string read = result.Text;
                    if (read == number.Text) exact++;
                    digits += Math.Max(0, 1 - EditDistance(read, number.Text) / (double)number.Text.Length);
                    if (read.Length != number.Text.Length) continue;
                    segmented++;
                    for (int d = 0; d < read.Length; d++)
                    {
                        if (read[d] != number.Text[d]) cropWrong++;
                        sources.Add((number.Sources[d], number.Text[d] - '0'));
                    }
                }
                // The same digits as the dataset holds them, through the same classifier: the split between "the crop lost
                // something" (CropError above SourceError) and "the classifier misreads this digit anyway".
                int sourceWrong = 0;
                for (int start = 0; start < sources.Count; start += SourceBatch)
                {
                    var batch = sources.Skip(start).Take(SourceBatch).ToList();
                    var probabilities = classify(batch.Select(s => source.Image(s.Index).ToArray()).ToList());
                    for (int i = 0; i < batch.Count; i++) if (Metrics.ArgMax(probabilities[i]) != batch[i].Label) sourceWrong++;
                }
                double PerDigit(int wrong) => sources.Count == 0 ? 0 : wrong / (double)sources.Count;
                results.Add(new NumberAccuracy(spacing, name, count, exact / (double)count, digits / count,
                    segmented / (double)count, PerDigit(cropWrong), PerDigit(sourceWrong)));
            }
        return results;
    }

    /// <summary>Levenshtein distance (insertions, deletions, substitutions).</summary>
    public static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
