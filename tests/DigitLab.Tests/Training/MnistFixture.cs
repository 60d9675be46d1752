// MnistFixture: the real MNIST sets, fetched once per test run through the data library's verified store.
using DigitLab.Data;

namespace DigitLab.Tests.Training;

/// <summary>Loads MNIST (fetching into the default data folder, or $DIGITLAB_DATA, when missing) once for all tests that share it.</summary>
public sealed class MnistFixture
{
    public MnistDataset Train { get; }
    public MnistDataset Test { get; }

    public MnistFixture()
    {
        Train = DatasetStore.LoadTrain(null);
        Test = DatasetStore.LoadTest(null);
    }
}

[CollectionDefinition("mnist")]
public sealed class MnistCollection : ICollectionFixture<MnistFixture>;
