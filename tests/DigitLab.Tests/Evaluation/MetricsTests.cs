// Metrics against confusion matrices computed by hand (expected values written as fractions).
using DigitLab.Training;
using DigitLab.Evaluation;

namespace DigitLab.Tests.Evaluation;

public class MetricsTests
{
    // Values are ratios of small integers; only the last bits of a double can differ.
    private const double Tolerance = 1e-12;

    // Rows are the true class, columns the prediction. Class 2 is never predicted.
    private static int[][] ThreeClass() => [[5, 1, 0], [2, 3, 0], [1, 1, 0]];

    [Fact]
    public void PerClassMatchesHandComputedValues()
    {
        var m = Metrics.PerClass(ThreeClass());
        Assert.Equal(5.0 / 8, m[0].Precision, Tolerance);
        Assert.Equal(5.0 / 6, m[0].Recall, Tolerance);
        Assert.Equal(10.0 / 14, m[0].F1, Tolerance);
        Assert.Equal(6, m[0].Support);
        Assert.Equal(3.0 / 5, m[1].Precision, Tolerance);
        Assert.Equal(3.0 / 5, m[1].Recall, Tolerance);
        Assert.Equal(3.0 / 5, m[1].F1, Tolerance);
        Assert.Equal(5, m[1].Support);
        // Never predicted: precision is 0 (sklearn's zero_division=0), recall 0/2, F1 0.
        Assert.Equal(0, m[2].Precision);
        Assert.Equal(0, m[2].Recall);
        Assert.Equal(0, m[2].F1);
        Assert.Equal(2, m[2].Support);
    }

    [Fact]
    public void AveragesMatchHandComputedValues()
    {
        var r = Metrics.Evaluate(ThreeClass(), loss: 0.5);
        Assert.Equal(8.0 / 13, r.Accuracy, Tolerance);
        Assert.Equal(13, r.Count);
        Assert.Equal((5.0 / 8 + 3.0 / 5) / 3, r.Macro.Precision, Tolerance);
        Assert.Equal((5.0 / 6 + 3.0 / 5) / 3, r.Macro.Recall, Tolerance);
        Assert.Equal((10.0 / 14 + 3.0 / 5) / 3, r.Macro.F1, Tolerance);
        Assert.Equal((5.0 / 8 * 6 + 3.0 / 5 * 5) / 13, r.Weighted.Precision, Tolerance);
        Assert.Equal(8.0 / 13, r.Weighted.Recall, Tolerance);
        Assert.Equal((10.0 / 14 * 6 + 3.0 / 5 * 5) / 13, r.Weighted.F1, Tolerance);
        Assert.Equal(8.0 / 13, r.Micro.Precision, Tolerance);
        Assert.Equal(8.0 / 13, r.Micro.Recall, Tolerance);
        Assert.Equal(8.0 / 13, r.Micro.F1, Tolerance);
    }

    [Fact]
    public void ConfusionCountsTrueRowsAndPredictedColumns()
    {
        byte[] labels = [0, 0, 1, 2, 2, 2];
        byte[] predictions = [0, 1, 1, 2, 0, 2];
        var c = Metrics.Confusion(labels, predictions, classes: 3);
        Assert.Equal([1, 1, 0], c[0]);
        Assert.Equal([0, 1, 0], c[1]);
        Assert.Equal([1, 0, 2], c[2]);
    }

    [Fact]
    public void ConfusionRejectsOutOfRangeClassesAndLengthMismatch()
    {
        Assert.Throws<ArgumentException>(() => Metrics.Confusion([0, 3], [0, 1], classes: 3));
        Assert.Throws<ArgumentException>(() => Metrics.Confusion([0, 1], [0], classes: 3));
    }

    [Fact]
    public void AbsentClassCountsAsZeroInMacroAverage()
    {
        // Class 1 neither occurs nor is predicted: with labels=range(3), sklearn gives it 0s and averages over 3.
        int[][] c = [[2, 0, 0], [0, 0, 0], [0, 0, 2]];
        var r = Metrics.Evaluate(c, 0);
        Assert.Equal(1.0, r.Accuracy);
        Assert.Equal(2.0 / 3, r.Macro.F1, Tolerance);
        Assert.Equal(1.0, r.Weighted.F1, Tolerance);
    }

    [Fact]
    public void ClassificationReportHasScikitLearnLayout()
    {
        var report = Metrics.ClassificationReport(Metrics.Evaluate(ThreeClass(), 0));
        // Written by hand from sklearn's format strings; note 5/8 = 0.625 prints as 0.62 (half to even).
        string expected =
            "              precision    recall  f1-score   support\n" +
            "\n" +
            "           0       0.62      0.83      0.71         6\n" +
            "           1       0.60      0.60      0.60         5\n" +
            "           2       0.00      0.00      0.00         2\n" +
            "\n" +
            "    accuracy                           0.62        13\n" +
            "   macro avg       0.41      0.48      0.44        13\n" +
            "weighted avg       0.52      0.62      0.56        13\n";
        Assert.Equal(expected, report);
    }

    [Theory]
    [InlineData(0.625, 2, "0.62")]
    [InlineData(0.375, 2, "0.38")]
    [InlineData(0.125, 2, "0.12")]
    [InlineData(0.285, 2, "0.28")] // binary 0.28499999999999998...
    [InlineData(1.0, 4, "1.0000")]
    [InlineData(0.0, 2, "0.00")]
    [InlineData(0.99995, 4, "1.0000")] // binary 0.99995000000000000551...
    [InlineData(12.5, 0, "12")]
    public void FormatsHalfEvenLikePython(double value, int digits, string expected)
    {
        Assert.Equal(expected, Metrics.FormatHalfEven(value, digits));
    }
}
