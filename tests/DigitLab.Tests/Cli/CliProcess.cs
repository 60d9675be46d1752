// CliProcess: runs the built `digitlab` command line as a separate process (DigitLab.Cli.dll beside the tests), for what only a process shows: signals, exit codes, files left behind.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace DigitLab.Tests.Cli;

internal sealed class CliProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _out = new(), _error = new();

    private CliProcess(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "DigitLab.Cli.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_error) _error.AppendLine(e.Data); };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static CliProcess Start(params string[] args) => new(args);

    /// <summary>Runs to the end (at most <paramref name="timeout"/>) and returns what it did.</summary>
    public static async Task<CliResult> RunAsync(TimeSpan timeout, params string[] args)
    {
        using var p = Start(args);
        return await p.WaitAsync(timeout);
    }

    public string Out { get { lock (_out) return _out.ToString(); } }

    /// <summary>Waits until stdout contains <paramref name="text"/>; false on timeout or exit.</summary>
    public bool WaitForOutput(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (Out.Contains(text)) return true;
            if (_process.HasExited) return Out.Contains(text);
            Thread.Sleep(20);
        }
        return false;
    }

    /// <summary>Sends SIGTERM, as `kill PID`, systemd and `docker stop` do.</summary>
    public void Terminate() => Assert.Equal(0, Kill(_process.Id, 15));

    public async Task<CliResult> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"digitlab did not exit within {timeout}. Output so far:\n{Out}\n{_error}");
        }
        _process.WaitForExit(); // drains the redirected streams
        lock (_error) return new CliResult(_process.ExitCode, Out, _error.ToString());
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
