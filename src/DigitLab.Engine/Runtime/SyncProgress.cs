// SyncProgress: the one progress adapter: an IProgress<T> that calls back on the reporting thread.
namespace DigitLab.Runtime;

/// <summary>
/// An <see cref="IProgress{T}"/> that calls <c>report</c> synchronously on the thread that reports (a trainer's,
/// a fetcher's). <see cref="Progress{T}"/> would post to the thread pool, which reorders events and lets a report
/// run after the work that produced it has moved on.
/// </summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
