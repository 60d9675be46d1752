using DigitLab.Data;

namespace DigitLab.Tests.Data;

/// <summary>
/// Fashion-MNIST through the real store: from Debian's dataset-fashion-mnist when installed (or its mirror
/// when reachable); where neither is available the store must say so and where the files go.
/// </summary>
public class RealFashionTests
{
    [SkippableFact]
    public void LoadsVerifiedFashionMnistOrExplainsWhereToPutIt()
    {
        var store = new DatasetStore(null, DatasetKind.Fashion);
        FetchResult result;
        try
        {
            result = store.Ensure();
        }
        catch (DatasetUnavailableException e)
        {
            Assert.False(Directory.Exists("/usr/share/datasets/fashion-mnist") &&
                         File.Exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"),
                $"Debian's Fashion-MNIST is installed but could not be used: {e.Message}");
            Assert.Contains("/usr/share/datasets/fashion-mnist", e.Message);
            Assert.Contains($"into {store.Directory}", e.Message);
            // The error path is checked; the real data was not, so this must not count as a pass.
            Skip.If(true, "Fashion-MNIST is not available here (apt-get install dataset-fashion-mnist); only the error message was checked.");
            return;
        }
        Assert.Contains(result.Source, new[] { FetchSource.Store, FetchSource.LocalDirectory, FetchSource.Mirror });
        // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
        Assert.All(store.ReadTrain().ClassCounts(), c => Assert.Equal(6000, c));
        Assert.All(store.ReadTest().ClassCounts(), c => Assert.Equal(1000, c));
    }
}
