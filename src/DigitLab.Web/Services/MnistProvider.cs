// MnistProvider: the MNIST training and test sets from the data directory, read once and kept in memory (47 MB).
using DigitLab.Data;

namespace DigitLab.Web.Services;

public sealed class MnistProvider(string dataDirectory) : IDatasetProvider
{
    private readonly object _gate = new();
    private MnistDataset? _train, _test;

    public string DataDirectory { get; } = DatasetStore.ResolveDataDir(dataDirectory);

    public MnistDataset? Get(string split, out string? problem)
    {
        problem = null;
        lock (_gate)
        {
            ref MnistDataset? slot = ref split == "train" ? ref _train : ref _test;
            if (slot is not null) return slot;
            try
            {
                // Read only what is already there: fetching takes a while and belongs to `./digitlab data` or a training job.
                var store = new DatasetStore(DataDirectory, DatasetKind.Mnist);
                slot = split == "train" ? store.ReadTrain() : store.ReadTest();
                return slot;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or DatasetUnavailableException or UnauthorizedAccessException)
            {
                problem = $"MNIST could not be read from {DataDirectory} ({e.Message}). Fetch it with: ./digitlab data";
                return null;
            }
        }
    }

    /// <summary>Fetches MNIST when it is missing (for a training job on a fresh machine), then reads both sets.</summary>
    public (MnistDataset Train, MnistDataset Test) Ensure()
    {
        var train = DatasetStore.LoadTrain(DataDirectory);
        var test = DatasetStore.LoadTest(DataDirectory);
        lock (_gate)
        {
            _train ??= train;
            _test ??= test;
        }
        return (train, test);
    }
}
