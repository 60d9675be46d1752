// Split: a seeded, stratified train/validation split (default 55,000 / 5,000 of MNIST's 60,000).
using DigitLab.Tensors;

namespace DigitLab.Data;

/// <summary>Train/validation splits.</summary>
public static class Split
{
    public const int DefaultValidationCount = 5000;

    /// <summary>
    /// Splits <paramref name="dataset"/> into train and validation sets, each class keeping its share
    /// (per-class quotas by largest remainder, so the quotas sum to exactly <paramref name="validationCount"/>).
    /// The same seed gives the same split; both parts keep the original dataset order.
    /// </summary>
    /// <returns>(Train, Validation); with validationCount 0 the validation set is empty.</returns>
    public static (MnistDataset Train, MnistDataset Validation) Stratified(MnistDataset dataset, int validationCount = DefaultValidationCount, ulong seed = 0)
    {
        if (validationCount < 0 || validationCount > dataset.Count)
            throw new ArgumentOutOfRangeException(nameof(validationCount), validationCount,
                $"Validation count must be between 0 and the dataset size ({dataset.Count} images in {dataset.Name}).");
        var counts = dataset.ClassCounts();
        var quotas = Quotas(counts, dataset.Count, validationCount);

        var rng = Rng.Derive(seed, "split");
        var inValidation = new bool[dataset.Count];
        for (int c = 0; c < MnistDataset.Classes; c++)
        {
            var indices = dataset.IndicesOf(c);
            rng.Shuffle(indices.AsSpan());
            for (int i = 0; i < quotas[c]; i++) inValidation[indices[i]] = true;
        }
        var train = new List<int>(dataset.Count - validationCount);
        var validation = new List<int>(validationCount);
        for (int i = 0; i < dataset.Count; i++) (inValidation[i] ? validation : train).Add(i);
        return (dataset.Subset(train.ToArray(), dataset.Name + "[train]"),
                dataset.Subset(validation.ToArray(), dataset.Name + "[validation]"));
    }

    /// <summary>Per-class validation quotas proportional to class size, summing to <paramref name="total"/>.</summary>
    internal static int[] Quotas(int[] classCounts, int datasetCount, int total)
    {
        var quotas = new int[classCounts.Length];
        if (datasetCount == 0) return quotas;
        var remainders = new (double Remainder, int Class)[classCounts.Length];
        int assigned = 0;
        for (int c = 0; c < classCounts.Length; c++)
        {
            double exact = (double)classCounts[c] * total / datasetCount;
            quotas[c] = (int)Math.Floor(exact);
            assigned += quotas[c];
            remainders[c] = (exact - quotas[c], c);
        }
        // Largest remainders first; ties go to the lower class so the result is deterministic.
        Array.Sort(remainders, (a, b) => a.Remainder != b.Remainder ? b.Remainder.CompareTo(a.Remainder) : a.Class.CompareTo(b.Class));
        for (int i = 0; assigned < total; i = (i + 1) % remainders.Length)
        {
            int c = remainders[i].Class;
            if (quotas[c] < classCounts[c]) { quotas[c]++; assigned++; }
        }
        return quotas;
    }
}
