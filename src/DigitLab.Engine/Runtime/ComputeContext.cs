// ComputeContext: how the engine computes for one caller (threads, convolution routes) and a deterministic
// parallel-for over the context's own small persistent worker pool (no allocation per call, unlike Parallel.For).
using System.Runtime.ExceptionServices;

namespace DigitLab.Runtime;

/// <summary>
/// The engine's settings for one trainer, predictor or benchmark, held by it and passed to every kernel: the thread
/// count, whether the direct convolution routes may be taken, and the worker pool the threads come from. Nothing in
/// the engine reads a global setting, so two trainers with different thread counts can run in one process.
/// Work is split into contiguous, fixed chunks that depend only on the work size and <see cref="Threads"/>, never on
/// timing, so results are bit-identical run to run for the same thread count.
/// </summary>
/// <remarks>
/// Parts run on the context's pool of background threads, created lazily (<see cref="Threads"/> − 1 workers; the
/// calling thread runs part 0), so a steady-state training step allocates nothing here. One parallel region uses a
/// pool at a time: a caller that finds it busy (another request sharing this context) runs the same parts itself, in
/// order, with the same nested-call rule, so its results are the same as with the pool. Dispose the context to stop
/// its workers (an undisposed context's workers stop when it is collected).
/// </remarks>
public sealed class ComputeContext : IDisposable
{
    /// <summary>True on a thread while it runs a <see cref="For"/> body: a nested For then runs inline.</summary>
    /// <remarks>Where a thread is, not a setting: it is the same whichever context the nested call names.</remarks>
    [ThreadStatic] private static bool _inParallelBody;

    private readonly Pool _pool;

    /// <param name="threads">Kernel threads; 0 = all cores. At most <see cref="MaxThreads"/>.</param>
    /// <param name="directConvolution">Whether the direct convolution routes may be taken (off: im2col + GEMM everywhere, for benchmarks comparing routes).</param>
    public ComputeContext(int threads = 0, bool directConvolution = true)
    {
        if (threads < 0 || threads > MaxThreads)
            throw new ArgumentOutOfRangeException(nameof(threads), threads, $"Threads must be 0 (all {Environment.ProcessorCount} cores) or 1..{MaxThreads}.");
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        DirectConvolution = directConvolution;
        _pool = new Pool();
    }

    // A constructor that threw (a bad thread count) leaves no pool behind: nothing to stop then.
    ~ComputeContext() => _pool?.Stop();

    /// <summary>Most threads a context may have: four per core (more only adds switching).</summary>
    public static int MaxThreads => Environment.ProcessorCount * 4;

    /// <summary>Threads used by kernels.</summary>
    public int Threads { get; }

    /// <summary>Whether the direct convolution routes (DirectConvolution, ChannelLaneConvolution) may be taken.</summary>
    public bool DirectConvolution { get; }

    /// <summary>The same settings with another route choice (a new pool; for benchmarks that compare routes).</summary>
    public ComputeContext WithDirectConvolution(bool direct) => new(Threads, direct);

    public override string ToString() => $"ComputeContext({Threads} threads{(DirectConvolution ? "" : ", im2col only")})";

