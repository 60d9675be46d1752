// Threading: the one setting for how many threads the engine uses, and a deterministic parallel-for.
namespace DigitLab.Tensors;

/// <summary>
/// The engine's thread policy. Work is split into contiguous, fixed chunks that depend only on the
/// work size and <see cref="Threads"/>, never on timing, so results are bit-identical run to run
/// for the same thread count.
/// </summary>
public static class Threading
{
    private static int _threads = Environment.ProcessorCount;

    /// <summary>True on a thread while it runs a <see cref="For"/> body: a nested For then runs inline.</summary>
    [ThreadStatic] private static bool _inParallelBody;

    /// <summary>Threads used by kernels (default: all cores). Set once, before training.</summary>
    public static int Threads
    {
        get => _threads;
        set => _threads = value < 1
            ? throw new ArgumentOutOfRangeException(nameof(value), value, "Threads must be at least 1.")
            : Math.Min(value, Environment.ProcessorCount * 4);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over [0, count) split into at most <see cref="Threads"/>
    /// contiguous ranges; runs inline when there is one thread or little work, or when called from inside
    /// another For's body (the cores are already busy, so splitting again would only add overhead; a kernel
    /// can thus run single-threaded GEMMs on its own per-thread work).
    /// </summary>
    /// <param name="minPerThread">Smallest range worth a thread of its own.</param>
    public static void For(int count, int minPerThread, Action<int, int> body)
    {
        int parts = Math.Min(Threads, Math.Max(1, count / Math.Max(1, minPerThread)));
        if (parts <= 1 || _inParallelBody) { if (count > 0) body(0, count); return; }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, p =>
        {
            int start = (int)((long)count * p / parts), end = (int)((long)count * (p + 1) / parts);
            if (end <= start) return;
            bool outer = _inParallelBody;
            _inParallelBody = true;
            try { body(start, end); }
            finally { _inParallelBody = outer; }
        });
    }
}
