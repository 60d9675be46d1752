// TestTimeAugmentation: the shifted views against a pixel-by-pixel reference, and an ensemble with views against
// probabilities computed one shifted image at a time.
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Training;
using DigitLab.Evaluation;

namespace DigitLab.Tests.Evaluation;

public class TestTimeAugmentationTests
{
    private const int N = MnistDataset.Rows;

    // Cross-entropy of a mean of float probabilities over a few dozen images: float rounding only.
    private const double LossTolerance = 1e-5;

    /// <summary>The view by definition: pixel (x, y) is the source's (x − dx, y − dy), raw 0 outside the frame.</summary>
    private static byte[] ShiftReference(ReadOnlySpan<byte> image, int dx, int dy)
    {
        var view = new byte[N * N];
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
            {
                int sx = x - dx, sy = y - dy;
                view[y * N + x] = sx is >= 0 and < N && sy is >= 0 and < N ? image[sy * N + sx] : (byte)0;
            }
        return view;
    }

    private static MnistDataset RandomImages(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var images = new byte[count * MnistDataset.Pixels];
        var labels = new byte[count];
        for (int i = 0; i < images.Length; i++) images[i] = (byte)(rng.Uniform(0, 1) * 255);
        for (int i = 0; i < count; i++) labels[i] = (byte)(i % 10);
        return new MnistDataset(images, labels, "random");
    }

    public static TheoryData<int, int> Shifts() => new() { { 0, 0 }, { 1, 0 }, { -1, 0 }, { 0, 1 }, { 0, -1 }, { 1, 1 }, { -1, -1 }, { 3, -2 }, { -27, 5 } };

    [Theory]
    [MemberData(nameof(Shifts))]
    public void ShiftEqualsThePixelReferenceWithBackgroundOutside(int dx, int dy)
    {
        var data = RandomImages(3, 5);
        var normalization = Normalization.Mnist;
        var source = new float[data.Count * MnistDataset.Pixels];
        normalization.Apply(data.Images, source);
        var shifted = new float[source.Length];
        shifted.AsSpan().Fill(float.NaN); // every pixel must be written
        TestTimeAugmentation.Shift(source, shifted, data.Count, dx, dy, normalization.Apply((byte)0));

        for (int i = 0; i < data.Count; i++)
        {
            var expected = new float[MnistDataset.Pixels];
            normalization.Apply(ShiftReference(data.Images.AsSpan(i * MnistDataset.Pixels, MnistDataset.Pixels), dx, dy), expected);
            Assert.Equal(expected, shifted.AsSpan(i * MnistDataset.Pixels, MnistDataset.Pixels).ToArray());
        }
    }

    [Fact]
    public void ShiftRefusesShortBuffersAndShiftsAsWideAsTheImage()
    {
        var e = Assert.Throws<ArgumentException>(() => TestTimeAugmentation.Shift(new float[784], new float[784], 2, 1, 0, 0f));
        Assert.Contains("1568 floats", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => TestTimeAugmentation.Shift(new float[784], new float[784], 1, 28, 0, 0f));
    }

    [Fact]
    public void ParseKnowsItsNamesAndListsThemOnAMistake()
    {
        Assert.Same(TestTimeAugmentation.None, TestTimeAugmentation.Parse("none"));
        Assert.Equal(5, TestTimeAugmentation.Parse("Shift4").Shifts.Count);
        Assert.Equal(9, TestTimeAugmentation.Parse(" shift8 ").Shifts.Count);
        // Each view set holds the image itself and distinct one-pixel shifts.
        foreach (var tta in new[] { TestTimeAugmentation.Shift4, TestTimeAugmentation.Shift8 })
        {
            Assert.Equal((0, 0), tta.Shifts[0]);
            Assert.Equal(tta.Shifts.Count, tta.Shifts.Distinct().Count());
            Assert.All(tta.Shifts, s => Assert.True(Math.Abs(s.Dx) <= 1 && Math.Abs(s.Dy) <= 1));
        }
        var e = Assert.Throws<ArgumentException>(() => TestTimeAugmentation.Parse("rotate"));
        Assert.Contains("'rotate'", e.Message);
        Assert.Contains("none, shift4, shift8", e.Message);
    }

    [Fact]
    public void EnsembleWithViewsAveragesEveryMemberOnEveryShiftedImage()
    {
        var data = RandomImages(23, 9);
        Module[] members = [ModelZoo.Create("lenet5", 1), ModelZoo.Create("fast", 2)];
        var tta = TestTimeAugmentation.Shift4;
        // Batches of 8 leave a partial last batch, which the view buffer must follow.
        var result = Evaluator.Evaluate(members, data, Normalization.Mnist, ModuleCalls.Compute, batchSize: 8, tta: tta);

        var confusion = Metrics.NewConfusion();
        double loss = 0;
        for (int i = 0; i < data.Count; i++)
        {
            var image = data.Images.AsSpan(i * MnistDataset.Pixels, MnistDataset.Pixels);
            var mean = new double[10];
            foreach (var (dx, dy) in tta.Shifts)
            {
                var view = ShiftReference(image, dx, dy);
                foreach (var m in members)
                {
                    var p = Predictor.Probabilities(m, view, Normalization.Mnist, ModuleCalls.NewEvaluationWorkspace());
                    for (int c = 0; c < 10; c++) mean[c] += p[c] / (members.Length * tta.Shifts.Count);
                }
            }
            int predicted = Array.IndexOf(mean, mean.Max());
            confusion[data.Labels[i]][predicted]++;
            loss -= Math.Log(mean[data.Labels[i]]);
        }
        Assert.Equal(confusion, result.Confusion);
        Assert.Equal(loss / data.Count, result.Loss, LossTolerance);
        // The views change the answer's probabilities: without them the loss is another number.
        double plain = Evaluator.Evaluate(members, data, Normalization.Mnist, ModuleCalls.Compute, batchSize: 8).Loss;
        Assert.True(Math.Abs(plain - result.Loss) > LossTolerance, $"loss with views {result.Loss}, without {plain}");
    }
}
