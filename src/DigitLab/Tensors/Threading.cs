// Threading: the one setting for how many threads the engine uses, and a deterministic parallel-for
// over a small persistent worker pool (no allocation per call, unlike Parallel.For).
using System.Runtime.ExceptionServices;

namespace DigitLab.Tensors;

/// <summary>
/// The engine's thread policy. Work is split into contiguous, fixed chunks that depend only on the
/// work size and <see cref="Threads"/>, never on timing, so results are bit-identical run to run
/// for the same thread count.
/// </summary>
/// <remarks>
/// Parts run on a pool of background threads created once, lazily (<see cref="Threads"/> − 1 workers; the
/// calling thread runs part 0), so a steady-state training step allocates nothing here. One parallel region
/// uses the pool at a time: a caller that finds it busy (another request, another test) runs the same parts
/// itself, in order, with the same nested-call rule, so its results are the same as with the pool.
/// </remarks>
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
    /// <remarks>An exception thrown by any part is rethrown here (the lowest part's, if several) once all parts end.</remarks>
    public static void For(int count, int minPerThread, Action<int, int> body)
    {
        int parts = PartCount(count, minPerThread);
        if (parts <= 1 || _inParallelBody) { if (count > 0) body(0, count); return; }
        if (!Pool.TryEnter()) { RunPartsInline(count, parts, body); return; }
        var job = DelegateJob.Instance;
        job.Body = body;
        try { Pool.Run(job, count, parts); }
        finally { job.Body = null; }
    }

    /// <summary>
    /// As <see cref="For"/>, with the kernel's arguments passed in <paramref name="state"/> so that a static
    /// lambda (no captured closure, nothing allocated per call) can be used as <paramref name="body"/>(state, start, end).
    /// </summary>
    public static void For<TState>(int count, int minPerThread, in TState state, Action<TState, int, int> body)
    {
        int parts = PartCount(count, minPerThread);
        if (parts <= 1 || _inParallelBody) { if (count > 0) body(state, 0, count); return; }
        if (!Pool.TryEnter())
        {
            _inParallelBody = true;
            try
            {
                for (int p = 0; p < parts; p++)
                {
                    var (start, end) = Range(count, parts, p);
                    if (end > start) body(state, start, end);
                }
            }
            finally { _inParallelBody = false; }
            return;
        }
        var job = StateJob<TState>.Instance;
        job.State = state;
        job.Body = body;
        try { Pool.Run(job, count, parts); }
        finally { job.State = default!; job.Body = null; }
    }

    private static int PartCount(int count, int minPerThread) =>
        Math.Min(Threads, Math.Max(1, count / Math.Max(1, minPerThread)));

    /// <summary>Part <paramref name="p"/> of <paramref name="parts"/> contiguous ranges over [0, count).</summary>
    private static (int Start, int End) Range(int count, int parts, int p) =>
        ((int)((long)count * p / parts), (int)((long)count * (p + 1) / parts));

    /// <summary>The pool is busy: the same parts, in order, on this thread, nested calls inline as on the pool.</summary>
    private static void RunPartsInline(int count, int parts, Action<int, int> body)
    {
        _inParallelBody = true;
        try
        {
            for (int p = 0; p < parts; p++)
            {
                var (start, end) = Range(count, parts, p);
                if (end > start) body(start, end);
            }
        }
        finally { _inParallelBody = false; }
    }

    /// <summary>What a region runs: one object per body shape, reused (only the pool holder touches it).</summary>
    private abstract class Job
    {
        public abstract void Run(int start, int end);
    }

    private sealed class DelegateJob : Job
    {
        public static readonly DelegateJob Instance = new();
        public Action<int, int>? Body;
        public override void Run(int start, int end) => Body!(start, end);
    }

    private sealed class StateJob<TState> : Job
    {
        public static readonly StateJob<TState> Instance = new();
        public TState State = default!;
        public Action<TState, int, int>? Body;
        public override void Run(int start, int end) => Body!(State, start, end);
    }

    /// <summary>
    /// The workers. Worker i runs part i + 1 of the current region; each waits on its own event, and the
    /// last one to finish wakes the caller. Events spin briefly before blocking, so short regions stay cheap.
    /// </summary>
    private static class Pool
    {
        private static int _busy;                           // 1 while a caller owns the pool
        private static ManualResetEventSlim[] _start = [];  // one per worker: "run your part"
        private static readonly ManualResetEventSlim Done = new(false);
        private static Exception?[] _errors = new Exception?[1]; // per part, rethrown on the caller
        private static Job? _job;
        private static int _count, _parts, _pending;

        public static bool TryEnter() => Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

        /// <summary>Runs parts 0..parts-1 of [0, count) (part 0 here), then leaves the pool; the caller has entered it.</summary>
        public static void Run(Job job, int count, int parts)
        {
            Exception? error = null;
            try
            {
                EnsureWorkers(parts - 1);
                _job = job; _count = count; _parts = parts;
                _pending = parts - 1;
                Done.Reset();
                for (int w = 0; w < parts - 1; w++) _start[w].Set();
                _inParallelBody = true;
                try { RunPart(0); }
                finally { _inParallelBody = false; }
                Done.Wait();
                _job = null;
                for (int p = 0; p < parts; p++)
                {
                    error ??= _errors[p];
                    _errors[p] = null;
                }
            }
            finally { Volatile.Write(ref _busy, 0); }
            if (error is not null) ExceptionDispatchInfo.Throw(error);
        }

        private static void RunPart(int p)
        {
            var (start, end) = Range(_count, _parts, p);
            if (end <= start) return;
            try { _job!.Run(start, end); }
            catch (Exception e) { _errors[p] = e; }
        }

        /// <summary>Grows the pool to <paramref name="workers"/> threads; called only by the pool's owner.</summary>
        private static void EnsureWorkers(int workers)
        {
            if (_start.Length >= workers) return;
            // A first blocking Wait creates the event's lock object; do it now so no region allocates later.
            if (_start.Length == 0) Done.Wait(1);
            var start = new ManualResetEventSlim[workers];
            Array.Copy(_start, start, _start.Length);
            var errors = new Exception?[workers + 1];
            for (int w = _start.Length; w < workers; w++)
            {
                start[w] = new ManualResetEventSlim(false);
                var thread = new Thread(WorkerLoop) { IsBackground = true, Name = $"DigitLab worker {w + 1}" };
                thread.Start((w, start[w]));
            }
            _start = start;
            _errors = errors;
        }

        private static void WorkerLoop(object? argument)
        {
            var (w, signal) = ((int, ManualResetEventSlim))argument!;
            _inParallelBody = true; // a worker only ever runs For bodies
            while (true)
            {
                signal.Wait();
                signal.Reset();
                RunPart(w + 1);
                if (Interlocked.Decrement(ref _pending) == 0) Done.Set();
            }
        }
    }
}
