// ThreadingTests: Threading.For's worker pool keeps Parallel.For's ranges, rethrows, survives, shares, nests, and allocates nothing.
using System.Collections.Concurrent;
using DigitLab.Tensors;
using DigitLab.Tests.Kernels;

namespace DigitLab.Tests.Tensors;

/// <summary>Changes <see cref="Threading.Threads"/>, so runs alone (no other test class uses the pool meanwhile).</summary>
[Collection(GemmThreadsCollection.Name)]
public class ThreadingTests
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

    private static void WithThreads(int threads, Action action)
    {
        int saved = Threading.Threads;
        try { Threading.Threads = threads; action(); }
        finally { Threading.Threads = saved; }
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
        WithThreads(threads, () =>
        {
            var seen = new ConcurrentBag<(int, int)>();
            Threading.For(count, minPerThread, (s, e) => seen.Add((s, e)));
            Assert.Equal(ExpectedRanges(count, minPerThread, threads), seen.OrderBy(r => r.Item1).ToList());
            var seenState = new ConcurrentBag<(int, int)>();
            Threading.For(count, minPerThread, seenState, static (bag, s, e) => bag.Add((s, e)));
            Assert.Equal(ExpectedRanges(count, minPerThread, threads), seenState.OrderBy(r => r.Item1).ToList());
        });
    }

    [Fact]
    public void PartsRunOnDistinctThreadsIncludingTheCaller()
    {
        WithThreads(3, () =>
        {
            var ids = new int[3];
            Threading.For(3, 1, (s, e) => ids[s] = Environment.CurrentManagedThreadId);
            Assert.Equal(3, ids.Distinct().Count());
            Assert.Equal(Environment.CurrentManagedThreadId, ids[0]);
        });
    }

    [Fact]
    public void ExceptionInAPartIsRethrownAndThePoolStaysUsable()
    {
        WithThreads(4, () =>
        {
            for (int failing = 0; failing < 4; failing++)
            {
                int bad = failing;
                var error = Assert.Throws<InvalidOperationException>(() =>
                    Threading.For(40, 1, (s, e) => { if (s == bad * 10) throw new InvalidOperationException($"part {bad}"); }));
                Assert.Equal($"part {bad}", error.Message);
                // The pool still runs every part afterwards.
                var output = new int[40];
                Threading.For(40, 1, (s, e) => { for (int i = s; i < e; i++) output[i] = i * 3; });
                Assert.Equal(Enumerable.Range(0, 40).Select(i => i * 3), output);
            }
            // Several failing parts: the lowest part's exception wins, as a deterministic choice.
            var first = Assert.Throws<ArgumentException>(() =>
                Threading.For(40, 1, (s, e) => { if (s >= 10) throw new ArgumentException($"from {s}"); }));
            Assert.Equal("from 10", first.Message);
        });
    }

    [Fact]
    public void NestedCallsRunInlineAsOneRange()
    {
        WithThreads(4, () =>
        {
            var nested = new ConcurrentBag<(int, int, int)>();
            Threading.For(8, 1, (s, e) =>
            {
                Threading.For(100, 1, (ns, ne) => nested.Add((s, ns, ne)));
                Threading.For(50, 1, s, static (bag, ns, ne) => { }); // the state overload nests the same way
            });
            Assert.Equal(4, nested.Count);
            Assert.All(nested, n => Assert.Equal((0, 100), (n.Item2, n.Item3)));
        });
    }

    [Fact]
    public void ConcurrentCallersGetTheSameRangesAndResults()
    {
        WithThreads(3, () =>
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
                    Threading.For(Count, 1, (s, e) =>
                    {
                        for (int i = s; i < e; i++) { starts[i] = s; values[i] = (long)i * round + c; }
                    });
                    if (!starts.AsSpan().SequenceEqual(expectedStart)) failures.Add($"caller {c} round {round}: ranges differ");
                    Array.Clear(starts);
                    Threading.For(Count, 1, starts, static (st, s, e) => st.AsSpan(s, e - s).Fill(s));
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
        WithThreads(4, () =>
        {
            for (int i = 0; i < 10; i++)
            {
                Threading.For(Sink.Length, 1, FillBody);
                Threading.For(Sink.Length, 1, Sink, FillStateBody);
            }
            long before = GC.GetAllocatedBytesForCurrentThread();
            const int Calls = 200;
            for (int i = 0; i < Calls / 2; i++)
            {
                Threading.For(Sink.Length, 1, FillBody);
                Threading.For(Sink.Length, 1, Sink, FillStateBody);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(0, allocated);
        });
    }
}
