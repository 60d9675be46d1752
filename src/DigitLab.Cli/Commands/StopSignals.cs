// StopSignals: SIGTERM (kill, systemd, docker stop) stops training the way Ctrl+C does: after the current batch, saving a resumable checkpoint.
using System.Runtime.InteropServices;

namespace DigitLab.Cli.Commands;

internal static class StopSignals
{
    /// <summary>
    /// Until disposed, SIGTERM cancels <paramref name="stop"/> instead of ending the process, so the command saves and then
    /// exits; a second SIGTERM (the run already stopping) ends the process at once, as a second Ctrl+C does.
    /// </summary>
    public static IDisposable OnTerminate(CancellationTokenSource stop) =>
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            if (stop.IsCancellationRequested) return;
            context.Cancel = true;
            stop.Cancel();
            Console.Error.WriteLine("Terminate signal (SIGTERM): stopping after the current batch and saving a checkpoint...");
        });
}
