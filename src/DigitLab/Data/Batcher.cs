// Batcher: seeded shuffling and normalisation of a dataset into reused (N, 1, 28, 28) batches.
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Data;

/// <summary>Where a <see cref="Batcher"/> stands, for checkpoints: restoring it reproduces the following batches exactly.</summary>
/// <param name="Epoch">Epochs started so far (1 during the first epoch).</param>
/// <param name="Position">Images already delivered in the current epoch.</param>
/// <param name="EpochShuffleState">The shuffle generator's state just before the current epoch's shuffle.</param>
/// <param name="AugmentState">The augmentation generator's current state.</param>
public sealed record BatcherState(int Epoch, int Position, ulong[] EpochShuffleState, ulong[] AugmentState);

/// <summary>
/// Delivers a dataset in batches: each epoch in a fresh seeded order (or dataset order when
/// <c>shuffle</c> is false), normalised floats in <see cref="Images"/> (N, 1, 28, 28) and classes in
/// <see cref="Labels"/> (first <see cref="Count"/> bytes). The last partial batch is kept.
/// </summary>
/// <remarks>
/// The image tensor and label buffer are reused: once created, <see cref="Next"/> allocates nothing
/// without augmentation (the tensor is resized only for the last, smaller batch, which keeps its buffer).
/// With an <see cref="Augmenter"/>, images are augmented in parallel (<see cref="Threading.For"/> with a
/// delegate created once, so no batch allocates), each from a generator seeded by one sequential draw, so the
/// batches are identical for any thread count. Usage:
/// <code>
/// var batches = new Batcher(train, 64, Normalization.Mnist, seed);
/// for (int epoch = 0; epoch &lt; epochs; epoch++)
/// {
///     batches.StartEpoch();
///     while (batches.Next()) model.Forward(batches.Images) ... batches.LabelSpan ...
/// }
/// </code>
/// </remarks>
public sealed class Batcher
{
    private readonly MnistDataset _data;
    private readonly int[] _order;
    private readonly Rng _shuffleRng, _augmentRng;
    private readonly Augmenter? _augmenter;
    private readonly ComputeContext? _compute; // spreads augmentation over threads; null: one thread (same result)
    private readonly bool _shuffle;
    private readonly int[] _fullShape, _lastShape;
    private ulong[] _epochShuffleState;
    private int _position;

    // Augmentation runs in parallel: each image gets its own generator seeded from one sequential draw,
    // and each thread its own Augmenter (scratch buffers), created once per thread.
    private const int AugmentPerThread = 8;
    private readonly ulong[] _imageSeeds;
    private readonly ThreadLocal<(Augmenter Augmenter, Rng Rng)>? _workers;
    private readonly Action<int, int>? _augmentRange;
    private int _batchStart;

    public MnistDataset Dataset => _data;
    public int BatchSize { get; }
    public Normalization Normalization { get; }
    public Augmenter? Augmenter => _augmenter;

    /// <summary>The current batch's images, (Count, 1, 28, 28), normalised.</summary>
    public Tensor Images { get; }

    /// <summary>Label buffer of length <see cref="BatchSize"/>; the first <see cref="Count"/> belong to the current batch.</summary>
    public byte[] Labels { get; }

    /// <summary>The current batch's labels.</summary>
    public ReadOnlySpan<byte> LabelSpan => Labels.AsSpan(0, Count);

    /// <summary>Images in the current batch.</summary>
    public int Count { get; private set; }

    /// <summary>Dataset indices of the current batch (for looking up misclassified images).</summary>
    public ReadOnlySpan<int> Indices => _order.AsSpan(_position - Count, Count);

    /// <summary>Epochs started (0 before the first <see cref="StartEpoch"/>).</summary>
    public int Epoch { get; private set; }

    public int BatchesPerEpoch => (_data.Count + BatchSize - 1) / BatchSize;

