// ComputeContextTests: a compute context's worker pool keeps Parallel.For's ranges, rethrows, survives, shares, nests, and allocates nothing.
using System.Collections.Concurrent;
using DigitLab.Tensors;
using DigitLab.Tests.Kernels;
using DigitLab.Runtime;

namespace DigitLab.Tests.Runtime;

/// <summary>Runs alone, so timing-sensitive checks (distinct threads, no allocation) see no other test's work.</summary>
[Collection(GemmThreadsCollection.Name)]
public class ComputeContextTests
{
    /// <summary>The ranges the Parallel.For version produced: part p of parts is [count·p/parts, count·(p+1)/parts).</summary>
    private static List<(int Start, int End)> ExpectedRanges(int count, int minPerThread, int threads)
    {
        int parts = Math.Min(threads, Math.Max(1, count / Math.Max(1, minPerThread)));
        var ranges = new List<(int, int)>();
        if (count <= 0) return ranges;
        if (parts <= 1) { ranges.Add((0, count)); return ranges; }
        for (int p = 0; p < parts; p++)
        {
            int start = (int)((long)count * p / parts), end = (int)((long)count * (p + 1) / parts);
            if (end > start) ranges.Add((start, end));
        }
        return ranges;
    }

    private static void WithThreads(int threads, Action<ComputeContext> action)
    {
        using var compute = new ComputeContext(threads);
        action(compute);
    }

    [Theory]
    [InlineData(0, 1, 4)]
    [InlineData(1, 1, 4)]
    [InlineData(7, 1, 3)]
    [InlineData(10, 3, 4)]
    [InlineData(100, 1, 3)]
    [InlineData(101, 10, 5)]
    [InlineData(1000, 1, 8)]
    [InlineData(5, 1, 1)]
    public void RangesAreTheFixedContiguousSplit(int count, int minPerThread, int threads)
    {
        WithThreads(threads, compute =>
        {
            var seen = new ConcurrentBag<(int, int)>();
            compute.For(count, minPerThread, (s, e) => seen.Add((s, e)));
            Assert.Equal(ExpectedRanges(count, minPerThread, threads), seen.OrderBy(r => r.Item1).ToList());
            var seenState = new ConcurrentBag<(int, int)>();
            compute.For(count, minPerThread, seenState, static (bag, s, e) => bag.Add((s, e)));
            Assert.Equal(ExpectedRanges(count, minPerThread, threads), seenState.OrderBy(r => r.Item1).ToList());
        });
    }

    /// <summary>
    /// The caller runs part 0 and the workers the others: part 0 waits (up to 10 s) until parts 1 and 2 have begun, which
    /// only workers can do while the caller is inside part 0 (a caller takes a worker's part only after its own).
    /// </summary>
    [Fact]
    public void PartsRunOnDistinctThreadsIncludingTheCaller()
    {
        WithThreads(3, compute =>
        {
            var ids = new int[3];
            using var started = new CountdownEvent(2);
            compute.For(3, 1, (s, e) =>
            {
                ids[s] = Environment.CurrentManagedThreadId;
                if (s == 0) started.Wait(TimeSpan.FromSeconds(10));
                else started.Signal();
            });
            Assert.Equal(3, ids.Distinct().Count());
            Assert.Equal(Environment.CurrentManagedThreadId, ids[0]);
        });
    }

    /// <summary>
    /// Each part of each region runs exactly once, whether its worker claims it or the caller does (a worker asleep or
    /// not yet running when the caller ends its own part): many short regions back to back, with part counts changing.
    /// </summary>
    [Fact]
    public void EveryPartRunsOnceWhoeverClaimsIt()
    {
        WithThreads(3, compute =>
        {
            var runs = new int[3];
            for (int region = 0; region < 20_000; region++)
            {
                int parts = 2 + region % 2;
                Array.Clear(runs);
                compute.For(parts, 1, runs, static (r, s, e) => { for (int p = s; p < e; p++) Interlocked.Increment(ref r[p]); });
                for (int p = 0; p < 3; p++)
                    Assert.True(runs[p] == (p < parts ? 1 : 0), $"region {region}: part {p} of {parts} ran {runs[p]} times");
            }
        });
    }

    [Fact]
    public void ExceptionInAPartIsRethrownAndThePoolStaysUsable()
    {
        WithThreads(4, compute =>
        {
            for (int failing = 0; failing < 4; failing++)
            {
                int bad = failing;
                var error = Assert.Throws<InvalidOperationException>(() =>
                    compute.For(40, 1, (s, e) => { if (s == bad * 10) throw new InvalidOperationException($"part {bad}"); }));
                Assert.Equal($"part {bad}", error.Message);
                // The pool still runs every part afterwards.
                var output = new int[40];
                compute.For(40, 1, (s, e) => { for (int i = s; i < e; i++) output[i] = i * 3; });
                Assert.Equal(Enumerable.Range(0, 40).Select(i => i * 3), output);
            }
            // Several failing parts: the lowest part's exception wins, as a deterministic choice.
            var first = Assert.Throws<ArgumentException>(() =>
                compute.For(40, 1, (s, e) => { if (s >= 10) throw new ArgumentException($"from {s}"); }));
            Assert.Equal("from 10", first.Message);
        });
    }

