// PhotoPreprocessTests: photos of paper (PhotoLike: shaded paper, shadow, noise, tilt, JPEG, colour) come out of Preprocess as MNIST digits a trained model reads; 28×28 images are taken as they are.
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.IO;
using DigitLab.Tensors;
using DigitLab.Tests.Training;
using DigitLab.Training;

namespace DigitLab.Tests.Data;

/// <summary>One mlp trained for one epoch on MNIST (about 2 s), shared by the tests that need a model that reads digits.</summary>
public sealed class TrainedMlpFixture
{
    public MnistFixture Mnist { get; } = new();
    public Trainer Trainer { get; }

    public TrainedMlpFixture()
    {
        Trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, ValidationCount = 0, Seed = 1 });
        Trainer.Train(Mnist.Train, validation: null);
    }

    public int Predict(byte[] pixels) => Metrics.ArgMax(new ModelRunner(Trainer.Model, Trainer.Normalization, ModuleCalls.Compute).Probabilities(pixels));

    /// <summary>Saves the model as a checkpoint for the CLI tests.</summary>
    public string Save(string path)
    {
        Trainer.SaveCheckpoint(path);
        return path;
    }
}

[CollectionDefinition("trained-mlp")]
public sealed class TrainedMlpCollection : ICollectionFixture<TrainedMlpFixture>;

[Collection("trained-mlp")]
public class PhotoPreprocessTests(TrainedMlpFixture fixture)
{
    /// <summary>Test images rendered as photos.</summary>
    private const int Images = 200;

    /// <summary>
    /// The model reads at least this fraction of the photos right. Measured: 187 of 200 photos (93.5 %) against 197 of
    /// 200 of the same MNIST originals (98.5 %); without the background division (light and shadow left in) it read 165.
    /// </summary>
    private const double PhotoAccuracy = 0.85;

    /// <summary>Mean correlation of the preprocessed photo with the MNIST original: measured 0.82 (a tilt of up to 12° and JPEG included).</summary>
    private const double MeanCorrelation = 0.75;

    [Fact]
    public void PhotoLikeImagesAreReadAlmostAsWellAsTheMnistOriginals()
    {
        var test = fixture.Mnist.Test;
        var rng = new Rng(5);
        int original = 0, photo = 0;
        double correlation = 0;
        for (int i = 0; i < Images; i++)
        {
            var digit = test.Image(i).ToArray();
            var image = PhotoLike.Render(digit, rng, colour: i % 3 == 0);
            var format = i % 2 == 0 ? PhotoFormat.Jpeg : PhotoFormat.Png;
            var pixels = Preprocess.FromImage(ImageDecoder.Decode(PhotoLike.Encode(image, format), $"photo {i}")).Pixels;
            correlation += Correlation(pixels, digit);
            if (fixture.Predict(digit) == test.Labels[i]) original++;
            if (fixture.Predict(pixels) == test.Labels[i]) photo++;
        }
        Assert.True(photo >= PhotoAccuracy * Images, $"photos read right: {photo}/{Images} (originals {original}/{Images})");
        Assert.True(correlation / Images >= MeanCorrelation, $"mean correlation {correlation / Images:F3}");
    }

    [Fact]
    public void MnistSizedImagesAreTakenAsTheyAreInEitherPolarity()
    {
        var test = fixture.Mnist.Test;
        for (int i = 0; i < 50; i++)
        {
            var digit = test.Image(i).ToArray();
            var asIs = Preprocess.FromImage(new RasterImage(28, 28, 1, (byte[])digit.Clone()));
            Assert.False(asIs.Inverted);
            Assert.Equal(digit, asIs.Pixels);
            var inverted = Preprocess.FromImage(new RasterImage(28, 28, 1, digit.Select(b => (byte)(255 - b)).ToArray()));
            Assert.True(inverted.Inverted);
            Assert.Equal(digit, inverted.Pixels);
        }
        Assert.Throws<EmptyImageException>(() => Preprocess.FromImage(new RasterImage(28, 28, 1, new byte[784])));
    }

    [Fact]
    public void ABrokenStrokeNearTheDigitIsKeptAndADistantSpeckIsErased()
    {
        // A '5'-like drawing whose top bar does not touch the body, and a blot far away in the corner.
        const int W = 200, H = 200;
        var grey = new byte[W * H];
        Array.Fill(grey, (byte)230);
        void Rect(int x0, int y0, int x1, int y1) { for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) grey[y * W + x] = 30; }
        Rect(80, 50, 130, 58);    // the bar, 6 px above the body
        Rect(80, 64, 88, 100);    // the body: down ...
        Rect(80, 100, 125, 108);  // ... across ...
        Rect(117, 100, 125, 150); // ... down
        Rect(80, 142, 125, 150);  // ... back
        Rect(185, 185, 191, 191); // a speck, far away
        var result = Preprocess.Run(grey, W, H);
        Assert.Equal((80, 50), (result.BoxX, result.BoxY));         // the bar is in the box
        Assert.Equal((130 - 80, 150 - 50), (result.BoxWidth, result.BoxHeight)); // the speck is not
    }

    internal static double Correlation(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        double ma = 0, mb = 0;
        for (int i = 0; i < a.Length; i++) { ma += a[i]; mb += b[i]; }
        ma /= a.Length; mb /= b.Length;
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb); }
        return sab / Math.Sqrt(saa * sbb);
    }
}