    /// <param name="data">The images to deliver.</param>
    /// <param name="batchSize">Images per batch (the last may be smaller).</param>
    /// <param name="normalization">Applied after augmentation.</param>
    /// <param name="seed">Seeds the shuffle ("batcher.shuffle") and augmentation ("batcher.augment") generators.</param>
    /// <param name="shuffle">False for evaluation: dataset order every epoch.</param>
    /// <param name="augmenter">Null for none (the default).</param>
    public Batcher(MnistDataset data, int batchSize, Normalization normalization, ulong seed = 0, bool shuffle = true, Augmenter? augmenter = null,
        ComputeContext? compute = null)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be at least 1.");
        if (data.Count == 0) throw new ArgumentException($"Dataset {data.Name} is empty: nothing to batch.");
        _data = data;
        BatchSize = batchSize;
        Normalization = normalization;
        _shuffle = shuffle;
        _augmenter = augmenter;
        _compute = compute;
        _shuffleRng = Rng.Derive(seed, "batcher.shuffle");
        _augmentRng = Rng.Derive(seed, "batcher.augment");
        _epochShuffleState = _shuffleRng.GetState();
        _order = new int[data.Count];
        _fullShape = [batchSize, 1, MnistDataset.Rows, MnistDataset.Cols];
        int last = data.Count % batchSize;
        _lastShape = [last == 0 ? batchSize : last, 1, MnistDataset.Rows, MnistDataset.Cols];
        Images = new Tensor(_fullShape);
        Labels = new byte[batchSize];
        _imageSeeds = new ulong[batchSize];
        if (augmenter is not null)
        {
            _workers = new ThreadLocal<(Augmenter, Rng)>(() => (new Augmenter(augmenter.Options), new Rng(0)));
            _augmentRange = AugmentRange;
        }
        ResetOrder();
        _position = data.Count; // no epoch started yet: Next() returns false
    }

    /// <summary>Begins an epoch: reshuffles (from the identity order, so the order depends only on the generator state) and rewinds.</summary>
    public void StartEpoch()
    {
        _epochShuffleState = _shuffleRng.GetState();
        ResetOrder();
        if (_shuffle) _shuffleRng.Shuffle(_order.AsSpan());
        _position = 0;
        Count = 0;
        Epoch++;
    }

    /// <summary>Fills <see cref="Images"/> and <see cref="Labels"/> with the next batch; false at the end of the epoch.</summary>
    public bool Next()
    {
        int remaining = _data.Count - _position;
        if (remaining <= 0) { Count = 0; return false; }
        int count = Math.Min(BatchSize, remaining);
        if (count != Images.Shape[0]) Images.Resize(count == BatchSize ? _fullShape : _lastShape);
        var images = Images.Span;
        for (int i = 0; i < count; i++)
        {
            int index = _order[_position + i];
            Labels[i] = _data.Labels[index];
            if (_augmenter is null)
                Normalization.Apply(_data.Images.AsSpan(index * MnistDataset.Pixels, MnistDataset.Pixels), images.Slice(i * MnistDataset.Pixels, MnistDataset.Pixels));
            else
                _imageSeeds[i] = _augmentRng.NextUInt64(); // drawn in order, so results do not depend on threads
        }
        if (_augmenter is not null)
        {
            _batchStart = _position;
            // Each image's augmentation draws from its own seed, so the split over threads does not change the result.
            if (_compute is null) _augmentRange!(0, count);
            else _compute.For(count, AugmentPerThread, _augmentRange!);
        }
        _position += count;
        Count = count;
        return true;
    }

    /// <summary>Augments and normalises images [start, end) of the current batch.</summary>
    private void AugmentRange(int start, int end)
    {
        var (augmenter, rng) = _workers!.Value;
        Span<ulong> state = stackalloc ulong[4];
        var images = Images.Span;
        for (int i = start; i < end; i++)
        {
            ulong x = _imageSeeds[i];
            for (int w = 0; w < 4; w++) state[w] = SplitMix(ref x);
            rng.SetState(state);
            int index = _order[_batchStart + i];
            var target = images.Slice(i * MnistDataset.Pixels, MnistDataset.Pixels);
            augmenter.Apply(_data.Images.AsSpan(index * MnistDataset.Pixels, MnistDataset.Pixels), target, rng);
            Normalization.ApplyInPlace(target);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The state to store in a checkpoint.</summary>
    public BatcherState GetState() => new(Epoch, _position, (ulong[])_epochShuffleState.Clone(), _augmentRng.GetState());

    /// <summary>Restores a state from <see cref="GetState"/> on a batcher built with the same data and batch size.</summary>
    public void SetState(BatcherState state)
    {
        if (state.Position < 0 || state.Position > _data.Count)
            throw new ArgumentException($"Batcher state position {state.Position} is outside 0..{_data.Count} for {_data.Name}: the checkpoint was made with other data.");
        _shuffleRng.SetState(state.EpochShuffleState);
        _epochShuffleState = (ulong[])state.EpochShuffleState.Clone();
        ResetOrder();
        if (_shuffle && state.Epoch > 0) _shuffleRng.Shuffle(_order.AsSpan());
        if (state.Epoch == 0) _position = _data.Count;
        else _position = state.Position;
        _augmentRng.SetState(state.AugmentState);
        Epoch = state.Epoch;
        Count = 0;
    }

    private void ResetOrder()
    {
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
    }
}