    [Fact]
    public void NestedCallsRunInlineAsOneRange()
    {
        WithThreads(4, compute =>
        {
            var nested = new ConcurrentBag<(int, int, int)>();
            compute.For(8, 1, (s, e) =>
            {
                compute.For(100, 1, (ns, ne) => nested.Add((s, ns, ne)));
                compute.For(50, 1, s, static (bag, ns, ne) => { }); // the state overload nests the same way
            });
            Assert.Equal(4, nested.Count);
            Assert.All(nested, n => Assert.Equal((0, 100), (n.Item2, n.Item3)));
        });
    }

    [Fact]
    public void ConcurrentCallersGetTheSameRangesAndResults()
    {
        WithThreads(3, compute =>
        {
            const int Callers = 4, Rounds = 200, Count = 301;
            var expectedStart = new int[Count];
            foreach (var (s, e) in ExpectedRanges(Count, 1, 3))
                for (int i = s; i < e; i++) expectedStart[i] = s;
            var failures = new ConcurrentBag<string>();
            var threads = Enumerable.Range(0, Callers).Select(c => new Thread(() =>
            {
                var starts = new int[Count];
                var values = new long[Count];
                for (int round = 0; round < Rounds; round++)
                {
                    Array.Clear(starts);
                    // Each element records the start of the range that computed it: the split must not depend on
                    // whether this caller got the pool or ran the parts itself.
                    compute.For(Count, 1, (s, e) =>
                    {
                        for (int i = s; i < e; i++) { starts[i] = s; values[i] = (long)i * round + c; }
                    });
                    if (!starts.AsSpan().SequenceEqual(expectedStart)) failures.Add($"caller {c} round {round}: ranges differ");
                    Array.Clear(starts);
                    compute.For(Count, 1, starts, static (st, s, e) => st.AsSpan(s, e - s).Fill(s));
                    if (!starts.AsSpan().SequenceEqual(expectedStart)) failures.Add($"caller {c} round {round}: state ranges differ");
                    for (int i = 0; i < Count; i++)
                        if (values[i] != (long)i * round + c) { failures.Add($"caller {c} round {round}: value {i}"); break; }
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.Empty(failures);
        });
    }

    private static readonly float[] Sink = new float[4096];
    // Delegates made once: each lambda expression caches its own delegate on first use, which would count here.
    private static readonly Action<int, int> FillBody = (s, e) => { for (int i = s; i < e; i++) Sink[i] = i; };
    private static readonly Action<float[], int, int> FillStateBody = static (sink, s, e) => sink.AsSpan(s, e - s).Fill(1);

    [Fact]
    public void AWarmPoolAllocatesNothingPerCall()
    {
        WithThreads(4, compute =>
        {
            for (int i = 0; i < 10; i++)
            {
                compute.For(Sink.Length, 1, FillBody);
                compute.For(Sink.Length, 1, Sink, FillStateBody);
            }
            long before = GC.GetAllocatedBytesForCurrentThread();
            const int Calls = 200;
            for (int i = 0; i < Calls / 2; i++)
            {
                compute.For(Sink.Length, 1, FillBody);
                compute.For(Sink.Length, 1, Sink, FillStateBody);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(0, allocated);
        });
    }

    [Fact]
    public void ContextsWithDifferentThreadCountsRunAtOnceEachWithItsOwnSplit()
    {
        // Two callers at once, 2 and 3 threads: each context's ranges are its own thread count's, whatever the other does.
        const int Count = 300, Rounds = 300;
        var failures = new ConcurrentBag<string>();
        var callers = new[] { 2, 3 }.Select(threads => new Thread(() =>
        {
            using var compute = new ComputeContext(threads);
            var expected = ExpectedRanges(Count, 1, threads);
            for (int round = 0; round < Rounds; round++)
            {
                var seen = new ConcurrentBag<(int, int)>();
                compute.For(Count, 1, (s, e) => seen.Add((s, e)));
                if (!expected.SequenceEqual(seen.OrderBy(r => r.Item1))) { failures.Add($"{threads} threads, round {round}"); break; }
            }
        })).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    [Fact]
    public void ADisposedContextStillRunsItsWork()
    {
        var compute = new ComputeContext(3);
        var output = new int[30];
        compute.For(30, 1, (s, e) => { for (int i = s; i < e; i++) output[i] = 1; });
        compute.Dispose(); // workers stop; a later region starts new ones
        Array.Clear(output);
        compute.For(30, 1, (s, e) => { for (int i = s; i < e; i++) output[i] = i; });
        Assert.Equal(Enumerable.Range(0, 30), output);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(100000)]
    public void ThreadCountsOutOfRangeAreRefusedByName(int threads)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ComputeContext(threads));
        Assert.Contains("Threads must be", e.Message);
        // The half-built context is finalized without a pool: that must not crash the process.
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}
