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
        _pool = new Pool(Threads);
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
    /// The workers. Worker i runs part i + 1 of the current region. A region is announced by one write of a sequence
    /// number with its part count; a worker that finished a region keeps polling for the next one for
    /// <see cref="SpinTicks"/> before it blocks on its own event (the caller then wakes it), and the caller polls for the
    /// parts' end the same way before it blocks. Between the layers of one prediction (regions a few microseconds apart)
    /// no thread is put to sleep and woken again: on this 2-core VM a wake-up cost about what a small layer computes.
    /// Polling is off where the context has more threads than the process has cores (a polling worker would hold a core
    /// another of its threads needs; a process pinned to one core has one).
    /// </summary>
    private sealed class Pool(int threads)
    {
        /// <summary>How long a worker or a waiting caller polls before blocking: 50 µs, or 0 (see the class remarks).</summary>
        private readonly long SpinTicks = threads <= Environment.ProcessorCount && Environment.ProcessorCount > 1
            ? System.Diagnostics.Stopwatch.Frequency / 20_000 : 0;

        private int _busy;                           // 1 while a caller owns the pool
        private Worker[] _workers = [];
        private readonly ManualResetEventSlim _done = new(false);
        private Exception?[] _errors = new Exception?[1]; // per part, rethrown on the caller
        private long[] _claims = new long[1];        // per part: the sequence number of the region that last claimed it
        private Job? _job;
        private int _count, _pending;
        private long _region;                        // (sequence number << 16) | part count of the latest region

        /// <summary>One worker's wake-up event, whether it sleeps on it, and whether it was told to stop.</summary>
        private sealed class Worker(int index, long region)
        {
            public readonly int Index = index;
            public readonly ManualResetEventSlim Signal = new(false);
            public readonly long FirstRegion = region;
            public int Sleeping;
            public volatile bool Stopped;
        }

        public bool TryEnter() => Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

        /// <summary>Runs parts 0..parts-1 of [0, count) (part 0 here), then leaves the pool; the caller has entered it.</summary>
        public void Run(Job job, int count, int parts)
        {
            Exception? error = null;
            try
            {
                EnsureWorkers(parts - 1);
                _job = job; _count = count;
                _pending = parts - 1;
                _done.Reset();
                long sequence = (_region >> 16) + 1;
                Interlocked.Exchange(ref _region, sequence << 16 | (uint)parts);
                for (int w = 0; w < parts - 1; w++)
                    if (Interlocked.Exchange(ref _workers[w].Sleeping, 0) == 1) _workers[w].Signal.Set();
                _inParallelBody = true;
                try
                {
                    RunPart(0);
                    // Parts whose worker has not started yet (asleep, still waking, or descheduled by another process) run
                    // here: the region never waits on a worker that is not running. A part is the same fixed range
                    // whichever thread runs it, so the results do not change.
                    for (int p = 1; p < parts; p++)
                        if (Claim(p, sequence)) Finish(p);
                }
                finally { _inParallelBody = false; }
                if (SpinTicks > 0 && Volatile.Read(ref _pending) > 0)
                {
                    long until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                    for (int i = 1; Volatile.Read(ref _pending) > 0; i++)
                    {
                        if ((i & 63) == 0 && System.Diagnostics.Stopwatch.GetTimestamp() > until) break;
                        Thread.SpinWait(1);
                    }
                }
                // Also after polling saw the parts end: the last worker sets the event just after, and the next region's
                // Reset must not come before that Set.
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
            var workers = _workers;
            _workers = [];
            foreach (var worker in workers) worker.Stopped = true;
            Interlocked.Exchange(ref _region, ((_region >> 16) + 1) << 16);
            foreach (var worker in workers) worker.Signal.Set();
            Volatile.Write(ref _busy, 0);
        }

        /// <summary>Takes part <paramref name="p"/> of region <paramref name="sequence"/> unless some thread already has.</summary>
        private bool Claim(int p, long sequence)
        {
            long last = Volatile.Read(ref _claims[p]);
            return last < sequence && Interlocked.CompareExchange(ref _claims[p], sequence, last) == last;
        }

        /// <summary>Runs claimed part <paramref name="p"/> (not 0) and counts it done; the last one wakes the caller.</summary>
        private void Finish(int p)
        {
            RunPart(p);
            if (Interlocked.Decrement(ref _pending) == 0) _done.Set();
        }

        private void RunPart(int p)
        {
            int parts = (int)(_region & 0xFFFF);
            var (start, end) = Range(_count, parts, p);
            if (end <= start) return;
            try { _job!.Run(start, end); }
            catch (Exception e) { _errors[p] = e; }
        }

        /// <summary>Grows the pool to <paramref name="workers"/> threads; called only by the pool's owner.</summary>
        private void EnsureWorkers(int workers)
        {
            if (_workers.Length >= workers) return;
            // A first blocking Wait creates the event's lock object; do it now so no region allocates later.
            if (_workers.Length == 0) _done.Wait(1);
            var all = new Worker[workers];
            Array.Copy(_workers, all, _workers.Length);
            var errors = new Exception?[workers + 1];
            var claims = new long[workers + 1];
            Array.Copy(_claims, claims, _claims.Length);
            for (int w = _workers.Length; w < workers; w++)
            {
                all[w] = new Worker(w, Volatile.Read(ref _region));
                var thread = new Thread(WorkerLoop) { IsBackground = true, Name = $"DigitLab worker {w + 1}" };
                thread.Start(all[w]);
            }
            _workers = all;
            _errors = errors;
            _claims = claims;
        }

        private void WorkerLoop(object? argument)
        {
            var worker = (Worker)argument!;
            _inParallelBody = true; // a worker only ever runs For bodies
            long seen = worker.FirstRegion;
            while (true)
            {
                long region;
                long until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                for (int i = 1; (region = Volatile.Read(ref _region)) == seen; i++)
                {
                    if (worker.Stopped) return;
                    if ((i & 63) != 0 || System.Diagnostics.Stopwatch.GetTimestamp() <= until) { Thread.SpinWait(1); continue; }
                    // Block until the caller of the next region sets the event. Sleeping is published before the region is
                    // read again (both full fences), so a caller either sees it and sets the event, or this read sees its
                    // region. A stale Set only makes one Wait return early: the loop reads the region again.
                    worker.Signal.Reset();
                    Interlocked.Exchange(ref worker.Sleeping, 1);
                    if (Volatile.Read(ref _region) == seen && !worker.Stopped) worker.Signal.Wait();
                    Interlocked.Exchange(ref worker.Sleeping, 0);
                    until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                    i = 0;
                }
                seen = region;
                if (worker.Stopped) return;
                // A region with fewer parts leaves this worker out. Its part may have been run by the caller already (the
                // claim fails, also when that region has ended and another begun); a part it claims keeps the region
                // open until it is counted done, so the region read above is the one it runs.
                if (worker.Index + 1 < (int)(region & 0xFFFF) && Claim(worker.Index + 1, region >> 16)) Finish(worker.Index + 1);
            }
        }
    }
}
