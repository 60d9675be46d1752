using DigitLab.Data;
using DigitLab.Tensors;

namespace DigitLab.Tests.Data;

public class SplitTests
{
    // Unbalanced classes: class c has 20 + 7c images, 455 in all.
    private static MnistDataset Unbalanced()
    {
        var labels = Enumerable.Range(0, 10).SelectMany(c => Enumerable.Repeat((byte)c, 20 + 7 * c)).ToArray();
        return SyntheticData.Dataset(labels.Length, "unbalanced", i => labels[i]);
    }

    [Fact]
    public void SameSeedSameSplitOtherSeedOtherSplit()
    {
        var data = Unbalanced();
        var (trainA, valA) = Split.Stratified(data, 100, seed: 5);
        var (trainB, valB) = Split.Stratified(data, 100, seed: 5);
        var (_, valC) = Split.Stratified(data, 100, seed: 6);
        Assert.Equal(valA.Images, valB.Images);
        Assert.Equal(trainA.Labels, trainB.Labels);
        Assert.NotEqual(valA.Images, valC.Images);
    }

    [Fact]
    public void EachClassKeepsItsShareAndNothingIsLostOrDuplicated()
    {
        var data = Unbalanced();
        const int validation = 100;
        var (train, val) = Split.Stratified(data, validation, seed: 1);
        Assert.Equal(validation, val.Count);
        Assert.Equal(data.Count - validation, train.Count);
        var all = data.ClassCounts();
        var v = val.ClassCounts();
        var t = train.ClassCounts();
        for (int c = 0; c < 10; c++)
        {
            Assert.Equal(all[c], v[c] + t[c]);
            double exact = (double)all[c] * validation / data.Count;
            Assert.InRange(v[c], Math.Floor(exact), Math.Ceiling(exact)); // largest-remainder quota
        }
        // Every image ends up in exactly one part: the synthetic images are all distinct.
        var seen = new HashSet<string>();
        foreach (var set in new[] { train, val })
            for (int i = 0; i < set.Count; i++) Assert.True(seen.Add(Convert.ToHexString(set.Image(i))));
        Assert.Equal(data.Count, seen.Count);
    }

    [Fact]
    public void RejectsImpossibleValidationCount()
    {
        var data = SyntheticData.Dataset(30);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Split.Stratified(data, 31));
        Assert.Contains("30 images", ex.Message);
    }
}

public class BatcherTests
{
    [Fact]
    public void NormalisesLikeTheFormulaAndKeepsTheLastPartialBatch()
    {
        var data = SyntheticData.Dataset(10);
        var batcher = new Batcher(data, 4, Normalization.Mnist, seed: 3, shuffle: false);
        Assert.Equal(3, batcher.BatchesPerEpoch);
        batcher.StartEpoch();
        var sizes = new List<int>();
        while (batcher.Next())
        {
            sizes.Add(batcher.Count);
            Assert.Equal([batcher.Count, 1, 28, 28], batcher.Images.Shape);
            for (int i = 0; i < batcher.Count; i++)
            {
                int index = batcher.Indices[i];
                Assert.Equal(data.Labels[index], batcher.LabelSpan[i]);
                for (int p = 0; p < 784; p += 37)
                {
                    float expected = (data.Images[index * 784 + p] / 255f - 0.1307f) / 0.3081f;
                    Assert.Equal(expected, batcher.Images.Span[i * 784 + p], 5);
                }
            }
        }
        Assert.Equal([4, 4, 2], sizes);
    }

    [Fact]
    public void HalfNormalisationMapsToMinusOneToOne()
    {
        Assert.Equal(-1f, Normalization.Half.Apply((byte)0), 6);
        Assert.Equal(1f, Normalization.Half.Apply((byte)255), 6);
    }

    private static List<int[]> Epochs(Batcher batcher, int epochs)
    {
        var orders = new List<int[]>();
        for (int e = 0; e < epochs; e++)
        {
            batcher.StartEpoch();
            var order = new List<int>();
            while (batcher.Next()) order.AddRange(batcher.Indices.ToArray());
            orders.Add(order.ToArray());
        }
        return orders;
    }

    [Fact]
    public void ShuffleIsSeededAndDiffersPerEpochAndCoversEveryImage()
    {
        var data = SyntheticData.Dataset(50);
        var a = Epochs(new Batcher(data, 8, Normalization.Mnist, seed: 7), 3);
        var b = Epochs(new Batcher(data, 8, Normalization.Mnist, seed: 7), 3);
        var c = Epochs(new Batcher(data, 8, Normalization.Mnist, seed: 8), 1);
        Assert.Equal(a, b);
        Assert.NotEqual(a[0], a[1]);
        Assert.NotEqual(a[0], c[0]);
        foreach (var order in a) Assert.Equal(Enumerable.Range(0, 50), order.OrderBy(i => i));
    }

    [Fact]
    public void ResumingFromSavedStateReproducesTheSameBatches()
    {
        var data = SyntheticData.Dataset(40);
        var augmenter = new Augmenter(AugmentationOptions.AffineElastic);
        var reference = new Batcher(data, 6, Normalization.Mnist, seed: 11, augmenter: augmenter);
        reference.StartEpoch();
        reference.Next(); reference.Next();
        var state = reference.GetState();
        var expected = new List<float[]>();
        while (reference.Next()) expected.Add(reference.Images.Span.ToArray());
        reference.StartEpoch();
        while (reference.Next()) expected.Add(reference.Images.Span.ToArray());

        var resumed = new Batcher(data, 6, Normalization.Mnist, seed: 999, augmenter: new Augmenter(AugmentationOptions.AffineElastic));
        resumed.SetState(state);
        var actual = new List<float[]>();
        while (resumed.Next()) actual.Add(resumed.Images.Span.ToArray());
        resumed.StartEpoch();
        while (resumed.Next()) actual.Add(resumed.Images.Span.ToArray());
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void BatchesAllocateNothingOnceRunning()
    {
        var data = SyntheticData.Dataset(64);
        var batcher = new Batcher(data, 16, Normalization.Mnist, seed: 1);
        batcher.StartEpoch();
        batcher.Next(); // warm up (JIT)
        var buffer = batcher.Images.Data;
        long before = GC.GetAllocatedBytesForCurrentThread();
        while (batcher.Next()) { }
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
        Assert.Same(buffer, batcher.Images.Data);
    }
}
