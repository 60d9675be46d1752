// ThreadChoice: the number of kernel threads a run asked for against what the engine runs (it caps at 4 per core), said aloud and recorded in the run log.
namespace DigitLab.Training;

public static class ThreadChoice
{
    /// <summary>The most kernel threads the engine runs: 4 per core (more only adds switching).</summary>
    public static int Cap => Environment.ProcessorCount * 4;

    /// <summary>
    /// When <paramref name="requested"/> is over <see cref="Cap"/>, records the thread count that runs in the run log's
    /// config ("threads") and returns a note saying so; null when the request runs as asked (0 = all cores).
    /// </summary>
    public static string? Apply(int requested, RunLog log)
    {
        if (requested <= Cap) return null;
        log.Config["threads"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return $"--threads {requested} is more than this machine runs ({Cap}: 4 per core on {Environment.ProcessorCount} cores); training on {Cap} threads, and the run log records {Cap}.";
    }
}