    public void Dispose()
    {
        _pool.Stop();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over [0, count) split into at most <see cref="Threads"/>
    /// contiguous ranges; runs inline when there is one thread or little work, or when called from inside
    /// another For's body (the cores are already busy, so splitting again would only add overhead; a kernel
    /// can thus run single-threaded GEMMs on its own per-thread work).
    /// </summary>
    /// <param name="minPerThread">Smallest range worth a thread of its own.</param>
    /// <remarks>An exception thrown by any part is rethrown here (the lowest part's, if several) once all parts end.</remarks>
    public void For(int count, int minPerThread, Action<int, int> body)
    {
        int parts = PartCount(count, minPerThread);
        if (parts <= 1 || _inParallelBody) { if (count > 0) body(0, count); return; }
        if (!_pool.TryEnter()) { RunPartsInline(count, parts, body); return; }
        var job = DelegateJob.Instance ??= new DelegateJob();
        job.Body = body;
        try { _pool.Run(job, count, parts); }
        finally { job.Body = null; }
    }

    /// <summary>
    /// As <see cref="For"/>, with the kernel's arguments passed in <paramref name="state"/> so that a static
    /// lambda (no captured closure, nothing allocated per call) can be used as <paramref name="body"/>(state, start, end).
    /// </summary>
    public void For<TState>(int count, int minPerThread, in TState state, Action<TState, int, int> body)
    {
        int parts = PartCount(count, minPerThread);
        if (parts <= 1 || _inParallelBody) { if (count > 0) body(state, 0, count); return; }
        if (!_pool.TryEnter())
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
        var job = StateJob<TState>.Instance ??= new StateJob<TState>();
        job.State = state;
        job.Body = body;
        try { _pool.Run(job, count, parts); }
        finally { job.State = default!; job.Body = null; }
    }

    private int PartCount(int count, int minPerThread) =>
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

    /// <summary>
    /// What a region runs: one object per body shape and calling thread, reused. A thread is in at most one region at a
    /// time (nested calls run inline), so its job is never shared by two pools at once.
    /// </summary>
    private abstract class Job
    {
        public abstract void Run(int start, int end);
    }

    private sealed class DelegateJob : Job
    {
        [ThreadStatic] public static DelegateJob? Instance;
        public Action<int, int>? Body;
        public override void Run(int start, int end) => Body!(start, end);
    }

    private sealed class StateJob<TState> : Job
    {
        [ThreadStatic] public static StateJob<TState>? Instance;
        public TState State = default!;
        public Action<TState, int, int>? Body;
        public override void Run(int start, int end) => Body!(State, start, end);
    }

    /// <summary>
    /// The workers. Worker i runs part i + 1 of the current region; each waits on its own event, and the
    /// last one to finish wakes the caller. Events spin briefly before blocking, so short regions stay cheap.
    /// </summary>
    private sealed class Pool
    {
        private int _busy;                           // 1 while a caller owns the pool
        private ManualResetEventSlim[] _start = [];  // one per worker: "run your part"
        private readonly ManualResetEventSlim _done = new(false);
        private Exception?[] _errors = new Exception?[1]; // per part, rethrown on the caller
        private Job? _job;
        private int _count, _parts, _pending;
        private volatile bool _stopping;

        public bool TryEnter() => Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

        /// <summary>Runs parts 0..parts-1 of [0, count) (part 0 here), then leaves the pool; the caller has entered it.</summary>
        public void Run(Job job, int count, int parts)
        {
            Exception? error = null;
            try
            {
                EnsureWorkers(parts - 1);
                _job = job; _count = count; _parts = parts;
                _pending = parts - 1;
                _done.Reset();
                for (int w = 0; w < parts - 1; w++) _start[w].Set();
                _inParallelBody = true;
                try { RunPart(0); }
                finally { _inParallelBody = false; }
                _done.Wait();
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

        /// <summary>Ends the workers once they are idle (the context was disposed or collected); a later region starts new ones.</summary>
        public void Stop()
        {
            if (!TryEnter()) return; // a region is running: its caller still holds the context, so it was not collected
            _stopping = true;
            foreach (var signal in _start) signal.Set();
            _start = [];
            Volatile.Write(ref _busy, 0);
        }

        private void RunPart(int p)
        {
            var (start, end) = Range(_count, _parts, p);
            if (end <= start) return;
            try { _job!.Run(start, end); }
            catch (Exception e) { _errors[p] = e; }
        }

        /// <summary>Grows the pool to <paramref name="workers"/> threads; called only by the pool's owner.</summary>
        private void EnsureWorkers(int workers)
        {
            if (_start.Length >= workers) return;
            _stopping = false;
            // A first blocking Wait creates the event's lock object; do it now so no region allocates later.
            if (_start.Length == 0) _done.Wait(1);
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

        private void WorkerLoop(object? argument)
        {
            var (w, signal) = ((int, ManualResetEventSlim))argument!;
            _inParallelBody = true; // a worker only ever runs For bodies
            while (true)
            {
                signal.Wait();
                signal.Reset();
                if (_stopping) return;
                RunPart(w + 1);
                if (Interlocked.Decrement(ref _pending) == 0) _done.Set();
            }
        }
    }
}
